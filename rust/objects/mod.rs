// SPDX-License-Identifier: GPL-2.0

//! One file per kind of kernel object, each holding that object's precheck, dump
//! (checkpoint) and restore side by side, so that what is saved and what is
//! restored are read and changed together. The records themselves (fields,
//! encoding, checks) live in the matching file of `rust/image/records/`.
//!
//! The orchestration ([`crate::checkpoint`], [`crate::restart`]) decides the order;
//! these files know the objects. A new kind of object is a new file here,
//! registered below, plus its records in `rust/image/records/`.

pub(crate) mod cpu;
pub(crate) mod creds;
pub(crate) mod epoll;
pub(crate) mod event;
pub(crate) mod fanotify;
pub(crate) mod files;
pub(crate) mod inotify;
pub(crate) mod layout;
pub(crate) mod locks;
pub(crate) mod mm;
pub(crate) mod pidfd;
pub(crate) mod pipe;
pub(crate) mod shm;
pub(crate) mod signal;
pub(crate) mod sysvipc;
pub(crate) mod task;
pub(crate) mod timers;
pub(crate) mod track;
pub(crate) mod tty;
pub(crate) mod unix;
pub(crate) mod vdso;

// Values of the user ABI (`PROT_*`, `MAP_*`, `O_*`) the restore side passes on.
pub(crate) const PROT_WRITE: u32 = 2;
pub(crate) const MAP_SHARED: u32 = 0x01;
pub(crate) const MAP_PRIVATE: u32 = 0x02;
pub(crate) const MAP_DROPPABLE: u32 = 0x08;
pub(crate) const MAP_ANONYMOUS: u32 = 0x20;
pub(crate) const MAP_GROWSDOWN: u32 = 0x0100;
pub(crate) const MAP_LOCKED: u32 = 0x2000;
pub(crate) const MAP_NORESERVE: u32 = 0x4000;
pub(crate) const MAP_FIXED: u32 = 0x10;
pub(crate) const MAP_FIXED_NOREPLACE: u32 = 0x100000;
pub(crate) const O_ACCMODE: u32 = 3;
pub(crate) const O_RDONLY: u32 = 0;
pub(crate) const O_WRONLY: u32 = 1;
pub(crate) const O_RDWR: u32 = 2;
pub(crate) const O_NOCTTY: u32 = 0o400;
pub(crate) const O_NONBLOCK: u32 = 0o4000;
