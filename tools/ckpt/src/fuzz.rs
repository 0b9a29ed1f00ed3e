// SPDX-License-Identifier: GPL-2.0

//! Image mutations for fuzzing: shared by the reader's fuzz test
//! (`tests/fuzz.rs`, on the host) and `ckpt-fuzz` (`src/bin/ckpt-fuzz.rs`),
//! which feeds the mutants to the module's restart in the VM.
//!
//! Two families:
//!
//! - [`mutate`]: blind damage (bit flips, byte stores, insertions, deletions,
//!   length-field rewrites, record swaps, duplicates, truncation), and
//!   [`splice`]: the head of one image with the tail of another;
//! - [`attack`]: semantic attacks on decoded records, re-encoded with valid
//!   checks, so that they pass the framing and reach the decoders and the
//!   restart itself: kernel addresses, overlapping and huge mappings, huge
//!   counts, bad fds, signals, registers and XSAVE headers, device and
//!   `/proc` paths.
//!
//! Everything is deterministic from a [`Rng`] seed: a case is reproduced from
//! its number (see [`case`]).

use crate::image::StreamAccount;
use crate::image::{
    self, kind, AnyRecord, Enc, Record, RecordHeader, MAX_RECORD_LEN, REC_HDR_LEN, USER_ADDR_END,
};
use crate::writer::{reseal, walk};

/// [`reseal`] for an image whose records before byte `from` are untouched:
/// only the later records' checks are computed again (the campaign's cost is
/// mostly hashing otherwise), the end record's account from all of them.
pub fn reseal_from(image: &mut [u8], from: usize) {
    let mut account = StreamAccount::new();
    for (off, h) in walk(image) {
        let p = off + REC_HDR_LEN;
        let end = p + h.len as usize;
        if end <= from && h.kind != kind::END {
            account.add(&h);
            continue;
        }
        let payload = &mut image[p..end];
        if h.kind == kind::END && payload.len() == 24 {
            payload[0..8].copy_from_slice(&account.records.to_le_bytes());
            payload[8..16].copy_from_slice(&account.bytes.to_le_bytes());
            payload[16..24].copy_from_slice(&account.chain.to_le_bytes());
        }
        let sealed = RecordHeader::for_payload(h.kind, h.version, payload);
        image[off..p].copy_from_slice(&sealed.to_bytes());
        account.add(&sealed);
    }
}

/// The first byte where `a` and `b` differ (the shorter length if one is a
/// prefix of the other).
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// xorshift64*: small, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator for case `i` of a campaign seeded with `seed`.
    pub fn for_case(seed: u64, i: u64) -> Self {
        let mut r = Rng((seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
        r.next();
        r
    }
    /// The next value.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A value below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// True one time in `one_in`.
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in.max(1) == 0
    }
    /// One of `v`.
    pub fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
}

/// Values that tend to sit on boundaries of the checks.
pub const INTERESTING: [u64; 16] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0x1000,
    0xffff,
    1 << 20,
    (1 << 20) - 1,
    0x7fff_ffff,
    0xffff_ffff,
    0x8000_0000,
    0x7fff_ffff_f000,
    0xffff_ffff_ff60_0000,
    0x8000_0000_0000_0000,
    u64::MAX,
];

/// Addresses a restored task must never get: kernel text, the direct map,
/// the vsyscall page, the last user page, the non-canonical hole, null.
pub const BAD_ADDRS: [u64; 10] = [
    0,
    0x1000,
    USER_ADDR_END,
    USER_ADDR_END - 0x1000,
    0x0000_8000_0000_0000,
    0xffff_8880_0000_0000,
    0xffff_ffff_8100_0000,
    0xffff_ffff_ff60_0000,
    0xffff_ffff_ffff_f000,
    0xdead_0000_0000_1000,
];

/// Paths an image must not make a restart open or map.
pub const BAD_PATHS: [&[u8]; 16] = [
    b"/dev/mem",
    b"/dev/kmem",
    b"/dev/port",
    b"/dev/kmsg",
    b"/dev/ckpt",
    b"/dev/console",
    b"/dev/vda",
    b"/proc/1/mem",
    b"/proc/self/mem",
    b"/proc/sysrq-trigger",
    b"/proc/kcore",
    b"/sys/kernel/debug/ckpt/restart_fail_nth",
    b"/sys/kernel/debug/failslab/probability",
    b"/../../../etc/../proc/1/environ",
    b"relative/path",
    b"",
];

/// Blind damage to an image, one of nine kinds; returns its name.
pub fn mutate(rng: &mut Rng, img: &mut Vec<u8>) -> &'static str {
    if img.is_empty() {
        return "empty";
    }
    let records = walk(img);
    match rng.below(9) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(img.len());
                img[i] ^= 1 << rng.below(8);
            }
            "bitflip"
        }
        1 => {
            let i = rng.below(img.len());
            img[i] = rng.next() as u8;
            "byte"
        }
        2 => {
            let at = rng.below(img.len() + 1);
            let n = 1 + rng.below(16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            img.splice(at..at, bytes);
            "insert"
        }
        3 => {
            let at = rng.below(img.len());
            let n = (1 + rng.below(64)).min(img.len() - at);
            img.drain(at..at + n);
            "delete"
        }
        4 if !records.is_empty() => {
            // Rewrite a length field.
            let (off, h) = records[rng.below(records.len())];
            let len = match rng.below(5) {
                0 => rng.next() as u32,
                1 => h.len.wrapping_add(rng.below(9) as u32).wrapping_sub(4),
                2 => 0,
                3 => MAX_RECORD_LEN,
                _ => u32::MAX,
            };
            img[off + 4..off + 8].copy_from_slice(&len.to_le_bytes());
            "length"
        }
        5 if !records.is_empty() => {
            // Store an interesting value inside a payload.
            let (off, h) = records[rng.below(records.len())];
            let width = [1usize, 2, 4, 8][rng.below(4)];
            if h.len as usize >= width {
                let at = off + REC_HDR_LEN + rng.below(h.len as usize - width + 1);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                img[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
            }
            "store"
        }
        6 if records.len() >= 2 => {
            // Swap two records.
            let a = rng.below(records.len());
            let b = rng.below(records.len());
            let (a, b) = (a.min(b), a.max(b));
            if a != b {
                let span = |i: usize| {
                    let (o, h) = records[i];
                    o..o + REC_HDR_LEN + h.len as usize
                };
                let (ra, rb) = (span(a), span(b));
                let mut out = img[..ra.start].to_vec();
                out.extend_from_slice(&img[rb.clone()]);
                out.extend_from_slice(&img[ra.end..rb.start]);
                out.extend_from_slice(&img[ra.clone()]);
                out.extend_from_slice(&img[rb.end..]);
                *img = out;
            }
            "reorder"
        }
        7 if !records.is_empty() => {
            // Duplicate or drop a record.
            let (o, h) = records[rng.below(records.len())];
            let span = o..o + REC_HDR_LEN + h.len as usize;
            if rng.chance(2) {
                let copy = img[span.clone()].to_vec();
                img.splice(span.end..span.end, copy);
                "duplicate"
            } else {
                img.drain(span);
                "drop"
            }
        }
        _ => {
            let n = rng.below(img.len());
            img.truncate(n);
            "truncate"
        }
    }
}

/// The records of `a` up to a random one, then those of `b` from a random one.
pub fn splice(rng: &mut Rng, a: &[u8], b: &[u8]) -> Vec<u8> {
    let ra = walk(a);
    let rb = walk(b);
    let cut_a = ra.get(rng.below(ra.len() + 1)).map_or(a.len(), |(o, _)| *o);
    let cut_b = rb.get(rng.below(rb.len() + 1)).map_or(b.len(), |(o, _)| *o);
    let mut out = a[..cut_a].to_vec();
    out.extend_from_slice(&b[cut_b..]);
    out
}

/// One record, encoded: (kind, version, payload).
type Rec = (u16, u16, Vec<u8>);

fn enc<'a, T: Record<'a>>(r: &T, room: usize) -> Option<Rec> {
    let mut buf = vec![0u8; room + 2 * image::MAX_PATH_LEN + 64];
    let mut e = Enc::new(&mut buf);
    r.encode(&mut e).ok()?;
    let n = e.len();
    buf.truncate(n);
    Some((T::KIND, T::VERSION, buf))
}

fn put(out: &mut Vec<u8>, r: &Rec) {
    let h = RecordHeader::for_payload(r.0, r.1, &r.2);
    out.extend_from_slice(&h.to_bytes());
    out.extend_from_slice(&r.2);
}

fn le64(v: &mut [u8], at: usize, x: u64) {
    if at + 8 <= v.len() {
        v[at..at + 8].copy_from_slice(&x.to_le_bytes());
    }
}

/// A value for a field of `width` bytes: boundaries, bad addresses, random.
fn value(rng: &mut Rng) -> u64 {
    match rng.below(3) {
        0 => rng.pick(&INTERESTING),
        1 => rng.pick(&BAD_ADDRS),
        _ => rng.next(),
    }
}

/// Replacement records for record `r` (payload `p`): `None` if this attack
/// does not apply to its kind.
fn attack_one<'a>(
    rng: &mut Rng,
    r: AnyRecord<'a>,
    p: &'a [u8],
) -> Option<(&'static str, Vec<Rec>)> {
    let room = p.len();
    Some(match r {
        AnyRecord::Vma(mut v) => {
            let name = match rng.below(7) {
                0 => {
                    v.start = rng.pick(&BAD_ADDRS) & !0xfff;
                    v.end = v.start.wrapping_add(0x1000 << rng.below(8));
                    "vma-kernel-address"
                }
                1 => {
                    // Overlap: this mapping again, shifted by a few pages, next to it.
                    let orig = enc(&v, room)?;
                    let shift = (1 + rng.below(4) as u64) << 12;
                    v.start = v.start.wrapping_sub(shift);
                    v.end = v.end.wrapping_sub(shift);
                    return Some(("vma-overlap", vec![orig, enc(&v, room)?]));
                }
                2 => {
                    v.end = if rng.chance(2) {
                        USER_ADDR_END
                    } else {
                        v.start.wrapping_add(1 << 40)
                    };
                    "vma-huge"
                }
                3 => {
                    v.prot = rng.next() as u32;
                    v.flags = rng.next() as u32;
                    "vma-prot-flags"
                }
                4 => {
                    v.backing = rng.next() as u8;
                    v.file = rng.pick(&[0, 1, 2, 0x7fff_ffff, u32::MAX]);
                    "vma-backing"
                }
                5 => {
                    v.pgoff = value(rng);
                    "vma-pgoff"
                }
                _ => {
                    std::mem::swap(&mut v.start, &mut v.end);
                    "vma-inverted"
                }
            };
            (name, vec![enc(&v, room)?])
        }
        AnyRecord::Mm(mut m) => {
            let name = match rng.below(3) {
                0 => {
                    let i = rng.below(m.layout.len());
                    m.layout[i] = value(rng);
                    "mm-layout"
                }
                1 => {
                    m.exe = rng.pick(&BAD_PATHS);
                    "mm-exe-path"
                }
                _ => {
                    m.nr_vmas = rng.pick(&[0, 1, 65535, 65536, 0x7fff_ffff, u32::MAX]);
                    "mm-count"
                }
            };
            (name, vec![enc(&m, room)?])
        }
        AnyRecord::File(mut f) => {
            if rng.chance(5) {
                // "Opened as root before it gave up root": a restarter that
                // passes nothing has the module open it with the image's rights.
                let groups = [0u8, 0, 0, 0];
                let o = image::FileOpener {
                    file: f.id,
                    fsuid: rng.pick(&[0, 1, 65534]),
                    fsgid: 0,
                    groups: &groups[..rng.below(2) * 4],
                };
                if rng.chance(2) {
                    f.path = rng.pick(&BAD_PATHS);
                }
                return Some(("file-opener", vec![enc(&f, room)?, enc(&o, room)?]));
            }
            let name = match rng.below(4) {
                0 => {
                    f.path = rng.pick(&BAD_PATHS);
                    "file-path"
                }
                1 => {
                    let any = rng.next() as u32;
                    f.flags = rng.pick(&[
                        image::O_PATH,
                        0o20200000,    // O_TMPFILE
                        0o40000,       // O_DIRECT
                        0o1000,        // O_TRUNC
                        0o100 | 0o200, // O_CREAT | O_EXCL
                        any,
                    ]);
                    "file-flags"
                }
                2 => {
                    f.pos = value(rng) as i64;
                    f.size = value(rng);
                    "file-pos-size"
                }
                _ => {
                    f.kind = rng.next() as u8;
                    f.mode = rng.next() as u32;
                    f.rdev = rng.next() as u32;
                    "file-kind"
                }
            };
            (name, vec![enc(&f, room)?])
        }
        AnyRecord::Fd(mut f) => {
            let orig = enc(&f, room)?;
            match rng.below(3) {
                0 => {
                    f.fd = rng.pick(&[3, 1023, 1024, 1 << 20, 0x7fff_ffff, u32::MAX]);
                    ("fd-number", vec![enc(&f, room)?])
                }
                1 => {
                    f.file = rng.pick(&[0, 0x7fff, u32::MAX]);
                    f.flags = rng.next() as u32;
                    ("fd-file", vec![enc(&f, room)?])
                }
                _ => ("fd-twice", vec![orig.clone(), orig]),
            }
        }
        AnyRecord::Files(mut f) => {
            f.count = rng.pick(&[0, 1 << 20, 0x7fff_ffff, u32::MAX]);
            ("files-count", vec![enc(&f, room)?])
        }
        AnyRecord::Fs(mut f) => {
            if rng.chance(2) {
                f.cwd = rng.pick(&BAD_PATHS);
            } else {
                f.root = rng.pick(&BAD_PATHS);
            }
            f.umask = rng.next() as u32;
            ("fs-path", vec![enc(&f, room)?])
        }
        AnyRecord::Sighand(_) => {
            // 64 actions of four words: handler, flags, restorer, mask.
            let mut raw = p.to_vec();
            let sig = rng.below(image::NSIG);
            let at = 4 + sig * 32 + 8 * rng.below(4);
            le64(&mut raw, at, value(rng));
            ("sighand-action", vec![(kind::SIGHAND, 1, raw)])
        }
        AnyRecord::Signal(mut s) => {
            let i = rng.below(3);
            s.itimers[i].value_ns = value(rng);
            s.itimers[i].interval_ns = value(rng);
            if rng.chance(2) {
                s.shared = image::SigQueue::new(rng.next(), &[]);
            }
            ("signal-timers-pending", vec![enc(&s, room)?])
        }
        AnyRecord::ThreadSignals(mut t) => {
            match rng.below(3) {
                0 => t.blocked = rng.next(),
                1 => {
                    t.altstack_sp = rng.pick(&BAD_ADDRS);
                    t.altstack_size = value(rng);
                    t.altstack_flags = rng.next() as u32;
                }
                _ => t.pending = image::SigQueue::new(rng.next() | 1 << 8, &[]),
            }
            ("thread-signals", vec![enc(&t, room)?])
        }
        AnyRecord::Regs(mut g) => {
            use image::{REG_FS_BASE, REG_GS_BASE, REG_RIP, REG_RSP};
            match rng.below(4) {
                0 => {
                    // eflags: NT, IOPL 3, VM, TF, AC, reserved bits.
                    g.r[18] ^= rng.pick(&[
                        1 << 14,
                        3 << 12,
                        1 << 17,
                        1 << 8,
                        1 << 18,
                        1 << 1 | 1 << 3,
                        1 << 63,
                    ]);
                }
                1 => {
                    // Segment selectors: cs, ss, ds, es, fs, gs.
                    let i = rng.pick(&[17usize, 20, 23, 24, 25, 26]);
                    g.r[i] = rng.pick(&[0, 0x10, 0x18, 0x23, 0x2b, 0x33, 0x3, 0xffff, u64::MAX]);
                }
                2 => {
                    let i = rng.pick(&[REG_RIP, REG_RSP, REG_FS_BASE, REG_GS_BASE]);
                    g.r[i] = rng.pick(&BAD_ADDRS);
                }
                _ => {
                    // orig_rax / rax: a syscall to restart that is not one.
                    let i = rng.pick(&[10usize, 15]);
                    g.r[i] = value(rng);
                }
            }
            ("regs", vec![enc(&g, room)?])
        }
        AnyRecord::Xstate(x) => {
            let mut area = x.area.to_vec();
            let hdr = image::XSAVE_HDR_OFFSET;
            let mut bv = x.xstate_bv;
            match rng.below(4) {
                0 => {
                    // XSTATE_BV in the header, and the record's copy of it.
                    bv = rng.next();
                    le64(&mut area, hdr, bv);
                }
                1 => le64(&mut area, hdr + 8, rng.next() | 1 << 63), // XCOMP_BV: compacted
                2 => {
                    // MXCSR with reserved bits, and MXCSR_MASK.
                    let m = (rng.next() as u32) | 0xffff_0000;
                    if area.len() >= 32 {
                        area[24..28].copy_from_slice(&m.to_le_bytes());
                        area[28..32].copy_from_slice(&m.to_le_bytes());
                    }
                }
                _ => le64(&mut area, hdr + 16 + 8 * rng.below(6), rng.next()), // reserved
            }
            let nx = image::Xstate {
                xstate_bv: bv,
                area: &area,
            };
            ("xstate-header", vec![enc(&nx, room)?])
        }
        AnyRecord::Creds(mut c) => {
            match rng.below(3) {
                0 => c.caps[rng.below(5)] = u64::MAX,
                1 => c.securebits = rng.next() as u32,
                _ => c.uids[rng.below(4)] = rng.pick(&[0, 1000, 65534, u32::MAX]),
            }
            ("creds", vec![enc(&c, room)?])
        }
        AnyRecord::Task(mut t) => {
            match rng.below(5) {
                0 => t.pid = rng.pick(&[0, -1, 1, i32::MAX, i32::MIN]),
                1 => t.exit_signal = rng.pick(&[0, 9, 19, 64, 65, 200, -1]),
                2 => t.personality = rng.next() as u32,
                3 => {
                    t.robust_list = rng.pick(&BAD_ADDRS);
                    t.robust_list_len = value(rng);
                    t.clear_child_tid = rng.pick(&BAD_ADDRS);
                }
                _ => t.flags = rng.next() as u32,
            }
            ("task", vec![enc(&t, room)?])
        }
        AnyRecord::Rseq(mut s) => {
            s.ptr = rng.pick(&BAD_ADDRS) | rng.below(32) as u64;
            s.len = rng.pick(&[0, 1, 20, 32, 33, 4096, u32::MAX]);
            s.sig = rng.next() as u32;
            ("rseq", vec![enc(&s, room)?])
        }
        AnyRecord::Rlimits(mut l) => {
            let i = rng.below(image::NRLIMITS);
            l.lim[i] = (value(rng), value(rng));
            ("rlimits", vec![enc(&l, room)?])
        }
        AnyRecord::TaskAttrs(mut a) => {
            a.policy = rng.pick(&[1, 2, 3, 5, 6, 7, u32::MAX]);
            a.nice = rng.pick(&[-100, -20, 19, 100]);
            a.rt_priority = rng.pick(&[0, 1, 99, 100, u32::MAX]);
            a.oom_score_adj = rng.pick(&[-1001, -1000, 1000, 1001]);
            a.pdeath_signal = rng.pick(&[0, 9, 65, u32::MAX]);
            ("task-attrs", vec![enc(&a, room)?])
        }
        AnyRecord::Pages(pg) => {
            let mut addrs = pg.addrs.to_vec();
            if addrs.len() < 8 {
                return None;
            }
            let n = addrs.len() / 8;
            let i = rng.below(n);
            match rng.below(3) {
                0 => le64(&mut addrs, i * 8, rng.pick(&BAD_ADDRS)),
                1 => le64(
                    &mut addrs,
                    i * 8,
                    pg.addr(i) | (1 + rng.below(0xfff)) as u64,
                ),
                _ => {
                    let j = rng.below(n);
                    le64(&mut addrs, i * 8, pg.addr(j));
                }
            }
            let np = image::Pages {
                mm: pg.mm,
                addrs: &addrs,
                data: pg.data,
            };
            ("pages-address", vec![enc(&np, room)?])
        }
        AnyRecord::Pipe(mut pp) => {
            pp.capacity = rng.pick(&[0, 1, 4095, 4097, 1 << 20, 1 << 31, u32::MAX]);
            ("pipe-capacity", vec![enc(&pp, room)?])
        }
        AnyRecord::Header(mut h) => {
            match rng.below(3) {
                0 => h.ntasks = rng.pick(&[0, 2, 1 << 16, u32::MAX]),
                1 => h.xstate_size = rng.pick(&[0, 512, 575, 1 << 20, u32::MAX]),
                _ => h.root_pid = rng.pick(&[0, -1, 1, i32::MAX]),
            }
            ("header", vec![enc(&h, room)?])
        }
        _ => return None,
    })
}

/// A semantic attack on `img` (a valid image): one record replaced by a
/// hostile version of itself, or a small record repeated thousands of times
/// (huge counts); the result is resealed, so its checks are valid. Returns
/// the attack's name, or `None` if nothing applied (`img` is unchanged).
pub fn attack(rng: &mut Rng, img: &mut Vec<u8>) -> Option<&'static str> {
    let recs = walk(img);
    if recs.is_empty() {
        return None;
    }
    let pick = |rng: &mut Rng| recs[rng.below(recs.len())];
    if rng.chance(40) {
        // A count bomb: one small record, many times.
        let small: Vec<_> = recs
            .iter()
            .filter(|(_, h)| {
                matches!(
                    h.kind,
                    kind::FD | kind::VMA | kind::FILE | kind::PIPE | kind::POSIX_TIMER
                )
            })
            .copied()
            .collect();
        let (o, h) = *small.get(rng.below(small.len()))?;
        let span = o..o + REC_HDR_LEN + h.len as usize;
        let one = img[span.clone()].to_vec();
        let n = rng.pick(&[1000usize, 5000, 20000]);
        let mut many = Vec::with_capacity(one.len() * n);
        for _ in 0..n {
            many.extend_from_slice(&one);
        }
        img.splice(span.end..span.end, many);
        reseal_from(img, span.end);
        return Some("count-bomb");
    }
    for _ in 0..8 {
        let (o, h) = pick(rng);
        let p = &img[o + REC_HDR_LEN..o + REC_HDR_LEN + h.len as usize];
        let Ok(r) = AnyRecord::decode(&h, p) else {
            continue;
        };
        let Some((name, new)) = attack_one(rng, r, p) else {
            continue;
        };
        let mut out = img[..o].to_vec();
        for r in &new {
            put(&mut out, r);
        }
        out.extend_from_slice(&img[o + REC_HDR_LEN + h.len as usize..]);
        reseal_from(&mut out, o);
        *img = out;
        return Some(name);
    }
    None
}

/// Case `i` of a campaign over `seeds` (valid images): a copy of one seed
/// with blind damage (1 to 3 mutations, resealed half the time), a splice of
/// two seeds, or a semantic attack. Returns the image, the seed's index and
/// the name of what was done.
pub fn case(seed: u64, i: u64, seeds: &[Vec<u8>]) -> (Vec<u8>, usize, &'static str) {
    let mut rng = Rng::for_case(seed, i);
    let s = rng.below(seeds.len());
    let mut img = seeds[s].clone();
    let what = match rng.below(10) {
        0..=3 => {
            let mut what = "";
            for _ in 0..1 + rng.below(3) {
                what = mutate(&mut rng, &mut img);
            }
            if rng.chance(2) {
                let from = first_difference(&img, &seeds[s]);
                reseal_from(&mut img, from);
            }
            what
        }
        4 => {
            let other = &seeds[rng.below(seeds.len())];
            img = splice(&mut rng, &img, other);
            if rng.chance(2) {
                reseal(&mut img);
            }
            "splice"
        }
        _ => match attack(&mut rng, &mut img) {
            Some(a) => {
                // Now and then a second attack on top.
                if rng.chance(4) {
                    attack(&mut rng, &mut img);
                }
                a
            }
            None => {
                mutate(&mut rng, &mut img);
                let from = first_difference(&img, &seeds[s]);
                reseal_from(&mut img, from);
                "fallback"
            }
        },
    };
    (img, s, what)
}
