// SPDX-License-Identifier: GPL-2.0
/*
 * ckpt_sysv: SysV semaphore sets and message queues across a checkpoint and
 * a restart (`ckpt checkpoint --kill`, then `ckpt restart`).
 *
 * The user process sets the values of two semaphore sets (one with a key,
 * one IPC_PRIVATE) and queues three messages of different types; once
 * checkpointed, the objects are removed, so that the restart has to make
 * them again: with their ids, keys, owners, modes, values, queue limit and
 * messages in order, which the test reads from outside (without consuming
 * them). The restored process then uses them by id. An object that exists
 * again and differs refuses the restart, naming the way out (ipcrm); a
 * process with semaphore undo state (SEM_UNDO) is refused at checkpoint. A
 * threaded process (its threads share an empty undo list) is not. A restart
 * that fails (a fault injected in the module) removes the objects it made.
 */
#include "ckpt_util.h"
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <pthread.h>
#include <sched.h>
#include "kselftest_harness.h"

#define CKPT "/ckpt"
#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

struct objs {
	int sem, priv, msg;
	int undo;		/* the user takes a SEM_UNDO adjustment */
	char go[64], done[64];
};

static const unsigned short sem_vals[5] = { 1, 2, 3, 0, 7 };
static const unsigned short priv_vals[2] = { 4, 9 };
static const struct {
	long type;
	const char *text;
} msgs[3] = { { 5, "first" }, { 1, "second, longer message" }, { 9, "third" } };

struct msgbuf_ {
	long mtype;
	char mtext[128];
};

/* In a user of the objects: writes its findings r (0: all as before) to file
 * done and exits with them. */
static void __attribute__((noreturn)) report_done(const char *done, int r)
{
	char txt[16];
	int fd = open(done, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	snprintf(txt, sizeof(txt), "%d", r);
	if (fd < 0 || write(fd, txt, strlen(txt)) < 0)
		_exit(94);
	close(fd);
	_exit(r ? 10 + r : 0);
}

/*
 * In a user of the objects: says it is ready, then waits until it runs
 * restarted (its parent changed) and the test made file go.
 */
static void restarted_and_told(int ready, pid_t parent, const char *go)
{
	say_ready(ready);
	while (getppid() == parent)
		sleep_ms(2);
	while (access(go, F_OK))
		sleep_ms(2);
}

/*
 * The user: sets the values and queues the messages (so that it is the last
 * to have used each object); once restored (its parent changed) and told to
 * go, takes message type 9 and the semaphores by id and says how it went in
 * the done file (0: as expected).
 */
static void user(int ready, void *arg)
{
	struct objs *o = arg;
	pid_t parent = getppid();
	struct msgbuf_ m;
	struct sembuf op = { .sem_num = 4, .sem_op = -7, .sem_flg = IPC_NOWAIT };
	int r = 0;

	if (semctl(o->sem, 0, SETALL, (union semun){ .array = (unsigned short *)sem_vals }) ||
	    semctl(o->priv, 0, SETALL, (union semun){ .array = (unsigned short *)priv_vals }))
		_exit(91);
	for (int i = 0; i < 3; i++) {
		m.mtype = msgs[i].type;
		strcpy(m.mtext, msgs[i].text);
		if (msgsnd(o->msg, &m, strlen(m.mtext) + 1, IPC_NOWAIT))
			_exit(92);
	}
	if (o->undo) {
		struct sembuf u = { .sem_num = 0, .sem_op = -1, .sem_flg = SEM_UNDO };

		if (semop(o->sem, &u, 1))
			_exit(93);
	}
	restarted_and_told(ready, parent, o->go);
	if (msgrcv(o->msg, &m, sizeof(m.mtext), 9, IPC_NOWAIT) < 0 || strcmp(m.mtext, "third"))
		r |= 1;
	if (semop(o->sem, &op, 1) || semctl(o->sem, 4, GETVAL) != 0)
		r |= 2;
	if (semctl(o->priv, 1, GETVAL) != 9)
		r |= 4;
	report_done(o->done, r);
}

static void make_objs(struct objs *o, int undo)
{
	struct msqid_ds q;
	key_t k = 0x5c000000 | (getpid() & 0xffff) << 4;

	memset(o, 0, sizeof(*o));
	o->undo = undo;
	o->sem = semget(k | 1, 5, IPC_CREAT | IPC_EXCL | 0640);
	o->priv = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	o->msg = msgget(k | 2, IPC_CREAT | IPC_EXCL | 0620);
	if (o->msg >= 0 && !msgctl(o->msg, IPC_STAT, &q)) {
		q.msg_qbytes = 8000;
		msgctl(o->msg, IPC_SET, &q);
	}
	snprintf(o->go, sizeof(o->go), "/tmp/sysv-go-%d", getpid());
	snprintf(o->done, sizeof(o->done), "/tmp/sysv-done-%d", getpid());
	unlink(o->go);
	unlink(o->done);
}

static void remove_objs(const struct objs *o)
{
	semctl(o->sem, 0, IPC_RMID);
	semctl(o->priv, 0, IPC_RMID);
	msgctl(o->msg, IPC_RMID, NULL);
}

/* Runs the tool with args (NULL-terminated), stderr to errpath; returns its
 * wait status, or its pid if !wait. */
static pid_t run_tool(const char *errpath, int wait, char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		int e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (e >= 0)
			dup2(e, 2);
		execv(CKPT, argv);
		_exit(127);
	}
	if (!wait || pid < 0)
		return pid;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = 0;
		fclose(f);
	}
}

/* Checkpoints the user with the tool (killing it); returns its pid or -1. */
static pid_t checkpoint_user(struct __test_metadata *_metadata, struct objs *o, char *img,
			     size_t len, const char *err)
{
	char pidtxt[16], out[512];
	pid_t pid;
	int st;

	pid = spawn_ready(user, o);
	if (pid < 0)
		return -1;
	snprintf(img, len, "/tmp/sysv-%s-%d.img", o->undo ? "undo" : "objs", getpid());
	snprintf(pidtxt, sizeof(pidtxt), "%d", pid);
	st = run_tool(err, 1, (char *const[]){ "ckpt", "checkpoint", pidtxt, "-o", img, "--kill",
					       "--quiet", NULL });
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		read_file(err, out, sizeof(out));
		TH_LOG("checkpoint of %d: status %#x: %s", pid, st, out);
		kill_reap(pid);
		return -1;
	}
	waitpid(pid, &st, 0);
	return pid;
}

/*
 * Makes the objects, checkpoints a user of them into img (its name; tool
 * errors to err) and removes them, so that the restart makes them again;
 * o keeps their ids.
 */
static void checkpoint_removed(struct __test_metadata *_metadata, struct objs *o, char *img,
			       size_t len, const char *err)
{
	make_objs(o, 0);
	ASSERT_LE(0, o->sem);
	ASSERT_LE(0, o->priv);
	ASSERT_LE(0, o->msg);
	ASSERT_LT(0, checkpoint_user(_metadata, o, img, len, err));
	remove_objs(o);
}

TEST(sysv_objects_come_back)
{
	char img[64], err[64], out[512];
	unsigned short v[5];
	struct semid_ds sd;
	struct msqid_ds qd;
	struct msgbuf_ m;
	struct objs o;
	int status, waited, sem, priv, msg;
	pid_t rs;

	snprintf(err, sizeof(err), "/tmp/sysv-err-%d", getpid());
	checkpoint_removed(_metadata, &o, img, sizeof(img), err);
	sem = o.sem, priv = o.priv, msg = o.msg;
	ASSERT_EQ(-1, semctl(sem, 0, GETVAL));
	rs = run_tool(err, 0, (char *const[]){ "ckpt", "restart", img, "--quiet", NULL });
	ASSERT_LT(0, rs);
	for (waited = 0; waited < 10000; waited += 5) {
		if (msgctl(msg, IPC_STAT, &qd) == 0 && qd.msg_qnum == 3 &&
		    semctl(priv, 0, GETVAL) >= 0)
			break;
		sleep_ms(5);
	}
	/* The same ids, keys, modes, values, limit and messages in order. */
	ASSERT_EQ(0, semctl(sem, 0, IPC_STAT, (union semun){ .buf = &sd }));
	EXPECT_EQ(5, sd.sem_nsems);
	EXPECT_EQ(0640, sd.sem_perm.mode & 0777);
	EXPECT_EQ((key_t)(0x5c000000 | (getpid() & 0xffff) << 4 | 1), sd.sem_perm.__key);
	EXPECT_EQ(getuid(), sd.sem_perm.cuid);
	ASSERT_EQ(0, semctl(sem, 0, GETALL, (union semun){ .array = v }));
	EXPECT_EQ(0, memcmp(v, sem_vals, sizeof(sem_vals)));
	ASSERT_EQ(0, semctl(priv, 0, GETALL, (union semun){ .array = v }));
	EXPECT_EQ(0, memcmp(v, priv_vals, sizeof(priv_vals)));
	ASSERT_EQ(0, msgctl(msg, IPC_STAT, &qd));
	EXPECT_EQ(3, qd.msg_qnum);
	EXPECT_EQ(8000, qd.msg_qbytes);
	EXPECT_EQ(0620, qd.msg_perm.mode & 0777);
	for (int i = 0; i < 3; i++) {
		ssize_t n = msgrcv(msg, &m, sizeof(m.mtext), i, MSG_COPY | IPC_NOWAIT);

		ASSERT_EQ((ssize_t)strlen(msgs[i].text) + 1, n);
		EXPECT_EQ(msgs[i].type, m.mtype);
		EXPECT_STREQ(msgs[i].text, m.mtext);
	}
	/* The restored process uses them by id. */
	close(open(o.go, O_WRONLY | O_CREAT, 0644));
	ASSERT_EQ(rs, waitpid(rs, &status, 0));
	read_file(err, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("status %#x: %s", status, out);
	read_file(o.done, out, sizeof(out));
	EXPECT_STREQ("0", out);
	ASSERT_EQ(0, msgctl(msg, IPC_STAT, &qd));
	EXPECT_EQ(2, qd.msg_qnum);

	/* Changed since (a message taken): the restart is refused, naming ipcrm. */
	rs = run_tool(err, 1, (char *const[]){ "ckpt", "restart", img, "--quiet", NULL });
	EXPECT_FALSE(WIFEXITED(rs) && WEXITSTATUS(rs) == 0);
	read_file(err, out, sizeof(out));
	EXPECT_NE(NULL, strstr(out, "ipcrm")) TH_LOG("%s", out);
	EXPECT_EQ(2, msgctl(msg, IPC_STAT, &qd) == 0 ? (int)qd.msg_qnum : -1);
	remove_objs(&o);
	unlink(img);
	unlink(err);
	unlink(o.go);
	unlink(o.done);
}

/* Arms the module's restart fault knob with n (0: off); 0 or -1. */
static int arm_restart_fault(int n)
{
	return arm_fault("restart_fail_nth", n);
}

/*
 * A restart that fails after `ckpt restart` made the objects again (here: at
 * the module's first step) leaves none of them behind; the next restart makes
 * them again and succeeds.
 */
TEST(failed_restart_removes_the_objects_it_made)
{
	char img[64], err[64], out[512];
	struct msqid_ds qd;
	struct objs o;
	int st, sem, priv, msg;
	pid_t rs;

	if (arm_restart_fault(0))
		SKIP(return, "no restart fault knob");
	snprintf(err, sizeof(err), "/tmp/sysv-err-%d", getpid());
	checkpoint_removed(_metadata, &o, img, sizeof(img), err);
	sem = o.sem, priv = o.priv, msg = o.msg;
	ASSERT_EQ(0, arm_restart_fault(1));
	st = run_tool(err, 1, (char *const[]){ "ckpt", "restart", img, "--quiet", NULL });
	arm_restart_fault(0);
	read_file(err, out, sizeof(out));
	EXPECT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("restart: %s", out);
	EXPECT_NE(NULL, strstr(out, "fault injected")) TH_LOG("%s", out);
	/* Nothing left behind. */
	EXPECT_EQ(-1, semctl(sem, 0, GETVAL));
	EXPECT_EQ(-1, semctl(priv, 0, GETVAL));
	EXPECT_EQ(-1, msgctl(msg, IPC_STAT, &qd));
	/* And the image still restarts. */
	rs = run_tool(err, 0, (char *const[]){ "ckpt", "restart", img, "--quiet", NULL });
	ASSERT_LT(0, rs);
	for (int waited = 0; waited < 10000; waited += 5) {
		if (msgctl(msg, IPC_STAT, &qd) == 0 && qd.msg_qnum == 3 &&
		    semctl(priv, 0, GETVAL) >= 0)
			break;
		sleep_ms(5);
	}
	EXPECT_EQ(3, msgctl(msg, IPC_STAT, &qd) == 0 ? (int)qd.msg_qnum : -1);
	close(open(o.go, O_WRONLY | O_CREAT, 0644));
	ASSERT_EQ(rs, waitpid(rs, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x", st);
	remove_objs(&o);
	unlink(img);
	unlink(err);
	unlink(o.go);
	unlink(o.done);
}

/* Semaphore undo state (SEM_UNDO) cannot be given back exactly: refused. */
TEST(sem_undo_refused)
{
	char img[64], err[64], pidtxt[16], out[512] = "";
	struct objs o;
	pid_t pid;
	int dev, st;

	snprintf(err, sizeof(err), "/tmp/sysv-err-%d", getpid());
	make_objs(&o, 1);
	ASSERT_LE(0, o.sem);
	pid = spawn_ready(user, &o);
	ASSERT_LT(0, pid);
	/* Refused once the process is held (the checkpoint, not CKPT_IOC_CHECK). */
	dev = ckpt_open();
	ASSERT_LE(0, dev);
	snprintf(img, sizeof(img), "/tmp/sysv-undo-%d.img", getpid());
	st = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT_LE(0, st);
	EXPECT_EQ(-EOPNOTSUPP, ckpt_checkpoint(dev, pid, st, CKPT_CHECKPOINT_RESUME, NULL));
	close(st);
	close(dev);
	ckpt_dev_fd = -1;
	snprintf(pidtxt, sizeof(pidtxt), "%d", pid);
	st = run_tool(err, 1, (char *const[]){ "ckpt", "checkpoint", pidtxt, "-o", img,
					       "--leave-running", "--quiet", NULL });
	EXPECT_FALSE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	read_file(err, out, sizeof(out));
	TH_LOG("ckpt checkpoint: %s", out);
	kill_reap(pid);
	remove_objs(&o);
	unlink(img);
	unlink(err);
}

/*
 * A user with an IPC namespace of its own: every object of it comes back, in
 * a new namespace with its limits; the restored process checks them itself
 * (the test cannot see them) and says how it went in the done file.
 */
static void ns_user(int ready, void *arg)
{
	struct objs *o = arg;
	pid_t parent = getppid();
	static const unsigned short vals[3] = { 5, 6, 7 };
	unsigned short v[3];
	struct msgbuf_ m = { .mtype = 3 };
	int r = 0, fd, sem, msg;
	char txt[32];
	FILE *f;

	if (unshare(CLONE_NEWIPC))
		_exit(90);
	fd = open("/proc/sys/kernel/msgmnb", O_WRONLY);
	if (fd < 0 || write(fd, "12000\n", 6) != 6)
		_exit(91);
	close(fd);
	sem = semget(0x5eed, 3, IPC_CREAT | 0600);
	msg = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	strcpy(m.mtext, "private");
	if (sem < 0 || msg < 0 ||
	    semctl(sem, 0, SETALL, (union semun){ .array = (unsigned short *)vals }) ||
	    msgsnd(msg, &m, 8, IPC_NOWAIT))
		_exit(92);
	restarted_and_told(ready, parent, o->go);
	if (semget(0x5eed, 0, 0) != sem || semctl(sem, 0, GETALL, (union semun){ .array = v }) ||
	    memcmp(v, vals, sizeof(v)))
		r |= 1;
	if (msgrcv(msg, &m, sizeof(m.mtext), 3, IPC_NOWAIT) != 8 || strcmp(m.mtext, "private"))
		r |= 2;
	f = fopen("/proc/sys/kernel/msgmnb", "r");
	if (!f || !fgets(txt, sizeof(txt), f) || atoi(txt) != 12000)
		r |= 4;
	if (f)
		fclose(f);
	/* In a namespace of its own, not its new parent's (ckpt restart). */
	{
		char mine[64] = "", theirs[64] = "", path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/ipc", getppid());
		if (readlink("/proc/self/ns/ipc", mine, sizeof(mine) - 1) <= 0 ||
		    readlink(path, theirs, sizeof(theirs) - 1) <= 0 || !strcmp(mine, theirs))
			r |= 8;
	}
	report_done(o->done, r);
}

TEST(own_ipc_namespace_comes_back)
{
	char img[64], err[64], pidtxt[16], out[512] = "";
	struct objs o;
	pid_t pid, rs;
	int st;

	memset(&o, 0, sizeof(o));
	snprintf(err, sizeof(err), "/tmp/sysv-err-%d", getpid());
	snprintf(o.go, sizeof(o.go), "/tmp/sysv-go-%d", getpid());
	snprintf(o.done, sizeof(o.done), "/tmp/sysv-done-%d", getpid());
	unlink(o.go);
	unlink(o.done);
	pid = spawn_ready(ns_user, &o);
	ASSERT_LT(0, pid);
	snprintf(img, sizeof(img), "/tmp/sysv-ns-%d.img", getpid());
	snprintf(pidtxt, sizeof(pidtxt), "%d", pid);
	st = run_tool(err, 1, (char *const[]){ "ckpt", "checkpoint", pidtxt, "-o", img, "--kill",
					       "--quiet", NULL });
	read_file(err, out, sizeof(out));
	ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("%s", out);
	waitpid(pid, &st, 0);
	rs = run_tool(err, 0, (char *const[]){ "ckpt", "restart", img, "--quiet", NULL });
	ASSERT_LT(0, rs);
	close(open(o.go, O_WRONLY | O_CREAT, 0644));
	ASSERT_EQ(rs, waitpid(rs, &st, 0));
	read_file(err, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("status %#x: %s", st, out);
	read_file(o.done, out, sizeof(out));
	EXPECT_STREQ("0", out);
	unlink(img);
	unlink(err);
	unlink(o.go);
	unlink(o.done);
}

static void *idle(void *arg)
{
	(void)arg;
	pause();
	return NULL;
}

/* A user with a second thread: CLONE_SYSVSEM gives the process an undo list,
 * empty, which is no obstacle. */
static void threaded_user(int ready, void *arg)
{
	pthread_t th;

	if (pthread_create(&th, NULL, idle, NULL))
		_exit(95);
	user(ready, arg);
}

TEST(threads_share_an_empty_undo_list)
{
	char img[64], err[64], pidtxt[16], out[512] = "";
	struct objs o;
	pid_t pid;
	int st;

	snprintf(err, sizeof(err), "/tmp/sysv-err-%d", getpid());
	make_objs(&o, 0);
	ASSERT_LE(0, o.sem);
	pid = spawn_ready(threaded_user, &o);
	ASSERT_LT(0, pid);
	snprintf(img, sizeof(img), "/tmp/sysv-thr-%d.img", getpid());
	snprintf(pidtxt, sizeof(pidtxt), "%d", pid);
	st = run_tool(err, 1, (char *const[]){ "ckpt", "checkpoint", pidtxt, "-o", img,
					       "--leave-running", "--quiet", NULL });
	read_file(err, out, sizeof(out));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) TH_LOG("%s", out);
	kill_reap(pid);
	remove_objs(&o);
	unlink(img);
	unlink(err);
}

TEST_HARNESS_MAIN
