// SPDX-License-Identifier: GPL-2.0

//! The vDSO identity parser on this machine's own vDSO, and on damaged copies of it.

use ckpt::image::vdso::{symbols, MAX_VDSO_LEN};
use ckpt::image::*;

/// This process's `[vdso]` mapping, copied.
fn own_vdso() -> Vec<u8> {
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
    unsafe { core::slice::from_raw_parts(s as *const u8, e - s) }.to_vec()
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
