// SPDX-License-Identifier: GPL-2.0

//! Differences between the kernel crates of the series the module builds for
//! (7.2 and 7.3), in one place: each item here compiles against both.
//!
//! - Module parameters: `value()` returns a reference in 7.2 and the value in
//!   7.3; [`param`] takes either.
//! - `THIS_MODULE`: a static of the crate root in 7.2, an associated constant of
//!   `ModuleMetadata` in 7.3; [`this_module`] is the pointer in both.
//!
//! What differs in C structure layouts (7.3's `ns_common`, for one) never reaches
//! Rust: the module reads such structures in the C shim only.

use core::borrow::Borrow;
use kernel::{bindings, types::Opaque};

/// The value of a module parameter, from what its `value()` returns in either
/// series.
pub(crate) fn param<T: Copy>(v: impl Borrow<T>) -> T {
    *v.borrow()
}

// `struct module` holds an empty `its_array` on this config: only its address is
// used, never its contents (as in the `module!` macros).
#[allow(improper_ctypes)]
extern "C" {
    /// The `struct module` of this module, made by the kernel's module loader
    /// (what both series' `module!` macros name as `THIS_MODULE`).
    static __this_module: Opaque<bindings::module>;
}

/// `THIS_MODULE`: this module's `struct module`, live while its code runs.
pub(crate) fn this_module() -> *mut bindings::module {
    // SAFETY: Only the address of the loader-made static is taken.
    unsafe { __this_module.get() }
}
