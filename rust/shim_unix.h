/* SPDX-License-Identifier: GPL-2.0 */
/* Unix sockets: what the Rust side of ckpt cannot read itself (see shim_unix.c). */
#ifndef CKPT_SHIM_UNIX_H
#define CKPT_SHIM_UNIX_H

#include <linux/types.h>

struct file;

#define CKPT_UNIX_NAME_MAX	108

/* ckpt_unix_info.flags */
#define CKPT_UNIX_PASSCRED	0x0001	/* SO_PASSCRED */
#define CKPT_UNIX_PASSSEC	0x0002	/* SO_PASSSEC */
#define CKPT_UNIX_PASSPIDFD	0x0004	/* SO_PASSPIDFD */
#define CKPT_UNIX_NORIGHTS	0x0008	/* SO_PASSRIGHTS off */
#define CKPT_UNIX_BOUND		0x0010	/* the socket holds its name (bind, autobind) */
#define CKPT_UNIX_UNLINKED	0x0020	/* its socket file was removed */
#define CKPT_UNIX_PEER_DEAD	0x0040	/* its peer was closed */
#define CKPT_UNIX_PEER_EMBRYO	0x0080	/* its peer is a connection not yet accepted */
#define CKPT_UNIX_REUSEADDR	0x0100	/* SO_REUSEADDR */
#define CKPT_UNIX_OOB		0x1000	/* an out-of-band byte is pending */
#define CKPT_UNIX_FOREIGN_NET	0x2000	/* another network namespace than the caller's */

/* The state of a unix socket (a file's, or the n-th unaccepted connection of a listener). */
struct ckpt_unix_info {
	u64 ino;		/* inode of the socket (0: not accepted yet) */
	u64 peer_ino;		/* its peer's (0: none, closed or not accepted) */
	u32 type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	u32 state;		/* TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN */
	u32 shutdown;		/* RCV_SHUTDOWN | SEND_SHUTDOWN */
	u32 flags;		/* CKPT_UNIX_* */
	u32 backlog;		/* sk_max_ack_backlog */
	u32 qlen;		/* skbs in the receive queue */
	u32 qbytes;		/* unread bytes in it */
	u32 nfds;		/* files in flight in it */
	s32 sndbuf;
	s32 rcvbuf;
	s32 peek_off;
	s32 err;		/* sk_err */
	s32 rcvlowat;
	u32 namelen;		/* bytes of name (0: unnamed) */
	u32 peer_namelen;
	u32 file_mode;		/* bound to a path: its socket file's mode, owner */
	u32 file_uid;
	u32 file_gid;
	s64 rcvtimeo_us;	/* 0: none */
	s64 sndtimeo_us;
	u8 name[CKPT_UNIX_NAME_MAX];	/* sun_path (abstract: leading NUL) */
	u8 peer_name[CKPT_UNIX_NAME_MAX];
};

/* One buffer of a receive queue, as ckpt_unix_queue writes it; its data follows,
 * padded to 8 bytes. */
struct ckpt_unix_skb {
	u32 len;		/* bytes of data (unread part) */
	u32 nfds;		/* files attached (SCM_RIGHTS) */
	u64 sender_ino;		/* the sending socket's inode (0: closed or none) */
	u32 sender_namelen;
	u32 oob;		/* the pending out-of-band byte */
	u8 sender_name[CKPT_UNIX_NAME_MAX];
	u32 creds;		/* 1: it carries credentials (SCM_CREDENTIALS) */
	s32 pid;		/* the sender's, as the caller sees it (0: not visible) */
	u32 uid;
	u32 gid;
	u8 pad[4];
};

int ckpt_unix_info(struct file *f, s32 embryo, struct ckpt_unix_info *ui, char *path,
		   u32 pathlen);
int ckpt_unix_queue(struct file *f, s32 embryo, void *buf, u32 buflen);
/* The files in flight (SCM_RIGHTS) in the receive queue, in order, each with a
 * reference (at most @max: -E2BIG); returns how many. */
int ckpt_unix_inflight(struct file *f, s32 embryo, void **files, u32 max);
int ckpt_unix_ino(struct file *f, u64 *ino, u32 *type, u32 *state);
/* The pid (as the caller sees it; INT_MAX: not visible) of the first buffer in the
 * receive queue of the socket (or connection, as ckpt_unix_info) that carries
 * another process's credentials (SCM_CREDENTIALS) than @pid's; 0: none. */
int ckpt_unix_foreign_creds(struct file *f, s32 embryo, s32 pid);

/* The peer credentials (SO_PEERCRED, SO_PEERGROUPS) of the socket (or connection,
 * as ckpt_unix_info): the number of groups, -ENODATA if it has none. */
int ckpt_unix_peercred(struct file *f, s32 embryo, s32 *pid, u32 *uid, u32 *gid, u32 *groups,
		       u32 max);
struct pid;
struct cred;
/* Gives it peer credentials @cred and peer pid @pid (NULL: none). */
int ckpt_unix_set_peercred(struct file *f, s32 embryo, struct pid *pid, const struct cred *cred);

#endif
