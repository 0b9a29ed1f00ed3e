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
