// SPDX-License-Identifier: GPL-2.0

//! The address space: layout fields, mappings, and the pages that hold data.

use crate::checkpoint::{eopnotsupp, Bufs, Reason};
use crate::files;
use crate::image::{self, backing, kind, MmRec, Vma};
use crate::shim::{self, vmai, FileRef, HeldPages, MmRef, VmaInfo};
use crate::stream::{ImageWriter, ObjMap};
use kernel::prelude::*;

/// One mapping, classified.
struct Mapping {
    vi: VmaInfo,
    backing: u8,
    file: u32,
}

impl Mapping {
    /// Whether its contents go into the image, and if so whether only anonymous
    /// (privately modified) pages do.
    fn content(&self) -> Option<bool> {
        match self.backing {
            backing::ANON | backing::HEAP | backing::STACK | backing::ANON_SHARED => Some(false),
            backing::FILE_PRIVATE if self.vi.flags & vmai::ANON_VMA != 0 => Some(true),
            _ => None,
        }
    }
}

/// Decides what backs a mapping; refuses what cannot be saved.
fn classify(
    vi: &VmaInfo,
    file: Option<&FileRef>,
    layout: &[u64; 11],
    why: &mut Reason,
) -> Result<u8> {
    let (start_brk, brk, start_stack) = (layout[4], layout[5], layout[6]);
    let range = (vi.start, vi.end);
    if vi.flags & vmai::SPECIAL != 0 {
        return match vi.name() {
            b"[vdso]" => Ok(backing::VDSO),
            b"[vvar]" | b"[vvar_vclock]" => Ok(backing::VVAR),
            n => Err(why.set(
                eopnotsupp(),
                format_args!(
                    "special mapping {} at {:#x}",
                    core::str::from_utf8(n).unwrap_or("?"),
                    range.0
                ),
            )),
        };
    }
    if vi.flags & vmai::PFNMAP != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!("mapping {:#x}-{:#x} maps device memory", range.0, range.1),
        ));
    }
    if vi.flags & vmai::HUGETLB != 0 {
        return Err(why.set(
            eopnotsupp(),
            format_args!("mapping {:#x}-{:#x} is hugetlbfs", range.0, range.1),
        ));
    }
    if file.is_some() {
        return Ok(if vi.flags & vmai::SHMEM != 0 {
            backing::ANON_SHARED
        } else if vi.semflags & image::vmflag::SHARED != 0 {
            backing::FILE_SHARED
        } else {
            backing::FILE_PRIVATE
        });
    }
    // The same tests /proc/PID/maps uses to name [heap] and [stack].
    if vi.start <= brk && vi.end >= start_brk && brk > start_brk {
        return Ok(backing::HEAP);
    }
    if vi.start <= start_stack && vi.end >= start_stack {
        return Ok(backing::STACK);
    }
    Ok(backing::ANON)
}

/// Walks the mappings of `m`, calling `f` on each with its file.
fn for_each_vma(m: &MmRef, mut f: impl FnMut(&VmaInfo, Option<&FileRef>) -> Result) -> Result {
    let mut addr = 0u64;
    while let Some((vi, file)) = m.vma_from(addr)? {
        f(&vi, file.as_ref())?;
        addr = vi.end;
        if shim::fatal_signal_pending() {
            return Err(EINTR);
        }
    }
    Ok(())
}

/// Refuses an address space with mappings the image cannot describe.
pub(crate) fn precheck(m: &MmRef, why: &mut Reason) -> Result {
    let mut mi = mm_info_buf()?;
    let mut exe = KVec::from_elem(0u8, image::MAX_PATH_LEN + 1, GFP_KERNEL)?;
    m.info(&mut mi, &mut exe)?;
    let layout = mi.layout;
    for_each_vma(m, |vi, file| {
        let b = classify(vi, file, &layout, why)?;
        match (file, b) {
            (Some(f), backing::FILE_PRIVATE | backing::FILE_SHARED) => {
                files::precheck_mapped(f, vi.start, why)?
            }
            (Some(f), backing::ANON_SHARED) => files::precheck_shared_anon(f, vi.start, why)?,
            _ => {}
        }
        Ok(())
    })
}

fn mm_info_buf() -> Result<KBox<shim::MmInfo>> {
    Ok(KBox::new(
        shim::MmInfo {
            layout: [0; 11],
            auxv: [0; 64],
            auxv_len: 0,
            map_count: 0,
        },
        GFP_KERNEL,
    )?)
}

/// An address space whose records are written; its pages come last in the image.
pub(crate) struct MmDump {
    /// Object id of the mm.
    pub(crate) id: u32,
    mm: MmRef,
    maps: KVec<Mapping>,
}

/// Writes the address space: files it maps, the mm record and its mappings.
pub(crate) fn write_mm(
    w: &mut ImageWriter<'_>,
    objs: &mut ObjMap,
    mm: MmRef,
    bufs: &mut Bufs,
    why: &mut Reason,
) -> Result<MmDump> {
    let m = &mm;
    let mut mi = mm_info_buf()?;
    let exe_len = m.info(&mut mi, &mut bufs.path2)?;
    let layout = mi.layout;

    // Pass 1: classify mappings and define the files they map.
    let mut maps: KVec<Mapping> = KVec::new();
    for_each_vma(m, |vi, file| {
        let b = classify(vi, file, &layout, why)?;
        let fid = match (file, b) {
            (Some(f), backing::FILE_PRIVATE | backing::FILE_SHARED) => {
                files::define_mapped(w, objs, f, &mut bufs.path)?
            }
            (Some(f), backing::ANON_SHARED) => files::define_shmem(w, objs, f, &mut bufs.path)?,
            _ => 0,
        };
        maps.push(
            Mapping {
                vi: *vi,
                backing: b,
                file: fid,
            },
            GFP_KERNEL,
        )?;
        Ok(())
    })?;

    // Pass 2: the mm, its mappings, then the pages in address order.
    let id = objs.fresh();
    let auxv_len = (mi.auxv_len as usize).min(image::MAX_AUXV_WORDS);
    let mut auxv = KVec::with_capacity(auxv_len * 8, GFP_KERNEL)?;
    for v in &mi.auxv[..auxv_len] {
        auxv.extend_from_slice(&v.to_le_bytes(), GFP_KERNEL)?;
    }
    w.record(&MmRec {
        id,
        nr_vmas: maps.len() as u32,
        layout,
        auxv: &auxv,
        exe: &bufs.path2[..exe_len],
    })?;
    for mp in maps.iter() {
        w.record(&Vma {
            start: mp.vi.start,
            end: mp.vi.end,
            pgoff: mp.vi.pgoff,
            prot: mp.vi.prot,
            flags: mp.vi.semflags,
            backing: mp.backing,
            file: mp.file,
            name: if mp.vi.flags & vmai::SPECIAL != 0 {
                mp.vi.name()
            } else {
                match mp.backing {
                    backing::HEAP => b"[heap]",
                    backing::STACK => b"[stack]",
                    _ => b"",
                }
            },
        })?;
    }
    Ok(MmDump { id, mm, maps })
}

impl MmDump {
    /// Writes the pages that hold data, in address order. Shared memory whose pages an
    /// earlier address space of the image wrote (`shm`: object id, first page, pages)
    /// is not written again.
    pub(crate) fn write_pages(
        &self,
        w: &mut ImageWriter<'_>,
        shm: &mut KVec<(u32, u64, u64)>,
    ) -> Result {
        let mut batch = PageBatch::new(self.id)?;
        for mp in self.maps.iter() {
            let Some(anon_only) = mp.content() else {
                continue;
            };
            if mp.backing == backing::ANON_SHARED && mp.file != 0 {
                let (first, n) = (mp.vi.pgoff, (mp.vi.end - mp.vi.start) >> 12);
                if shm
                    .iter()
                    .any(|&(id, f, m)| id == mp.file && f <= first && first + n <= f + m)
                {
                    continue;
                }
                shm.push((mp.file, first, n), GFP_KERNEL)?;
            }
            let mut addr = mp.vi.start;
            while addr < mp.vi.end {
                addr = self.mm.pin_pages(
                    addr,
                    mp.vi.end,
                    anon_only,
                    &mut batch.pages,
                    &mut batch.addrs,
                )?;
                if batch.full() {
                    batch.flush(w)?;
                }
            }
        }
        batch.flush(w)
    }
}

/// Pages collected for one [`image::Pages`] record: held, not copied, until written.
struct PageBatch {
    mm: u32,
    pages: HeldPages,
    addrs: KVec<u64>,
    addr_bytes: KVec<u8>,
}

const BATCH: usize = image::MAX_PAGES_PER_RECORD as usize;

impl PageBatch {
    fn new(mm: u32) -> Result<Self> {
        Ok(Self {
            mm,
            pages: HeldPages::with_capacity(BATCH)?,
            addrs: KVec::with_capacity(BATCH, GFP_KERNEL)?,
            addr_bytes: KVec::with_capacity(BATCH * 8, GFP_KERNEL)?,
        })
    }

    fn full(&self) -> bool {
        self.pages.len() == BATCH
    }

    fn flush(&mut self, w: &mut ImageWriter<'_>) -> Result {
        if self.pages.len() == 0 {
            return Ok(());
        }
        self.addr_bytes.clear();
        for a in self.addrs.iter() {
            self.addr_bytes
                .extend_from_slice(&a.to_le_bytes(), GFP_KERNEL)?;
        }
        let mm = self.mm.to_le_bytes();
        let count = (self.pages.len() as u32).to_le_bytes();
        let res = w.record_with_pages(
            kind::PAGES,
            1,
            &[&mm, &count, &self.addr_bytes],
            &self.pages,
        );
        self.pages.clear();
        self.addrs.clear();
        res
    }
}

/// Writes the contents of memfd `id` (`file`, `size` bytes): its pages that are not
/// all zeros, each named by its offset in the file.
pub(crate) fn write_memfd_pages(
    w: &mut ImageWriter<'_>,
    id: u32,
    file: &FileRef,
    size: u64,
) -> Result {
    let mut chunk = KVVec::from_elem(0u8, BATCH * image::PAGE_SIZE, GFP_KERNEL)?;
    let mut data = KVVec::with_capacity(BATCH * image::PAGE_SIZE, GFP_KERNEL)?;
    let mut addrs = KVec::with_capacity(BATCH * 8, GFP_KERNEL)?;
    let mut off = 0u64;
    while off < size {
        let mut pos = off as i64;
        let got = file.read_at(&mut chunk, &mut pos)?;
        if got == 0 {
            break;
        }
        data.clear();
        addrs.clear();
        for (i, page) in chunk[..got].chunks(image::PAGE_SIZE).enumerate() {
            if page.iter().all(|&b| b == 0) {
                continue;
            }
            data.extend_from_slice(page, GFP_KERNEL)?;
            // A short last page is padded with zeros.
            for _ in page.len()..image::PAGE_SIZE {
                data.push(0, GFP_KERNEL)?;
            }
            addrs.extend_from_slice(
                &(off + (i * image::PAGE_SIZE) as u64).to_le_bytes(),
                GFP_KERNEL,
            )?;
        }
        if !addrs.is_empty() {
            w.record(&image::Pages {
                mm: id,
                addrs: &addrs,
                data: &data,
            })?;
        }
        off += got as u64;
        if shim::fatal_signal_pending() {
            return Err(EINTR);
        }
    }
    Ok(())
}
