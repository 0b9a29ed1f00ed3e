// SPDX-License-Identifier: GPL-2.0

//! Differences between the kernel crates of the series the module builds for
//! (7.2 and 7.3), in one place: each item here compiles against both.
//!
//! - Module parameters: `value()` returns a reference in 7.2 and the value in
//!   7.3; [`param`] takes either.
//!
//! What differs in C structure layouts (7.3's `ns_common`, for one) never reaches
//! Rust: the module reads such structures in the C shim only.

use core::borrow::Borrow;

/// The value of a module parameter, from what its `value()` returns in either
/// series.
pub(crate) fn param<T: Copy>(v: impl Borrow<T>) -> T {
    *v.borrow()
}
