/* SPDX-License-Identifier: GPL-2.0 */
/* ckpt LSM observer: see rust/lsm_probe.c; wrapped by rust/lsm.rs. */
#ifndef CKPT_LSM_PROBE_H
#define CKPT_LSM_PROBE_H

#include <linux/types.h>

struct task_struct;

/* What a process was seen doing, by LSM hook. */
#define CKPT_LSM_SOCKET	0	/* created a socket (detail: address family) */
#define CKPT_LSM_DEVICE	1	/* opened a device (detail: rdev major << 20 | minor) */
#define CKPT_LSM_DEVMAP	2	/* mapped a device (detail: rdev) */
#define CKPT_LSM_PERF	3	/* opened a perf event (detail: type) */
#define CKPT_LSM_BPF	4	/* used bpf(2) (detail: command) */
#define CKPT_LSM_URING	5	/* set up io_uring */
#define CKPT_LSM_CAPSET	6	/* changed its capabilities (detail: low word of effective) */
#define CKPT_LSM_NR	7

struct ckpt_lsm_marks {
	u32 flags;		/* BIT(CKPT_LSM_*) */
	u32 dropped;		/* marks lost to a full table, system-wide */
	u32 detail[CKPT_LSM_NR];
	u32 pad;
	u64 when[CKPT_LSM_NR];	/* first time, ns since the epoch */
};

int ckpt_lsm_start(void);
void ckpt_lsm_stop(void);
int ckpt_lsm_query(struct task_struct *t, struct ckpt_lsm_marks *m);
void ckpt_lsm_ignore_device(u32 major, u32 minor);

#endif /* CKPT_LSM_PROBE_H */
