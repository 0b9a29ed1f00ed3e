// SPDX-License-Identifier: GPL-2.0
/*
 * Timers: reading the CPU-time interval timers and the POSIX timers of a
 * stopped process, and the two things a restarted process needs that no
 * system call does: the exact expiry of a CPU-time interval timer (the
 * restarter armed it, which started the process's CPU-time accounting) and
 * the overrun count of a POSIX timer.  Policy lives in rust/objects/timers.rs.
 */

#include <linux/hrtimer.h>
/* 7.3 moved struct hrtimer_clock_base into its own header. */
#if __has_include(<linux/hrtimer_bases.h>)
#include <linux/hrtimer_bases.h>
#endif
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/posix-timers.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/cputime.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>

#include "shim.h"
#include "shim_timers.h"

/* The process CPU times the interval timers count (PROF: user + system, VIRT:
 * user), from the group accounting that is running while one is armed. */
static void group_samples(struct signal_struct *sig, u64 *prof, u64 *virt)
{
	struct task_cputime_atomic *at = &sig->cputimer.cputime_atomic;
	u64 utime = atomic64_read(&at->utime);

	*virt = utime;
	*prof = utime + atomic64_read(&at->stime);
}

static u64 left(u64 expires, u64 now)
{
	if (!expires)
		return 0;
	/* Due: it fires at the next tick, as getitimer() says. */
	return expires > now ? expires - now : TICK_NSEC;
}

/* t's signal-handler lock (lock_task_sighand() is not exported). */
int ckpt_task_cpu_itimers(struct task_struct *t, struct ckpt_cpu_itimers *out)
{
	struct sighand_struct *sh;
	struct signal_struct *sig;
	unsigned long flags;
	u64 prof = 0, virt = 0;

	memset(out, 0, sizeof(*out));
	sh = ckpt_lock_sighand(t, &flags);
	if (!sh)
		return -ESRCH;
	sig = t->signal;
	if (sig->posix_cputimers.timers_active)
		group_samples(sig, &prof, &virt);
	out->virt_value = left(sig->it[CPUCLOCK_VIRT].expires, virt);
	out->virt_incr = sig->it[CPUCLOCK_VIRT].incr;
	out->prof_value = left(sig->it[CPUCLOCK_PROF].expires, prof);
	out->prof_incr = sig->it[CPUCLOCK_PROF].incr;
	spin_unlock_irqrestore(&sh->siglock, flags);
	return 0;
}

/*
 * which: 1 ITIMER_VIRTUAL, 2 ITIMER_PROF.  The restarter armed the timer with
 * setitimer() (far in the future), which started the group's CPU-time
 * accounting and the tick dependency; this moves its expiry to value_ns of
 * CPU time from now (the restore's own CPU time not counted) and sets the
 * interval.  Moving an expiry later is safe: the timer code re-reads
 * it[].expires when the earlier next event comes.
 */
int ckpt_cur_fix_cpu_itimer(u32 which, u64 value_ns, u64 incr_ns)
{
	struct signal_struct *sig = current->signal;
	int clk = which == 1 ? CPUCLOCK_VIRT : CPUCLOCK_PROF;
	struct cpu_itimer *it = &sig->it[clk];
	u64 prof, virt, now, *next;
	int ret = 0;

	if ((which != 1 && which != 2) || !value_ns)
		return -EINVAL;
	spin_lock_irq(&current->sighand->siglock);
	if (!sig->posix_cputimers.timers_active || !it->expires) {
		ret = -ENOENT;
		goto out;
	}
	group_samples(sig, &prof, &virt);
	now = clk == CPUCLOCK_VIRT ? virt : prof;
	it->expires = now + value_ns;
	it->incr = incr_ns;
	next = &sig->posix_cputimers.bases[clk].nextevt;
	if (it->expires < *next)
		*next = it->expires;
out:
	spin_unlock_irq(&current->sighand->siglock);
	return ret;
}

/* The hrtimer of a timer on CLOCK_REALTIME/MONOTONIC/BOOTTIME/TAI. */
static bool hrtimer_clock(clockid_t c)
{
	return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC || c == CLOCK_BOOTTIME ||
	       c == CLOCK_TAI;
}

/* Reads one timer; called with its it_lock held. */
static void read_timer(struct k_itimer *timr, struct ckpt_ptimer *p)
{
	struct hrtimer *ht = &timr->it.real.timer;
	bool none = timr->it_sigev_notify == SIGEV_NONE;
	bool queued = !list_empty(&timr->sigq.list);
	s64 iv = ktime_to_ns(timr->it_interval);
	s64 exp, now, rem;

	memset(p, 0, sizeof(*p));
	p->id = timr->it_id;
	p->clock = timr->it_clock;
	p->notify = timr->it_sigev_notify;
	p->signo = timr->sigq.info.si_signo;
	p->value = (u64)(unsigned long)timr->sigq.info.si_value.sival_ptr;
	p->interval_ns = iv > 0 ? iv : 0;
	p->overrun_last = timr->it_overrun_last;
	if (!hlist_unhashed(&timr->ignored_list))
		p->flags |= CKPT_PT_IGNORED;
	if (timr->it_sigev_notify & SIGEV_THREAD_ID) {
		/* Called under RCU: the thread, if it still runs. */
		p->tid = pid_nr_ns(timr->it_pid, task_active_pid_ns(current));
		if (!p->tid || !pid_task(timr->it_pid, PIDTYPE_PID))
			p->flags |= CKPT_PT_TID_GONE;
	}
	if (!hrtimer_clock(timr->it_clock))
		return;
	/* As timer_gettime() computes it, without changing the timer. */
	exp = ktime_to_ns(hrtimer_get_expires(ht));
	now = ktime_to_ns(hrtimer_cb_get_time(ht));
	if (hrtimer_active(ht)) {
		/* Armed; an absolute timer on a settable clock keeps its expiry. */
		if (ht->base->clockid == CLOCK_REALTIME || ht->base->clockid == CLOCK_TAI) {
			p->flags |= CKPT_PT_ABSTIME;
			p->value_ns = exp > 0 ? exp : 1;
			return;
		}
		rem = exp - now;
		p->value_ns = rem > 0 ? rem : 1;
		return;
	}
	if (!none && !queued)
		return;		/* disarmed (or fired once, its signal delivered) */
	if (!none && !iv) {
		/* One-shot, fired, its signal queued: fires again at restart. */
		p->flags |= CKPT_PT_SIGNAL_QUEUED;
		return;
	}
	if (iv > 0 && exp <= now)
		exp += ((now - exp) / iv + 1) * iv;
	rem = exp - now;
	if (!none) {
		p->flags |= CKPT_PT_SIGNAL_QUEUED;
		p->value_ns = rem > 0 ? rem : 1;
	} else {
		/* SIGEV_NONE is never queued; a due one-shot reads as disarmed. */
		p->value_ns = rem > 0 ? rem : 0;
	}
}

/*
 * The POSIX timers of t's process, into out[0..max): *n set to how many it
 * has (more than max: call again with room).  Walked under RCU (timers are
 * freed after a grace period) with each timer's own lock, the lock the
 * timer code takes first; the list itself changes only by the process's own
 * timer_create/timer_delete or its exit, and the process is held stopped.
 */
int ckpt_task_posix_timers(struct task_struct *t, struct ckpt_ptimer *out, u32 max, u32 *n)
{
	struct signal_struct *sig;
	struct k_itimer *timr;
	struct hlist_head *lists[2];
	unsigned long flags;
	int i;

	*n = 0;
	rcu_read_lock();
	sig = READ_ONCE(t->signal);
	if (!sig) {
		rcu_read_unlock();
		return -ESRCH;
	}
	lists[0] = &sig->posix_timers;
	lists[1] = &sig->ignored_posix_timers;
	for (i = 0; i < 2; i++) {
		hlist_for_each_entry_rcu(timr, lists[i], list) {
			spin_lock_irqsave(&timr->it_lock, flags);
			if (READ_ONCE(timr->it_signal) == sig) {
				if (*n < max)
					read_timer(timr, &out[*n]);
				(*n)++;
			}
			spin_unlock_irqrestore(&timr->it_lock, flags);
		}
	}
	rcu_read_unlock();
	return 0;
}

/*
 * Checks that the caller has timer id as the image describes it (the
 * restarter made it with timer_create) and gives it the overrun count of
 * its last delivered signal.
 */
int ckpt_cur_posix_timer_fix(s32 id, s32 clock, s32 notify, s32 signo, u64 value,
			     s64 overrun_last)
{
	struct signal_struct *sig = current->signal;
	struct hlist_head *lists[2] = { &sig->posix_timers, &sig->ignored_posix_timers };
	struct k_itimer *timr;
	int ret = -ENOENT, i;

	rcu_read_lock();
	for (i = 0; i < 2 && ret == -ENOENT; i++) hlist_for_each_entry_rcu(timr, lists[i], list) {
		if (timr->it_id != id)
			continue;
		spin_lock_irq(&timr->it_lock);
		if (READ_ONCE(timr->it_signal) != sig) {
			ret = -ENOENT;
		} else if (timr->it_clock != clock || timr->it_sigev_notify != notify ||
			   (notify != SIGEV_NONE && timr->sigq.info.si_signo != signo) ||
			   (u64)(unsigned long)timr->sigq.info.si_value.sival_ptr != value) {
			ret = -EINVAL;
		} else {
			timr->it_overrun_last = overrun_last;
			ret = 0;
		}
		spin_unlock_irq(&timr->it_lock);
		break;
	}
	rcu_read_unlock();
	return ret;
}
