// SPDX-License-Identifier: GPL-2.0

//! The caller's address space and pages: `vm_mmap`/`vm_munmap` and short-lived page
//! mappings (`kmap_local_page`), through `kernel::bindings`.

use kernel::{bindings, fs::File, prelude::*};

/// `vm_mmap()` in the caller's address space at exactly `addr` (`EFAULT` if the kernel
/// put the mapping elsewhere); anonymous memory without a `file`.
pub(crate) fn mmap_at(
    file: Option<&File>,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    off: u64,
) -> Result {
    let file = file.map_or(core::ptr::null_mut(), |f| f.as_ptr());
    // SAFETY: `file` is null or a live file (borrowed); `vm_mmap` checks everything
    // else and works on current's mm.
    let r = unsafe {
        bindings::vm_mmap(
            file,
            addr as usize,
            len as usize,
            prot as usize,
            flags as usize,
            off as usize,
        )
    } as u64;
    // IS_ERR_VALUE(): the last page of the address space holds the error numbers.
    if r > u64::MAX - u64::from(bindings::MAX_ERRNO) {
        return Err(Error::from_errno(r as i64 as i32));
    }
    if r != addr {
        return Err(EFAULT);
    }
    Ok(())
}

/// `vm_munmap()` of `[start, start + len)` in the caller's address space.
pub(crate) fn munmap(start: u64, len: u64) -> Result {
    // SAFETY: No preconditions: `vm_munmap` checks the range, in current's mm.
    kernel::error::to_result(unsafe { bindings::vm_munmap(start as usize, len as usize) })
}

/// Copies `dst.len()` bytes (at most a page) from the start of `page`, through a short
/// local mapping. The page may be written at the same time (memory shared with a
/// process that runs, I/O in flight): it is read through a raw pointer, never as a
/// `&[u8]`.
///
/// # Safety
///
/// `page` is a `struct page` the caller holds a reference on for the call.
pub(crate) unsafe fn copy_from_page(page: *mut bindings::page, dst: &mut [u8]) {
    let len = dst.len().min(kernel::page::PAGE_SIZE);
    // SAFETY: The page is live (the caller's contract); the mapping is released right
    // after the copy. The source is only read through the raw pointer, and `dst` is a
    // distinct, exclusively borrowed buffer of at least the size copied.
    unsafe {
        let k = bindings::kmap_local_page(page);
        core::ptr::copy_nonoverlapping(k.cast::<u8>(), dst.as_mut_ptr(), len);
        bindings::kunmap_local(k);
    }
}

/// Copies the whole of `page` into `dst` (at least a page, which need not be
/// initialized: every byte of its first page is written), as [`copy_from_page`].
///
/// # Safety
///
/// `page` is a `struct page` the caller holds a reference on for the call.
pub(crate) unsafe fn copy_whole_page(
    page: *mut bindings::page,
    dst: &mut [core::mem::MaybeUninit<u8>],
) {
    let dst = &mut dst[..kernel::page::PAGE_SIZE];
    // SAFETY: As in `copy_from_page`: the page is live and mapped for the copy, read
    // through the raw pointer only; `dst` is a distinct, exclusively borrowed buffer
    // of a page.
    unsafe {
        let k = bindings::kmap_local_page(page);
        core::ptr::copy_nonoverlapping(k.cast::<u8>(), dst.as_mut_ptr().cast::<u8>(), dst.len());
        bindings::kunmap_local(k);
    }
}

/// Feeds the whole of `page` to `h`, through a short local mapping, read one aligned
/// word at a time with volatile loads (`READ_ONCE`): like [`copy_from_page`], never as
/// a `&[u8]`, since the page may be written at the same time (shared memory another
/// process of a restart writes: the check then fails), and without a copy.
///
/// # Safety
///
/// `page` is a `struct page` the caller holds a reference on for the call.
pub(crate) unsafe fn hash_page(page: *mut bindings::page, h: &mut crate::image::Hasher) {
    const WORDS: usize = kernel::page::PAGE_SIZE / 8;
    // SAFETY: The page is live (the caller's contract) and mapped for the duration of
    // the loop, at a page-aligned address; each load is an aligned `u64` within its
    // `PAGE_SIZE` bytes, made through the raw pointer only.
    unsafe {
        let k = bindings::kmap_local_page(page);
        let mut q = k.cast::<u64>().cast_const();
        h.update_words(WORDS, || {
            let w = q.read_volatile();
            q = q.add(1);
            w
        });
        bindings::kunmap_local(k);
    }
}

/// Copies the whole of `page` into `dst` (at least a page, which need not be
/// initialized: every byte of its first page is written) and feeds the copy to `h`
/// in the same pass: each aligned word is read once, with a volatile load as in
/// [`hash_page`], and that value is both stored and hashed. What `h` saw is exactly
/// what `dst` holds, even if the page is written meanwhile.
///
/// # Safety
///
/// `page` is a `struct page` the caller holds a reference on for the call.
pub(crate) unsafe fn copy_hash_page(
    page: *mut bindings::page,
    dst: &mut [core::mem::MaybeUninit<u8>],
    h: &mut crate::image::Hasher,
) {
    const WORDS: usize = kernel::page::PAGE_SIZE / 8;
    let dst = &mut dst[..kernel::page::PAGE_SIZE];
    let mut d = dst.as_mut_ptr().cast::<u64>();
    // SAFETY: The page is live (the caller's contract) and mapped for the duration of
    // the loop, at a page-aligned address; each load is an aligned `u64` within its
    // `PAGE_SIZE` bytes, made through the raw pointer only. `dst` is an exclusively
    // borrowed buffer of `PAGE_SIZE` bytes, distinct from the page, written in
    // `WORDS` unaligned `u64` stores within it.
    unsafe {
        let k = bindings::kmap_local_page(page);
        let mut q = k.cast::<u64>().cast_const();
        h.update_words(WORDS, || {
            let w = q.read_volatile();
            d.write_unaligned(w);
            q = q.add(1);
            d = d.add(1);
            w
        });
        bindings::kunmap_local(k);
    }
}

/// Copies the `len` bytes of `src` from byte `src_off` to `dst` from byte `dst_off`
/// and feeds them to `h` in the same pass: each aligned word is read once with a
/// volatile load and both stored (with a volatile store) and hashed, as in
/// [`copy_hash_page`], so what `h` saw is what `dst` holds. Neither page is viewed as
/// a slice: either may be written meanwhile (the file by a writer, the destination by
/// another process of a restart that shares it: the check then fails).
///
/// # Safety
///
/// `src` and `dst` are distinct `struct page`s the caller holds references on for the
/// call; `src_off`, `dst_off` and `len` are multiples of 8, with `src_off + len` and
/// `dst_off + len` at most `PAGE_SIZE`.
pub(crate) unsafe fn copy_hash_between(
    src: *mut bindings::page,
    src_off: usize,
    dst: *mut bindings::page,
    dst_off: usize,
    len: usize,
    h: &mut crate::image::Hasher,
) {
    // SAFETY: Both pages are live (the caller's contract) and mapped for the duration
    // of the loop, at page-aligned addresses; every load and store is an aligned `u64`
    // within the `PAGE_SIZE` bytes of its page (the offsets and length are multiples
    // of 8 that stay within it), made through raw pointers only. Local mappings are
    // released in the reverse order of their making.
    unsafe {
        let ks = bindings::kmap_local_page(src);
        let kd = bindings::kmap_local_page(dst);
        let mut q = ks.cast::<u8>().add(src_off).cast::<u64>().cast_const();
        let mut d = kd.cast::<u8>().add(dst_off).cast::<u64>();
        h.update_words(len / 8, || {
            let w = q.read_volatile();
            d.write_volatile(w);
            q = q.add(1);
            d = d.add(1);
            w
        });
        bindings::kunmap_local(kd);
        bindings::kunmap_local(ks);
    }
}

/// Copies into `dst` the `PAGE_SIZE` bytes that start at byte `off` of `a` and go on
/// in `b`, where `off` is not a multiple of 8, and feeds them to `h` in the same pass.
/// Each aligned word of `a` and `b` is read once with a volatile load; each word of
/// `dst` is made of two of them (`off % 8` bytes into the first, little-endian) and
/// both stored (volatile) and hashed, as in [`copy_hash_between`].
///
/// # Safety
///
/// `a`, `b` and `dst` are `struct page`s the caller holds references on for the call,
/// `dst` distinct from both; `off` is below `PAGE_SIZE` and not a multiple of 8.
pub(crate) unsafe fn copy_hash_shifted(
    a: *mut bindings::page,
    b: *mut bindings::page,
    off: usize,
    dst: *mut bindings::page,
    h: &mut crate::image::Hasher,
) {
    const WORDS: usize = kernel::page::PAGE_SIZE / 8;
    let shift = 8 * (off % 8) as u32;
    // SAFETY: The three pages are live (the caller's contract) and mapped for the
    // duration of the loop, at page-aligned addresses. The source words read are the
    // aligned words `off / 8 ..= off / 8 + WORDS` of `a` followed by `b`: indexes below
    // `WORDS` in `a`, the rest (at most `off / 8 < WORDS`) in `b`. Each is an aligned
    // `u64` load within its page, each store an aligned `u64` within `dst`, all through
    // raw pointers only. Local mappings are released in the reverse order of their
    // making.
    unsafe {
        let ka = bindings::kmap_local_page(a).cast::<u64>().cast_const();
        let kb = bindings::kmap_local_page(b).cast::<u64>().cast_const();
        let kd = bindings::kmap_local_page(dst);
        let mut i = off / 8;
        let mut load = || {
            let w = if i < WORDS {
                ka.add(i).read_volatile()
            } else {
                kb.add(i - WORDS).read_volatile()
            };
            i += 1;
            w
        };
        let mut prev = load();
        let mut d = kd.cast::<u64>();
        h.update_words(WORDS, || {
            let next = load();
            let w =
                u64::from_le((u64::from_le(prev) >> shift) | (u64::from_le(next) << (64 - shift)));
            prev = next;
            d.write_volatile(w);
            d = d.add(1);
            w
        });
        bindings::kunmap_local(kd);
        bindings::kunmap_local(kb.cast_mut().cast());
        bindings::kunmap_local(ka.cast_mut().cast());
    }
}

/// How many mappings `mm` has now (`map_count`: a hint for the size of a layout).
///
/// # Safety
///
/// `mm` is a live `mm_struct` the caller holds (`mmget` or `mmgrab`).
pub(crate) unsafe fn map_count(mm: *mut bindings::mm_struct) -> u32 {
    // SAFETY: `mm` is live (the function's contract); the count is read once, as
    // `READ_ONCE()` would, without the mmap lock.
    unsafe { core::ptr::read_volatile(&raw const (*mm).__bindgen_anon_1.map_count) as u32 }
}

/// Whether pages of `mm` may be written behind its page tables: long-term pins
/// (io_uring fixed buffers, RDMA) are counted in `pinned_vm`.
///
/// # Safety
///
/// `mm` is a live `mm_struct` the caller holds (`mmget` or `mmgrab`).
pub(crate) unsafe fn has_pins(mm: *mut bindings::mm_struct) -> bool {
    // SAFETY: `mm` is live (the function's contract); `atomic64_read` reads it once.
    unsafe { bindings::atomic64_read(&raw const (*mm).__bindgen_anon_1.pinned_vm) != 0 }
}
