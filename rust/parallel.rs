// SPDX-License-Identifier: GPL-2.0

//! The record check of page data computed on another CPU: while one CPU moves a
//! record's pages (to the image, or from it into place), a kworker of the unbound
//! workqueue hashes the next (or previous) record's, so that a checkpoint or a restart
//! takes about the longer of the two instead of their sum.

use crate::image::{Hasher, RecordHeader};
use crate::shim::HeldPages;
use core::cell::UnsafeCell;
use kernel::prelude::*;
use kernel::sync::{Arc, Completion};
use kernel::workqueue::{self, impl_has_work, new_work, Work, WorkItem};

/// What a job works on: the hasher fed so far and the pages to feed it.
struct State {
    hasher: Hasher,
    pages: HeldPages,
}

/// One hash of held pages, run by a kworker.
#[pin_data]
struct HashJob {
    #[pin]
    work: Work<HashJob>,
    #[pin]
    done: Completion,
    /// Owned by the submitter until the job is enqueued, then by the kworker until it
    /// completes `done`, then by the submitter again (see [`PageHash`]).
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only ever accessed by one side at a time: the submitter before
// enqueueing and after `done` completed, the kworker in between ([`HashJob::run`]).
// The completion orders the accesses (complete_all/wait_for_completion are full
// barriers). `Hasher` is plain data and `HeldPages` may move between threads.
unsafe impl Sync for HashJob {}
// SAFETY: See above; nothing in a `HashJob` is tied to a thread.
unsafe impl Send for HashJob {}

impl_has_work! {
    impl HasWork<Self> for HashJob { self.work }
}

impl WorkItem for HashJob {
    type Pointer = Arc<HashJob>;

    fn run(this: Arc<HashJob>) {
        {
            // SAFETY: The kworker owns `state` from enqueueing until `done` completes.
            let st = unsafe { &mut *this.state.get() };
            let State { hasher, pages } = st;
            pages.for_each_bytes(|b| hasher.update(b));
        }
        this.done.complete_all();
    }
}

/// A hash of pages under way on another CPU; [`PageHash::wait`] gives back the hasher
/// and the pages. Dropping it waits for the kworker.
pub(crate) struct PageHash(Option<Arc<HashJob>>);

impl PageHash {
    /// Starts feeding the contents of `pages` to `hasher` on another CPU.
    pub(crate) fn start(hasher: Hasher, pages: HeldPages) -> Result<Self> {
        let job = Arc::pin_init(
            pin_init!(HashJob {
                work <- new_work!("ckpt::PageHash"),
                done <- Completion::new(),
                state: UnsafeCell::new(State { hasher, pages }),
            }),
            GFP_KERNEL,
        )?;
        // A fresh work item cannot be queued already.
        let _ = workqueue::system_unbound().enqueue(job.clone());
        Ok(Self(Some(job)))
    }

    /// Waits for the hash; returns the hasher fed with the pages, and the pages.
    pub(crate) fn wait(mut self) -> (Hasher, HeldPages) {
        let job = self.0.take();
        match job {
            Some(job) => {
                job.done.wait_for_completion();
                // SAFETY: `done` completed: the kworker does not touch `state` any
                // more, and this is the only submitter.
                let st = unsafe { &mut *job.state.get() };
                (
                    core::mem::replace(&mut st.hasher, Hasher::new(0)),
                    core::mem::replace(&mut st.pages, HeldPages::empty()),
                )
            }
            None => (Hasher::new(0), HeldPages::empty()),
        }
    }
}

impl Drop for PageHash {
    fn drop(&mut self) {
        // The kworker runs module code and uses the pages: it must be done before the
        // caller goes on (and before the module can go).
        if let Some(job) = self.0.take() {
            job.done.wait_for_completion();
        }
    }
}

/// The check of a page record whose data was read into place, being computed on
/// another CPU while the next record is read (restart).
pub(crate) struct PendingCheck {
    job: PageHash,
    hdr: RecordHeader,
}

impl PendingCheck {
    /// Starts checking record `hdr`: `check` was fed everything of its payload before
    /// `pages`, whose contents follow.
    pub(crate) fn start(check: Hasher, pages: HeldPages, hdr: &RecordHeader) -> Result<Self> {
        Ok(Self {
            job: PageHash::start(check, pages)?,
            hdr: *hdr,
        })
    }

    /// The kind of the record checked.
    pub(crate) fn kind(&self) -> u16 {
        self.hdr.kind
    }

    /// Waits for the check; returns whether it matches the record's, and the pages
    /// holder (emptied).
    pub(crate) fn finish(self) -> (bool, HeldPages) {
        let (h, mut pages) = self.job.wait();
        pages.clear();
        let d = self.hdr;
        (
            RecordHeader::seal(d.kind, d.version, d.len, &h).check == d.check,
            pages,
        )
    }
}
