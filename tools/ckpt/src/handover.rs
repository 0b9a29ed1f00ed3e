// SPDX-License-Identifier: GPL-2.0

//! `ckpt handover`: the files of a directory (the images of a kernel switch)
//! kept across a kexec in memory the kernel preserves for the next one
//! (kexec handover, `CKPT_IOC_HANDOVER`), so that no disk is needed.
//!
//! The module keeps one byte string; this packs the files into it:
//! `"CKPTHO01"`, `u32` count, then per file `u32` name length, the name,
//! `u64` size, the bytes (little-endian). Names are plain file names.

use std::fs;
use std::io;
use std::path::Path;

/// The first bytes of a packed set.
pub const MAGIC: &[u8; 8] = b"CKPTHO01";

/// Packs the regular files of `dir` (sorted by name, subdirectories
/// skipped); returns the bytes and the file count.
pub fn pack(dir: &Path) -> io::Result<(Vec<u8>, usize)> {
    let mut names = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            names.push(e.file_name());
        }
    }
    names.sort();
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(names.len() as u32).to_le_bytes());
    for n in &names {
        let name = n.as_encoded_bytes();
        let data = fs::read(dir.join(n))?;
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(&data);
    }
    Ok((out, names.len()))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("packed set: {what}"))
}

/// The files of a packed set, `(name, bytes)`, checked: plain names, sizes
/// within the set, nothing after the last file.
pub fn unpack(b: &[u8]) -> io::Result<Vec<(String, &[u8])>> {
    let mut at = 0usize;
    let mut take = |n: usize| -> io::Result<&[u8]> {
        let end = at
            .checked_add(n)
            .filter(|&e| e <= b.len())
            .ok_or_else(|| bad("truncated"))?;
        let s = &b[at..end];
        at = end;
        Ok(s)
    };
    if take(8)? != MAGIC {
        return Err(bad("not one (bad magic)"));
    }
    let count = u32::from_le_bytes(take(4)?.try_into().unwrap());
    let mut files = Vec::new();
    for _ in 0..count {
        let nl = u32::from_le_bytes(take(4)?.try_into().unwrap()) as usize;
        let name = std::str::from_utf8(take(nl)?).map_err(|_| bad("a name is not UTF-8"))?;
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('\0')
        {
            return Err(bad("a name is not a plain file name"));
        }
        let len = u64::from_le_bytes(take(8)?.try_into().unwrap());
        let len = usize::try_from(len).map_err(|_| bad("a file too large"))?;
        files.push((name.to_string(), take(len)?));
    }
    if at != b.len() {
        return Err(bad("bytes after the last file"));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let d = std::env::temp_dir().join(format!("ckpt-handover-{}", std::process::id()));
        fs::create_dir_all(d.join("sub")).unwrap();
        fs::write(d.join("b.img"), b"second").unwrap();
        fs::write(d.join("a.img"), b"first").unwrap();
        fs::write(d.join("jobs"), b"").unwrap();
        let (p, n) = pack(&d).unwrap();
        fs::remove_dir_all(&d).unwrap();
        assert_eq!(n, 3);
        let f = unpack(&p).unwrap();
        let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a.img", "b.img", "jobs"]);
        assert_eq!(f[0].1, b"first");
        assert_eq!(f[2].1, b"");
        assert!(unpack(&p[..p.len() - 1]).is_err());
        let mut longer = p.clone();
        longer.push(0);
        assert!(unpack(&longer).is_err());
        let mut evil = Vec::from(&MAGIC[..]);
        evil.extend_from_slice(&1u32.to_le_bytes());
        evil.extend_from_slice(&5u32.to_le_bytes());
        evil.extend_from_slice(b"../x0");
        evil.extend_from_slice(&0u64.to_le_bytes());
        assert!(unpack(&evil).is_err());
        assert!(unpack(b"CKPTHO02\0\0\0\0").is_err());
    }
}
