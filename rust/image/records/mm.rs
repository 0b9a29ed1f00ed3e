// SPDX-License-Identifier: GPL-2.0

//! Memory records: [`MmRec`], [`Vma`], [`Pages`] and [`PageRefs`].

use super::super::*;

/// An address space and its layout fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmRec<'a> {
    /// Object id.
    pub id: u32,
    /// Number of [`Vma`] records that follow.
    pub nr_vmas: u32,
    /// `start_code`, `end_code`, `start_data`, `end_data`, `start_brk`,
    /// `brk`, `start_stack`, `arg_start`, `arg_end`, `env_start`, `env_end`.
    pub layout: [u64; 11],
    /// `saved_auxv`: little-endian words, pairs of type and value (at most
    /// [`MAX_AUXV_WORDS`]).
    pub auxv: &'a [u8],
    /// Path of the executable (`/proc/PID/exe`), empty if none.
    pub exe: &'a [u8],
}

/// Names of [`MmRec::layout`] words.
pub const MM_LAYOUT_NAMES: [&str; 11] = [
    "start_code",
    "end_code",
    "start_data",
    "end_data",
    "start_brk",
    "brk",
    "start_stack",
    "arg_start",
    "arg_end",
    "env_start",
    "env_end",
];

impl<'a> MmRec<'a> {
    /// Number of auxv words.
    pub fn auxv_len(&self) -> usize {
        self.auxv.len() / 8
    }
    /// Auxv word `i`.
    pub fn auxv_word(&self, i: usize) -> u64 {
        le64(&self.auxv[i * 8..])
    }
}

impl<'a> Record<'a> for MmRec<'a> {
    const KIND: u16 = kind::MM;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        e.u32(self.nr_vmas)?;
        for v in self.layout {
            e.u64(v)?;
        }
        if self.auxv.len() % 8 != 0 || self.auxv.len() / 8 > MAX_AUXV_WORDS {
            return Err(ImageError::Overflow);
        }
        e.u32((self.auxv.len() / 8) as u32)?;
        e.bytes(self.auxv)?;
        e.str(self.exe)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        let nr_vmas = d.u32()?;
        let mut layout = [0; 11];
        for v in layout.iter_mut() {
            *v = d.u64()?;
            check(*v <= USER_ADDR_END, "mm: layout address outside user space")?;
        }
        let auxv_len = d.u32()? as usize;
        check(auxv_len <= MAX_AUXV_WORDS, "mm: auxv too long")?;
        let auxv = d.bytes(auxv_len * 8)?;
        let exe = d.str()?;
        check(id != 0, "mm: zero id")?;
        check(nr_vmas <= 1 << 20, "mm: too many vmas")?;
        check(layout[4] <= layout[5], "mm: brk below start_brk")?;
        Ok(Self {
            id,
            nr_vmas,
            layout,
            auxv,
            exe,
        })
    }
}

/// [`Vma::prot`] bits (as `PROT_*`).
pub mod prot {
    /// Readable.
    pub const READ: u32 = 1;
    /// Writable.
    pub const WRITE: u32 = 2;
    /// Executable.
    pub const EXEC: u32 = 4;
}

/// [`Vma::flags`] bits: semantic mapping properties (not `VM_*` values).
pub mod vmflag {
    /// `MAP_SHARED`.
    pub const SHARED: u32 = 1 << 0;
    /// Grows down (a stack).
    pub const GROWSDOWN: u32 = 1 << 1;
    /// `mlock`ed.
    pub const LOCKED: u32 = 1 << 2;
    /// `MADV_DONTFORK`.
    pub const DONTFORK: u32 = 1 << 3;
    /// `MADV_DONTDUMP`.
    pub const DONTDUMP: u32 = 1 << 4;
    /// May become readable (`VM_MAYREAD`).
    pub const MAYREAD: u32 = 1 << 5;
    /// May become writable (`VM_MAYWRITE`).
    pub const MAYWRITE: u32 = 1 << 6;
    /// May become executable (`VM_MAYEXEC`).
    pub const MAYEXEC: u32 = 1 << 7;
    /// `MADV_HUGEPAGE`.
    pub const HUGEPAGE: u32 = 1 << 8;
    /// `MADV_NOHUGEPAGE`.
    pub const NOHUGEPAGE: u32 = 1 << 9;
    /// `MAP_DROPPABLE` (since 1.3): private anonymous memory the kernel may zero at
    /// any time; its pages are never in the image (it comes back empty).
    pub const DROPPABLE: u32 = 1 << 10;
    /// `MADV_WIPEONFORK` (since 1.6): a child made by `fork` gets the mapping
    /// zero-filled, not copied (private anonymous memory only).
    pub const WIPEONFORK: u32 = 1 << 11;
    /// `MADV_SEQUENTIAL` (since 1.6): read ahead aggressively.
    pub const SEQUENTIAL: u32 = 1 << 12;
    /// `MADV_RANDOM` (since 1.6): no read-ahead.
    pub const RANDOM: u32 = 1 << 13;
    /// `MADV_MERGEABLE` (since 1.6): KSM may merge its pages (private memory only).
    pub const MERGEABLE: u32 = 1 << 14;
    /// `MAP_NORESERVE` (since 1.6): no swap space reserved (`VM_NORESERVE`).
    pub const NORESERVE: u32 = 1 << 15;
    /// All defined bits.
    pub const ALL: u32 = (1 << 16) - 1;
}

/// What backs a [`Vma`].
pub mod backing {
    /// Private anonymous memory.
    pub const ANON: u8 = 0;
    /// Private mapping of a file (contents from the file, modified pages in the image).
    pub const FILE_PRIVATE: u8 = 1;
    /// Shared mapping of a file (contents stay in the file).
    pub const FILE_SHARED: u8 = 2;
    /// Shared anonymous memory (`MAP_SHARED|MAP_ANONYMOUS`, shmem); contents in the image.
    pub const ANON_SHARED: u8 = 3;
    /// The heap (`[heap]`, between `start_brk` and `brk`).
    pub const HEAP: u8 = 4;
    /// The main stack (`[stack]`).
    pub const STACK: u8 = 5;
    /// The vDSO: recreated by the restoring kernel, never copied.
    pub const VDSO: u8 = 6;
    /// The vDSO data pages (`[vvar]`, `[vvar_vclock]`).
    pub const VVAR: u8 = 7;
    /// The legacy `[vsyscall]` page.
    pub const VSYSCALL: u8 = 8;
    /// Largest defined value.
    pub const MAX: u8 = 8;

    /// Name of a backing, for diagnostics.
    pub fn name(b: u8) -> &'static str {
        match b {
            ANON => "anon",
            FILE_PRIVATE => "file-private",
            FILE_SHARED => "file-shared",
            ANON_SHARED => "anon-shared",
            HEAP => "heap",
            STACK => "stack",
            VDSO => "vdso",
            VVAR => "vvar",
            VSYSCALL => "vsyscall",
            _ => "unknown",
        }
    }
}

/// One mapping of the preceding [`MmRec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma<'a> {
    /// First address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// File offset in pages (file-backed) or `vm_pgoff`.
    pub pgoff: u64,
    /// [`prot`] bits.
    pub prot: u32,
    /// [`vmflag`] bits.
    pub flags: u32,
    /// [`backing`].
    pub backing: u8,
    /// [`FileRec`] id of the mapped file (0: none).
    pub file: u32,
    /// Name (`[heap]`, `[stack]`, `[vdso]`, `[vvar]`...), empty for other mappings.
    pub name: &'a [u8],
}

fixed_record! {
    impl<'a> for Vma<'a>, kind::VMA,
    {
        start: u64,
        end: u64,
        pgoff: u64,
        prot: u32,
        flags: u32,
        backing: u8,
        file: u32,
        name: str,
    },
    |v| {
        let page = PAGE_SIZE as u64 - 1;
        check(v.start < v.end, "vma: empty or inverted range")?;
        check(v.start & page == 0 && v.end & page == 0, "vma: unaligned")?;
        if v.backing == backing::VSYSCALL {
            check(
                v.start == VSYSCALL_ADDR && v.end == VSYSCALL_ADDR + PAGE_SIZE as u64,
                "vma: bad vsyscall",
            )?;
        } else {
            check(v.end <= USER_ADDR_END, "vma: outside user space")?;
        }
        check(v.prot & !7 == 0, "vma: bad protection")?;
        check(v.flags & !vmflag::ALL == 0, "vma: unknown flags")?;
        check(v.backing <= backing::MAX, "vma: unknown backing")?;
        // What mmap(MAP_DROPPABLE) makes: private anonymous, neither locked nor a stack.
        check(
            v.flags & vmflag::DROPPABLE == 0
                || (v.backing == backing::ANON
                    && v.flags & (vmflag::SHARED | vmflag::GROWSDOWN | vmflag::LOCKED) == 0),
            "vma: bad droppable mapping",
        )?;
        // What madvise(MADV_WIPEONFORK) accepts: private anonymous memory.
        check(
            v.flags & vmflag::WIPEONFORK == 0
                || (matches!(v.backing, backing::ANON | backing::HEAP | backing::STACK)
                    && v.flags & vmflag::SHARED == 0),
            "vma: bad wipe-on-fork mapping",
        )?;
        check(
            v.flags & (vmflag::SEQUENTIAL | vmflag::RANDOM)
                != vmflag::SEQUENTIAL | vmflag::RANDOM,
            "vma: both sequential and random",
        )?;
        // What KSM accepts: private memory.
        check(
            v.flags & vmflag::MERGEABLE == 0
                || (v.flags & vmflag::SHARED == 0
                    && !matches!(v.backing, backing::ANON_SHARED | backing::FILE_SHARED)),
            "vma: bad mergeable mapping",
        )?;
        let file_backed = matches!(v.backing, backing::FILE_PRIVATE | backing::FILE_SHARED);
        // Shared anonymous memory refers to its object (since 1.1; 0 in 1.0 images).
        check(
            file_backed == (v.file != 0) || v.backing == backing::ANON_SHARED,
            "vma: file reference mismatch",
        )?;
    }
}

/// Contents of pages of an address space: page addresses, then the pages.
/// Only pages that hold data are written: never-touched and all-zero pages
/// are left out, and so are clean pages of file mappings. Page records come
/// after every other record of the image (so that a restarter has validated
/// all the rest before it changes anything), grouped by address space in
/// increasing id order, ascending addresses within one address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pages<'a> {
    /// [`MmRec`] id of the address space.
    pub mm: u32,
    /// `count` little-endian page addresses, ascending.
    pub addrs: &'a [u8],
    /// `count` pages of data.
    pub data: &'a [u8],
}

impl<'a> Pages<'a> {
    /// Number of pages.
    pub fn count(&self) -> usize {
        self.addrs.len() / 8
    }
    /// Address of page `i`.
    pub fn addr(&self, i: usize) -> u64 {
        le64(&self.addrs[i * 8..])
    }
    /// Contents of page `i`.
    pub fn page(&self, i: usize) -> &'a [u8] {
        &self.data[i * PAGE_SIZE..(i + 1) * PAGE_SIZE]
    }
    /// Length of the fixed part before the page data, for `count` pages.
    pub fn prefix_len(count: usize) -> usize {
        8 + 8 * count
    }

    /// The page count of a record from its first 8 bytes (`mm`, `count`), checked.
    pub fn count_from_head(head: &[u8]) -> Result<usize> {
        Self::head(&mut Dec::new(head)).map(|(_, n)| n)
    }

    /// Decodes and checks the part of a page record before its data: `prefix` holds the
    /// first [`Pages::prefix_len`] bytes of a payload of `len` bytes. For a reader that
    /// puts the data somewhere else than next to the prefix: the record returned has no
    /// `data`, and verifying the record's check over prefix and data is up to the reader.
    pub fn decode_prefix(prefix: &'a [u8], len: u32) -> Result<Self> {
        let mut d = Dec::new(prefix);
        let (mm, n) = Self::head(&mut d)?;
        let addrs = d.bytes(n * 8)?;
        check(
            prefix.len() == Self::prefix_len(n),
            "pages: bad prefix length",
        )?;
        check(
            len as usize == Self::prefix_len(n) + n * PAGE_SIZE,
            "pages: length differs from the page count",
        )?;
        Self::checked(mm, addrs, &[])
    }

    fn head(d: &mut Dec<'_>) -> Result<(u32, usize)> {
        let mm = d.u32()?;
        check(mm != 0, "pages: zero mm id")?;
        let n = d.u32()?;
        check(n >= 1 && n <= MAX_PAGES_PER_RECORD, "pages: bad page count")?;
        Ok((mm, n as usize))
    }

    fn checked(mm: u32, addrs: &'a [u8], data: &'a [u8]) -> Result<Self> {
        let p = Self { mm, addrs, data };
        let mut prev = None;
        for i in 0..p.count() {
            let a = p.addr(i);
            check(a & (PAGE_SIZE as u64 - 1) == 0, "pages: unaligned address")?;
            check(a < USER_ADDR_END, "pages: address outside user space")?;
            check(prev.is_none_or(|q| q < a), "pages: addresses not ascending")?;
            prev = Some(a);
        }
        Ok(p)
    }
}

impl<'a> Record<'a> for Pages<'a> {
    const KIND: u16 = kind::PAGES;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.mm)?;
        e.u32(self.count() as u32)?;
        e.bytes(self.addrs)?;
        e.bytes(self.data)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let (mm, n) = Self::head(d)?;
        let addrs = d.bytes(n * 8)?;
        let data = d.bytes(n * PAGE_SIZE)?;
        Self::checked(mm, addrs, data)
    }
}

/// Pages of address space `mm` that were the very pages (copy-on-write shared, as
/// fork left them) of address space `src` at the same addresses: their contents are
/// those of the [`Pages`] record of `src` that follows this record at once (a
/// restarter gives them that page's contents, or the page itself when its process
/// was forked from `src`'s with it). `src` precedes `mm` in the image (a parent
/// before its descendants), and `mm`'s own [`Pages`] records leave these addresses
/// out. Mandatory: a reader that does not know it cannot restore `mm` (since 1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRefs<'a> {
    /// [`MmRec`] id of the address space whose pages these are.
    pub mm: u32,
    /// [`MmRec`] id of the address space whose next [`Pages`] record holds them.
    pub src: u32,
    /// `count` little-endian page addresses, ascending, each one of that record's.
    pub addrs: &'a [u8],
}

impl PageRefs<'_> {
    /// Number of pages.
    pub fn count(&self) -> usize {
        self.addrs.len() / 8
    }
    /// Address of page `i`.
    pub fn addr(&self, i: usize) -> u64 {
        le64(&self.addrs[i * 8..])
    }
}

impl<'a> Record<'a> for PageRefs<'a> {
    const KIND: u16 = kind::PAGE_REFS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.mm)?;
        e.u32(self.src)?;
        e.u32(self.count() as u32)?;
        e.bytes(self.addrs)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let mm = d.u32()?;
        let src = d.u32()?;
        check(src != 0 && src < mm, "page-refs: source not an earlier mm")?;
        let n = d.u32()?;
        check(
            n >= 1 && n <= MAX_PAGES_PER_RECORD,
            "page-refs: bad page count",
        )?;
        let addrs = d.bytes(n as usize * 8)?;
        let r = Self { mm, src, addrs };
        let mut prev = None;
        for i in 0..r.count() {
            let a = r.addr(i);
            check(
                a & (PAGE_SIZE as u64 - 1) == 0,
                "page-refs: unaligned address",
            )?;
            check(a < USER_ADDR_END, "page-refs: address outside user space")?;
            check(
                prev.is_none_or(|q| q < a),
                "page-refs: addresses not ascending",
            )?;
            prev = Some(a);
        }
        Ok(r)
    }
}

/// The identity of the checkpointing kernel's vDSO (see [`crate::image::vdso`]; optional,
/// at most one, before the first task). A restart refuses an image whose vDSO
/// symbols differ from the restarting kernel's: libc keeps pointers into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VdsoId {
    /// Size of the `[vdso]` mapping in bytes.
    pub size: u64,
    /// [`vdso::VdsoSyms::digest`] of its dynamic symbol table.
    pub digest: u64,
    /// [`vdso::VdsoSyms::nsyms`].
    pub nsyms: u32,
}

fixed_record! {
    impl<'a> for VdsoId, kind::VDSO,
    {
        size: u64,
        digest: u64,
        nsyms: u32,
    },
    |v| {
        check(
            v.size != 0 && v.size as usize <= MAX_VDSO_LEN && v.size % PAGE_SIZE as u64 == 0,
            "vdso: bad size",
        )?;
    }
}

/// The checkpointing kernel's vDSO itself: the bytes of its `[vdso]` mapping
/// (optional, at most one, right after the [`VdsoId`]; since format 1.3). A restart
/// under a kernel whose vDSO differs puts a proxy built from it where the vDSO was
/// (see [`crate::image::vdso::build_proxy`]); it is never executed as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VdsoText<'a> {
    /// The mapping's bytes: whole pages, at most [`MAX_VDSO_LEN`].
    pub data: &'a [u8],
}

impl<'a> Record<'a> for VdsoText<'a> {
    const KIND: u16 = kind::VDSO_TEXT;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.data.len() as u32)?;
        e.bytes(self.data)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let n = d.u32()? as usize;
        check(
            n != 0 && n <= MAX_VDSO_LEN && n % PAGE_SIZE == 0,
            "vdso-text: bad size",
        )?;
        Ok(Self { data: d.bytes(n)? })
    }
}
