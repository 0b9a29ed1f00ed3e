// SPDX-License-Identifier: GPL-2.0

//! A condition variable with a killable, timed wait.
//!
//! 7.2's `kernel::sync::CondVar` waits uninterruptibly, interruptibly, or interruptibly
//! with a timeout. The tasks of one restart need a killable wait with a timeout: the
//! pending signals a restart installs must not cut the wait short, a fatal one must.
//! This is `CondVar` with that one more wait, written so that it could be proposed
//! upstream as `CondVar::wait_killable_timeout` (it uses only what `CondVar` uses).

use core::marker::PhantomPinned;
use kernel::{
    bindings,
    prelude::*,
    sync::lock::{Backend, Guard},
    time::msecs_to_jiffies,
    types::Opaque,
};

/// Creates a [`CondVar`] initialiser with a newly-created lock class.
macro_rules! new_killable_condvar {
    ($name:literal) => {
        $crate::sys::sync::CondVar::new(kernel::c_str!($name), kernel::static_lock_class!())
    };
}
pub(crate) use new_killable_condvar;

/// A condition variable over the kernel's `struct wait_queue_head`, as
/// `kernel::sync::CondVar`, with [`CondVar::wait_killable_timeout`].
#[pin_data]
pub(crate) struct CondVar {
    #[pin]
    wait_queue_head: Opaque<bindings::wait_queue_head>,
    /// The wait queue is a self-referential list head: never moved once initialised.
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: `CondVar` only uses a `struct wait_queue_head`, which is safe to use on any thread.
unsafe impl Send for CondVar {}

// SAFETY: `CondVar` only uses a `struct wait_queue_head`, which is safe to use on multiple
// threads concurrently.
unsafe impl Sync for CondVar {}

impl CondVar {
    /// Constructs a new condvar initialiser.
    pub(crate) fn new(
        name: &'static CStr,
        key: Pin<&'static kernel::sync::LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            _pin: PhantomPinned,
            // SAFETY: `slot` is valid while the closure is called and both `name` and `key`
            // have static lifetimes so they live indefinitely.
            wait_queue_head <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_waitqueue_head(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }

    /// Releases the lock held by `guard` and waits, killable, for a notification or
    /// `timeout_ms`; retakes the lock and returns its guard. `ETIMEDOUT` if the time ran
    /// out, `EINTR` if the caller got a fatal signal (then it did not sleep). It may also
    /// wake up spuriously: the caller checks its condition again in any case.
    pub(crate) fn wait_killable_timeout<'a, T: ?Sized, B: Backend>(
        &self,
        guard: Guard<'a, T, B>,
        timeout_ms: u32,
    ) -> (Guard<'a, T, B>, Result) {
        let lock = guard.lock_ref();
        let wait = Opaque::<bindings::wait_queue_entry>::uninit();
        // SAFETY: `wait` points to valid memory.
        unsafe { bindings::init_wait(wait.get()) };
        // On the queue before the lock is released: a notification after any change
        // made under the lock wakes us. Non-zero (and not queued) on a fatal signal.
        // SAFETY: Both `wait` and `wait_queue_head` point to valid memory.
        let killed = unsafe {
            bindings::prepare_to_wait_event(
                self.wait_queue_head.get(),
                wait.get(),
                bindings::TASK_KILLABLE as i32,
            )
        } != 0;
        drop(guard);
        let left = if killed {
            0
        } else {
            let jiffies = msecs_to_jiffies(timeout_ms)
                .try_into()
                .unwrap_or(kernel::task::MAX_SCHEDULE_TIMEOUT);
            // SAFETY: Switches to another thread; the timeout can be any number.
            unsafe { bindings::schedule_timeout(jiffies) }
        };
        // SAFETY: Both `wait` and `wait_queue_head` point to valid memory.
        unsafe { bindings::finish_wait(self.wait_queue_head.get(), wait.get()) };
        let res = if killed {
            Err(EINTR)
        } else if left == 0 {
            Err(ETIMEDOUT)
        } else {
            Ok(())
        };
        (lock.lock(), res)
    }

    /// Wakes all waiters up, if any.
    pub(crate) fn notify_all(&self) {
        // SAFETY: `wait_queue_head` points to valid memory.
        unsafe {
            bindings::__wake_up(
                self.wait_queue_head.get(),
                bindings::TASK_NORMAL,
                0,
                core::ptr::null_mut(),
            )
        };
    }
}
