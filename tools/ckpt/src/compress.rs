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

/// Half of this machine's RAM: the default limit of what an image may
/// decompress to and of what `ckpt receive` stores.
pub fn half_ram() -> u64 {
    // SAFETY: A plain query.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    if pages <= 0 || size <= 0 {
        return 1 << 30;
    }
    (pages as u64).saturating_mul(size as u64) / 2
}

/// The limit of what the compressed file `f` may decompress to: the content
/// size its first frame declares, else `limit` (default [`half_ram`]).
pub fn out_limit(f: &File, limit: Option<u64>) -> u64 {
    let mut head = [0u8; 18];
    let n = f.read_at(&mut head, 0).unwrap_or(0);
    match zstd::zstd_safe::get_frame_content_size(&head[..n]) {
        Ok(Some(size)) => size,
        _ => limit.unwrap_or_else(half_ram),
    }
}

/// `f` (the file at `path`) as an uncompressed image, at offset 0: itself, or a
/// memfd holding what it decompresses to, at most [`out_limit`] bytes.
pub fn plain(f: File, path: &Path) -> Result<File, String> {
    plain_limited(f, path, None)
}

/// [`plain`], with `limit` the most a compressed image without a declared
/// content size may decompress to (default [`half_ram`]).
pub fn plain_limited(mut f: File, path: &Path, limit: Option<u64>) -> Result<File, String> {
    if !is_compressed(&f) {
        f.seek(SeekFrom::Start(0))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(f);
    }
    let max = out_limit(&f, limit);
    let mut out = memfd(c"ckpt-unzstd").map_err(|e| format!("memfd_create: {e}"))?;
    let got = f
        .seek(SeekFrom::Start(0))
        .and_then(|_| zstd::stream::read::Decoder::new(io::BufReader::with_capacity(1 << 20, &f)))
        .and_then(|d| io::copy(&mut d.take(max.saturating_add(1)), &mut out))
        .map_err(|e| format!("{}: decompressing the image: {e}", path.display()))?;
    if got > max {
        return Err(format!(
            "{}: decompressing the image: it holds more than {max} bytes (its declared size, \
             or half of this machine's memory): refused",
            path.display()
        ));
    }
    out.seek(SeekFrom::Start(0))
        .map_err(|e| format!("{}: {e}", path.display()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file_of(b: &[u8]) -> File {
        let mut f = memfd(c"test").unwrap();
        f.write_all(b).unwrap();
        f
    }

    /// A small frame of many zeros stops at the limit, whether the frame
    /// declares its size (a lie is caught) or not.
    #[test]
    fn decompression_is_bounded() {
        let p = Path::new("bomb.img");
        let zeros = vec![0u8; 4 << 20];
        // Streamed: no content size in the header.
        let mut z = Vec::new();
        let mut e = zstd::stream::Encoder::new(&mut z, 3).unwrap();
        e.write_all(&zeros).unwrap();
        e.finish().unwrap();
        assert!(z.len() < 4096);
        let f = file_of(&z);
        assert_eq!(out_limit(&f, Some(1 << 20)), 1 << 20);
        let err = plain_limited(f, p, Some(1 << 20)).unwrap_err();
        assert!(err.contains("more than 1048576 bytes"), "{err}");
        let mut out = plain_limited(file_of(&z), p, Some(4 << 20)).unwrap();
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        assert_eq!(v, zeros);
        // With its size in the header: that size is the limit.
        let d = zstd::bulk::compress(&zeros, 3).unwrap();
        assert_eq!(out_limit(&file_of(&d), None), 4 << 20);
        assert!(plain(file_of(&d), p).is_ok());
    }
}
