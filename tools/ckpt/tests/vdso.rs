// SPDX-License-Identifier: GPL-2.0

//! The vDSO identity parser on this machine's own vDSO, and on damaged copies of it.

use ckpt::image::vdso::{
    build_proxy, for_each_symbol, lookup, symbols, ProxyError, MAX_VDSO_LEN, SHN_ABS, STT_FUNC,
};
use ckpt::image::*;

/// This process's `[vdso]` mapping, copied.
fn own_vdso() -> Vec<u8> {
    own_vdso_at().1
}

/// This process's `[vdso]` mapping: its address and a copy.
fn own_vdso_at() -> (u64, Vec<u8>) {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let line = maps
        .lines()
        .find(|l| l.ends_with("[vdso]"))
        .expect("a [vdso] mapping");
    let range = line.split_whitespace().next().unwrap();
    let (s, e) = range.split_once('-').unwrap();
    let (s, e) = (
        usize::from_str_radix(s, 16).unwrap(),
        usize::from_str_radix(e, 16).unwrap(),
    );
    // SAFETY: `[s, e)` is this process's vDSO mapping, readable and never unmapped.
    let copy = unsafe { core::slice::from_raw_parts(s as *const u8, e - s) }.to_vec();
    (s as u64, copy)
}

#[test]
fn own_vdso_has_its_symbols() {
    let v = own_vdso();
    assert!(v.len() <= MAX_VDSO_LEN);
    let s = symbols(&v).expect("this kernel's vDSO parses");
    // x86-64 exports clock_gettime, gettimeofday, time, getcpu, clock_getres (and
    // their __vdso_ names) at least.
    assert!(s.nsyms >= 5, "{} symbols", s.nsyms);
    assert_eq!(s, symbols(&v).unwrap(), "the identity is deterministic");
}

#[test]
fn moving_one_symbol_changes_the_identity() {
    let v = own_vdso();
    let base = symbols(&v).unwrap();
    // Find the dynamic symbol table through the section headers and bump the value
    // of each defined symbol in turn: every change must show.
    let le64 = |o: usize| u64::from_le_bytes(v[o..o + 8].try_into().unwrap()) as usize;
    let le32 = |o: usize| u32::from_le_bytes(v[o..o + 4].try_into().unwrap());
    let shoff = le64(0x28);
    let shnum = u16::from_le_bytes([v[0x3c], v[0x3d]]) as usize;
    let dynsym = (0..shnum)
        .map(|i| shoff + 64 * i)
        .find(|&h| le32(h + 4) == 11)
        .expect("SHT_DYNSYM");
    let (off, size) = (le64(dynsym + 24), le64(dynsym + 32));
    let mut changed = 0;
    for at in (off..off + size).step_by(24) {
        if u16::from_le_bytes([v[at + 6], v[at + 7]]) == 0 {
            continue;
        }
        let mut w = v.clone();
        w[at + 8] ^= 0x10;
        assert_ne!(symbols(&w).unwrap(), base, "symbol at {at:#x} moved");
        changed += 1;
    }
    assert_eq!(changed, base.nsyms);
}

#[test]
fn damaged_vdso_images_never_panic() {
    let v = own_vdso();
    for n in 0..v.len().min(8192) {
        let _ = symbols(&v[..n]);
    }
    for i in 0..v.len().min(8192) {
        for bit in [0x01u8, 0x80] {
            let mut w = v.clone();
            w[i] ^= bit;
            let _ = symbols(&w);
        }
    }
    for i in (0..v.len().min(8192).saturating_sub(8)).step_by(4) {
        let mut w = v.clone();
        w[i..i + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let _ = symbols(&w);
    }
    assert!(symbols(&[0u8; 64]).is_err());
    assert!(symbols(&vec![0u8; MAX_VDSO_LEN + 1]).is_err());
}

#[test]
fn vdso_record_round_trips_and_checks_its_size() {
    let r = VdsoId {
        size: 8192,
        digest: 0x0123_4567_89ab_cdef,
        nsyms: 11,
    };
    let enc = |r: &VdsoId| {
        let mut buf = [0u8; 64];
        let mut e = Enc::new(&mut buf);
        r.encode(&mut e).expect("encodes");
        let n = e.len();
        buf[..n].to_vec()
    };
    assert_eq!(VdsoId::from_payload(&enc(&r)).unwrap(), r);
    for size in [0u64, 100, (MAX_VDSO_LEN + 4096) as u64] {
        let bad = VdsoId { size, ..r };
        assert!(VdsoId::from_payload(&enc(&bad)).is_err(), "size {size}");
    }
}

/// `v` with the first occurrence of symbol name `from` in its string table
/// renamed to `to` (same length).
fn rename(v: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut pat = from.to_vec();
    pat.push(0);
    let at = v
        .windows(pat.len())
        .enumerate()
        .find(|(i, w)| *w == &pat[..] && (*i == 0 || v[i - 1] == 0))
        .map(|(i, _)| i)
        .expect("name in the string table");
    let mut w = v.to_vec();
    w[at..at + to.len()].copy_from_slice(to);
    w
}

#[test]
fn proxy_of_own_vdso_jumps_to_each_function() {
    let v = own_vdso();
    let base = 0x7f00_1234_0000u64;
    let mut out = vec![0u8; v.len()];
    let n = build_proxy(&v, &v, base, &mut out).expect("a proxy of the same vDSO");
    let mut funcs = 0;
    for_each_symbol(&v, |s| {
        if s.shndx == SHN_ABS || s.info & 0xf != STT_FUNC {
            return Ok(());
        }
        funcs += 1;
        let at = s.value as usize;
        let code = &out[at..at + s.size as usize];
        if s.name.ends_with(b"getrandom") {
            // Always its system call: mov $318, %eax; syscall; ret.
            assert_eq!(&code[..8], &[0xb8, 0x3e, 0x01, 0, 0, 0x0f, 0x05, 0xc3]);
            assert!(code[8..].iter().all(|&b| b == 0xcc));
        } else {
            assert_eq!(&code[..2], &[0x48, 0xb8], "{:?}", s.name);
            let target = u64::from_le_bytes(code[2..10].try_into().unwrap());
            assert_eq!(target, base + s.value);
            assert_eq!(&code[10..12], &[0xff, 0xe0]);
            assert!(code[12..].iter().all(|&b| b == 0xcc));
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(n, funcs);
    // The ELF headers and the symbol table stay: it is still this vDSO to readers.
    assert_eq!(symbols(&out).unwrap(), symbols(&v).unwrap());
    assert_eq!(&out[..64], &v[..64]);
}

#[test]
fn proxy_falls_back_to_the_system_call_or_refuses() {
    let v = own_vdso();
    let mut out = vec![0u8; v.len()];
    // The new vDSO lacks time: the old one's time makes the system call (201).
    // (`time` may be the tail of `__vdso_time` in the string table.)
    let mut new = rename(&v, b"__vdso_time", b"__vdso_tame");
    if lookup(&new, b"time").unwrap().is_some() {
        new = rename(&new, b"time", b"tame");
    }
    build_proxy(&v, &new, 0x1000, &mut out).expect("time falls back");
    let t = lookup(&v, b"__vdso_time").unwrap().unwrap();
    let at = t.value as usize;
    assert_eq!(&out[at..at + 8], &[0xb8, 201, 0, 0, 0, 0x0f, 0x05, 0xc3]);
    // The old vDSO exports a function nobody can stand in for.
    let old = rename(&v, b"__vdso_getcpu", b"__vdso_getcpX");
    match build_proxy(&old, &v, 0x1000, &mut out) {
        Err(ProxyError::NoCounterpart(n)) => assert_eq!(n.as_bytes(), b"__vdso_getcpX"),
        r => panic!("{r:?}"),
    }
    let msg = build_proxy(&old, &v, 0x1000, &mut out)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("__vdso_getcpX") && msg.contains("no system call"),
        "{msg}"
    );
    // A wrong-sized buffer, a damaged image.
    assert_eq!(
        build_proxy(&v, &v, 0, &mut out[1..]),
        Err(ProxyError::BadBuffer)
    );
    assert!(matches!(
        build_proxy(&v[..64], &v, 0, &mut out[..64]),
        Err(ProxyError::Image(_))
    ));
}

#[test]
fn damaged_proxy_inputs_never_panic() {
    let v = own_vdso();
    let mut out = vec![0u8; v.len()];
    for i in (0..v.len().min(8192)).step_by(3) {
        let mut w = v.clone();
        w[i] ^= 0x41;
        let _ = build_proxy(&w, &v, 0x1000, &mut out);
        let _ = build_proxy(&v, &w, 0x1000, &mut out);
    }
}

/// The proxy run: a copy of this process's vDSO proxied to the real one, mapped
/// elsewhere, answers through its entries as the real one does.
#[test]
fn proxy_entries_call_the_real_vdso() {
    let (base, v) = own_vdso_at();
    let mut out = vec![0u8; v.len()];
    build_proxy(&v, &v, base, &mut out).unwrap();
    // SAFETY: a fresh private anonymous mapping, written, then made executable.
    let at = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            out.len(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        std::ptr::copy_nonoverlapping(out.as_ptr(), p.cast(), out.len());
        assert_eq!(
            libc::mprotect(p, out.len(), libc::PROT_READ | libc::PROT_EXEC),
            0
        );
        p as u64
    };
    let entry = |name: &[u8]| at + lookup(&v, name).unwrap().expect("exported").value;
    type ClockGettime = unsafe extern "C" fn(libc::clockid_t, *mut libc::timespec) -> i32;
    type Time = unsafe extern "C" fn(*mut libc::time_t) -> libc::time_t;
    type Getcpu = unsafe extern "C" fn(*mut u32, *mut u32, *mut libc::c_void) -> i32;
    type Getrandom = unsafe extern "C" fn(*mut u8, usize, u32, *mut u8, usize) -> isize;
    // SAFETY: each entry is a proxy entry of the function of that name, called
    // with that function's arguments.
    unsafe {
        let cg: ClockGettime = std::mem::transmute(entry(b"__vdso_clock_gettime"));
        let mut a: libc::timespec = std::mem::zeroed();
        let mut b: libc::timespec = std::mem::zeroed();
        let mut c: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut a);
        assert_eq!(cg(libc::CLOCK_MONOTONIC, &mut b), 0);
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut c);
        let ns = |t: &libc::timespec| t.tv_sec as i128 * 1_000_000_000 + t.tv_nsec as i128;
        assert!(ns(&a) <= ns(&b) && ns(&b) <= ns(&c));
        let tm: Time = std::mem::transmute(entry(b"time"));
        let now = libc::time(std::ptr::null_mut());
        let t = tm(std::ptr::null_mut());
        assert!((t - now).abs() <= 1);
        let gc: Getcpu = std::mem::transmute(entry(b"getcpu"));
        let mut cpu = u32::MAX;
        assert_eq!(gc(&mut cpu, std::ptr::null_mut(), std::ptr::null_mut()), 0);
        assert!(cpu < 4096);
        if lookup(&v, b"getrandom").unwrap().is_some() {
            // The system call stub: the extra arguments are ignored.
            let gr: Getrandom = std::mem::transmute(entry(b"getrandom"));
            let mut buf = [0u8; 32];
            assert_eq!(gr(buf.as_mut_ptr(), 32, 0, std::ptr::null_mut(), 0), 32);
            assert!(buf.iter().any(|&x| x != 0));
        }
        libc::munmap(at as *mut libc::c_void, out.len());
    }
}
