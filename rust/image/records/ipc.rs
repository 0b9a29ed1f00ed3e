// SPDX-License-Identifier: GPL-2.0

//! SysV IPC records: the IPC namespace ([`IpcNs`]), semaphore sets
//! ([`SemSet`]) and message queues ([`MsgQueue`], each followed by its
//! [`SysvMsg`] records in queue order).
//! SysV shared memory segments are file records (`filekind::SYSVSHM`).

use super::super::*;

/// `SEMVMX`: the largest value of a semaphore.
pub const SEM_VALUE_MAX: u16 = 32767;
/// Most semaphores in a set a reader accepts (`SEMMSL` can be raised; the
/// record then holds two bytes per semaphore).
pub const SEM_NSEMS_MAX: usize = 65535;
/// The permission bits of a SysV object (`ipc_perm.mode & 0777`).
pub const IPC_MODE_MASK: u32 = 0o777;

/// The identity and permissions of a SysV object, common to [`SemSet`] and
/// [`MsgQueue`], in the image's user namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcPerm {
    /// Its id (`semid`, `msqid`), as the processes name it.
    pub id: i32,
    /// Its key (0: `IPC_PRIVATE`).
    pub key: i32,
    /// Owner.
    pub uid: u32,
    /// Owner's group.
    pub gid: u32,
    /// Creator.
    pub cuid: u32,
    /// Creator's group.
    pub cgid: u32,
    /// Permission bits ([`IPC_MODE_MASK`]).
    pub mode: u32,
}

impl IpcPerm {
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.i32(self.id)?;
        e.i32(self.key)?;
        e.u32(self.uid)?;
        e.u32(self.gid)?;
        e.u32(self.cuid)?;
        e.u32(self.cgid)?;
        e.u32(self.mode)
    }

    fn decode(d: &mut Dec<'_>, what: &'static str) -> Result<Self> {
        let p = Self {
            id: d.i32()?,
            key: d.i32()?,
            uid: d.u32()?,
            gid: d.u32()?,
            cuid: d.u32()?,
            cgid: d.u32()?,
            mode: d.u32()?,
        };
        check(p.id >= 0 && p.mode & !IPC_MODE_MASK == 0, what)?;
        Ok(p)
    }
}

/// A SysV semaphore set of the image's IPC namespace and its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SemSet<'a> {
    /// Id, key, owner, mode.
    pub perm: IpcPerm,
    /// The values, two bytes (little-endian) per semaphore, in order.
    pub values: &'a [u8],
}

impl SemSet<'_> {
    /// Number of semaphores.
    pub fn nsems(&self) -> usize {
        self.values.len() / 2
    }

    /// Value of semaphore `i` (< [`SemSet::nsems`]).
    pub fn value(&self, i: usize) -> u16 {
        u16::from_le_bytes([self.values[2 * i], self.values[2 * i + 1]])
    }
}

impl<'a> Record<'a> for SemSet<'a> {
    const KIND: u16 = kind::SEM_SET;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        self.perm.encode(e)?;
        e.u32(self.values.len() as u32)?;
        e.bytes(self.values)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let perm = IpcPerm::decode(d, "sysv-sem: bad id or mode")?;
        let n = d.u32()? as usize;
        let values = d.bytes(n)?;
        let s = Self { perm, values };
        check(
            n % 2 == 0 && n >= 2 && n / 2 <= SEM_NSEMS_MAX,
            "sysv-sem: bad number of semaphores",
        )?;
        check(
            (0..s.nsems()).all(|i| s.value(i) <= SEM_VALUE_MAX),
            "sysv-sem: value out of range",
        )?;
        Ok(s)
    }
}

/// A SysV message queue of the image's IPC namespace; its `count` messages
/// follow as [`SysvMsg`] records, oldest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MsgQueue {
    /// Id, key, owner, mode.
    pub perm: IpcPerm,
    /// Its size limit in bytes (`msg_qbytes`).
    pub qbytes: u64,
    /// Messages queued.
    pub count: u32,
}

impl<'a> Record<'a> for MsgQueue {
    const KIND: u16 = kind::MSG_QUEUE;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        self.perm.encode(e)?;
        e.u64(self.qbytes)?;
        e.u32(self.count)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let perm = IpcPerm::decode(d, "sysv-msgq: bad id or mode")?;
        let qbytes = d.u64()?;
        let count = d.u32()?;
        check(qbytes <= i32::MAX as u64, "sysv-msgq: bad size limit")?;
        Ok(Self {
            perm,
            qbytes,
            count,
        })
    }
}

/// One message of the [`MsgQueue`] before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SysvMsg<'a> {
    /// Id of its queue.
    pub queue: i32,
    /// Its type (> 0).
    pub mtype: i64,
    /// Its text.
    pub data: &'a [u8],
}

impl<'a> Record<'a> for SysvMsg<'a> {
    const KIND: u16 = kind::SYSV_MSG;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.i32(self.queue)?;
        e.i64(self.mtype)?;
        e.u32(self.data.len() as u32)?;
        e.bytes(self.data)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let queue = d.i32()?;
        let mtype = d.i64()?;
        let n = d.u32()? as usize;
        let data = d.bytes(n)?;
        check(queue >= 0 && mtype > 0, "sysv-msg: bad queue or type")?;
        Ok(Self { queue, mtype, data })
    }
}

/// [`IpcNs::flags`]: the processes had an IPC namespace of their own (not the
/// checkpointer's); the restart makes a new one.
pub const IPC_NS_OWN: u32 = 1;

/// The processes' IPC namespace: whether it was their own, and its limits
/// (`/proc/sys/kernel/{msgmax,msgmnb,msgmni,sem,shmmax,shmall,shmmni}`), which a
/// new namespace gets back. Written once, before the semaphore sets and queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcNs {
    /// [`IPC_NS_OWN`].
    pub flags: u32,
    /// `msgmax`, `msgmnb`, `msgmni`.
    pub msgmax: u32,
    pub msgmnb: u32,
    pub msgmni: u32,
    /// `sem`: `SEMMSL`, `SEMMNS`, `SEMOPM`, `SEMMNI`.
    pub semmsl: u32,
    pub semmns: u32,
    pub semopm: u32,
    pub semmni: u32,
    /// `shmmax`, `shmall`, `shmmni`.
    pub shmmax: u64,
    pub shmall: u64,
    pub shmmni: u32,
}

fixed_record! {
    impl<'a> for IpcNs, kind::IPC_NS,
    {
        flags: u32,
        msgmax: u32,
        msgmnb: u32,
        msgmni: u32,
        semmsl: u32,
        semmns: u32,
        semopm: u32,
        semmni: u32,
        shmmax: u64,
        shmall: u64,
        shmmni: u32,
    },
    |n| {
        check(n.flags & !IPC_NS_OWN == 0, "sysv-ns: unknown flags")?;
        check(
            [n.msgmax, n.msgmnb, n.msgmni, n.semmsl, n.semmns, n.semopm, n.semmni, n.shmmni]
                .iter()
                .all(|&v| v <= i32::MAX as u32),
            "sysv-ns: limit out of range",
        )?;
    }
}
