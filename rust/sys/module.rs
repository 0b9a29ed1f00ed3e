// SPDX-License-Identifier: GPL-2.0

//! References on this module (`try_module_get`/`module_put` of `THIS_MODULE`): an open
//! `/dev/ckpt` pins the module (the Rust misc device layer sets no `file_operations`
//! owner).

use kernel::bindings;

/// Pins the module (false while it is being unloaded).
pub(crate) fn get() -> bool {
    // SAFETY: `THIS_MODULE` is this module, live while its code runs.
    unsafe { bindings::try_module_get(crate::compat::this_module()) }
}

/// Unpins the module (one call per successful [`get`]).
pub(crate) fn put() {
    // SAFETY: As above; the reference was taken by `get` (the caller's contract).
    unsafe { bindings::module_put(crate::compat::this_module()) }
}
