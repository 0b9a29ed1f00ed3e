// SPDX-License-Identifier: GPL-2.0

//! Two independent pieces of work, one offered to another CPU.
//!
//! [`both`] offers one piece to a work item (on the unbound system workqueue, so
//! on an idle CPU if there is one) and does the other here; whichever thread is
//! first free takes the offered piece, so a busy machine, whose work item may not
//! run for a while, costs no more than doing both here, one after the other. It
//! returns once both are done and no work item of its own is left running, so
//! the offered piece may borrow from the caller's stack, as `std::thread::scope`
//! allows; and the module is never unloaded under a work item of it.
//!
//! The kernel crate has work items (`kernel::workqueue`) but no scoped form; this
//! uses only its `Work`, `Arc` and the exported `cancel_work_sync()` and
//! `flush_work()`, and could be proposed upstream as such.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    bindings,
    prelude::*,
    sync::Arc,
    workqueue::{self, impl_has_work, new_work, Work, WorkItem},
};

/// The offered piece has not been taken yet.
const OFFERED: u32 = 0;
/// The work item took it.
const THERE: u32 = 1;
/// The caller of [`both`] took it back.
const HERE: u32 = 2;

/// What a work item and the caller of [`both`] share.
///
/// # Invariants
///
/// `task` points at a closure on the stack of the [`both`] that made this, live
/// until that call returns, which it does only after the work item of this is
/// neither queued nor running. It is called by at most one thread: the one that
/// moved `state` from [`OFFERED`].
#[pin_data]
struct Offered {
    #[pin]
    work: Work<Offered>,
    state: AtomicU32,
    task: Task,
}

/// The closure [`both`] offers, its lifetime erased.
struct Task(*mut (dyn FnMut() + Send));

// SAFETY: `task` is only dereferenced by the one thread that claimed it through
// `state` (type invariant), and the closure it points at is `Send`; the rest is an
// atomic and a work item, usable from any thread.
unsafe impl Send for Offered {}

// SAFETY: As for `Send`: the only shared access to `task` is guarded by the atomic
// claim on `state`.
unsafe impl Sync for Offered {}

impl_has_work! {
    impl HasWork<Self> for Offered { self.work }
}

impl WorkItem for Offered {
    type Pointer = Arc<Offered>;

    fn run(this: Arc<Offered>) {
        if this
            .state
            .compare_exchange(OFFERED, THERE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // SAFETY: This thread claimed the task; it is live until `both`
            // returns, which waits for this work item to finish (type invariant).
            unsafe { (*this.task.0)() };
        }
    }
}

/// Does `here` on this thread and `there` on another CPU if one takes it first
/// (else here too, after `here`), and returns `here`'s result once both are done.
///
/// The two must be independent of each other: they may run in either order, or
/// at the same time. With the module parameter `cpus` below 2, both run here.
/// It may sleep (it waits for the work item), and `there` must not take a lock
/// the caller holds.
pub(crate) fn both<A, B, R>(there: A, here: B) -> R
where
    A: FnOnce() + Send,
    B: FnOnce() -> R,
{
    if crate::compat::param::<u32>(crate::module_parameters::cpus.value()) < 2 {
        let r = here();
        there();
        return r;
    }
    let mut there = Some(there);
    let mut call = || {
        if let Some(f) = there.take() {
            f()
        }
    };
    let task: *mut (dyn FnMut() + Send + '_) = &mut call;
    // SAFETY: Only the lifetime bound of the pointee changes. The pointer is used
    // while this function runs only: it returns after the work item is gone (see
    // below), and `call` lives until then.
    let task: *mut (dyn FnMut() + Send + 'static) = unsafe { core::mem::transmute(task) };
    let job = Arc::pin_init(
        pin_init!(Offered {
            work <- new_work!("ckpt::sys::cpus::both"),
            state: AtomicU32::new(OFFERED),
            task: Task(task),
        }),
        GFP_KERNEL,
    );
    let Ok(job) = job else {
        // No memory for the work item: both here.
        let r = here();
        call();
        return r;
    };
    let queued = workqueue::system_unbound().enqueue(job.clone()).is_ok();
    let r = here();
    // SAFETY: `job` is live; its `work` field is the `work_struct` enqueued above.
    let work = unsafe { Work::raw_get(&job.work) };
    if job
        .state
        .compare_exchange(OFFERED, HERE, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        // Taken back: the work item, if it still runs later, does nothing; take it
        // off the queue (or wait for it to end if it just started).
        // SAFETY: `work` is an initialised work item of a live `Offered`.
        if queued && unsafe { bindings::cancel_work_sync(work) } {
            // It was still queued: the reference the queue held (handed to it by
            // `enqueue`, see the `Arc` `RawWorkItem`) is ours again.
            // SAFETY: The queue will not run it, so nothing else gives that
            // reference back; it came from `Arc::into_raw` of a clone of `job`.
            drop(unsafe { Arc::from_raw(Arc::as_ptr(&job)) });
        }
        call();
    } else {
        // The work item took it: wait until it has returned.
        // SAFETY: `work` is an initialised work item of a live `Offered`.
        unsafe { bindings::flush_work(work) };
    }
    r
}
