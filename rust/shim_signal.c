// SPDX-License-Identifier: GPL-2.0
/*
 * Signals: handlers, blocked mask, alternate stack, pending queues and
 * ITIMER_REAL, read from a parked task and set on the calling task.
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"

/* lock_task_sighand() is not exported: the same, for the shim files. */
struct sighand_struct *ckpt_lock_sighand(struct task_struct *t, unsigned long *flags)
{
	struct sighand_struct *sh;

	rcu_read_lock();
	for (;;) {
		sh = rcu_dereference(t->sighand);
		if (!sh)
			break;
		spin_lock_irqsave(&sh->siglock, *flags);
		if (likely(sh == rcu_access_pointer(t->sighand)))
			break;
		spin_unlock_irqrestore(&sh->siglock, *flags);
	}
	rcu_read_unlock();
	return sh;
}

int ckpt_task_sigactions(struct task_struct *t, struct ckpt_sigaction *out)
{
	struct sighand_struct *sh;
	unsigned long flags;
	int i;

	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return -ESRCH;
	for (i = 0; i < _NSIG; i++) {
		const struct sigaction *sa = &sh->action[i].sa;

		out[i].handler = (u64)(unsigned long)sa->sa_handler;
		out[i].flags = sa->sa_flags;
#ifdef __ARCH_HAS_SA_RESTORER
		out[i].restorer = (u64)(unsigned long)sa->sa_restorer;
#else
		out[i].restorer = 0;
#endif
		out[i].mask = sa->sa_mask.sig[0];
	}
	spin_unlock_irqrestore(&sh->siglock, flags);
	return 0;
}

static u32 copy_queue(struct sigpending *p, void *buf, u32 max, u32 *overflow)
{
	struct sigqueue *q;
	u32 n = 0;

	list_for_each_entry(q, &p->list, list) {
		if (n == max) {
			(*overflow)++;
			break;
		}
		memcpy(buf + n * CKPT_SIGINFO_LEN, &q->info, CKPT_SIGINFO_LEN);
		n++;
	}
	return n;
}

int ckpt_task_sigstate(struct task_struct *t, struct ckpt_sigstate *st,
		       void *queued, u32 max_queued, void *shared, u32 max_shared)
{
	struct sighand_struct *sh;
	struct signal_struct *sig;
	unsigned long flags;

	BUILD_BUG_ON(sizeof(kernel_siginfo_t) != CKPT_SIGINFO_LEN);
	memset(st, 0, sizeof(*st));
	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return -ESRCH;
	sig = t->signal;
	st->blocked = t->blocked.sig[0];
	st->pending = t->pending.signal.sig[0];
	st->shared_pending = sig->shared_pending.signal.sig[0];
	st->altstack_sp = t->sas_ss_sp;
	st->altstack_size = t->sas_ss_size;
	st->altstack_flags = t->sas_ss_flags;
	st->nr_queued = copy_queue(&t->pending, queued, max_queued, &st->overflow);
	st->nr_shared_queued = copy_queue(&sig->shared_pending, shared, max_shared,
					  &st->overflow);
#ifdef CONFIG_POSIX_TIMERS
	if (hrtimer_active(&sig->real_timer)) {
		ktime_t rem = __hrtimer_get_remaining(&sig->real_timer, false);

		st->real_value_ns = rem > 0 ? rem : 1;
	}
	st->real_interval_ns = sig->it_real_incr;
	st->prof_expires = sig->it[CPUCLOCK_PROF].expires;
	st->prof_incr = sig->it[CPUCLOCK_PROF].incr;
	st->virt_expires = sig->it[CPUCLOCK_VIRT].expires;
	st->virt_incr = sig->it[CPUCLOCK_VIRT].incr;
	st->posix_timers = !hlist_empty(&sig->posix_timers) ||
			   !hlist_empty(&sig->ignored_posix_timers);
#endif
	spin_unlock_irqrestore(&sh->siglock, flags);
	return 0;
}

/*
 * Sets current's signal dispositions from @sa (_NSIG entries), under the
 * siglock; SIGKILL's and SIGSTOP's are never changed.  Which flags and mask
 * bits an image may give is Rust's (cur::set_sigactions).
 */
int ckpt_cur_set_sigactions(const struct ckpt_sigaction *sa)
{
	struct sighand_struct *sh = current->sighand;
	int i;

	spin_lock_irq(&sh->siglock);
	for (i = 0; i < _NSIG; i++) {
		struct sigaction *k = &sh->action[i].sa;

		if (i + 1 == SIGKILL || i + 1 == SIGSTOP)
			continue;
		k->sa_handler = (__sighandler_t)(unsigned long)sa[i].handler;
		k->sa_flags = sa[i].flags;
#ifdef __ARCH_HAS_SA_RESTORER
		k->sa_restorer = (__sigrestore_t)(unsigned long)sa[i].restorer;
#endif
		k->sa_mask.sig[0] = sa[i].mask;
	}
	spin_unlock_irq(&sh->siglock);
	return 0;
}

void ckpt_cur_set_itimer_real(u64 value_ns, u64 interval_ns)
{
#ifdef CONFIG_POSIX_TIMERS
	struct signal_struct *sig = current->signal;
	struct hrtimer *timer = &sig->real_timer;

	spin_lock_irq(&current->sighand->siglock);
	while (hrtimer_try_to_cancel(timer) < 0) {
		spin_unlock_irq(&current->sighand->siglock);
		cpu_relax();
		spin_lock_irq(&current->sighand->siglock);
	}
	/* Beyond ktime's range is "never" anyway: clamp instead of overflowing. */
	sig->it_real_incr = ns_to_ktime(min_t(u64, interval_ns, KTIME_MAX));
	if (value_ns)
		hrtimer_start(timer, ns_to_ktime(min_t(u64, value_ns, KTIME_MAX)), HRTIMER_MODE_REL);
	spin_unlock_irq(&current->sighand->siglock);
#endif
}
