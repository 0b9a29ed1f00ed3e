// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of the module: the bindings layout guard, and the image codec as the
//! kernel compiles it. They run at `insmod` when the kernel has `CONFIG_KUNIT=y`.

use kernel::prelude::*;

#[kunit_tests(ckpt_layout)]
mod layout {
    use crate::shim;
    use core::mem::{offset_of, size_of};
    use kernel::bindings;

    /// Every field the module (and the kernel crate on its behalf: `Task::pid`,
    /// `current!().mm()`, `File::flags`, `Credential::euid`...) reads through
    /// `kernel::bindings` sits where C puts it. bindgen drops the alignment of empty
    /// `__aligned` structs (e.g. `sched_statistics` without `CONFIG_SCHEDSTATS`), and the
    /// kernel builds its bindings without layout tests.
    #[test]
    fn bindings_match_c() {
        let c = shim::c_layout();
        assert_eq!(
            c.task_struct_size,
            size_of::<bindings::task_struct>() as u64
        );
        assert_eq!(c.task_pid, offset_of!(bindings::task_struct, pid) as u64);
        assert_eq!(c.task_tgid, offset_of!(bindings::task_struct, tgid) as u64);
        assert_eq!(c.task_mm, offset_of!(bindings::task_struct, mm) as u64);
        assert_eq!(c.task_comm, offset_of!(bindings::task_struct, comm) as u64);
        assert_eq!(
            c.task_group_leader,
            offset_of!(bindings::task_struct, group_leader) as u64
        );
        assert_eq!(
            c.task_real_cred,
            offset_of!(bindings::task_struct, real_cred) as u64
        );
        assert_eq!(c.task_cred, offset_of!(bindings::task_struct, cred) as u64);
        assert_eq!(
            c.task_flags,
            offset_of!(bindings::task_struct, flags) as u64
        );
        assert_eq!(c.mm_struct_size, size_of::<bindings::mm_struct>() as u64);
        assert_eq!(c.file_size, size_of::<bindings::file>() as u64);
        assert_eq!(c.file_f_flags, offset_of!(bindings::file, f_flags) as u64);
        assert_eq!(c.file_f_cred, offset_of!(bindings::file, f_cred) as u64);
        assert_eq!(c.file_f_mode, offset_of!(bindings::file, f_mode) as u64);
        assert_eq!(c.cred_uid, offset_of!(bindings::cred, uid) as u64);
        assert_eq!(c.cred_euid, offset_of!(bindings::cred, euid) as u64);
        // What rust/sys/ reads.
        assert_eq!(
            c.task_signal,
            offset_of!(bindings::task_struct, signal) as u64
        );
        assert_eq!(
            c.task_sas_ss_sp,
            offset_of!(bindings::task_struct, sas_ss_sp) as u64
        );
        assert_eq!(
            c.task_sas_ss_size,
            offset_of!(bindings::task_struct, sas_ss_size) as u64
        );
        assert_eq!(
            c.task_sas_ss_flags,
            offset_of!(bindings::task_struct, sas_ss_flags) as u64
        );
        assert_eq!(
            c.task_atomic_flags,
            offset_of!(bindings::task_struct, atomic_flags) as u64
        );
        assert_eq!(c.cred_fsgid, offset_of!(bindings::cred, fsgid) as u64);
        assert_eq!(
            c.cred_securebits,
            offset_of!(bindings::cred, securebits) as u64
        );
        assert_eq!(
            c.cred_cap_inheritable,
            offset_of!(bindings::cred, cap_inheritable) as u64
        );
        assert_eq!(
            c.cred_cap_ambient,
            offset_of!(bindings::cred, cap_ambient) as u64
        );
        assert_eq!(
            c.cred_group_info,
            offset_of!(bindings::cred, group_info) as u64
        );
        assert_eq!(
            c.group_info_ngroups,
            offset_of!(bindings::group_info, ngroups) as u64
        );
        assert_eq!(
            c.group_info_gid,
            offset_of!(bindings::group_info, gid) as u64
        );
    }

    /// The shim's structs that cross between C and Rust have one layout.
    #[test]
    fn shim_structs_match_c() {
        let c = shim::c_layout();
        assert_eq!(c.task_info_size, size_of::<shim::TaskInfo>() as u64);
        assert_eq!(
            c.task_info_files_key,
            offset_of!(shim::TaskInfo, files_key) as u64
        );
        assert_eq!(c.file_info_size, size_of::<shim::FileInfo>() as u64);
        assert_eq!(
            c.file_info_inode_key,
            offset_of!(shim::FileInfo, inode_key) as u64
        );
        assert_eq!(c.vma_info_size, size_of::<shim::VmaInfo>() as u64);
        assert_eq!(c.mm_info_size, size_of::<shim::MmInfo>() as u64);
        assert_eq!(c.creds_size, size_of::<shim::CredsRaw>() as u64);
        assert_eq!(c.sigstate_size, size_of::<shim::SigState>() as u64);
        assert_eq!(c.sigaction_size, size_of::<shim::SigActionRaw>() as u64);
    }

    /// The kernel crate's own accessors agree with C on a live task.
    #[test]
    fn kernel_crate_task_pid_matches_c() {
        let task = kernel::current!();
        let me = shim::TaskRef::by_vpid(task.pid());
        assert!(me.is_some());
        if let Some(me) = me {
            assert_eq!(me.info().pid, task.pid());
        }
    }
}

#[kunit_tests(ckpt_image)]
mod image_codec {
    use crate::image::*;

    #[test]
    fn xxh64_vectors() {
        assert_eq!(xxh64(b"", 0), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"abc", 0), 0x44BC_2CF5_AD77_0999);
    }

    #[test]
    fn record_roundtrip() {
        let mut buf = [0u8; 256];
        let v = Vma {
            start: 0x40_0000,
            end: 0x40_2000,
            pgoff: 0,
            prot: prot::READ | prot::EXEC,
            flags: vmflag::MAYREAD,
            backing: backing::FILE_PRIVATE,
            file: 3,
            name: b"",
        };
        let mut e = Enc::new(&mut buf);
        assert!(v.encode(&mut e).is_ok());
        let n = e.len();
        assert_eq!(Vma::from_payload(&buf[..n]), Ok(v));
        // Truncated payloads never decode.
        for cut in 0..n {
            assert!(Vma::from_payload(&buf[..cut]).is_err());
        }
    }

    #[test]
    fn rejects_kernel_addresses() {
        let mut buf = [0u8; 256];
        let v = vma(0xffff_8880_0000_0000, 0xffff_8880_0000_1000);
        let mut e = Enc::new(&mut buf);
        assert!(v.encode(&mut e).is_ok());
        let n = e.len();
        assert_eq!(
            Vma::from_payload(&buf[..n]),
            Err(ImageError::Malformed("vma: outside user space"))
        );
    }

    #[test]
    fn header_framing() {
        let payload = [1u8, 2, 3, 4, 5];
        let h = RecordHeader::for_payload(kind::FD, 1, &payload);
        let b = h.to_bytes();
        assert_eq!(RecordHeader::parse(&b), Ok((h, true)));
        assert!(h.verify(&payload).is_ok());
        let mut bad = payload;
        bad[2] ^= 0x10;
        assert_eq!(h.verify(&bad), Err(ImageError::BadCheck { kind: kind::FD }));
        let unknown = RecordHeader { kind: 0x0999, ..h }.to_bytes();
        assert_eq!(
            RecordHeader::parse(&unknown),
            Err(ImageError::UnknownKind(0x0999))
        );
        let future = RecordHeader { version: 9, ..h }.to_bytes();
        assert!(RecordHeader::parse(&future).is_err());
    }

    fn vma(start: u64, end: u64) -> Vma<'static> {
        Vma {
            start,
            end,
            pgoff: 0,
            prot: prot::READ,
            flags: 0,
            backing: backing::ANON,
            file: 0,
            name: b"",
        }
    }

    fn feed<'a, R: Record<'a>>(c: &mut OrderChecker, r: &R, buf: &'a mut [u8]) -> Result<()> {
        let mut e = Enc::new(buf);
        r.encode(&mut e)?;
        let n = e.len();
        let h = RecordHeader::for_payload(R::KIND, R::VERSION, &buf[..n]);
        let any = AnyRecord::decode(&h, &buf[..n])?;
        c.feed(&h, &any)
    }

    /// Overlapping mappings and absurd fd numbers are refused by the kernel's decoder.
    #[test]
    fn rejects_overlaps_and_absurd_fds() {
        let mut buf = [0u8; 512];
        let mut c = OrderChecker::new();
        let hdr = Header {
            format_major: FORMAT_MAJOR,
            format_minor: FORMAT_MINOR,
            arch: ARCH_X86_64,
            flags: 0,
            page_size: PAGE_SIZE as u32,
            xstate_size: 0,
            xfeatures: 0,
            time_ns: 0,
            root_pid: 1,
            ntasks: 1,
            kernel_release: b"",
            hostname: b"",
            writer: b"",
        };
        assert_eq!(feed(&mut c, &hdr, &mut buf), Ok(()));
        let mm = MmRec {
            id: 1,
            nr_vmas: 2,
            layout: [0; 11],
            auxv: b"",
            exe: b"",
        };
        assert_eq!(feed(&mut c, &mm, &mut buf), Ok(()));
        assert_eq!(feed(&mut c, &vma(0x10000, 0x20000), &mut buf), Ok(()));
        assert_eq!(
            feed(&mut c, &vma(0x1f000, 0x30000), &mut buf),
            Err(ImageError::Malformed("vmas overlap or are not sorted"))
        );
        let fd = Fd {
            fd: MAX_FD,
            file: 1,
            flags: 0,
        };
        let mut e = Enc::new(&mut buf);
        assert_eq!(fd.encode(&mut e), Ok(()));
        let n = e.len();
        assert_eq!(
            Fd::from_payload(&buf[..n]),
            Err(ImageError::Malformed("fd: number too large"))
        );
    }
}
