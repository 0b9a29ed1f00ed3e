// SPDX-License-Identifier: GPL-2.0

//! KUnit suites of the module: the bindings layout guard, and the image codec as the
//! kernel compiles it. They run at `insmod` when the kernel has `CONFIG_KUNIT=y`.

use kernel::prelude::*;

#[kunit_tests(ckpt_layout)]
mod layout {
    use crate::shim;
    use core::mem::{offset_of, size_of};
    use kernel::bindings;

    /// Asserts that each C offset in `$c` is the bindings' (`FIELD = TYPE.MEMBER`).
    macro_rules! offsets_match {
        ($c:expr; $($field:ident = $ty:ident . $member:ident),* $(,)?) => {
            $(assert_eq!($c.$field, offset_of!(bindings::$ty, $member) as u64);)*
        };
    }

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
        assert_eq!(c.mm_struct_size, size_of::<bindings::mm_struct>() as u64);
        assert_eq!(c.file_size, size_of::<bindings::file>() as u64);
        offsets_match!(c;
            task_pid = task_struct.pid,
            task_tgid = task_struct.tgid,
            task_mm = task_struct.mm,
            task_comm = task_struct.comm,
            task_group_leader = task_struct.group_leader,
            task_real_cred = task_struct.real_cred,
            task_cred = task_struct.cred,
            task_flags = task_struct.flags,
            file_f_flags = file.f_flags,
            file_f_cred = file.f_cred,
            file_f_mode = file.f_mode,
            cred_uid = cred.uid,
            cred_euid = cred.euid,
            task_signal = task_struct.signal,
            task_sas_ss_sp = task_struct.sas_ss_sp,
            task_sas_ss_size = task_struct.sas_ss_size,
            task_sas_ss_flags = task_struct.sas_ss_flags,
            task_atomic_flags = task_struct.atomic_flags,
            cred_fsgid = cred.fsgid,
            cred_securebits = cred.securebits,
            cred_cap_inheritable = cred.cap_inheritable,
            cred_cap_ambient = cred.cap_ambient,
            cred_group_info = cred.group_info,
            group_info_ngroups = group_info.ngroups,
            group_info_gid = group_info.gid,
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

#[kunit_tests(ckpt_cpus)]
mod cpus {
    use crate::sys::cpus::both;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// Both pieces run exactly once, each sees its own borrowed data, and `both`
    /// returns the local piece's result only once the offered one is done (its
    /// writes are seen).
    #[test]
    fn both_runs_each_piece_once() {
        for round in 0..200usize {
            let mut there = [0u64; 512];
            let mut here = [0u64; 512];
            let r = both(
                || {
                    for (i, w) in there.iter_mut().enumerate() {
                        *w = (i + round) as u64;
                    }
                },
                || {
                    for (i, w) in here.iter_mut().enumerate() {
                        *w = (i * 2 + round) as u64;
                    }
                    round
                },
            );
            assert_eq!(r, round);
            for i in 0..512 {
                assert_eq!(there[i], (i + round) as u64);
                assert_eq!(here[i], (i * 2 + round) as u64);
            }
        }
    }

    /// Work shared through a counter, as a restart's batch shares page records:
    /// every item is taken once, by one side or the other.
    #[test]
    fn both_shares_a_counter() {
        let next = AtomicUsize::new(0);
        let taken: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(t) = taken.get(i) else {
                break;
            };
            t.fetch_add(1, Ordering::Relaxed);
        };
        both(work, work);
        assert!(taken.iter().all(|t| t.load(Ordering::Relaxed) == 1));
    }
}
