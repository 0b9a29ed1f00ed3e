// SPDX-License-Identifier: GPL-2.0

//! ckpt: the userspace side of the ckpt checkpoint/restart module.
//!
//! The library holds everything but the command line, so that the tests and
//! the fuzz target (`fuzz/`) use the very same reader and printers as the
//! `ckpt` binary (`src/main.rs`).

// The format and the ioctl ABI are shared with the kernel module, which must
// build with older compilers (no `is_multiple_of`) and keeps records on the
// stack by value; those lints are silenced here, not in the shared files.
#[path = "../../../rust/image/mod.rs"]
#[allow(
    clippy::manual_range_contains,
    clippy::manual_is_multiple_of,
    clippy::large_enum_variant
)]
pub mod image;
#[path = "../../../rust/uapi.rs"]
pub mod uapi;

pub mod attrs;
pub mod chain;
pub mod checkpoint;
pub mod compress;
pub mod dev;
pub mod errno;
pub mod fuzz;
pub mod handover;
pub mod hmac;
pub mod json;
pub mod kexec;
pub mod migrate;
pub mod names;
pub mod reader;
pub mod restart;
pub mod sample;
pub mod show;
pub mod sys;
pub mod sysv;
pub mod timing;
pub mod writer;
