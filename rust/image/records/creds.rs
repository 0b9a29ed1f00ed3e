// SPDX-License-Identifier: GPL-2.0

//! Credential records: [`Creds`] and [`Rlimits`].

use super::super::*;

/// Credentials as the checkpointer's user namespace sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creds<'a> {
    /// Object id.
    pub id: u32,
    /// uid, euid, suid, fsuid.
    pub uids: [u32; 4],
    /// gid, egid, sgid, fsgid.
    pub gids: [u32; 4],
    /// Capability sets: inheritable, permitted, effective, bounding, ambient.
    pub caps: [u64; 5],
    /// `securebits`.
    pub securebits: u32,
    /// `no_new_privs` (1) or not (0).
    pub no_new_privs: u32,
    /// Supplementary groups, `u32` each.
    pub groups: &'a [u8],
}

impl<'a> Creds<'a> {
    /// Number of supplementary groups.
    pub fn ngroups(&self) -> usize {
        self.groups.len() / 4
    }
    /// Supplementary group `i`.
    pub fn group(&self, i: usize) -> u32 {
        le_u32_at(self.groups, i)
    }
}

impl<'a> Record<'a> for Creds<'a> {
    const KIND: u16 = kind::CREDS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        for v in self.uids.iter().chain(self.gids.iter()) {
            e.u32(*v)?;
        }
        for v in self.caps {
            e.u64(v)?;
        }
        e.u32(self.securebits)?;
        e.u32(self.no_new_privs)?;
        e.u32(self.ngroups() as u32)?;
        e.bytes(self.groups)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        let mut uids = [0; 4];
        let mut gids = [0; 4];
        for v in uids.iter_mut().chain(gids.iter_mut()) {
            *v = d.u32()?;
        }
        let mut caps = [0; 5];
        for v in caps.iter_mut() {
            *v = d.u64()?;
        }
        let securebits = d.u32()?;
        let no_new_privs = d.u32()?;
        let n = d.u32()? as usize;
        check(n <= MAX_GROUPS, "creds: too many groups")?;
        let groups = d.bytes(n * 4)?;
        check(id != 0, "creds: zero id")?;
        check(no_new_privs <= 1, "creds: bad no_new_privs")?;
        Ok(Self {
            id,
            uids,
            gids,
            caps,
            securebits,
            no_new_privs,
            groups,
        })
    }
}

/// Resource limits of a process (`RLIM_INFINITY` is `u64::MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimits {
    /// `(soft, hard)` for each `RLIMIT_*`, in the kernel's order.
    pub lim: [(u64, u64); NRLIMITS],
}

impl<'a> Record<'a> for Rlimits {
    const KIND: u16 = kind::RLIMITS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(NRLIMITS as u32)?;
        for (c, m) in self.lim {
            e.u64(c)?;
            e.u64(m)?;
        }
        Ok(())
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        check(d.u32()? as usize == NRLIMITS, "rlimits: bad count")?;
        let mut lim = [(0, 0); NRLIMITS];
        for l in lim.iter_mut() {
            *l = (d.u64()?, d.u64()?);
            check(l.0 <= l.1, "rlimits: soft limit above hard limit")?;
        }
        Ok(Self { lim })
    }
}
