// SPDX-License-Identifier: GPL-2.0

//! Terminal records: [`Ctty`], the controlling terminal, [`Pty`], a
//! pseudo-terminal end, and [`PtyInput`], the bytes waiting to be read at one.

use super::super::*;

/// The controlling terminal of the process whose leader's task it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctty<'a> {
    /// The terminal's foreground process group (0: none).
    pub fg_pgid: i32,
    /// Whether the process leads the session the terminal belongs to.
    pub leader: u32,
    /// The terminal's path (`/dev/` and its kernel name, e.g. `/dev/pts/3`).
    pub path: &'a [u8],
}

fixed_record! {
    impl<'a> for Ctty<'a>, kind::CTTY,
    {
        fg_pgid: i32,
        leader: u32,
        path: str,
    },
    |c| {
        check(c.fg_pgid >= 0, "ctty: bad process group")?;
        check(c.leader <= 1, "ctty: bad leader flag")?;
        check(
            c.path.starts_with(b"/dev/") && !c.path.contains(&0),
            "ctty: bad path",
        )?;
    }
}

/// Number of control characters in a [`Pty`]'s termios (`NCCS` of `struct ktermios`).
pub const NCCS: usize = 19;

/// [`Pty::locked`] of a slave whose master was closed: the kernel hung it up (its
/// files read nothing and fail everything else) and removed its node.
pub const PTY_HUNG_UP: u8 = 2;

/// One end of a pseudo-terminal pair, for the `tty` [`FileRec`] it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pty {
    /// Id of the file record.
    pub file: u32,
    /// The pair's number (`N` of `/dev/pts/N`).
    pub index: u32,
    /// 1: the master (`/dev/ptmx`), 0: the slave.
    pub master: u8,
    /// 1: the slave is still locked (`TIOCSPTLCK`); [`PTY_HUNG_UP`] (a slave
    /// only): its master was closed, so the slave was hung up (since format 1.10).
    pub locked: u8,
    /// Owner of the slave's node (`/dev/pts/N`).
    pub uid: u32,
    /// Group of the slave's node.
    pub gid: u32,
    /// Mode of the slave's node.
    pub mode: u32,
    /// The slave's termios: `c_iflag`, `c_oflag`, `c_cflag`, `c_lflag`.
    pub flags: [u32; 4],
    /// `c_line`.
    pub line: u8,
    /// `c_cc`.
    pub cc: [u8; NCCS],
    /// `c_ispeed`, `c_ospeed`.
    pub speed: [u32; 2],
    /// The window size: rows, columns, x and y pixels.
    pub winsize: [u16; 4],
}

impl<'a> Record<'a> for Pty {
    const KIND: u16 = kind::PTY;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.file)?;
        e.u32(self.index)?;
        e.u8(self.master)?;
        e.u8(self.locked)?;
        e.u32(self.uid)?;
        e.u32(self.gid)?;
        e.u32(self.mode)?;
        for v in self.flags {
            e.u32(v)?;
        }
        e.u8(self.line)?;
        e.bytes(&self.cc)?;
        for v in self.speed {
            e.u32(v)?;
        }
        for v in self.winsize {
            e.u16(v)?;
        }
        Ok(())
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let mut t = Self {
            file: d.u32()?,
            index: d.u32()?,
            master: d.u8()?,
            locked: d.u8()?,
            uid: d.u32()?,
            gid: d.u32()?,
            mode: d.u32()?,
            flags: [0; 4],
            line: 0,
            cc: [0; NCCS],
            speed: [0; 2],
            winsize: [0; 4],
        };
        for v in t.flags.iter_mut() {
            *v = d.u32()?;
        }
        t.line = d.u8()?;
        t.cc.copy_from_slice(d.bytes(NCCS)?);
        for v in t.speed.iter_mut() {
            *v = d.u32()?;
        }
        for v in t.winsize.iter_mut() {
            *v = d.u16()?;
        }
        check(t.file != 0, "pty: zero file id")?;
        check(
            t.master <= 1 && (t.locked <= 1 || (t.locked == PTY_HUNG_UP && t.master == 0)),
            "pty: bad flag",
        )?;
        check(t.index < 1 << 20, "pty: bad index")?;
        Ok(t)
    }
}

/// Most bytes a [`PtyInput`] holds: a line discipline's buffer (4 KiB) and a
/// pseudo-terminal's flip buffer (8 KiB) with room to spare.
pub const MAX_PTY_INPUT: usize = 64 << 10;

/// Most line ends a [`PtyInput`] holds (a line discipline's buffer of empty lines).
pub const MAX_PTY_LINES: usize = 4096;

/// [`PtyInput::mode`]: the end was in raw mode; the bytes are as they came.
pub const PTY_INPUT_RAW: u8 = 1;
/// [`PtyInput::mode`]: the end was in canonical mode; the bytes are lines.
pub const PTY_INPUT_CANON: u8 = 2;
/// In a line end of a [`PtyInput`]: the line ended with an end-of-file character
/// (`VEOF`, which a read does not return), not with its last byte.
pub const PTY_LINE_EOF: u32 = 1 << 31;

/// The bytes waiting to be read at the pseudo-terminal end whose [`Pty`] record
/// (of file `file`) it follows at once, as a reader of that end would have read
/// them. One per end, after the first file of that end. Since format 1.10.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtyInput<'a> {
    /// Id of the file record (the same as the [`Pty`] record's).
    pub file: u32,
    /// [`PTY_INPUT_RAW`] or [`PTY_INPUT_CANON`].
    pub mode: u8,
    /// In canonical mode, the end of each complete line in `data` (an offset,
    /// ascending, with [`PTY_LINE_EOF`] for a line an end-of-file character ended),
    /// as little-endian `u32`s; what follows the last is the line being typed.
    pub ends: &'a [u8],
    /// The bytes, oldest first.
    pub data: &'a [u8],
}

impl PtyInput<'_> {
    /// The line ends (see [`Self::ends`]).
    pub fn line_ends(&self) -> impl Iterator<Item = u32> + '_ {
        self.ends
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }
}

impl<'a> Record<'a> for PtyInput<'a> {
    const KIND: u16 = kind::PTY_INPUT;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.file)?;
        e.u8(self.mode)?;
        e.bytes(&[0; 3])?;
        e.u32((self.ends.len() / 4) as u32)?;
        e.bytes(self.ends)?;
        e.u32(self.data.len() as u32)?;
        e.bytes(self.data)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let file = d.u32()?;
        let mode = d.u8()?;
        let pad = d.bytes(3)?;
        let nends = d.u32()? as usize;
        check(file != 0, "pty-input: zero file id")?;
        check(
            pad == [0; 3] && (mode == PTY_INPUT_RAW || mode == PTY_INPUT_CANON),
            "pty-input: bad mode",
        )?;
        check(
            nends <= MAX_PTY_LINES && (mode == PTY_INPUT_CANON || nends == 0),
            "pty-input: bad line count",
        )?;
        let ends = d.bytes(nends * 4)?;
        let n = d.u32()? as usize;
        check(
            n <= MAX_PTY_INPUT && (n != 0 || nends != 0),
            "pty-input: bad length",
        )?;
        let data = d.bytes(n)?;
        let t = Self {
            file,
            mode,
            ends,
            data,
        };
        let mut at = 0;
        for end in t.line_ends() {
            let off = (end & !PTY_LINE_EOF) as usize;
            check(off >= at && off <= n, "pty-input: bad line end")?;
            at = off;
        }
        Ok(t)
    }
}
