// SPDX-License-Identifier: GPL-2.0

//! The address-space layout words of an image (`MmRec::layout`: code, data, brk,
//! stack, arguments and environment), checked before the point of no return as
//! `prctl(PR_SET_MM_MAP)` checks them (`validate_prctl_map_addr()`, kernel/sys.c):
//! each pair in order, and the data size within `RLIMIT_DATA`. The restore itself
//! (setting them on the new address space) is in [`super::mm`].

use crate::checkpoint::Reason;
use crate::restart::Plan;
use kernel::prelude::*;

/// `RLIMIT_DATA`.
const RLIMIT_DATA: usize = 2;
/// `RLIM_INFINITY`.
const RLIM_INFINITY: u64 = u64::MAX;

/// The rules of `validate_prctl_map_addr()` but the `mmap_min_addr` bound (not
/// exported; the decoder already keeps every word below the end of user space).
pub(crate) fn check_plan(p: &Plan<'_>, why: &mut Reason) -> Result {
    let l = &p.mm.layout;
    let (start_code, end_code, start_data, end_data) = (l[0], l[1], l[2], l[3]);
    let (start_brk, brk) = (l[4], l[5]);
    let (arg_start, arg_end, env_start, env_end) = (l[7], l[8], l[9], l[10]);
    let bad = |why: &mut Reason, what: &str| {
        why.set(
            EINVAL,
            format_args!(
                "the image's memory layout is inconsistent: {what} (prctl(PR_SET_MM_MAP) rules)"
            ),
        )
    };
    if start_code >= end_code {
        return Err(bad(why, "code ends before it starts"));
    }
    if start_data > end_data {
        return Err(bad(why, "data ends before it starts"));
    }
    if start_brk > brk {
        return Err(bad(why, "brk below its start"));
    }
    if arg_start > arg_end || env_start > env_end {
        return Err(bad(why, "arguments or environment end before they start"));
    }
    // check_data_rlimit() with the limit the restored process will have.
    let rlim = p.rlimits.map_or(RLIM_INFINITY, |r| r.lim[RLIMIT_DATA].0);
    let size = (brk - start_brk).saturating_add(end_data - start_data);
    if rlim != RLIM_INFINITY && size > rlim {
        return Err(why.set(
            ENOSPC,
            format_args!(
                "the image's data and brk ({size} bytes) exceed its RLIMIT_DATA ({rlim}) \
                 (prctl(PR_SET_MM_MAP) rules)"
            ),
        ));
    }
    Ok(())
}
