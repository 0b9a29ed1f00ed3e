// SPDX-License-Identifier: GPL-2.0

//! Stream records: [`Header`] (first) and [`End`] (last).

use super::super::*;

/// First record: what took the image, and on what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// [`FORMAT_MAJOR`] of the writer.
    pub format_major: u16,
    /// [`FORMAT_MINOR`] of the writer.
    pub format_minor: u16,
    /// ELF machine ([`ARCH_X86_64`]).
    pub arch: u16,
    /// Reserved, zero.
    pub flags: u16,
    /// Page size in bytes.
    pub page_size: u32,
    /// Size of the uabi XSAVE area on the writing CPU.
    pub xstate_size: u32,
    /// XSAVE features enabled for user state on the writing CPU (XCR0).
    pub xfeatures: u64,
    /// Wall-clock time of the checkpoint, ns since the epoch.
    pub time_ns: u64,
    /// The pid the checkpoint was asked for (a thread id stands for its process).
    pub root_pid: i32,
    /// Number of [`Task`] records that follow.
    pub ntasks: u32,
    /// `uname -r` of the writing kernel.
    pub kernel_release: &'a [u8],
    /// Host name of the writing machine.
    pub hostname: &'a [u8],
    /// Version of the writing module.
    pub writer: &'a [u8],
}

impl<'a> Record<'a> for Header<'a> {
    const KIND: u16 = kind::HEADER;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u16(self.format_major)?;
        e.u16(self.format_minor)?;
        e.u16(self.arch)?;
        e.u16(self.flags)?;
        e.u32(self.page_size)?;
        e.u32(self.xstate_size)?;
        e.u64(self.xfeatures)?;
        e.u64(self.time_ns)?;
        e.i32(self.root_pid)?;
        e.u32(self.ntasks)?;
        e.str(self.kernel_release)?;
        e.str(self.hostname)?;
        e.str(self.writer)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        let h = Self {
            format_major: d.u16()?,
            format_minor: d.u16()?,
            arch: d.u16()?,
            flags: d.u16()?,
            page_size: d.u32()?,
            xstate_size: d.u32()?,
            xfeatures: d.u64()?,
            time_ns: d.u64()?,
            root_pid: d.i32()?,
            ntasks: d.u32()?,
            kernel_release: d.str()?,
            hostname: d.str()?,
            writer: d.str()?,
        };
        if h.format_major != FORMAT_MAJOR {
            return Err(ImageError::UnsupportedFormat {
                major: h.format_major,
                minor: h.format_minor,
            });
        }
        if h.arch != ARCH_X86_64 {
            return Err(ImageError::ForeignArch(h.arch));
        }
        if h.page_size as usize != PAGE_SIZE {
            return Err(ImageError::BadPageSize(h.page_size));
        }
        check(
            h.ntasks >= 1 && h.ntasks <= 1 << 22,
            "header: bad task count",
        )?;
        check(
            h.xstate_size as usize <= MAX_XSTATE_LEN,
            "header: xstate too large",
        )?;
        Ok(h)
    }
}

/// Last record: the writer's [`StreamAccount`] of everything before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    /// What the writer counted.
    pub account: StreamAccount,
}

impl<'a> Record<'a> for End {
    const KIND: u16 = kind::END;
    fn encode(&self, e: &mut Enc<'_>) -> Result<()> {
        e.u64(self.account.records)?;
        e.u64(self.account.bytes)?;
        e.u64(self.account.chain)
    }
    fn decode(d: &mut Dec<'a>) -> Result<Self> {
        Ok(Self {
            account: StreamAccount {
                records: d.u64()?,
                bytes: d.u64()?,
                chain: d.u64()?,
            },
        })
    }
}
