// SPDX-License-Identifier: GPL-2.0
/*
 * CPU state: general registers, the XSAVE area and rseq, read from a parked
 * task and loaded into the calling (restored) task -- through a signal frame
 * the kernel's own rt_sigreturn loads, so every value is validated as for a
 * signal return.
 *
 * Rules (as for every rust/shim*.c): only EXPORTed symbols; every function
 * does one small thing under the locks the kernel wants for it; no policy
 * lives here (that is Rust's job).
 */
#include "shim_internal.h"

static const struct user_regset *find_regset(struct task_struct *t, unsigned int note)
{
	const struct user_regset_view *view = task_user_regset_view(t);
	unsigned int i;

	for (i = 0; i < view->n; i++)
		if (view->regsets[i].core_note_type == note)
			return &view->regsets[i];
	return NULL;
}

/*
 * General registers of a quiescent task, as struct user_regs_struct.  A
 * syscall interrupted for the park is rewound the way the signal code would
 * rewind it, so that the image resumes by re-issuing it; a restart_block
 * based one (nanosleep & co) cannot be carried to another kernel and returns
 * EINTR instead (as after a signal handler).
 */
int ckpt_task_regs(struct task_struct *t, u64 *regs, bool *in_syscall)
{
	const struct user_regset *rs = find_regset(t, NT_PRSTATUS);
	struct user_regs_struct *r = (struct user_regs_struct *)regs;
	int ret;

	BUILD_BUG_ON(sizeof(struct user_regs_struct) != CKPT_NREGS * sizeof(u64));
	if (!rs)
		return -EOPNOTSUPP;
	ret = regset_get(t, rs, sizeof(*r), r);
	if (ret < 0)
		return ret;
	*in_syscall = (long)r->orig_ax >= 0;
	if (*in_syscall) {
		switch ((long)r->ax) {
		case -ERESTARTNOHAND:
		case -ERESTARTSYS:
		case -ERESTARTNOINTR:
			r->ax = r->orig_ax;
			r->ip -= 2;
			break;
		case -ERESTART_RESTARTBLOCK:
			r->ax = -EINTR;
			break;
		}
	}
	return 0;
}

int ckpt_xstate_size(struct task_struct *t)
{
	const struct user_regset *rs = find_regset(t, NT_X86_XSTATE);

	if (!rs || (rs->active && rs->active(t, rs) <= 0))
		return 0;
	return rs->n * rs->size;
}

int ckpt_task_xstate(struct task_struct *t, void *buf, u32 size)
{
	const struct user_regset *rs = find_regset(t, NT_X86_XSTATE);

	if (!rs)
		return -EOPNOTSUPP;
	return regset_get(t, rs, size, buf);
}

/* General registers and fs/gs bases of current's user context. */
void ckpt_cur_set_regs(const u64 *v)
{
	const struct user_regs_struct *u = (const struct user_regs_struct *)v;
	struct pt_regs *regs = current_pt_regs();
	/* The flags sigreturn lets user space set (FIX_EFLAGS): not NT. */
	const unsigned long mask = X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_AF |
				   X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_TF |
				   X86_EFLAGS_DF | X86_EFLAGS_OF | X86_EFLAGS_RF |
				   X86_EFLAGS_AC;

	regs->r15 = u->r15;
	regs->r14 = u->r14;
	regs->r13 = u->r13;
	regs->r12 = u->r12;
	regs->bp = u->bp;
	regs->bx = u->bx;
	regs->r11 = u->r11;
	regs->r10 = u->r10;
	regs->r9 = u->r9;
	regs->r8 = u->r8;
	regs->ax = u->ax;
	regs->cx = u->cx;
	regs->dx = u->dx;
	regs->si = u->si;
	regs->di = u->di;
	regs->orig_ax = -1;	/* no syscall to restart: the image is already rewound */
	regs->ip = u->ip;
	regs->cs = __USER_CS;
	regs->flags = (regs->flags & ~mask) | (u->flags & mask);
	regs->sp = u->sp;
	regs->ss = __USER_DS;
	preempt_disable();
	loadsegment(fs, 0);
	x86_fsbase_write_cpu(u->fs_base);
	current->thread.fsbase = u->fs_base;
	current->thread.fsindex = 0;
	wrmsrq(MSR_KERNEL_GS_BASE, u->gs_base);
	current->thread.gsbase = u->gs_base;
	preempt_enable();
}

/* Size of this CPU's uabi XSAVE area; *features gets its XCR0 features. */
int ckpt_cur_xstate_size(u64 *features)
{
	const struct user_regset *rs = find_regset(current, NT_X86_XSTATE);
	void *buf;
	int size, ret;

	*features = 0;
	if (!rs)
		return 0;
	size = rs->n * rs->size;
	buf = kvzalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = regset_get(current, rs, size, buf);
	kvfree(buf);
	*features = ckpt_cpu_xfeatures();
	return ret < 0 ? ret : size;
}

/* The user state features this CPU has enabled (XCR0). */
u64 ckpt_cpu_xfeatures(void)
{
	return boot_cpu_has(X86_FEATURE_OSXSAVE) ? xgetbv(XCR_XFEATURE_ENABLED_MASK) : 0;
}

/*
 * Loading current's user FPU state goes through the same path as ptrace: the
 * XSTATE regset's ->set, but called by a worker while current sleeps, so
 * that current's registers are saved in its fpstate (TIF_NEED_FPU_LOAD) and
 * the new state is loaded on its return to user mode.  Calling ->set on
 * current itself trips WARN_ON_FPU with CONFIG_X86_DEBUG_FPU (Debian's
 * kernels have it).
 */
struct xstate_job {
	struct work_struct work;
	struct completion done;
	struct task_struct *task;
	const struct user_regset *rs;
	const void *buf;
	u32 size;
	int ret;
};

static void xstate_job_fn(struct work_struct *w)
{
	struct xstate_job *j = container_of(w, struct xstate_job, work);

	j->ret = j->rs->set(j->task, j->rs, 0, j->size, j->buf, NULL);
	complete(&j->done);
}

int ckpt_cur_set_xstate(const void *buf, u32 size)
{
	const struct user_regset *rs = find_regset(current, NT_X86_XSTATE);
	struct xstate_job j = {
		.task = current,
		.rs = rs,
		.buf = buf,
		.size = size,
	};

	if (!rs || !rs->set)
		return -EOPNOTSUPP;
	if (size != rs->n * rs->size)
		return -EINVAL;
	/*
	 * With CONFIG_X86_DEBUG_FPU (Debian's kernels) a regset write from a
	 * kernel thread warns (x86_task_fpu() of the worker): only the
	 * signal-frame path loads FPU state there.
	 */
	if (IS_ENABLED(CONFIG_X86_DEBUG_FPU))
		return -EOPNOTSUPP;
	/*
	 * Save our user registers into fpstate now (TIF_NEED_FPU_LOAD): the job
	 * may finish before we ever sleep, and must not race live registers.
	 */
	kernel_fpu_begin_mask(0);
	kernel_fpu_end();
	INIT_WORK_ONSTACK(&j.work, xstate_job_fn);
	init_completion(&j.done);
	queue_work(system_percpu_wq, &j.work);
	/* Uninterruptible: the job uses our stack; it cannot block for long. */
	wait_for_completion(&j.done);
	destroy_work_on_stack(&j.work);
	return j.ret;
}

/* The rseq(2) registration of a quiescent task (0 if none or no RSEQ). */
void ckpt_task_rseq(struct task_struct *t, u64 *ptr, u32 *len, u32 *sig)
{
	*ptr = 0;
	*len = *sig = 0;
#ifdef CONFIG_RSEQ
	*ptr = (u64)(unsigned long)t->rseq.usrptr;
	*len = t->rseq.len;
	*sig = t->rseq.sig;
#endif
}

/*
 * Where a quiescent task interrupted in user mode at @ip continues if it is in
 * the rseq critical section its area names: the kernel would abort the
 * section on the task's next return to user mode (rseq_update_user_cs()), and
 * a restarted task has certainly been preempted.  Sets *@abort_ip to the
 * section's abort handler if @ip is in it, else to 0.  -EINVAL if the kernel
 * would kill the task instead (a descriptor or an abort handler outside user
 * space, or no signature before the handler), -EFAULT if the area or the
 * descriptor cannot be read (the kernel would kill it too).
 */
int ckpt_task_rseq_abort(struct task_struct *t, u64 ip, u64 *abort_ip)
{
	*abort_ip = 0;
#ifdef CONFIG_RSEQ
	{
		struct rseq __user *r = t->rseq.usrptr;
		u64 cs_addr, start_ip, offset, abort;
		struct rseq_cs cs;
		u32 sig;

		if (!r)
			return 0;
		if (access_process_vm(t, (unsigned long)&r->rseq_cs, &cs_addr, sizeof(cs_addr), 0) !=
		    sizeof(cs_addr))
			return -EFAULT;
		if (!cs_addr)
			return 0;
		if (cs_addr >= TASK_SIZE_MAX)
			return -EINVAL;
		if (access_process_vm(t, (unsigned long)cs_addr, &cs, sizeof(cs), 0) != sizeof(cs))
			return -EFAULT;
		start_ip = cs.start_ip;
		offset = cs.post_commit_offset;
		abort = cs.abort_ip;
		if (ip - start_ip >= offset)
			return 0;
		if (abort >= TASK_SIZE_MAX || abort < sizeof(sig))
			return -EINVAL;
		if (access_process_vm(t, (unsigned long)(abort - sizeof(sig)), &sig, sizeof(sig), 0) !=
		    sizeof(sig))
			return -EFAULT;
		if (sig != t->rseq.sig)
			return -EINVAL;
		*abort_ip = abort;
	}
#endif
	return 0;
}

/*
 * Drops current's rseq registration as execve does (the restarter's area is
 * gone with its address space), then, if @ptr, registers the image's area as
 * rseq(2) would, resetting the IDs the kernel keeps up to date in it.
 */
/* kernel/rseq.c's ORIG_RSEQ_SIZE: the first struct rseq's size. */
#define CKPT_ORIG_RSEQ_SIZE 32

/*
 * What rseq(2) asks of an area (rseq_length_valid()): the original size
 * (32) at a 32-byte boundary, or at least the feature size
 * (AT_RSEQ_FEATURE_SIZE) at an AT_RSEQ_ALIGN boundary.
 */
bool ckpt_rseq_area_valid(u64 ptr, u32 len)
{
#ifdef CONFIG_RSEQ
	if (len < CKPT_ORIG_RSEQ_SIZE)
		return false;
	if (len == CKPT_ORIG_RSEQ_SIZE)
		return IS_ALIGNED(ptr, CKPT_ORIG_RSEQ_SIZE);
	return IS_ALIGNED(ptr, rseq_alloc_align()) && len >= offsetof(struct rseq, end);
#else
	return false;
#endif
}

int ckpt_cur_set_rseq(u64 ptr, u32 len, u32 sig)
{
#ifdef CONFIG_RSEQ
	struct rseq __user *r = (struct rseq __user *)(unsigned long)ptr;

	u32 version = 1;

	rseq_execve(current);
	if (!ptr)
		return 0;
	if (!ckpt_rseq_area_valid(ptr, len))
		return -EINVAL;
	if (!access_ok(r, len))
		return -EFAULT;
	/* Longer registrations are the v2 ABI on generic-entry architectures. */
	if (IS_ENABLED(CONFIG_GENERIC_IRQ_ENTRY) && len > CKPT_ORIG_RSEQ_SIZE)
		version = 2;
	if (put_user(0UL, &r->rseq_cs) ||
	    put_user((u32)RSEQ_CPU_ID_UNINITIALIZED, &r->cpu_id_start) ||
	    put_user((u32)RSEQ_CPU_ID_UNINITIALIZED, &r->cpu_id) ||
	    put_user(0U, &r->node_id) || put_user(0U, &r->mm_cid))
		return -EFAULT;
#ifdef CONFIG_RSEQ_SLICE_EXTENSION
	/* Slice extensions start off, as after a registration without
	 * RSEQ_FLAG_SLICE_EXT_DEFAULT_ON. */
	if (version > 1 && put_user(0U, &r->slice_ctrl.all))
		return -EFAULT;
	current->rseq.slice.state.enabled = false;
#endif
	current->rseq.usrptr = r;
	current->rseq.len = len;
	current->rseq.sig = sig;
	current->rseq.event.has_rseq = version;
	rseq_force_update();
	return 0;
#else
	return ptr ? -EOPNOTSUPP : 0;
#endif
}

/*
 * Prepares the return of current into the user state @v (user_regs_struct
 * order) with XSAVE area @xs (@xlen bytes, uabi format), blocked mask
 * @blocked and alternate stack @ss_*, through rt_sigreturn: writes a
 * signal frame below the red zone under @v's stack pointer, as a signal
 * delivery would, and gives in *@sp and *@ip where the ioctl must return
 * (to @sys, a syscall instruction current can execute (Rust finds one), with
 * rax = __NR_rt_sigreturn).
 * The kernel's own sigreturn then loads the registers and the FPU state,
 * validating them as for any signal frame.  (The alternative, an XSTATE
 * regset write from another context, is what ptrace does, and
 * CONFIG_X86_DEBUG_FPU warns when a kernel thread does it.)
 */
int ckpt_cur_sigframe(const u64 *v, const void *xs, u32 xlen, u64 blocked, u64 ss_sp,
		      u64 ss_size, u32 ss_flags, u64 sys, u64 *sp, u64 *ip)
{
	const struct user_regs_struct *u = (const struct user_regs_struct *)v;
	/* x86_task_fpu(current), without its CONFIG_X86_DEBUG_FPU wrapper. */
	struct fpstate *fps = ((struct fpu *)((void *)current + sizeof(*current)))->fpstate;
	u32 size = fps->user_size, magic2 = FP_XSTATE_MAGIC2;
	struct _fpx_sw_bytes sw = {
		.magic1 = FP_XSTATE_MAGIC1,
		.extended_size = size + FP_XSTATE_MAGIC2_SIZE,
		.xfeatures = fps->user_xfeatures,
		.xstate_size = size,
	};
	unsigned long fp, frame;
	struct rt_sigframe *f;
	int ret = -EFAULT;

	if (xlen < sizeof(struct fxregs_state) + sizeof(struct xstate_header) ||
	    u->sp < 0x100000 || u->sp >= TASK_SIZE_MAX)
		return -EINVAL;
	fp = round_down(u->sp - 128 - size - FP_XSTATE_MAGIC2_SIZE, 64);
	frame = round_down(fp - sizeof(*f), 16) - 8;
	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	f->uc.uc_stack.ss_sp = (void __user *)(unsigned long)ss_sp;
	f->uc.uc_stack.ss_flags = ss_flags;
	f->uc.uc_stack.ss_size = ss_size;
	f->uc.uc_mcontext.r8 = u->r8;
	f->uc.uc_mcontext.r9 = u->r9;
	f->uc.uc_mcontext.r10 = u->r10;
	f->uc.uc_mcontext.r11 = u->r11;
	f->uc.uc_mcontext.r12 = u->r12;
	f->uc.uc_mcontext.r13 = u->r13;
	f->uc.uc_mcontext.r14 = u->r14;
	f->uc.uc_mcontext.r15 = u->r15;
	f->uc.uc_mcontext.di = u->di;
	f->uc.uc_mcontext.si = u->si;
	f->uc.uc_mcontext.bp = u->bp;
	f->uc.uc_mcontext.bx = u->bx;
	f->uc.uc_mcontext.dx = u->dx;
	f->uc.uc_mcontext.ax = u->ax;
	f->uc.uc_mcontext.cx = u->cx;
	f->uc.uc_mcontext.sp = u->sp;
	f->uc.uc_mcontext.ip = u->ip;
	f->uc.uc_mcontext.flags = u->flags;
	f->uc.uc_mcontext.cs = __USER_CS;
	f->uc.uc_mcontext.ss = __USER_DS;
	f->uc.uc_mcontext.fpstate = fp;
	f->uc.uc_sigmask.sig[0] = blocked;
	if (copy_to_user((void __user *)frame, f, sizeof(*f)) ||
	    copy_to_user((void __user *)fp, xs, min(xlen, size)) ||
	    (xlen < size && clear_user((void __user *)(fp + xlen), size - xlen)) ||
	    copy_to_user((void __user *)(fp + offsetof(struct fxregs_state, sw_reserved)), &sw,
			 sizeof(sw)) ||
	    copy_to_user((void __user *)(fp + size), &magic2, sizeof(magic2)))
		goto out;
	*sp = frame + sizeof(long);
	*ip = sys;
	ret = 0;
out:
	kfree(f);
	return ret;
}

/* The XSAVE features current's thread group may use (ARCH_REQ_XCOMP_PERM). */
u64 ckpt_cur_permitted_xfeatures(void)
{
	/* x86_task_fpu(), without its CONFIG_X86_DEBUG_FPU wrapper (as ckpt_cur_sigframe):
	 * the permission of the thread group lives in its leader's. */
	struct fpu *fpu = (struct fpu *)((void *)current->group_leader +
					 sizeof(*current->group_leader));

	return READ_ONCE(fpu->perm.__state_perm);
}
