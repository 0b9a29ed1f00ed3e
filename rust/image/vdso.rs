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

/// One defined dynamic symbol of a vDSO image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sym<'a> {
    /// Its name, without the terminating NUL.
    pub name: &'a [u8],
    /// Its offset from the start of the image (`st_value`).
    pub value: u64,
    /// Its size in bytes (`st_size`).
    pub size: u64,
    /// `st_info`: binding (high nibble) and type (low nibble).
    pub info: u8,
    /// `st_shndx` (never 0: undefined symbols are left out).
    pub shndx: u16,
}

/// `STT_FUNC`.
pub const STT_FUNC: u8 = 2;
/// `SHN_ABS`: an absolute symbol (a version name), no code.
pub const SHN_ABS: u16 = 0xfff1;

/// Calls `f` with each defined dynamic symbol of the little-endian ELF64 image `b`,
/// in table order.
pub fn for_each_symbol<'a>(b: &'a [u8], mut f: impl FnMut(Sym<'a>) -> Result<()>) -> Result<()> {
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
        f(Sym {
            name: &name[..len],
            value,
            size,
            info,
            shndx,
        })?;
    }
    Ok(())
}

/// Summarises the dynamic symbols of the little-endian ELF64 image `b`.
pub fn symbols(b: &[u8]) -> Result<VdsoSyms> {
    let mut h = Hasher::new(0x7664_736f);
    let mut nsyms = 0u32;
    for_each_symbol(b, |s| {
        h.update(s.name);
        h.update(&[0]);
        h.update(&s.value.to_le_bytes());
        h.update(&s.size.to_le_bytes());
        h.update(&[s.info]);
        nsyms += 1;
        Ok(())
    })?;
    Ok(VdsoSyms {
        nsyms,
        digest: h.finish(),
    })
}

/// The defined function symbol `name` of image `b`, if it has one.
pub fn lookup<'a>(b: &'a [u8], name: &[u8]) -> Result<Option<Sym<'a>>> {
    let mut found = None;
    for_each_symbol(b, |s| {
        if found.is_none() && s.name == name && s.info & 0xf == STT_FUNC && s.shndx != SHN_ABS {
            found = Some(s);
        }
        Ok(())
    })?;
    Ok(found)
}

// ---------------------------------------------------------------------------
// The proxy: the old vDSO's range, made to call the new vDSO.

/// Most symbols of an old vDSO a proxy is built for (x86-64 exports 14).
pub const MAX_PROXY_SYMS: u32 = 64;

/// `movabs $target, %rax; jmp *%rax`: 12 bytes (`%rax` is caller-saved and no
/// vDSO function is variadic, so clobbering it is invisible to the caller).
const JMP_LEN: usize = 12;
/// `mov $nr, %eax; syscall; ret`: 8 bytes.
const SYSCALL_LEN: usize = 8;
/// The filler of the old code: `int3`.
const INT3: u8 = 0xcc;

/// The system call that does what vDSO function `name` does, for a function the new
/// vDSO lacks (each takes at most three arguments, in the registers the system
/// call takes them in). `getrandom` always goes to the system call: the state its
/// vDSO function keeps in the caller's memory is private to the kernel that set it
/// up.
pub fn syscall_fallback(name: &[u8]) -> Option<u32> {
    let base = name.strip_prefix(b"__vdso_").unwrap_or(name);
    Some(match base {
        b"clock_gettime" => 228,
        b"gettimeofday" => 96,
        b"time" => 201,
        b"getcpu" => 309,
        b"clock_getres" => 229,
        b"getrandom" => 318,
        _ => return None,
    })
}

/// Whether vDSO function `name` is always routed to its system call (see
/// [`syscall_fallback`]).
fn always_syscall(name: &[u8]) -> bool {
    name.strip_prefix(b"__vdso_").unwrap_or(name) == b"getrandom"
}

/// A symbol name, kept for a message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SymName {
    buf: [u8; 48],
    len: u8,
}

impl SymName {
    fn new(n: &[u8]) -> Self {
        let mut buf = [0u8; 48];
        let len = n.len().min(buf.len());
        buf[..len].copy_from_slice(&n[..len]);
        Self {
            buf,
            len: len as u8,
        }
    }

    /// The name (cut at 48 bytes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl core::fmt::Debug for SymName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl core::fmt::Display for SymName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &c in self.as_bytes() {
            let c = if c.is_ascii_graphic() { c as char } else { '?' };
            core::fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// The result of proxy building.
pub type PResult<T> = core::result::Result<T, ProxyError>;

/// Why no proxy can stand in for an old vDSO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyError {
    /// One of the two images does not parse.
    Image(ImageError),
    /// The old vDSO exports a function the new one lacks, with no system call that
    /// does the same.
    NoCounterpart(SymName),
    /// An old function too short for the jump or the system call.
    TooSmall(SymName, u64),
    /// The old vDSO exports a symbol that is not a function (data cannot be
    /// forwarded).
    NotCode(SymName),
    /// Two names of one old address lead to different places.
    Ambiguous(SymName),
    /// An old function lies outside the image.
    Outside(SymName),
    /// More symbols than [`MAX_PROXY_SYMS`].
    TooMany(u32),
    /// The output buffer is not the old image's size.
    BadBuffer,
}

impl From<ImageError> for ProxyError {
    fn from(e: ImageError) -> Self {
        Self::Image(e)
    }
}

impl core::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Image(e) => write!(f, "{}", e.describe()),
            Self::NoCounterpart(n) => write!(
                f,
                "the image's vDSO exports {n}, which this kernel's vDSO lacks, and no \
                 system call does what it does"
            ),
            Self::TooSmall(n, s) => write!(
                f,
                "the image's vDSO function {n} is {s} bytes, too short for a jump"
            ),
            Self::NotCode(n) => write!(
                f,
                "the image's vDSO exports {n}, which is not a function: it cannot be \
                 forwarded"
            ),
            Self::Ambiguous(n) => write!(
                f,
                "the image's vDSO function {n} shares its address with a function that \
                 this kernel's vDSO has elsewhere"
            ),
            Self::Outside(n) => write!(f, "the image's vDSO function {n} lies outside it"),
            Self::TooMany(k) => write!(
                f,
                "the image's vDSO exports {k} symbols, more than {MAX_PROXY_SYMS}"
            ),
            Self::BadBuffer => write!(f, "proxy buffer of the wrong size"),
        }
    }
}

/// What goes at the entry of old function `s`: a jump to the new vDSO's function of
/// the same name (mapped at `new_base`), or its system call. Writes it into `out`
/// and returns its length.
fn stub(new: &[u8], new_base: u64, s: &Sym<'_>, out: &mut [u8; 16]) -> PResult<usize> {
    let target = if always_syscall(s.name) {
        None
    } else {
        lookup(new, s.name)?
    };
    if let Some(t) = target {
        out[0] = 0x48;
        out[1] = 0xb8;
        out[2..10].copy_from_slice(&new_base.wrapping_add(t.value).to_le_bytes());
        out[10] = 0xff;
        out[11] = 0xe0;
        return Ok(JMP_LEN);
    }
    let nr = syscall_fallback(s.name).ok_or(ProxyError::NoCounterpart(SymName::new(s.name)))?;
    out[0] = 0xb8;
    out[1..5].copy_from_slice(&nr.to_le_bytes());
    out[5] = 0x0f;
    out[6] = 0x05;
    out[7] = 0xc3;
    Ok(SYSCALL_LEN)
}

/// Builds in `out` (the size of `old`) the proxy that stands in for the vDSO image
/// `old` at its old address: a copy of `old` (its ELF headers, symbol table and
/// unwind tables stay readable where libc and unwinders look for them) in which
/// every exported function is filled with `int3` and starts with a jump to the
/// function of the same name in the new vDSO `new`, mapped at `new_base`, or, for a
/// function the new vDSO lacks, with its system call ([`syscall_fallback`]).
/// Returns the number of functions forwarded.
///
/// Fails, writing nothing that could run, when an old function has neither, when a
/// symbol is not a function, or when either image is malformed.
pub fn build_proxy(old: &[u8], new: &[u8], new_base: u64, out: &mut [u8]) -> PResult<u32> {
    if out.len() != old.len() {
        return Err(ProxyError::BadBuffer);
    }
    out.copy_from_slice(old);
    let mut n = 0u32;
    // Checks, and the filler over every old function.
    for_each_symbol(old, |_| {
        n += 1;
        Ok(())
    })?;
    if n > MAX_PROXY_SYMS {
        return Err(ProxyError::TooMany(n));
    }
    let mut err = None;
    for_each_symbol(old, |s| {
        if err.is_some() || s.shndx == SHN_ABS {
            return Ok(());
        }
        let name = SymName::new(s.name);
        if s.info & 0xf != STT_FUNC {
            err = Some(ProxyError::NotCode(name));
            return Ok(());
        }
        let range = usize::try_from(s.value)
            .ok()
            .zip(usize::try_from(s.size).ok())
            .and_then(|(v, z)| Some(v..v.checked_add(z)?))
            .filter(|r| r.end <= out.len());
        match range {
            Some(r) => out[r].fill(INT3),
            None => err = Some(ProxyError::Outside(name)),
        }
        Ok(())
    })?;
    if let Some(e) = err {
        return Err(e);
    }
    // The entries. Aliases (`time` and `__vdso_time`) share an entry: they must
    // agree on what it holds.
    let mut forwarded = 0u32;
    let mut i = 0u32;
    let mut res = Ok(());
    for_each_symbol(old, |s| {
        i += 1;
        if res.is_err() || s.shndx == SHN_ABS {
            return Ok(());
        }
        let mut code = [0u8; 16];
        let r = (|| {
            let len = stub(new, new_base, &s, &mut code)?;
            if (s.size as usize) < len {
                return Err(ProxyError::TooSmall(SymName::new(s.name), s.size));
            }
            // An earlier alias at the same entry must have put the same code there.
            let mut j = 0u32;
            let mut clash = Ok(());
            for_each_symbol(old, |t| {
                j += 1;
                if j < i && t.shndx != SHN_ABS && t.value == s.value && clash.is_ok() {
                    let mut other = [0u8; 16];
                    match stub(new, new_base, &t, &mut other) {
                        Ok(_) if other == code => {}
                        Ok(_) => clash = Err(ProxyError::Ambiguous(SymName::new(s.name))),
                        Err(e) => clash = Err(e),
                    }
                }
                Ok(())
            })?;
            clash?;
            let at = s.value as usize;
            out[at..at + len].copy_from_slice(&code[..len]);
            Ok(())
        })();
        match r {
            Ok(()) => forwarded += 1,
            Err(e) => res = Err(e),
        }
        Ok(())
    })?;
    res?;
    Ok(forwarded)
}
