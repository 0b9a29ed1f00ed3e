// SPDX-License-Identifier: GPL-2.0
/*
 * Quiescing: parking every thread of a target at a known point (a task work
 * run on its way back to user mode) and holding it there while it is read.
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"

/*
 * Each thread of the target gets a task_work (TWA_SIGNAL) that runs on its
 * way back to user mode -- a safe point where all its user state is saved in
 * the kernel -- and parks it there until the checkpointer releases it.  The
 * park is killable, and does not count toward load average or the hung-task
 * detector.  A thread already in a group stop is quiescent too, as long as
 * it stays stopped: continued (SIGCONT), it may handle a signal (a new frame
 * on its stack, new registers and mask) before it runs the work and parks,
 * so ckpt_quiesce_moved() tells whether one that was stopped when the wait
 * ended has run since: a continued thread always ends in the park (the work
 * is still queued), so it is parked, or on its way there (not stopped).
 */
struct ckpt_park {
	struct callback_head cb;
	struct ckpt_quiesce *q;
	struct task_struct *task;
	bool queued;
	bool parked;
	bool stopped;		/* stopped (not parked) when the wait ended */
};

struct ckpt_quiesce {
	refcount_t ref;
	wait_queue_head_t wq;
	/*
	 * Held by the checkpointer while it reads a thread's state, and by a
	 * thread while it leaves the park or exits: a killed thread cannot free
	 * its stack (and pt_regs) under a reader.
	 */
	struct mutex lock;
	bool released;
	atomic_t gone;		/* threads that exited instead of parking */
	atomic_t left;		/* threads that left the park early (killed) */
	u32 n;
	struct ckpt_park park[];
};

static void ckpt_quiesce_put(struct ckpt_quiesce *q)
{
	u32 i;

	if (!refcount_dec_and_test(&q->ref))
		return;
	for (i = 0; i < q->n; i++)
		put_task_struct(q->park[i].task);
	mutex_destroy(&q->lock);
	kfree(q);
}

static void ckpt_park_fn(struct callback_head *cb)
{
	struct ckpt_park *p = container_of(cb, struct ckpt_park, cb);
	struct ckpt_quiesce *q = p->q;

	if ((current->flags & PF_EXITING) || READ_ONCE(q->released)) {
		mutex_lock(&q->lock);
		atomic_inc(&q->gone);
		mutex_unlock(&q->lock);
		wake_up_all(&q->wq);
		goto out;
	}
	WRITE_ONCE(p->parked, true);
	wake_up_all(&q->wq);
	wait_event_state(q->wq, READ_ONCE(q->released), (TASK_KILLABLE | TASK_NOLOAD));
	mutex_lock(&q->lock);
	WRITE_ONCE(p->parked, false);
	if (!READ_ONCE(q->released))
		atomic_inc(&q->left);
	mutex_unlock(&q->lock);
	wake_up_all(&q->wq);
out:
	ckpt_quiesce_put(q);
	/*
	 * The reference taken when the work was queued: an unloaded module's
	 * callback must never run.  Only the return below executes after it.
	 */
	module_put(THIS_MODULE);
}

struct ckpt_quiesce *ckpt_quiesce_start(struct task_struct **threads, u32 n)
{
	struct ckpt_quiesce *q;
	u32 i;

	q = kzalloc(struct_size(q, park, n), GFP_KERNEL);
	if (!q)
		return ERR_PTR(-ENOMEM);
	refcount_set(&q->ref, 1);
	init_waitqueue_head(&q->wq);
	mutex_init(&q->lock);
	q->n = n;
	for (i = 0; i < n; i++) {
		struct ckpt_park *p = &q->park[i];

		p->q = q;
		p->task = get_task_struct(threads[i]);
		init_task_work(&p->cb, ckpt_park_fn);
	}
	for (i = 0; i < n; i++) {
		struct ckpt_park *p = &q->park[i];

		refcount_inc(&q->ref);
		__module_get(THIS_MODULE);
		if (task_work_add(p->task, &p->cb, TWA_SIGNAL)) {
			/* The thread is exiting. */
			module_put(THIS_MODULE);
			refcount_dec(&q->ref);
			atomic_inc(&q->gone);
			continue;
		}
		p->queued = true;
	}
	return q;
}

static bool ckpt_quiet(struct ckpt_quiesce *q)
{
	u32 i;

	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return true;	/* settled: the caller reports the exit */
	for (i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		if (!READ_ONCE(p->parked) && !task_is_stopped(p->task))
			return false;
	}
	return true;
}

/* 0 once every thread is parked or stopped; -ESRCH if one exited; -EINTR if
 * the caller got a signal; -ETIMEDOUT. */
int ckpt_quiesce_wait(struct ckpt_quiesce *q, u32 timeout_ms)
{
	long left = wait_event_interruptible_timeout(q->wq, ckpt_quiet(q),
						     msecs_to_jiffies(timeout_ms));

	if (left < 0)
		return -EINTR;
	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return -ESRCH;
	if (left == 0 && !ckpt_quiet(q))
		return -ETIMEDOUT;
	for (u32 i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		p->stopped = !READ_ONCE(p->parked) && task_is_stopped(p->task);
	}
	return 0;
}

/* Whether a thread that was stopped when the wait ended has run since. */
bool ckpt_quiesce_moved(struct ckpt_quiesce *q)
{
	u32 i;

	for (i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		if (p->stopped && (READ_ONCE(p->parked) || !task_is_stopped(p->task)))
			return true;
	}
	return false;
}

/* True if every thread is still parked or stopped and none is dying. */
bool ckpt_quiesce_intact(struct ckpt_quiesce *q)
{
	u32 i;

	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return false;
	for (i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		if (ckpt_task_fatal_pending(p->task))
			return false;
		if (!READ_ONCE(p->parked) && !task_is_stopped(p->task))
			return false;
	}
	return true;
}

/*
 * Pins thread t at its safe point while the caller reads its state: 0 with
 * q->lock held (release with ckpt_quiesce_unhold), or -ESRCH if t is leaving.
 */
int ckpt_quiesce_hold(struct ckpt_quiesce *q, struct task_struct *t)
{
	u32 i;

	mutex_lock(&q->lock);
	if (atomic_read(&q->gone) || atomic_read(&q->left))
		goto gone;
	for (i = 0; i < q->n; i++) {
		struct ckpt_park *p = &q->park[i];

		if (p->task != t)
			continue;
		if (ckpt_task_fatal_pending(t) || !p->queued)
			goto gone;
		if (READ_ONCE(p->parked) || task_is_stopped(t))
			return 0;
		goto gone;
	}
gone:
	mutex_unlock(&q->lock);
	return -ESRCH;
}

void ckpt_quiesce_unhold(struct ckpt_quiesce *q)
{
	mutex_unlock(&q->lock);
}

void ckpt_quiesce_release(struct ckpt_quiesce *q)
{
	WRITE_ONCE(q->released, true);
	wake_up_all(&q->wq);
	ckpt_quiesce_put(q);
}
