// interceptd-helper: performs interceptd's privileged actions inside a container's
// namespaces. Single-threaded on purpose: only such a process may setns() into a
// mount namespace. Started once by the daemon; serves one fixed-size binary request
// at a time on fd 3 (a SOCK_SEQPACKET socketpair) and answers with an errno, never
// with text. Wire format: protocol/helper-wire.ts.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/capability.h>

#define SOCK_FD 3
#define REQ_MAGIC 0x48434449u /* "IDCH" */
#define RESP_MAGIC 0x52434449u /* "IDCR" */
#define OP_PING 1
#define OP_MKNOD 2
#define OP_SETXATTR 3
#define OP_SCHED 4
#define OP_MOUNT 5
#define MOUNT_PLAIN 0   /* superblock of the host user namespace, as LXD without shift */
#define MOUNT_IDMAPPED 1 /* the same, idmapped to the caller's user namespace */
#define MOUNT_FUSE 2    /* a FUSE binary started inside the container */
#define HDR_SIZE 32
#define MAX_GROUPS 64
#define MAX_FDS 4
#define RESP_BOUND 1u   /* mknod: a host node was bind-mounted over the created one */
#define RESP_DECLINE 2u /* not ours to do: the daemon answers CONTINUE and the kernel decides */
#define RESP_GONE 4u    /* failed because the request is no longer pending (caller killed or interrupted) */

#define SECCOMP_IOCTL_NOTIF_ID_VALID 0x40082102UL

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

#define CAP_BIT(c) (1ULL << (c))
#define DAC_CAPS (CAP_BIT(CAP_DAC_OVERRIDE) | CAP_BIT(CAP_DAC_READ_SEARCH) | CAP_BIT(CAP_FOWNER))

/*
 * Every op that acts as the caller carries the same block after the header:
 * three op-specific words, then the caller's credentials and its path.
 */
struct caller_req {
	int32_t a;         /* mknod: dirfd      setxattr: flags      sched: container pid */
	uint32_t b;        /* mknod: mode       setxattr: value_len  sched: policy */
	uint32_t c;        /* mknod: dev        setxattr: name_len   sched: priority */
	uint32_t umask;
	uint32_t fsuid;
	uint32_t fsgid;
	uint64_t caps;
	uint32_t ngroups;
	uint32_t path_len;
	uint32_t groups[MAX_GROUPS];
	/* path bytes follow; setxattr: then name, then value */
};
#define CALLER_FIXED (HDR_SIZE + 40 + 4 * MAX_GROUPS)

/* The caller's context while a request runs. */
struct ctx {
	int rootfd, startfd, mntfd;
};

static uint64_t all_caps;   /* our permitted set, restored after every request */
static uint64_t all_inheritable;
static int self_mntns = -1; /* the helper's private mount namespace */
static int host_proc = -1;  /* /proc of the host pid namespace */
static int dev_dir = -1;    /* private tmpfs (no nodev) for host-made device nodes */
static uint64_t node_serial;

static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Only the effective set ever changes, so the others are known: no capget per call. */
static int set_caps(uint64_t eff)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	eff &= all_caps;
	d[0].effective = (uint32_t)eff;
	d[1].effective = (uint32_t)(eff >> 32);
	d[0].permitted = (uint32_t)all_caps;
	d[1].permitted = (uint32_t)(all_caps >> 32);
	d[0].inheritable = (uint32_t)all_inheritable;
	d[1].inheritable = (uint32_t)(all_inheritable >> 32);
	return syscall(SYS_capset, &h, d) ? errno : 0;
}

static void die(const char *what)
{
	fprintf(stderr, "interceptd-helper: %s: %s\n", what, strerror(errno));
	_exit(2);
}

/* Back to a clean state; a helper that cannot get there must not serve again. */
static void restore(void)
{
	if (set_caps(all_caps))
		die("restore caps");
	setfsuid(0);
	setfsgid(0);
	if (setfsuid(-1) != 0 || setfsgid(-1) != 0)
		die("restore fsuid");
	if (setgroups(0, NULL))
		die("restore groups");
	umask(077);
	/* setns also resets root and cwd to the namespace's root, undoing chroot. */
	if (setns(self_mntns, CLONE_NEWNS))
		die("restore mount namespace");
}

static int id_valid(int listener, uint64_t id)
{
	return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) ? errno : 0;
}

/* Is host id `id` inside one of the ranges of a uid_map/gid_map file? */
static int id_mapped(int procfd, const char *file, uint32_t id)
{
	char buf[4096];
	int fd = openat(procfd, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	for (char *line = buf; line && *line;) {
		unsigned long inside, outside, count;
		if (sscanf(line, "%lu %lu %lu", &inside, &outside, &count) == 3 &&
		    id >= outside && (uint64_t)id < (uint64_t)outside + count)
			return 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

/*
 * Splits `path` into a parent to open and a last component, as the kernel's
 * filename_create() sees them. Returns 0, or EEXIST when there is no normal
 * last component ("/", "x/.", "x/.."), decided after the parent resolves.
 */
struct split {
	char parent[PATH_MAX];
	char base[PATH_MAX];
	int trailing_slash;
	int no_last;
};

static void split_path(const char *path, struct split *s)
{
	size_t len = strlen(path);
	memset(s, 0, sizeof(*s));
	while (len > 1 && path[len - 1] == '/') {
		len--;
		s->trailing_slash = 1;
	}
	if (len == 1 && path[0] == '/') {
		strcpy(s->parent, "/");
		s->no_last = 1;
		return;
	}
	size_t cut = len;
	while (cut > 0 && path[cut - 1] != '/')
		cut--;
	memcpy(s->base, path + cut, len - cut);
	if (cut == 0) {
		strcpy(s->parent, ".");
	} else {
		size_t plen = cut;
		while (plen > 1 && path[plen - 1] == '/')
			plen--;
		memcpy(s->parent, path, plen);
	}
	if (!strcmp(s->base, ".") || !strcmp(s->base, ".."))
		s->no_last = 1;
}

/* A node on a filesystem its user namespace owns (SB_I_NODEV) cannot be opened. */
static int node_unusable(int nodefd)
{
	struct statvfs sv;
	char link[64];
	if (fstatvfs(nodefd, &sv) == 0 && (sv.f_flag & ST_NODEV))
		return 0; /* a nodev mount: a privileged kernel leaves it unusable too */
	snprintf(link, sizeof(link), "thread-self/fd/%d", nodefd);
	int fd = openat(host_proc, link, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	return errno == EACCES;
}

/* Make the node usable: bind a host-made node (same type, dev, mode, owner) over it. */
static int bind_host_node(int mntfd, int nodefd, const struct caller_req *r)
{
	char name[64];
	int err = 0, treefd = -1;
	restore();
	snprintf(name, sizeof(name), "n%llu", (unsigned long long)++node_serial);
	if (mknodat(dev_dir, name, (r->b & S_IFMT) | 0600, r->c) ||
	    fchmodat(dev_dir, name, r->b & 07777 & ~r->umask, 0) ||
	    fchownat(dev_dir, name, r->fsuid, r->fsgid, AT_SYMLINK_NOFOLLOW))
		err = errno;
	if (!err) {
		treefd = (int)syscall(SYS_open_tree, dev_dir, name, OPEN_TREE_CLONE | O_CLOEXEC);
		if (treefd < 0)
			err = errno;
	}
	if (!err && setns(mntfd, CLONE_NEWNS))
		err = errno;
	/* The source must still be linked while it is attached; our tmpfs keeps nothing after. */
	if (!err && syscall(SYS_move_mount, treefd, "", nodefd, "",
			    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
		err = errno;
	unlinkat(dev_dir, name, 0);
	if (treefd >= 0)
		close(treefd);
	return err;
}

/* Validates the fixed block and copies the path; returns 0 or EINVAL. */
static int parse_caller(const unsigned char *msg, size_t len, size_t extra, struct caller_req *r, char *path)
{
	if (len < CALLER_FIXED)
		return EINVAL;
	memcpy(r, msg + HDR_SIZE, sizeof(*r));
	if (r->path_len >= PATH_MAX || r->ngroups > MAX_GROUPS || len != CALLER_FIXED + r->path_len + extra)
		return EINVAL;
	memcpy(path, msg + CALLER_FIXED, r->path_len);
	path[r->path_len] = 0;
	return strlen(path) == r->path_len ? 0 : EINVAL;
}

static void close_ctx(struct ctx *c)
{
	if (c->rootfd >= 0)
		close(c->rootfd);
	if (c->startfd >= 0)
		close(c->startfd);
	if (c->mntfd >= 0)
		close(c->mntfd);
}

/*
 * Enters the caller's mount namespace, chroots to its root and starts at its cwd
 * (or the directory fd `dirfd` of the caller), with its fsuid, fsgid, groups and
 * the capabilities `r->caps`. Paths then resolve exactly as they would for it.
 */
static int enter_caller(int procfd, const struct caller_req *r, int dirfd, const char *path, struct ctx *c)
{
	char fdlink[32];
	struct stat st;

	c->rootfd = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (path[0] == '/' || dirfd == -100) {
		c->startfd = openat(procfd, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	} else {
		snprintf(fdlink, sizeof(fdlink), "fd/%d", dirfd);
		c->startfd = openat(procfd, fdlink, O_PATH | O_CLOEXEC);
		if (c->startfd < 0 && errno == ENOENT)
			errno = EBADF;
	}
	c->mntfd = openat(procfd, "ns/mnt", O_RDONLY | O_CLOEXEC);
	if (c->rootfd < 0 || c->startfd < 0 || c->mntfd < 0)
		return errno;
	if (fstat(c->startfd, &st) == 0 && !S_ISDIR(st.st_mode))
		return ENOTDIR;
	if (setns(c->mntfd, CLONE_NEWNS) || fchdir(c->rootfd) || chroot(".") || fchdir(c->startfd))
		return errno;
	if (setgroups(r->ngroups, (const gid_t *)r->groups))
		return errno;
	setfsgid(r->fsgid);
	setfsuid(r->fsuid);
	if ((uint32_t)setfsuid(-1) != r->fsuid || (uint32_t)setfsgid(-1) != r->fsgid)
		return EPERM;
	return set_caps(r->caps);
}

/* Both owner ids of `fd` map into the caller's user namespace. */
static int owner_mapped(int procfd, int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && id_mapped(procfd, "uid_map", st.st_uid) && id_mapped(procfd, "gid_map", st.st_gid);
}

static int do_mknod(const unsigned char *msg, size_t len, int procfd, int listener, uint64_t id, uint32_t *flags)
{
	struct caller_req r;
	struct split s;
	struct ctx c = { -1, -1, -1 };
	char path[PATH_MAX];
	int err, parentfd = -1, nodefd = -1;
	struct stat st;

	if ((err = parse_caller(msg, len, 0, &r, path)))
		return err;
	if (r.path_len == 0)
		return ENOENT;
	split_path(path, &s);
	if ((err = enter_caller(procfd, &r, r.a, path, &c)))
		goto out;
	parentfd = open(s.parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (parentfd < 0) {
		err = errno;
		goto out;
	}
	/* The caller's DAC overrides hold only where its namespace maps the owner. */
	if (!owner_mapped(procfd, parentfd) && (err = set_caps(r.caps & ~DAC_CAPS)))
		goto out;
	if (s.no_last) {
		err = EEXIST;
		goto out;
	}
	if (s.trailing_slash) {
		err = fstatat(parentfd, s.base, &st, AT_SYMLINK_NOFOLLOW) == 0 ? EEXIST : ENOENT;
		goto out;
	}
	/* Last check before the side effect: the caller is still parked on this request. */
	if ((err = id_valid(listener, id)))
		goto out;
	umask(r.umask & 0777);
	if (mknodat(parentfd, s.base, r.b, r.c)) {
		err = errno;
		goto out;
	}
	nodefd = openat(parentfd, s.base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (nodefd < 0)
		goto out; /* replaced under us: the mknod itself succeeded */
	if (set_caps(all_caps) == 0 && node_unusable(nodefd)) {
		err = bind_host_node(c.mntfd, nodefd, &r);
		if (err) {
			struct stat a, b;
			restore();
			if (setns(c.mntfd, CLONE_NEWNS) == 0 && fstat(nodefd, &a) == 0 &&
			    fstatat(parentfd, s.base, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
			    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
				unlinkat(parentfd, s.base, 0);
		} else {
			*flags |= RESP_BOUND;
		}
	}
out:
	restore();
	if (nodefd >= 0)
		close(nodefd);
	if (parentfd >= 0)
		close(parentfd);
	close_ctx(&c);
	return err;
}

/*
 * setxattr(path, name, value, size, flags) as host root, on a file the caller
 * reaches and whose owner its namespace maps. The daemon has already checked the
 * name and value against the policy and the caller's CAP_SYS_ADMIN.
 */
static int do_setxattr(const unsigned char *msg, size_t len, int procfd, int listener, uint64_t id, uint32_t *flags)
{
	struct caller_req r;
	struct ctx c = { -1, -1, -1 };
	char path[PATH_MAX], name[256], value[256], link[64];
	int err, pathfd = -1, fd = -1;
	struct stat st;

	if (len < CALLER_FIXED)
		return EINVAL;
	memcpy(&r, msg + HDR_SIZE, sizeof(r));
	if (r.c == 0 || r.c >= sizeof(name) || r.b > sizeof(value))
		return EINVAL;
	if ((err = parse_caller(msg, len, (size_t)r.b + r.c, &r, path)))
		return err;
	memcpy(name, msg + CALLER_FIXED + r.path_len, r.c);
	name[r.c] = 0;
	memcpy(value, msg + CALLER_FIXED + r.path_len + r.c, r.b);
	if (strlen(name) != r.c)
		return EINVAL;
	if (r.path_len == 0)
		return ENOENT;
	if ((err = enter_caller(procfd, &r, -100, path, &c)))
		goto out;
	pathfd = open(path, O_PATH | O_CLOEXEC); /* setxattr follows symlinks */
	if (pathfd < 0) {
		err = errno;
		goto out;
	}
	if (fstat(pathfd, &st) || !owner_mapped(procfd, pathfd) || !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
		*flags |= RESP_DECLINE; /* not the container's file, or not a kind we handle */
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		fd = openat(pathfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		snprintf(link, sizeof(link), "thread-self/fd/%d", pathfd);
		fd = openat(host_proc, link, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	}
	if (fd < 0) {
		err = errno;
		goto out;
	}
	if ((err = id_valid(listener, id)) || (err = set_caps(all_caps)))
		goto out;
	if (fsetxattr(fd, name, value, r.b, r.a))
		err = errno;
out:
	restore();
	if (fd >= 0)
		close(fd);
	if (pathfd >= 0)
		close(pathfd);
	close_ctx(&c);
	return err;
}

/*
 * sched_setscheduler as host root. pid 0 means the caller itself (its host tid is
 * the notification's pid). Any other pid is the caller's own view: a child forked
 * into the caller's pid namespace resolves it, so it can only reach that namespace.
 */
static int do_sched(const unsigned char *msg, size_t len, int procfd, int listener, uint64_t id, uint32_t host_tid)
{
	struct caller_req r;
	char path[PATH_MAX];
	struct sched_param sp;
	int err, pidns = -1, self_pidns = -1, status;

	if ((err = parse_caller(msg, len, 0, &r, path)))
		return err;
	sp.sched_priority = (int)r.c;
	if (r.a < 0)
		return EINVAL;
	if (r.a == 0) {
		if ((err = id_valid(listener, id)))
			return err;
		return sched_setscheduler((pid_t)host_tid, (int)r.b, &sp) ? errno : 0;
	}
	pidns = openat(procfd, "ns/pid", O_RDONLY | O_CLOEXEC);
	self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	if (pidns < 0 || self_pidns < 0) {
		err = errno;
		goto out;
	}
	if ((err = id_valid(listener, id)))
		goto out;
	if (setns(pidns, CLONE_NEWPID)) {
		err = errno;
		goto out;
	}
	pid_t child = fork();
	if (child == 0)
		_exit(sched_setscheduler((pid_t)r.a, (int)r.b, &sp) ? (errno & 0xff) : 0);
	if (child < 0)
		err = errno;
	else if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status))
		err = EIO;
	else
		err = WEXITSTATUS(status);
	if (setns(self_pidns, CLONE_NEWPID))
		die("restore pid namespace");
out:
	if (pidns >= 0)
		close(pidns);
	if (self_pidns >= 0)
		close(self_pidns);
	return err;
}


/* Runs `argv` inside the caller's user, pid and mount namespaces as container root. */
static int run_in_container(int procfd, char *const argv[])
{
	int userns = openat(procfd, "ns/user", O_RDONLY | O_CLOEXEC);
	int pidns = openat(procfd, "ns/pid", O_RDONLY | O_CLOEXEC);
	int err = 0, status;
	if (userns < 0 || pidns < 0) {
		err = errno;
		goto out;
	}
	pid_t child = fork();
	if (child < 0) {
		err = errno;
		goto out;
	}
	if (child == 0) {
		static char *const envp[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };
		/* Already in the caller's mount namespace and root; now its user and pid namespaces. */
		if (setns(userns, CLONE_NEWUSER) || setgroups(0, NULL) || setresgid(0, 0, 0) || setresuid(0, 0, 0) ||
		    setns(pidns, CLONE_NEWPID))
			_exit(errno & 0xff);
		/* A helper killed at a deadline takes a hung program down with it (after the id change, which clears this). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		pid_t grandchild = fork();
		if (grandchild < 0)
			_exit(errno & 0xff);
		if (grandchild == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			int devnull = open("/dev/null", O_RDWR);
			if (devnull >= 0) {
				dup2(devnull, 0);
				dup2(devnull, 1);
			}
			execvpe(argv[0], argv, envp);
			_exit(errno == ENOENT ? ENOENT : EPERM);
		}
		if (waitpid(grandchild, &status, 0) < 0 || !WIFEXITED(status))
			_exit(EIO);
		/* A FUSE program reports failure with its own exit code: not an errno. */
		_exit(WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == ENOENT ? ENOENT : EPERM);
	}
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status))
		err = EIO;
	else
		err = WEXITSTATUS(status);
out:
	if (userns >= 0)
		close(userns);
	if (pidns >= 0)
		close(pidns);
	return err;
}

/* fsopen → fsconfig (source, each option) → create → fsmount (attrs) [→ idmap] → move onto `targetfd`. */
static int new_mount(int procfd, const char *fstype, const char *source, const char *opts, size_t opts_len,
		     uint32_t attrs, int idmapped, int targetfd)
{
	int err = 0, fsfd = -1, mfd = -1, userns = -1;
	fsfd = (int)syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return errno;
	if (source[0] && syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", source, 0)) {
		err = errno;
		goto out;
	}
	/* Options come NUL-separated: "key=value" or a bare flag. */
	for (size_t off = 0; off < opts_len;) {
		char *opt = (char *)opts + off;
		size_t len = strlen(opt);
		off += len + 1;
		if (len == 0)
			continue;
		char *eq = strchr(opt, '=');
		int r;
		if (eq) {
			*eq = 0;
			r = (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, opt, eq + 1, 0);
			*eq = '=';
		} else {
			r = (int)syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, opt, NULL, 0);
		}
		if (r) {
			err = errno;
			goto out;
		}
	}
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		err = errno;
		goto out;
	}
	mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0) {
		err = errno;
		goto out;
	}
	if (idmapped) {
		userns = openat(procfd, "ns/user", O_RDONLY | O_CLOEXEC);
		struct mount_attr ma = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
		if (userns < 0 || syscall(SYS_mount_setattr, mfd, "", AT_EMPTY_PATH, &ma, sizeof(ma))) {
			err = errno;
			goto out;
		}
	}
	if (syscall(SYS_move_mount, mfd, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
		err = errno;
out:
	if (userns >= 0)
		close(userns);
	if (mfd >= 0)
		close(mfd);
	close(fsfd);
	return err;
}

/*
 * mount: the target (the request's path) and a block-device source resolve as the
 * caller, inside its root; the superblock is made with host privilege. The daemon
 * has already checked the fstype against the policy and turned flags into attrs
 * and options. Extra: u32 source_len, fstype_len, opts_len, attrs; then the strings.
 */
static int do_mount(const unsigned char *msg, size_t len, int procfd, int listener, uint64_t id)
{
	struct caller_req r;
	struct ctx c = { -1, -1, -1 };
	char path[PATH_MAX], source[PATH_MAX], fstype[256], opts[4096];
	int err, targetfd = -1;
	struct stat st;

	if (len < CALLER_FIXED)
		return EINVAL;
	memcpy(&r, msg + HDR_SIZE, sizeof(r));
	if (r.path_len == 0 || r.path_len >= PATH_MAX || len < CALLER_FIXED + r.path_len + 16)
		return EINVAL;
	const unsigned char *x = msg + CALLER_FIXED + r.path_len;
	uint32_t slen = rd32(x), flen = rd32(x + 4), olen = rd32(x + 8), attrs = rd32(x + 12);
	if (slen >= sizeof(source) || flen == 0 || flen >= sizeof(fstype) || olen >= sizeof(opts))
		return EINVAL;
	if ((err = parse_caller(msg, len, 16 + (size_t)slen + flen + olen, &r, path)))
		return err;
	memcpy(source, x + 16, slen);
	source[slen] = 0;
	memcpy(fstype, x + 16 + slen, flen);
	fstype[flen] = 0;
	memcpy(opts, x + 16 + slen + flen, olen);
	opts[olen] = 0;
	if (strlen(source) != slen || strlen(fstype) != flen)
		return EINVAL;

	if ((err = enter_caller(procfd, &r, -100, path, &c)))
		goto out;
	targetfd = open(path, O_PATH | O_CLOEXEC); /* mount(2) follows a final symlink too */
	if (targetfd < 0) {
		err = errno;
		goto out;
	}
	/* A device is used only if the caller itself may open it so. */
	if (source[0] == '/' && stat(source, &st) == 0 && S_ISBLK(st.st_mode) &&
	    faccessat(AT_FDCWD, source, (attrs & MOUNT_ATTR_RDONLY) ? R_OK : R_OK | W_OK, AT_EACCESS)) {
		err = errno;
		goto out;
	}
	if ((err = id_valid(listener, id)) || (err = set_caps(all_caps)))
		goto out;
	if (r.a == MOUNT_FUSE) {
		char target[PATH_MAX + 8];
		snprintf(target, sizeof(target), "%s", path);
		char *argv[] = { fstype, source, target, opts[0] ? "-o" : NULL, opts, NULL };
		err = run_in_container(procfd, argv);
	} else {
		err = new_mount(procfd, fstype, source, opts, olen, attrs, r.a == MOUNT_IDMAPPED, targetfd);
	}
out:
	restore();
	if (targetfd >= 0)
		close(targetfd);
	close_ctx(&c);
	return err;
}

static void reply(uint64_t seq, int err, int64_t val, uint32_t flags)
{
	unsigned char out[32] = { 0 };
	uint32_t magic = RESP_MAGIC;
	int32_t e = err;
	memcpy(out, &magic, 4);
	memcpy(out + 4, &e, 4);
	memcpy(out + 8, &seq, 8);
	memcpy(out + 16, &val, 8);
	memcpy(out + 24, &flags, 4);
	while (send(SOCK_FD, out, sizeof(out), MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			_exit(0);
}

static void setup(const char *devpath)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (geteuid() != 0) {
		fprintf(stderr, "interceptd-helper: must run as root\n");
		_exit(2);
	}
	if (syscall(SYS_capget, &h, d))
		die("capget");
	all_caps = (uint64_t)d[0].permitted | ((uint64_t)d[1].permitted << 32);
	all_inheritable = (uint64_t)d[0].inheritable | ((uint64_t)d[1].inheritable << 32);
	/* A private mount namespace with a tmpfs that allows device nodes (/run is nodev). */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		die("private mount namespace");
	if (mkdir(devpath, 0700) && errno != EEXIST)
		die("mkdir device dir");
	if (mount("interceptd-devices", devpath, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0700,size=64k"))
		die("mount device tmpfs");
	dev_dir = open(devpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	self_mntns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	host_proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dev_dir < 0 || self_mntns < 0 || host_proc < 0)
		die("open");
	umask(077);
}

int main(int argc, char **argv)
{
	static unsigned char msg[HDR_SIZE + 8192];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} ctl;

	if (argc != 2) {
		fprintf(stderr, "usage: interceptd-helper DEVICE-DIR (started by interceptd)\n");
		return 2;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	setup(argv[1]);

	for (;;) {
		struct iovec iov = { msg, sizeof(msg) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		int fds[MAX_FDS], nfds = 0;
		ssize_t n = recvmsg(SOCK_FD, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0; /* the daemon went away */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int cnt = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < cnt && nfds < MAX_FDS; i++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
		uint64_t seq = n >= 16 ? rd64(msg + 8) : 0;
		int err = EINVAL;
		uint32_t flags = 0;
		if (n >= HDR_SIZE && rd32(msg) == REQ_MAGIC && !(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			uint32_t op = rd32(msg + 4);
			uint64_t id = rd64(msg + 16);
			if (op == OP_PING)
				err = 0;
			else if (op == OP_MKNOD && nfds == 2)
				err = do_mknod(msg, (size_t)n, fds[0], fds[1], id, &flags);
			else if (op == OP_SETXATTR && nfds == 2)
				err = do_setxattr(msg, (size_t)n, fds[0], fds[1], id, &flags);
			else if (op == OP_MOUNT && nfds == 2)
				err = do_mount(msg, (size_t)n, fds[0], fds[1], id);
			else if (op == OP_SCHED && nfds == 2)
				err = do_sched(msg, (size_t)n, fds[0], fds[1], id, rd32(msg + 24));
			/* A caller killed or interrupted meanwhile fails the request (ESRCH or ENOENT
			 * from its /proc, ENOENT from ID_VALID): not an answer to its call. */
			if (err && op != OP_PING && nfds == 2 && id_valid(fds[1], id) == ENOENT)
				flags |= RESP_GONE;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		reply(seq, err, 0, flags);
	}
}
