// SPDX-License-Identifier: GPL-2.0

//! One file per kind of kernel object, mirroring `rust/objects/`: each holds
//! the records (fields, encoding, decoding, checks) of that object.

mod cpu;
mod creds;
mod event;
mod files;
mod incr;
mod ipc;
mod locks;
mod mm;
mod pidfd;
mod signal;
mod stream;
mod task;
mod timers;
mod tty;
mod unix;

pub use cpu::*;
pub use creds::*;
pub use event::*;
pub use files::*;
pub use incr::*;
pub use ipc::*;
pub use locks::*;
pub use mm::*;
pub use pidfd::*;
pub use signal::*;
pub use stream::*;
pub use task::*;
pub use timers::*;
pub use tty::*;
pub use unix::*;
