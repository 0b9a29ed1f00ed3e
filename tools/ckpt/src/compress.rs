// SPDX-License-Identifier: GPL-2.0

//! Compressed images: `ckpt checkpoint --compress` writes the image as one zstd
//! stream, compressed on every CPU; every reader of images (`restart`, `show`,
//! the parents of an incremental image, `checkpoint --parent`) takes such a file
//! as the image it holds. The module never sees compressed data: the checkpoint
//! is written uncompressed into a memfd first (the process is frozen no longer
//! than for an uncompressed image), then compressed into the output; a
//! compressed image is decompressed into a memfd before it is read.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The first bytes of a zstd frame (an image starts with 0x89 "CKPT").
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The zstd level `--compress` uses (fast; images of memory compress well or not
/// at all).
pub const LEVEL: i32 = 1;

/// Whether `f` starts with a zstd frame (read at offset 0, position unchanged).
pub fn is_compressed(f: &File) -> bool {
    let mut m = [0u8; 4];
    f.read_exact_at(&mut m, 0).is_ok() && m == ZSTD_MAGIC
}

/// A new memfd named `name`.
pub fn memfd(name: &std::ffi::CStr) -> io::Result<File> {
    // SAFETY: A plain syscall with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `f` (the file at `path`) as an uncompressed image, at offset 0: itself, or a
/// memfd holding what it decompresses to.
pub fn plain(mut f: File, path: &Path) -> Result<File, String> {
    if !is_compressed(&f) {
        f.seek(SeekFrom::Start(0))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(f);
    }
    let mut out = memfd(c"ckpt-unzstd").map_err(|e| format!("memfd_create: {e}"))?;
    f.seek(SeekFrom::Start(0))
        .and_then(|_| {
            zstd::stream::copy_decode(io::BufReader::with_capacity(1 << 20, &f), &mut out)
        })
        .and_then(|_| out.seek(SeekFrom::Start(0)))
        .map_err(|e| format!("{}: decompressing the image: {e}", path.display()))?;
    Ok(out)
}

/// Opens the image at `path`, decompressed if it is compressed.
pub fn open(path: &Path) -> Result<File, String> {
    let f = File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    plain(f, path)
}

/// `input` as the image it holds: decompressed on the fly if it starts with a
/// zstd frame (for streams: `ckpt show -`).
pub fn reader<'a, R: Read + 'a>(mut input: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; 4];
    let mut n = 0;
    while n < head.len() {
        match input.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = io::Cursor::new(head[..n].to_vec()).chain(input);
    if n == head.len() && head == ZSTD_MAGIC {
        Ok(Box::new(zstd::stream::read::Decoder::new(whole)?))
    } else {
        Ok(Box::new(whole))
    }
}

/// Compresses all of `src` (from offset 0) into `dst` with `threads` workers;
/// returns the compressed size.
pub fn compress<W: Write>(src: &File, dst: W, threads: u32) -> io::Result<u64> {
    struct Count<W> {
        w: W,
        n: u64,
    }
    impl<W: Write> Write for Count<W> {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let n = self.w.write(b)?;
            self.n += n as u64;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.w.flush()
        }
    }
    let mut e = zstd::stream::Encoder::new(Count { w: dst, n: 0 }, LEVEL)?;
    if threads > 1 {
        e.multithread(threads)?;
    }
    let mut r = io::BufReader::with_capacity(1 << 20, src);
    r.seek(SeekFrom::Start(0))?;
    io::copy(&mut r, &mut e)?;
    let mut c = e.finish()?;
    c.flush()?;
    Ok(c.n)
}

/// The number of compression workers: one per CPU this process may use.
pub fn threads() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}
