// SPDX-License-Identifier: GPL-2.0

//! The image's SysV shared memory segments: the root restarter makes sure
//! each exists and attaches it, and every process it creates inherits the
//! attachments, which the module then maps where the image had them.

use crate::errno;
use crate::image::USER_ADDR_END;
use crate::sys;

use super::plan::Plan;
use super::vdso::overlaps;

/// Makes sure every SysV segment of the image exists (the same one if it survived,
/// else a new one with its shmid, key and size) and attaches it where no mapping of
/// the image lies: the module maps it again where the image had it. A new private
/// segment is marked for removal once attached, so that it goes with its last
/// attachment (the usual pattern). The processes forked after inherit the
/// attachments.
pub(super) fn attach_sysv(plan: &Plan) -> Result<(), String> {
    let mut at = 0x2000_0000_0000u64;
    for seg in &plan.sysv {
        let created = match sys::sysv_segment(seg.shmid) {
            Some((key, size)) if size == seg.size && key == seg.key => false,
            Some(_) => {
                return Err(format!(
                    "SysV shared memory segment {} exists with another key or size",
                    seg.shmid
                ))
            }
            None => {
                sys::sysv_create(seg.shmid, seg.key, seg.size).map_err(|e| {
                    format!(
                        "cannot create SysV shared memory segment {} (key {:#x}, {} bytes): {}",
                        seg.shmid,
                        seg.key,
                        seg.size,
                        errno::describe(&e)
                    )
                })?;
                true
            }
        };
        let len = seg.size.div_ceil(4096) * 4096;
        let clear = |a: u64| {
            plan.procs
                .iter()
                .flat_map(|p| p.vmas.iter())
                .all(|&(s, e)| !overlaps((a, a + len), (s, e)))
        };
        let mut tries = 0;
        loop {
            if clear(at) && sys::sysv_attach(seg.shmid, at).is_ok() {
                break;
            }
            at += len.max(1 << 30);
            tries += 1;
            if tries > 1000 || at >= USER_ADDR_END / 2 {
                return Err(format!(
                    "cannot attach SysV shared memory segment {} anywhere",
                    seg.shmid
                ));
            }
        }
        at += len.max(1 << 30);
        if created && seg.key == 0 {
            sys::sysv_remove(seg.shmid);
        }
    }
    Ok(())
}
