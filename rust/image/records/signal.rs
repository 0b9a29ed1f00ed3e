// SPDX-License-Identifier: GPL-2.0

//! Signal records: [`Sighand`], [`SignalRec`] and [`ThreadSignals`].

use super::super::*;

/// One signal's disposition (x86_64 `struct sigaction` as the kernel keeps it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// Handler address, or `SIG_DFL` (0) / `SIG_IGN` (1).
    pub handler: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// Signals blocked while the handler runs (bit `n-1` is signal `n`).
    pub mask: u64,
}

/// Size of one [`SigAction`] on the wire.
pub const SIGACTION_LEN: usize = 32;

impl SigAction {
    /// Wire form.
    pub fn to_bytes(&self) -> [u8; SIGACTION_LEN] {
        let mut b = [0u8; SIGACTION_LEN];
        b[0..8].copy_from_slice(&self.handler.to_le_bytes());
        b[8..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..24].copy_from_slice(&self.restorer.to_le_bytes());
        b[24..32].copy_from_slice(&self.mask.to_le_bytes());
        b
    }
    fn from_bytes(b: &[u8]) -> Self {
        Self {
            handler: le64(&b[0..]),
            flags: le64(&b[8..]),
            restorer: le64(&b[16..]),
            mask: le64(&b[24..]),
        }
    }
}

/// A signal-handler table. The dispositions stay in wire form (64 ×
/// [`SIGACTION_LEN`] bytes, see [`SigAction::to_bytes`]) so that the record is
/// small enough for a kernel stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sighand<'a> {
    /// Object id.
    pub id: u32,
    /// Dispositions of signals 1..=64, wire form.
    pub raw: &'a [u8],
}

impl<'a> Sighand<'a> {
    /// Disposition of signal `i + 1`.
    pub fn action(&self, i: usize) -> SigAction {
        SigAction::from_bytes(&self.raw[i * SIGACTION_LEN..])
    }
    /// All 64 dispositions, signal 1 first.
    pub fn actions(&self) -> impl Iterator<Item = SigAction> + 'a {
        self.raw
            .chunks_exact(SIGACTION_LEN)
            .map(SigAction::from_bytes)
    }
}

impl<'a> Record<'a> for Sighand<'a> {
    const KIND: u16 = kind::SIGHAND;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        if self.raw.len() != NSIG * SIGACTION_LEN {
            return Err(ImageError::Overflow);
        }
        e.u32(self.id)?;
        e.u32(NSIG as u32)?;
        e.bytes(self.raw)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        check(id != 0, "sighand: zero id")?;
        check(d.u32()? as usize == NSIG, "sighand: bad count")?;
        let sh = Self {
            id,
            raw: d.bytes(NSIG * SIGACTION_LEN)?,
        };
        for (i, a) in sh.actions().enumerate() {
            check(
                a.handler < USER_ADDR_END,
                "sighand: handler outside user space",
            )?;
            check(
                a.restorer < USER_ADDR_END,
                "sighand: restorer outside user space",
            )?;
            // SIGKILL and SIGSTOP cannot be caught or ignored.
            check(
                !(i == 8 || i == 18) || a.handler == 0,
                "sighand: SIGKILL/SIGSTOP not default",
            )?;
        }
        Ok(sh)
    }
}

/// One interval timer (`setitimer`), in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Itimer {
    /// Time to the next expiry (0: disarmed).
    pub value_ns: u64,
    /// Reload interval.
    pub interval_ns: u64,
}

/// A queued signal: its number and the kernel_siginfo prefix of `siginfo_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuedSignal<'a> {
    /// The raw siginfo (`si_signo` in its first 4 bytes).
    pub info: &'a [u8],
}

impl<'a> QueuedSignal<'a> {
    /// The signal number.
    pub fn signo(&self) -> i32 {
        i32::from_le_bytes([self.info[0], self.info[1], self.info[2], self.info[3]])
    }
    /// `si_code`.
    pub fn code(&self) -> i32 {
        i32::from_le_bytes([self.info[8], self.info[9], self.info[10], self.info[11]])
    }
}

/// A list of queued signals inside a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigQueue<'a> {
    /// Pending set (bit `n-1` is signal `n`).
    pub pending: u64,
    raw: &'a [u8],
}

/// Most queued signals kept per queue.
pub const MAX_QUEUED: usize = 4096;

impl<'a> SigQueue<'a> {
    /// A queue over `count` back-to-back siginfos.
    pub fn new(pending: u64, raw: &'a [u8]) -> Self {
        Self { pending, raw }
    }
    /// Number of queued signals.
    pub fn len(&self) -> usize {
        self.raw.len() / SIGINFO_LEN
    }
    /// True if none are queued.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }
    /// Queued signal `i`.
    pub fn get(&self, i: usize) -> QueuedSignal<'a> {
        QueuedSignal {
            info: &self.raw[i * SIGINFO_LEN..(i + 1) * SIGINFO_LEN],
        }
    }
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.pending)?;
        e.u32(self.len() as u32)?;
        e.bytes(self.raw)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let pending = d.u64()?;
        let n = d.u32()? as usize;
        check(n <= MAX_QUEUED, "signals: too many queued")?;
        let raw = d.bytes(n * SIGINFO_LEN)?;
        let q = Self { pending, raw };
        for i in 0..n {
            let s = q.get(i).signo();
            check(s >= 1 && s <= NSIG as i32, "signals: bad signal number")?;
            check(
                pending & (1u64 << (s - 1)) != 0,
                "signals: queued signal not pending",
            )?;
        }
        Ok(q)
    }
}

/// Process-wide signal state and timers (`signal_struct`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalRec<'a> {
    /// Object id.
    pub id: u32,
    /// `ITIMER_REAL`, `ITIMER_VIRTUAL`, `ITIMER_PROF`.
    pub itimers: [Itimer; 3],
    /// Signals pending for the whole process.
    pub shared: SigQueue<'a>,
}

impl<'a> Record<'a> for SignalRec<'a> {
    const KIND: u16 = kind::SIGNAL;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u32(self.id)?;
        for t in &self.itimers {
            e.u64(t.value_ns)?;
            e.u64(t.interval_ns)?;
        }
        self.shared.encode(e)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let id = d.u32()?;
        check(id != 0, "signal: zero id")?;
        let mut itimers = [Itimer::default(); 3];
        for t in itimers.iter_mut() {
            t.value_ns = d.u64()?;
            t.interval_ns = d.u64()?;
        }
        Ok(Self {
            id,
            itimers,
            shared: SigQueue::decode(d)?,
        })
    }
}

/// Per-thread signal state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadSignals<'a> {
    /// Blocked set.
    pub blocked: u64,
    /// `sigaltstack`: base.
    pub altstack_sp: u64,
    /// `sigaltstack`: size.
    pub altstack_size: u64,
    /// `sigaltstack`: flags (`SS_AUTODISARM`).
    pub altstack_flags: u32,
    /// Signals pending for this thread only.
    pub pending: SigQueue<'a>,
}

impl<'a> Record<'a> for ThreadSignals<'a> {
    const KIND: u16 = kind::THREAD_SIGNALS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.blocked)?;
        e.u64(self.altstack_sp)?;
        e.u64(self.altstack_size)?;
        e.u32(self.altstack_flags)?;
        self.pending.encode(e)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let t = Self {
            blocked: d.u64()?,
            altstack_sp: d.u64()?,
            altstack_size: d.u64()?,
            altstack_flags: d.u32()?,
            pending: SigQueue::decode(d)?,
        };
        check(
            t.altstack_sp
                .checked_add(t.altstack_size)
                .is_some_and(|e| e <= USER_ADDR_END),
            "thread-signals: altstack outside user space",
        )?;
        Ok(t)
    }
}
