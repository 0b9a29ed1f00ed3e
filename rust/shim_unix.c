// SPDX-License-Identifier: GPL-2.0
/*
 * Unix sockets, read for a checkpoint: what the Rust side cannot reach (the
 * socket behind a file, struct unix_sock, the skbs of a receive queue and
 * their private control block). No policy: the callers decide what is saved
 * and what is refused.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/net.h>
#include <linux/nsproxy.h>
#include <linux/skbuff.h>
#include <linux/sched.h>
#include <linux/cred.h>
#include <linux/jiffies.h>
#include <linux/namei.h>
#include <linux/dcache.h>
#include <net/sock.h>
#include <net/scm.h>
#include <net/af_unix.h>
#include <net/net_namespace.h>

#include "shim_unix.h"

/*
 * The private control block of unix skbs (net/unix/af_unix.h): the same fields
 * under the same condition. Both the guest's and Debian's kernels build without
 * structure randomization, so the layout is the declared one.
 */
struct ckpt_unix_skb_parms {
	struct pid *pid;
	kuid_t uid;
	kgid_t gid;
	struct scm_fp_list *fp;
#ifdef CONFIG_SECURITY_NETWORK
	u32 secid;
#endif
	u32 consumed;
};

#define CKPT_UNIXCB(skb) (*(struct ckpt_unix_skb_parms *)&((skb)->cb))
/* net/unix/af_unix.h: hashes above this are abstract names. */
#define CKPT_UNIX_HASH_MOD (256 - 1)

struct sock *unix_peer_get(struct sock *sk);

/*
 * The socket of file @f (embryo < 0) or the @embryo-th connection waiting in its
 * accept queue, with a reference; NULL if there is none.
 */
static struct sock *unix_sock_of(struct file *f, s32 embryo, int *err)
{
	struct socket *sock = sock_from_file(f);
	struct sock *sk, *found = NULL;
	struct sk_buff *skb;
	s32 i = 0;

	*err = -ENOTSOCK;
	if (!sock || !sock->sk || READ_ONCE(sock->ops)->family != PF_UNIX)
		return NULL;
	sk = sock->sk;
	if (embryo < 0) {
		sock_hold(sk);
		return sk;
	}
	*err = -ENOENT;
	if (READ_ONCE(sk->sk_state) != TCP_LISTEN)
		return NULL;
	spin_lock(&sk->sk_receive_queue.lock);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		if (i++ == embryo) {
			found = skb->sk;
			if (found)
				sock_hold(found);
			break;
		}
	}
	spin_unlock(&sk->sk_receive_queue.lock);
	return found;
}

/* The name of @sk into @name; returns its length (0: unnamed). */
static u32 unix_name(struct sock *sk, u8 *name)
{
	struct unix_address *addr = smp_load_acquire(&unix_sk(sk)->addr);
	int n;

	if (!addr)
		return 0;
	n = addr->len - (int)offsetof(struct sockaddr_un, sun_path);
	n = clamp(n, 0, CKPT_UNIX_NAME_MAX);
	memcpy(name, addr->name->sun_path, n);
	return n;
}

static s64 timeo_us(long t)
{
	if (t == MAX_SCHEDULE_TIMEOUT)
		return 0;
	return div_u64((u64)t * USEC_PER_SEC, HZ);
}

int ckpt_unix_ino(struct file *f, u64 *ino, u32 *type, u32 *state)
{
	int err;
	struct sock *sk = unix_sock_of(f, -1, &err);

	if (!sk)
		return err;
	*ino = sock_i_ino(sk);
	*type = sk->sk_type;
	*state = READ_ONCE(sk->sk_state);
	sock_put(sk);
	return 0;
}

int ckpt_unix_info(struct file *f, s32 embryo, struct ckpt_unix_info *ui, char *path,
		   u32 pathlen)
{
	struct sock *sk, *peer;
	struct unix_sock *u;
	struct sk_buff *skb;
	struct path p = {};
	int err;

	memset(ui, 0, sizeof(*ui));
	if (pathlen)
		path[0] = 0;
	sk = unix_sock_of(f, embryo, &err);
	if (!sk)
		return err;
	u = unix_sk(sk);
	ui->ino = sock_i_ino(sk);
	ui->type = sk->sk_type;
	ui->state = READ_ONCE(sk->sk_state);
	ui->shutdown = READ_ONCE(sk->sk_shutdown);
	ui->backlog = READ_ONCE(sk->sk_max_ack_backlog);
	ui->sndbuf = READ_ONCE(sk->sk_sndbuf);
	ui->rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	ui->peek_off = READ_ONCE(sk->sk_peek_off);
	ui->err = READ_ONCE(sk->sk_err);
	ui->rcvlowat = READ_ONCE(sk->sk_rcvlowat);
	ui->rcvtimeo_us = timeo_us(READ_ONCE(sk->sk_rcvtimeo));
	ui->sndtimeo_us = timeo_us(READ_ONCE(sk->sk_sndtimeo));
	ui->nfds = atomic_read(&u->scm_stat.nr_fds);
	if (sk->sk_scm_credentials)
		ui->flags |= CKPT_UNIX_PASSCRED;
	if (sk->sk_scm_security)
		ui->flags |= CKPT_UNIX_PASSSEC;
	if (sk->sk_scm_pidfd)
		ui->flags |= CKPT_UNIX_PASSPIDFD;
	if (!sk->sk_scm_rights)
		ui->flags |= CKPT_UNIX_NORIGHTS;
	if (sk->sk_reuse)
		ui->flags |= CKPT_UNIX_REUSEADDR;
	if (!net_eq(sock_net(sk), current->nsproxy->net_ns))
		ui->flags |= CKPT_UNIX_FOREIGN_NET;
#if IS_ENABLED(CONFIG_AF_UNIX_OOB)
	if (READ_ONCE(u->oob_skb))
		ui->flags |= CKPT_UNIX_OOB;
#endif
	ui->namelen = unix_name(sk, ui->name);
	/* Bound itself (in the path table, or hashed by an abstract name), not
	 * merely given its listener's name by accept. */
	if (ui->namelen && (!hlist_unhashed(&sk->sk_bind_node) || sk->sk_hash > CKPT_UNIX_HASH_MOD))
		ui->flags |= CKPT_UNIX_BOUND;

	unix_state_lock(sk);
	p = u->path;
	path_get(&p);
	unix_state_unlock(sk);
	if (p.dentry) {
		struct inode *inode = d_inode(p.dentry);

		if (d_unlinked(p.dentry))
			ui->flags |= CKPT_UNIX_UNLINKED;
		if (inode) {
			ui->file_mode = inode->i_mode;
			ui->file_uid = from_kuid_munged(current_user_ns(), inode->i_uid);
			ui->file_gid = from_kgid_munged(current_user_ns(), inode->i_gid);
		}
		if (pathlen) {
			char *s = d_path(&p, path, pathlen);

			if (!IS_ERR(s))
				memmove(path, s, strlen(s) + 1);
		}
		path_put(&p);
	}

	peer = unix_peer_get(sk);
	if (peer) {
		if (sock_flag(peer, SOCK_DEAD))
			ui->flags |= CKPT_UNIX_PEER_DEAD;
		ui->peer_ino = sock_i_ino(peer);
		if (!ui->peer_ino && !sock_flag(peer, SOCK_DEAD))
			ui->flags |= CKPT_UNIX_PEER_EMBRYO;
		ui->peer_namelen = unix_name(peer, ui->peer_name);
		sock_put(peer);
	}

	spin_lock(&sk->sk_receive_queue.lock);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		ui->qlen++;
		if (ui->state != TCP_LISTEN)
			ui->qbytes += skb->len - CKPT_UNIXCB(skb).consumed;
	}
	spin_unlock(&sk->sk_receive_queue.lock);
	sock_put(sk);
	return 0;
}

/*
 * The receive queue of the socket of @f (or of its embryo), locked for a walk:
 * iolock (readers take it to consume, and to move a stream skb's consumed
 * mark), then the queue lock (writers append under it).  NULL with *err 0 for
 * a listening socket (its queue holds embryos, not data), or with an error.
 */
static struct sock *unix_queue_lock(struct file *f, s32 embryo, int *err)
{
	struct sock *sk = unix_sock_of(f, embryo, err);

	if (!sk)
		return NULL;
	*err = 0;
	if (READ_ONCE(sk->sk_state) == TCP_LISTEN)
		goto out;
	*err = mutex_lock_interruptible(&unix_sk(sk)->iolock);
	if (*err)
		goto out;
	spin_lock(&sk->sk_receive_queue.lock);
	return sk;
out:
	sock_put(sk);
	return NULL;
}

static void unix_queue_unlock(struct sock *sk)
{
	spin_unlock(&sk->sk_receive_queue.lock);
	mutex_unlock(&unix_sk(sk)->iolock);
	sock_put(sk);
}

int ckpt_unix_queue(struct file *f, s32 embryo, void *buf, u32 buflen)
{
	struct sock *sk;
	struct unix_sock *u;
	struct sk_buff *skb;
	u32 n = 0;
	int err;

	BUILD_BUG_ON(sizeof(struct ckpt_unix_skb_parms) > sizeof_field(struct sk_buff, cb));
	/* shim_unix.rs reads it at fixed offsets (SKB_HDR). */
	BUILD_BUG_ON(sizeof(struct ckpt_unix_skb) != 152);
	sk = unix_queue_lock(f, embryo, &err);
	if (!sk)
		return err;
	u = unix_sk(sk);
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		struct ckpt_unix_skb *h = buf + n;
		u32 off = CKPT_UNIXCB(skb).consumed;
		u32 len = skb->len - off;
		u32 need = sizeof(*h) + round_up(len, 8);

		if (n + need > buflen || need < len) {
			err = -EOVERFLOW;
			break;
		}
		memset(h, 0, sizeof(*h));
		h->len = len;
		h->nfds = CKPT_UNIXCB(skb).fp ? CKPT_UNIXCB(skb).fp->count : 0;
#if IS_ENABLED(CONFIG_AF_UNIX_OOB)
		h->oob = skb == READ_ONCE(u->oob_skb);
#endif
		if (skb->sk) {
			h->sender_ino = sock_i_ino(skb->sk);
			h->sender_namelen = unix_name(skb->sk, h->sender_name);
		}
		if (CKPT_UNIXCB(skb).pid) {
			h->creds = 1;
			h->pid = pid_vnr(CKPT_UNIXCB(skb).pid);
			h->uid = from_kuid_munged(current_user_ns(), CKPT_UNIXCB(skb).uid);
			h->gid = from_kgid_munged(current_user_ns(), CKPT_UNIXCB(skb).gid);
		}
		err = skb_copy_bits(skb, off, (void *)(h + 1), len);
		if (err)
			break;
		n += need;
	}
	unix_queue_unlock(sk);
	return err ? err : n;
}

int ckpt_unix_inflight(struct file *f, s32 embryo, void **files, u32 max)
{
	struct sock *sk;
	struct sk_buff *skb;
	u32 n = 0, i;
	int err;

	sk = unix_queue_lock(f, embryo, &err);
	if (!sk)
		return err;
	skb_queue_walk(&sk->sk_receive_queue, skb) {
		struct scm_fp_list *fp = CKPT_UNIXCB(skb).fp;

		if (!fp)
			continue;
		if (n + fp->count > max) {
			err = -E2BIG;
			break;
		}
		for (i = 0; i < fp->count; i++)
			files[n++] = get_file(fp->fp[i]);
	}
	unix_queue_unlock(sk);
	if (err) {
		while (n)
			fput(files[--n]);
		return err;
	}
	return n;
}

int ckpt_unix_foreign_creds(struct file *f, s32 embryo, s32 pid)
{
	struct sock *sk;
	struct sk_buff *skb;
	int err, found = 0;

	sk = unix_sock_of(f, embryo, &err);
	if (!sk)
		return err;
	if (READ_ONCE(sk->sk_state) != TCP_LISTEN) {
		spin_lock(&sk->sk_receive_queue.lock);
		skb_queue_walk(&sk->sk_receive_queue, skb) {
			struct pid *p = CKPT_UNIXCB(skb).pid;
			s32 nr;

			if (!p)
				continue;
			nr = pid_vnr(p);
			if (nr != pid) {
				found = nr > 0 ? nr : INT_MAX;
				break;
			}
		}
		spin_unlock(&sk->sk_receive_queue.lock);
	}
	sock_put(sk);
	return found;
}

/*
 * The peer credentials of the socket of @f (or of its @embryo-th connection
 * waiting to be accepted), as SO_PEERCRED and SO_PEERGROUPS report them to the
 * caller: the pid (0: none, or not in the caller's pid namespace), the
 * effective uid and gid, and up to @max supplementary groups in @groups.
 * Returns the number of groups, -ENODATA if the socket has no peer
 * credentials, -E2BIG if they have more than @max groups.
 */
int ckpt_unix_peercred(struct file *f, s32 embryo, s32 *pid, u32 *uid, u32 *gid, u32 *groups,
		       u32 max)
{
	struct user_namespace *ns = current_user_ns();
	const struct group_info *gi;
	struct sock *sk;
	int err, i, n = -ENODATA;

	sk = unix_sock_of(f, embryo, &err);
	if (!sk)
		return err;
	spin_lock(&sk->sk_peer_lock);
	if (sk->sk_peer_cred) {
		*pid = pid_vnr(sk->sk_peer_pid);
		*uid = from_kuid_munged(ns, sk->sk_peer_cred->euid);
		*gid = from_kgid_munged(ns, sk->sk_peer_cred->egid);
		gi = sk->sk_peer_cred->group_info;
		n = gi ? gi->ngroups : 0;
		if (n > max)
			n = -E2BIG;
		for (i = 0; i < n; i++)
			groups[i] = from_kgid_munged(ns, gi->gid[i]);
	}
	spin_unlock(&sk->sk_peer_lock);
	sock_put(sk);
	return n;
}

/*
 * Gives the socket of @f (or its @embryo-th waiting connection) peer
 * credentials @cred and peer pid @pid (NULL: none), as init_peercred() does at
 * connect(): it takes a reference on each and drops those of the old ones.
 */
int ckpt_unix_set_peercred(struct file *f, s32 embryo, struct pid *pid, const struct cred *cred)
{
	const struct cred *old_cred;
	struct pid *old_pid;
	struct sock *sk;
	int err;

	sk = unix_sock_of(f, embryo, &err);
	if (!sk)
		return err;
	get_pid(pid);
	get_cred(cred);
	spin_lock(&sk->sk_peer_lock);
	old_pid = sk->sk_peer_pid;
	old_cred = sk->sk_peer_cred;
	sk->sk_peer_pid = pid;
	sk->sk_peer_cred = cred;
	spin_unlock(&sk->sk_peer_lock);
	put_pid(old_pid);
	if (old_cred)
		put_cred(old_cred);
	sock_put(sk);
	return 0;
}
