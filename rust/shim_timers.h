/* SPDX-License-Identifier: GPL-2.0 */
/* Timers: the CPU-time interval timers and POSIX timers of a process. */
#ifndef CKPT_SHIM_TIMERS_H
#define CKPT_SHIM_TIMERS_H

#include <linux/types.h>

struct task_struct;

/* ITIMER_VIRTUAL and ITIMER_PROF: time left and interval, in ns. */
struct ckpt_cpu_itimers {
	u64 virt_value, virt_incr;
	u64 prof_value, prof_incr;
};

/* One POSIX timer as read at checkpoint (see rust/objects/timers.rs). */
struct ckpt_ptimer {
	s32 id, clock, notify, signo;
	s32 tid;		/* SIGEV_THREAD_ID target (caller's pid ns), else 0 */
	u32 flags;		/* CKPT_PT_* */
	u64 value;		/* sigev_value */
	u64 value_ns;		/* time left, or absolute expiry (CKPT_PT_ABSTIME) */
	u64 interval_ns;
	s64 overrun_last;
};

#define CKPT_PT_ABSTIME		1	/* absolute expiry on CLOCK_REALTIME/TAI */
#define CKPT_PT_SIGNAL_QUEUED	2	/* its signal is queued, not delivered */
#define CKPT_PT_IGNORED		4	/* parked: its signal is ignored */
#define CKPT_PT_TID_GONE	8	/* the target thread is not visible */

int ckpt_task_cpu_itimers(struct task_struct *t, struct ckpt_cpu_itimers *out);
int ckpt_cur_fix_cpu_itimer(u32 which, u64 value_ns, u64 incr_ns);
int ckpt_task_posix_timers(struct task_struct *t, struct ckpt_ptimer *out, u32 max, u32 *n);
int ckpt_cur_posix_timer_fix(s32 id, s32 clock, s32 notify, s32 signo, u64 value,
			     s64 overrun_last);

#endif
