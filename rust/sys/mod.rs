// SPDX-License-Identifier: GPL-2.0

//! Thin typed wrappers over exported kernel functions that `kernel::bindings` exposes
//! and the 7.2 kernel crate does not wrap yet, one file per kernel subsystem. Each
//! wrapper does one call (or one short sequence the kernel wants together) and states
//! its contract; no policy lives here. What Rust cannot call (static inlines that touch
//! locks, macros, task_work callbacks) stays in `rust/shim_*.c`, wrapped by
//! [`crate::shim`].

pub(crate) mod cpus;
pub(crate) mod cred;
pub(crate) mod file;
pub(crate) mod mm;
pub(crate) mod module;
pub(crate) mod signal;
pub(crate) mod sync;
pub(crate) mod task;
