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
 *
 * Threads born while the target is being quiesced: clone() does not look at
 * TIF_NOTIFY_SIGNAL, so a thread whose park was queued while it was in clone
 * completes it and makes a thread this quiesce does not know, which runs and
 * may clone in turn.  Such a parent, on its way to the park, queues parks on
 * the threads of its group not yet covered (ckpt_quiesce_cover_group): the
 * new thread parks on its first return to user mode, before any instruction
 * of its own, as a new thread joins a pending group stop.  The caller still
 * looks at the threads again (it knows only those it asked to park); this
 * only makes that second look find them parked.
 */
struct ckpt_park {
	struct callback_head cb;
	struct list_head node;	/* in ckpt_quiesce.parks */
	struct ckpt_quiesce *q;
	struct task_struct *task;
	bool extra;		/* allocated by ckpt_quiesce_cover_group */
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
	/* Protects the list below (added to by parking threads). */
	spinlock_t parks_lock;
	struct list_head parks;	/* every park: park[] and those added since */
	u32 n;
	struct ckpt_park park[];
};

static void ckpt_park_fn(struct callback_head *cb);

static void ckpt_quiesce_put(struct ckpt_quiesce *q)
{
	struct ckpt_park *p, *tmp;

	if (!refcount_dec_and_test(&q->ref))
		return;
	list_for_each_entry_safe(p, tmp, &q->parks, node) {
		put_task_struct(p->task);
		if (p->extra)
			kfree(p);
	}
	mutex_destroy(&q->lock);
	kfree(q);
}

/* Whether t has a park in q.  Caller holds q->parks_lock. */
static bool ckpt_quiesce_covers(struct ckpt_quiesce *q, struct task_struct *t)
{
	struct ckpt_park *p;

	list_for_each_entry(p, &q->parks, node)
		if (p->task == t)
			return true;
	return false;
}

/* Queues p's park on its task; false if the task is exiting. */
static bool ckpt_park_queue(struct ckpt_park *p)
{
	struct ckpt_quiesce *q = p->q;

	refcount_inc(&q->ref);
	__module_get(THIS_MODULE);
	if (task_work_add(p->task, &p->cb, TWA_SIGNAL)) {
		module_put(THIS_MODULE);
		refcount_dec(&q->ref);
		atomic_inc(&q->gone);
		return false;
	}
	WRITE_ONCE(p->queued, true);
	return true;
}

/*
 * Run by a thread of the target on its way to its park: queues parks on the
 * threads of its group that q does not cover yet (see above).  Threads that
 * are exiting or never return to user mode (io workers) are left to the
 * caller's next look.
 */
static void ckpt_quiesce_cover_group(struct ckpt_quiesce *q)
{
	struct task_struct *found[16], *th;
	struct ckpt_park *p;
	u32 covered, n, i;

	for (;;) {
		if (READ_ONCE(q->released))
			return;
		covered = 0;
		spin_lock(&q->parks_lock);
		list_for_each_entry(p, &q->parks, node)
			covered += p->task->signal == current->signal;
		spin_unlock(&q->parks_lock);
		if (covered >= READ_ONCE(current->signal->nr_threads))
			return;
		n = 0;
		rcu_read_lock();
		spin_lock(&q->parks_lock);
		for_each_thread(current, th) {
			if (n == ARRAY_SIZE(found))
				break;
			if (READ_ONCE(th->flags) & (PF_EXITING | PF_IO_WORKER))
				continue;
			if (!ckpt_quiesce_covers(q, th))
				found[n++] = get_task_struct(th);
		}
		spin_unlock(&q->parks_lock);
		rcu_read_unlock();
		if (!n)
			return;
		for (i = 0; i < n; i++) {
			p = kzalloc(sizeof(*p), GFP_KERNEL);
			if (!p) {
				put_task_struct(found[i]);
				continue;
			}
			p->q = q;
			p->task = found[i];
			p->extra = true;
			init_task_work(&p->cb, ckpt_park_fn);
			spin_lock(&q->parks_lock);
			if (ckpt_quiesce_covers(q, p->task)) {
				/* Another parking thread added it meanwhile. */
				spin_unlock(&q->parks_lock);
				put_task_struct(p->task);
				kfree(p);
				continue;
			}
			list_add_tail(&p->node, &q->parks);
			spin_unlock(&q->parks_lock);
			ckpt_park_queue(p);
		}
	}
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
	ckpt_quiesce_cover_group(q);
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
	spin_lock_init(&q->parks_lock);
	INIT_LIST_HEAD(&q->parks);
	q->n = n;
	for (i = 0; i < n; i++) {
		struct ckpt_park *p = &q->park[i];

		p->q = q;
		p->task = get_task_struct(threads[i]);
		init_task_work(&p->cb, ckpt_park_fn);
		list_add_tail(&p->node, &q->parks);
	}
	/* A thread that is exiting counts as gone (the caller looks again). */
	for (i = 0; i < n; i++)
		ckpt_park_queue(&q->park[i]);
	return q;
}

static bool ckpt_quiet(struct ckpt_quiesce *q)
{
	struct ckpt_park *p;
	bool quiet = true;

	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return true;	/* settled: the caller reports the exit */
	spin_lock(&q->parks_lock);
	list_for_each_entry(p, &q->parks, node) {
		if (!READ_ONCE(p->parked) && !task_is_stopped(p->task)) {
			quiet = false;
			break;
		}
	}
	spin_unlock(&q->parks_lock);
	return quiet;
}

/* 0 once every thread is parked or stopped; -ESRCH if one exited; -EINTR if
 * the caller got a signal; -ETIMEDOUT. */
int ckpt_quiesce_wait(struct ckpt_quiesce *q, u32 timeout_ms)
{
	long left = wait_event_interruptible_timeout(q->wq, ckpt_quiet(q),
						     msecs_to_jiffies(timeout_ms));
	struct ckpt_park *p;

	if (left < 0)
		return -EINTR;
	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return -ESRCH;
	if (left == 0 && !ckpt_quiet(q))
		return -ETIMEDOUT;
	spin_lock(&q->parks_lock);
	list_for_each_entry(p, &q->parks, node)
		p->stopped = !READ_ONCE(p->parked) && task_is_stopped(p->task);
	spin_unlock(&q->parks_lock);
	return 0;
}

/* Whether a thread that was stopped when the wait ended has run since. */
bool ckpt_quiesce_moved(struct ckpt_quiesce *q)
{
	struct ckpt_park *p;
	bool moved = false;

	spin_lock(&q->parks_lock);
	list_for_each_entry(p, &q->parks, node) {
		if (p->stopped && (READ_ONCE(p->parked) || !task_is_stopped(p->task))) {
			moved = true;
			break;
		}
	}
	spin_unlock(&q->parks_lock);
	return moved;
}

/* True if every thread is still parked or stopped and none is dying. */
bool ckpt_quiesce_intact(struct ckpt_quiesce *q)
{
	struct ckpt_park *p;
	bool intact = true;

	if (atomic_read(&q->gone) || atomic_read(&q->left))
		return false;
	spin_lock(&q->parks_lock);
	list_for_each_entry(p, &q->parks, node) {
		if (ckpt_task_fatal_pending(p->task) ||
		    (!READ_ONCE(p->parked) && !task_is_stopped(p->task))) {
			intact = false;
			break;
		}
	}
	spin_unlock(&q->parks_lock);
	return intact;
}

/*
 * Pins thread t at its safe point while the caller reads its state: 0 with
 * q->lock held (release with ckpt_quiesce_unhold), or -ESRCH if t is leaving.
 */
int ckpt_quiesce_hold(struct ckpt_quiesce *q, struct task_struct *t)
{
	struct ckpt_park *p, *found = NULL;

	mutex_lock(&q->lock);
	if (atomic_read(&q->gone) || atomic_read(&q->left))
		goto gone;
	spin_lock(&q->parks_lock);
	list_for_each_entry(p, &q->parks, node) {
		if (p->task == t) {
			found = p;
			break;
		}
	}
	spin_unlock(&q->parks_lock);
	if (!found || ckpt_task_fatal_pending(t) || !READ_ONCE(found->queued))
		goto gone;
	if (READ_ONCE(found->parked) || task_is_stopped(t))
		return 0;
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
