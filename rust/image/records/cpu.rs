// SPDX-License-Identifier: GPL-2.0

//! CPU records: [`Regs`], [`Xstate`] and [`Rseq`].

use super::super::*;

/// Number of words in [`Regs`].
pub const NREGS: usize = 27;
/// Names of the [`Regs`] words, in order (x86_64 `struct user_regs_struct`).
pub const REG_NAMES: [&str; NREGS] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];
/// Index of `rip` in [`Regs::r`].
pub const REG_RIP: usize = 16;
/// Index of `rsp` in [`Regs::r`].
pub const REG_RSP: usize = 19;
/// Index of `rax` in [`Regs::r`].
pub const REG_RAX: usize = 10;
/// Index of `orig_rax` in [`Regs::r`].
pub const REG_ORIG_RAX: usize = 15;
/// Index of `fs_base` in [`Regs::r`].
pub const REG_FS_BASE: usize = 21;
/// Index of `gs_base` in [`Regs::r`].
pub const REG_GS_BASE: usize = 22;

/// General-purpose registers of a task at its user-mode boundary, as the
/// x86_64 `struct user_regs_struct` orders them. A syscall the task was in
/// is already rewound for restart (see the format documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Regs {
    /// The words, named by [`REG_NAMES`].
    pub r: [u64; NREGS],
}

impl<'a> Record<'a> for Regs {
    const KIND: u16 = kind::REGS;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        for v in self.r {
            e.u64(v)?;
        }
        Ok(())
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let mut r = [0; NREGS];
        for v in r.iter_mut() {
            *v = d.u64()?;
        }
        check(r[REG_RIP] < USER_ADDR_END, "regs: rip outside user space")?;
        check(
            r[REG_FS_BASE] < USER_ADDR_END && r[REG_GS_BASE] < USER_ADDR_END,
            "regs: segment base outside user space",
        )?;
        Ok(Self { r })
    }
}

/// Extended FPU state: the standard (non-compacted) XSAVE layout that
/// `PTRACE_GETREGSET(NT_X86_XSTATE)` returns, legacy FXSAVE area first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Xstate<'a> {
    /// XSTATE_BV of the saved area.
    pub xstate_bv: u64,
    /// The XSAVE area.
    pub area: &'a [u8],
}

/// Offset of XSTATE_BV in the XSAVE header.
pub const XSAVE_HDR_OFFSET: usize = 512;
/// Size of the legacy area plus the XSAVE header.
pub const XSAVE_MIN_LEN: usize = 576;

/// The XSAVE components whose place in the standard layout is the same on every
/// CPU that has them, and whose initial state is all zeros: (bit, offset, size) of
/// AVX (the upper halves of YMM0-15) and AVX-512 (opmask, upper halves of ZMM0-15,
/// ZMM16-31).
pub const XSAVE_ZERO_INIT: [(u32, usize, usize); 4] = [
    (2, 576, 256),
    (5, 1088, 64),
    (6, 1152, 512),
    (7, 1664, 1024),
];

/// XSAVE components by name, for messages: `XfeatureNames(bits)` displays as
/// "AVX, PKRU" (and the number of those it has no name for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XfeatureNames(pub u64);

impl core::fmt::Display for XfeatureNames {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const NAMES: [&str; 20] = [
            "x87",
            "SSE",
            "AVX",
            "MPX bounds",
            "MPX CSR",
            "AVX-512 opmask",
            "AVX-512 ZMM_Hi256",
            "AVX-512 Hi16_ZMM",
            "PT",
            "PKRU",
            "PASID",
            "CET user",
            "CET supervisor",
            "HDC",
            "UINTR",
            "LBR",
            "HWP",
            "AMX tile config",
            "AMX tile data",
            "APX",
        ];
        let mut sep = "";
        for (i, name) in NAMES.iter().enumerate() {
            if self.0 & (1u64 << i) != 0 {
                write!(f, "{sep}{name}")?;
                sep = ", ";
            }
        }
        for i in NAMES.len()..64 {
            if self.0 & (1u64 << i) != 0 {
                write!(f, "{sep}component {i}")?;
                sep = ", ";
            }
        }
        Ok(())
    }
}

impl Xstate<'_> {
    /// Of the components `bits`, those that are in their initial state in the area
    /// although XSTATE_BV marks them in use: a CPU may mark a component in use
    /// whatever it holds (QEMU's TCG marks all), and loading the initial state is
    /// the same as loading nothing. Only the components of [`XSAVE_ZERO_INIT`].
    pub fn idle(&self, bits: u64) -> u64 {
        let mut idle = 0;
        for &(bit, off, size) in &XSAVE_ZERO_INIT {
            if bits & (1u64 << bit) == 0 {
                continue;
            }
            match self.area.get(off..off + size) {
                Some(d) if d.iter().all(|&b| b == 0) => idle |= 1u64 << bit,
                // Not in the area at all: the state was never saved, it is initial.
                None if self.area.len() <= off => idle |= 1u64 << bit,
                _ => {}
            }
        }
        idle
    }
}

impl<'a> Record<'a> for Xstate<'a> {
    const KIND: u16 = kind::XSTATE;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.xstate_bv)?;
        e.u32(self.area.len() as u32)?;
        e.bytes(self.area)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let xstate_bv = d.u64()?;
        let n = d.u32()? as usize;
        check(
            (XSAVE_MIN_LEN..=MAX_XSTATE_LEN).contains(&n),
            "xstate: bad size",
        )?;
        let area = d.bytes(n)?;
        check(
            le64(&area[XSAVE_HDR_OFFSET..]) == xstate_bv,
            "xstate: XSTATE_BV disagrees with the area",
        )?;
        Ok(Self { xstate_bv, area })
    }
}

/// A task's restartable-sequences registration (`rseq(2)`), for the task it follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rseq {
    /// Address of the registered `struct rseq` (0: none).
    pub ptr: u64,
    /// Its registered length.
    pub len: u32,
    /// The signature registered with it.
    pub sig: u32,
}

fixed_record! {
    impl<'a> for Rseq, kind::RSEQ,
    {
        ptr: u64,
        len: u32,
        sig: u32,
    },
    |r| {
        check(
            r.ptr
                .checked_add(r.len as u64)
                .is_some_and(|e| e <= USER_ADDR_END),
            "rseq: area outside user space",
        )?;
        check(
            r.ptr == 0 || (32..=4096).contains(&r.len),
            "rseq: bad length",
        )?;
    }
}
