// SPDX-License-Identifier: GPL-2.0

//! The identity of a vDSO: what code that cached vDSO function pointers relies on.
//!
//! libc looks up the vDSO's symbols once, at start, and keeps the addresses. A
//! restored process therefore needs a vDSO whose exported symbols sit at the same
//! offsets with the same sizes as the one it was checkpointed with. Two kernels
//! built by different compilers can have vDSOs of the same size with every symbol
//! elsewhere, so size is no identity: this module reduces the dynamic symbol table
//! (name, offset, size, type) of a vDSO ELF image to a [`VdsoSyms`] summary that
//! the module records at checkpoint and compares at restart.
//!
//! The parser is bounded and total: any offset or count that does not fit the
//! buffer is an error, never a panic (a vDSO can be rewritten by a debugger).

use super::hash::Hasher;
use super::{ImageError, Result};

/// Largest vDSO image this code reads (x86-64 vDSOs are two pages).
pub const MAX_VDSO_LEN: usize = 64 * 1024;

/// Summary of a vDSO's dynamic symbol table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VdsoSyms {
    /// Defined dynamic symbols.
    pub nsyms: u32,
    /// xxh64-based digest of each defined symbol's name, value, size and type, in
    /// table order.
    pub digest: u64,
}

const SHT_STRTAB: u32 = 3;
const SHT_DYNSYM: u32 = 11;
const SYM_LEN: usize = 24;
const SHDR_LEN: usize = 64;

fn bad(what: &'static str) -> ImageError {
    ImageError::Malformed(what)
}

fn get<const N: usize>(b: &[u8], off: usize) -> Result<[u8; N]> {
    let end = off.checked_add(N).ok_or(bad("vdso: offset overflow"))?;
    let s = b.get(off..end).ok_or(bad("vdso: truncated"))?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

fn u16_at(b: &[u8], off: usize) -> Result<u16> {
    Ok(u16::from_le_bytes(get(b, off)?))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32> {
    Ok(u32::from_le_bytes(get(b, off)?))
}

fn u64_at(b: &[u8], off: usize) -> Result<usize> {
    usize::try_from(u64::from_le_bytes(get(b, off)?)).map_err(|_| bad("vdso: offset overflow"))
}

/// One section header: (type, offset, size, link, entsize).
fn section(b: &[u8], shoff: usize, i: usize) -> Result<(u32, usize, usize, u32, usize)> {
    let at = i
        .checked_mul(SHDR_LEN)
        .and_then(|o| o.checked_add(shoff))
        .ok_or(bad("vdso: offset overflow"))?;
    if at.checked_add(SHDR_LEN).is_none_or(|e| e > b.len()) {
        return Err(bad("vdso: truncated"));
    }
    Ok((
        u32_at(b, at + 4)?,
        u64_at(b, at + 24)?,
        u64_at(b, at + 32)?,
        u32_at(b, at + 40)?,
        u64_at(b, at + 56)?,
    ))
}

/// Summarises the dynamic symbols of the little-endian ELF64 image `b`.
pub fn symbols(b: &[u8]) -> Result<VdsoSyms> {
    if b.len() > MAX_VDSO_LEN {
        return Err(bad("vdso: image too large"));
    }
    if get::<4>(b, 0)? != *b"\x7fELF" || get::<2>(b, 4)? != [2, 1] {
        return Err(bad("vdso: not a little-endian ELF64 image"));
    }
    let shoff = u64_at(b, 0x28)?;
    if u16_at(b, 0x3a)? as usize != SHDR_LEN {
        return Err(bad("vdso: unexpected section header size"));
    }
    let shnum = u16_at(b, 0x3c)? as usize;
    let mut dynsym = None;
    for i in 0..shnum {
        let s = section(b, shoff, i)?;
        if s.0 == SHT_DYNSYM {
            dynsym = Some(s);
            break;
        }
    }
    let (_, symoff, symsize, link, entsize) = dynsym.ok_or(bad("vdso: no dynamic symbol table"))?;
    if entsize != SYM_LEN || symsize % SYM_LEN != 0 {
        return Err(bad("vdso: unexpected symbol size"));
    }
    if symoff.checked_add(symsize).is_none_or(|e| e > b.len()) {
        return Err(bad("vdso: truncated"));
    }
    let (stype, stroff, strsize, _, _) = section(b, shoff, link as usize)?;
    if stype != SHT_STRTAB {
        return Err(bad("vdso: symbol names are not a string table"));
    }
    let end = stroff
        .checked_add(strsize)
        .ok_or(bad("vdso: offset overflow"))?;
    let strtab = b.get(stroff..end).ok_or(bad("vdso: truncated"))?;
    let mut h = Hasher::new(0x7664_736f);
    let mut nsyms = 0u32;
    for i in 0..symsize / SYM_LEN {
        let at = symoff + i * SYM_LEN;
        let name = u32_at(b, at)? as usize;
        let info = get::<1>(b, at + 4)?[0];
        let shndx = u16_at(b, at + 6)?;
        let value = u64::from_le_bytes(get(b, at + 8)?);
        let size = u64::from_le_bytes(get(b, at + 16)?);
        if shndx == 0 {
            continue; // undefined (the null symbol)
        }
        let name = strtab.get(name..).ok_or(bad("vdso: bad symbol name"))?;
        let len = name
            .iter()
            .position(|&c| c == 0)
            .ok_or(bad("vdso: unterminated symbol name"))?;
        h.update(&name[..len + 1]);
        h.update(&value.to_le_bytes());
        h.update(&size.to_le_bytes());
        h.update(&[info]);
        nsyms += 1;
    }
    Ok(VdsoSyms {
        nsyms,
        digest: h.finish(),
    })
}
