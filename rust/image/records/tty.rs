// SPDX-License-Identifier: GPL-2.0

//! Terminal records: [`Ctty`], the controlling terminal.

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

impl<'a> Record<'a> for Ctty<'a> {
    const KIND: u16 = kind::CTTY;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.i32(self.fg_pgid)?;
        e.u32(self.leader)?;
        e.str(self.path)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let c = Self {
            fg_pgid: d.i32()?,
            leader: d.u32()?,
            path: d.str()?,
        };
        check(c.fg_pgid >= 0, "ctty: bad process group")?;
        check(c.leader <= 1, "ctty: bad leader flag")?;
        check(
            c.path.starts_with(b"/dev/") && !c.path.contains(&0),
            "ctty: bad path",
        )?;
        Ok(c)
    }
}
