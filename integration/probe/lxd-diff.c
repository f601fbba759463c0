/*
 * lxd-diff: the fixed case list of the differential test (integration/lxd-diff.test.ts).
 * Runs inside an LXD container as root, once served by LXD's interceptor and once by
 * interceptd, and prints one line per case:
 *
 *   case=<name> ret=<n> errno=<NAME|0> [key=value]...
 *
 * ret/errno are the syscall's answer; the other fields are the state it left (file type,
 * mode, rdev, owner, usability, mountpoint, xattr read back, scheduler, mount owner...).
 * Values never contain spaces.
 *
 *   lxd-diff WORKDIR FREEPID GROUP...   GROUP: mknod setxattr sched mount bpf sysinfo
 *   lxd-diff clean WORKDIR
 *
 * WORKDIR is recreated at start. Cases unmount what they mounted and remove mountpoints
 * they caused, so both runs start equal; the files they created stay in WORKDIR for the
 * host-side snapshot until `clean`. FREEPID is a pid that exists neither on the host nor
 * in the container (the host picks it): the sched cases use it for "unknown pid" and,
 * through ns_last_pid, as the container pid of a child.
 *
 * Syscalls go through syscall(SYS_*) so libc never rewrites them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "errname.h"

#define USER_ID 1000
#define OPAQUE "trusted.overlay.opaque"

static const char *W; /* the work directory */
static long freepid;

/* As errname, but "0" for no error (the result lines always carry an errno field). */
static const char *ename(int e)
{
	return e ? errname(e) : "0";
}

/* The result line: name, answer, then the state fields already formatted. */
static void emit(const char *name, long ret, int err, const char *state)
{
	printf("case=%s ret=%ld errno=%s%s%s\n", name, ret, ename(ret < 0 ? err : 0),
	       state && *state ? " " : "", state ? state : "");
	fflush(stdout);
}

static char *wpath(const char *rel)
{
	static char bufs[4][4096];
	static int i;
	char *b = bufs[i++ & 3];
	snprintf(b, sizeof bufs[0], "%s/%s", W, rel);
	return b;
}

/* Whether an absolute path is a mount point, from this process's mountinfo. */
static int is_mountpoint(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[8192], mp[4096];
	int found = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		/* Decode the \040-style escapes of mountinfo. */
		char *o = mp;
		for (const char *s = mp; *s; s++) {
			if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
				*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
				s += 3;
			} else {
				*o++ = *s;
			}
		}
		*o = '\0';
		if (!strcmp(mp, path))
			found = 1;
	}
	fclose(f);
	return found;
}

/* type, mode, rdev, owner, O_RDWR usability and mountpoint of a path (lstat). */
static const char *node_state(const char *path)
{
	static char out[256];
	struct stat st;
	if (lstat(path, &st) < 0) {
		snprintf(out, sizeof out, "type=absent(%s)", ename(errno));
		return out;
	}
	char t = S_ISCHR(st.st_mode) ? 'c' : S_ISBLK(st.st_mode) ? 'b' : S_ISFIFO(st.st_mode) ? 'p' :
		 S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : S_ISSOCK(st.st_mode) ? 's' : 'f';
	const char *rdwr = "n/a";
	if (t == 'c' || t == 'p') {
		int fd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		rdwr = fd >= 0 ? "ok" : ename(errno);
		if (fd >= 0)
			close(fd);
	}
	snprintf(out, sizeof out, "type=%c mode=%04o rdev=%u:%u uid=%u gid=%u rdwr=%s mnt=%d", t,
		 (unsigned)(st.st_mode & 07777), major(st.st_rdev), minor(st.st_rdev),
		 (unsigned)st.st_uid, (unsigned)st.st_gid, rdwr, is_mountpoint(path));
	return out;
}

/* A node that became a mount point (LXD's bind-mount fallback) cannot be unlinked: unmount it. */
static void drop_node(const char *path)
{
	if (is_mountpoint(path) == 1)
		umount2(path, MNT_DETACH);
	unlink(path);
}

/* Runs fn in a child as uid/gid 1000 with no capabilities; the child prints. */
static void as_user(void (*fn)(void))
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		if (setgroups(0, NULL) || setgid(USER_ID) || setuid(USER_ID)) {
			printf("case=as-user-setup ret=-1 errno=%s\n", ename(errno));
			fflush(stdout);
			_exit(1);
		}
		fn();
		fflush(stdout);
		_exit(0);
	}
	waitpid(p, NULL, 0);
}

/* ---- mknod ---- */

static long mknod_(const char *path, unsigned long mode, unsigned maj, unsigned min)
{
	return syscall(SYS_mknod, path, mode, (unsigned long)makedev(maj, min));
}

/* A mknod case whose state is read back; the node stays for the host snapshot unless it is a mount point. */
static void mknod_case(const char *name, const char *path, unsigned long mode, unsigned maj, unsigned min)
{
	long r = mknod_(path, mode, maj, min);
	int e = errno;
	emit(name, r, e, node_state(path));
	if (is_mountpoint(path) == 1)
		drop_node(path);
}

static void user_mknod(void)
{
	mknod_case("mknod-user-c1:3", wpath("user/null"), S_IFCHR | 0666, 1, 3);
}

static void *thread_mknod(void *unused)
{
	(void)unused;
	mknod_case("mknod-thread-c1:3", wpath("thread-null"), S_IFCHR | 0666, 1, 3);
	return NULL;
}

/* A path that ends exactly at an unmapped page: the kernel answers EFAULT. */
static void mknod_straddle(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const char *path = wpath("straddle");
	size_t n = strlen(path);
	munmap(p + pg, (size_t)pg);
	memcpy(p + pg - n, path, n); /* no NUL before the hole */
	long r = syscall(SYS_mknod, p + pg - n, (unsigned long)(S_IFCHR | 0666), (unsigned long)makedev(1, 3));
	int e = errno;
	emit("mknod-straddle", r, e, node_state(path));
	drop_node(path);
	munmap(p, (size_t)pg);
}

static void group_mknod(void)
{
	static const unsigned allowed[][2] = { { 1, 3 }, { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 }, { 5, 0 }, { 5, 1 } };
	char name[64], rel[64];
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
		snprintf(name, sizeof name, "mknod-c%u:%u", allowed[i][0], allowed[i][1]);
		snprintf(rel, sizeof rel, "c%u-%u", allowed[i][0], allowed[i][1]);
		mknod_case(name, wpath(rel), S_IFCHR | 0666, allowed[i][0], allowed[i][1]);
	}
	mknod_case("mknod-c1:1", wpath("mem"), S_IFCHR | 0666, 1, 1);
	mknod_case("mknod-c4:1", wpath("tty1"), S_IFCHR | 0666, 4, 1);
	mknod_case("mknod-b8:0", wpath("sda"), S_IFBLK | 0600, 8, 0);
	mknod_case("mknod-b7:0", wpath("loop0"), S_IFBLK | 0600, 7, 0);
	mknod_case("mknod-fifo", wpath("fifo"), S_IFIFO | 0644, 0, 0);
	mknod_case("mknod-whiteout", wpath("whiteout"), S_IFCHR | 0000, 0, 0);
	mknod_case("mknod-mode0600", wpath("m0600"), S_IFCHR | 0600, 1, 3);

	long r = syscall(SYS_mknodat, AT_FDCWD, wpath("at-cwd"), (unsigned long)(S_IFCHR | 0666),
			 (unsigned long)makedev(1, 5));
	int e = errno;
	emit("mknodat-atfdcwd-c1:5", r, e, node_state(wpath("at-cwd")));

	int dfd = open(wpath("dfd"), O_PATH | O_DIRECTORY | O_CLOEXEC);
	r = syscall(SYS_mknodat, dfd, "node", (unsigned long)(S_IFCHR | 0666), (unsigned long)makedev(1, 3));
	e = errno;
	emit("mknodat-dirfd-c1:3", r, e, node_state(wpath("dfd/node")));
	close(dfd);

	close(open(wpath("exists"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	mknod_case("mknod-exists", wpath("exists"), S_IFCHR | 0666, 1, 3);
	mknod_case("mknod-missing-parent", wpath("missing/x"), S_IFCHR | 0666, 1, 3);
	mknod_case("mknod-parent-not-dir", wpath("exists/x"), S_IFCHR | 0666, 1, 3);

	/* Relative a/b from WORKDIR/rel, where a/a exists too: LXD's a/a/b would land there. */
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		strcpy(cwd, "/");
	if (chdir(wpath("rel")) == 0) {
		r = mknod_("a/b", S_IFCHR | 0666, 1, 3);
		e = errno;
		char st[600];
		snprintf(st, sizeof st, "%s", node_state("a/b"));
		const char *wrong = node_state("a/a/b");
		snprintf(st + strlen(st), sizeof st - strlen(st), " a/a/b:%s", wrong);
		emit("mknod-relative", r, e, st);
		if (chdir(cwd))
			perror("chdir");
	}

	/* /dev is a tmpfs owned by the container's user namespace. */
	mknod_case("mknod-dev-c1:3", "/dev/lxd-diff-null", S_IFCHR | 0666, 1, 3);
	drop_node("/dev/lxd-diff-null");

	mode_t old = umask(077);
	mknod_case("mknod-umask077", wpath("umask077"), S_IFCHR | 0666, 1, 3);
	umask(old);

	as_user(user_mknod);
	/* The user cannot unmount what LXD's fallback mounted for it. */
	if (is_mountpoint(wpath("user/null")) == 1)
		drop_node(wpath("user/null"));

	r = syscall(SYS_mknod, (char *)1, (unsigned long)(S_IFCHR | 0666), (unsigned long)makedev(1, 3));
	emit("mknod-badptr", r, errno, NULL);
	mknod_straddle();

	pthread_t th;
	if (pthread_create(&th, NULL, thread_mknod, NULL) == 0)
		pthread_join(th, NULL);
}

/* ---- setxattr ---- */

/* The xattr as this process reads it back (trusted.* is hidden from a user namespace). */
static const char *xattr_state(const char *path, const char *name)
{
	static char out[128];
	char v[64] = "";
	long n = getxattr(path, name, v, sizeof v - 1);
	if (n < 0)
		snprintf(out, sizeof out, "get=%s", ename(errno));
	else
		snprintf(out, sizeof out, "get=%.*s", (int)n, v);
	return out;
}

static void xattr_case(const char *name, const char *path, const char *attr, const char *value, int flags)
{
	long r = syscall(SYS_setxattr, path, attr, value, strlen(value), flags);
	int e = errno;
	emit(name, r, e, xattr_state(path, attr));
}

static void user_setxattr(void)
{
	xattr_case("setxattr-user-opaque", wpath("xuser"), OPAQUE, "y", 0);
	xattr_case("setxattr-user-userfoo", wpath("xuser"), "user.foo", "y", 0);
}

static void group_setxattr(void)
{
	xattr_case("setxattr-opaque-y-dir", wpath("x-opaque"), OPAQUE, "y", 0);
	xattr_case("setxattr-opaque-y-file", wpath("x-file"), OPAQUE, "y", 0);
	xattr_case("setxattr-opaque-n", wpath("x-n"), OPAQUE, "n", 0);
	xattr_case("setxattr-opaque-yy", wpath("x-yy"), OPAQUE, "yy", 0);
	xattr_case("setxattr-trusted-foo", wpath("x-foo"), "trusted.foo", "y", 0);
	xattr_case("setxattr-user-foo", wpath("x-user"), "user.foo", "y", 0);
	xattr_case("setxattr-create-1", wpath("x-create"), OPAQUE, "y", XATTR_CREATE);
	xattr_case("setxattr-create-2", wpath("x-create"), OPAQUE, "y", XATTR_CREATE);
	xattr_case("setxattr-replace-missing", wpath("x-replace"), OPAQUE, "y", XATTR_REPLACE);
	xattr_case("setxattr-symlink", wpath("x-link"), OPAQUE, "y", 0);
	xattr_case("setxattr-missing", wpath("x-missing"), OPAQUE, "y", 0);
	as_user(user_setxattr);

	long r = syscall(SYS_setxattr, (char *)1, OPAQUE, "y", 1, 0);
	emit("setxattr-badptr", r, errno, NULL);
	int fd = open(wpath("x-fset"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = syscall(SYS_fsetxattr, fd, OPAQUE, "y", 1, 0);
	int e = errno;
	emit("fsetxattr-opaque", r, e, xattr_state(wpath("x-fset"), OPAQUE));
	close(fd);
}

/* ---- sched_setscheduler ---- */

static const char *sched_state(pid_t pid)
{
	static char out[64];
	struct sched_param sp = { 0 };
	long pol = syscall(SYS_sched_getscheduler, pid);
	syscall(SYS_sched_getparam, pid, &sp);
	snprintf(out, sizeof out, "policy=%ld prio=%d", pol, sp.sched_priority);
	return out;
}

/* Each case in a fresh child, so a policy set by one case does not carry over. */
static void sched_case(const char *name, long pid, int policy, int prio, int as_uid)
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		if (as_uid && (setgroups(0, NULL) || setgid(USER_ID) || setuid(USER_ID)))
			_exit(1);
		struct sched_param sp = { .sched_priority = prio };
		long r = syscall(SYS_sched_setscheduler, pid, (long)policy, &sp);
		int e = errno;
		emit(name, r, e, sched_state(0));
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

/* A child whose container pid is FREEPID, set by another process. */
static void sched_child_case(void)
{
	int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%ld", freepid - 1);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		emit("sched-child-setup", -1, errno, NULL);
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		pause();
		_exit(0);
	}
	struct sched_param sp = { .sched_priority = 3 };
	long r = syscall(SYS_sched_setscheduler, (long)c, (long)SCHED_RR, &sp);
	int e = errno;
	char st[96];
	snprintf(st, sizeof st, "pid_is_free=%d %s", c == freepid, sched_state(c));
	emit("sched-child-rr3", r, e, st);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
}

static void group_sched(void)
{
	sched_case("sched-self-other", 0, SCHED_OTHER, 0, 0);
	sched_case("sched-self-fifo1", 0, SCHED_FIFO, 1, 0);
	sched_case("sched-self-rr50", 0, SCHED_RR, 50, 0);
	sched_case("sched-self-batch", 0, SCHED_BATCH, 0, 0);
	sched_case("sched-self-idle", 0, SCHED_IDLE, 0, 0);
	sched_case("sched-fifo100", 0, SCHED_FIFO, 100, 0);
	sched_case("sched-other-prio5", 0, SCHED_OTHER, 5, 0);
	sched_case("sched-bad-policy", 0, 42, 0, 0);
	sched_case("sched-negative-pid", -1, SCHED_FIFO, 1, 0);
	sched_case("sched-unknown-pid", freepid, SCHED_FIFO, 1, 0);
	sched_case("sched-user-fifo1", 0, SCHED_FIFO, 1, 1);
	sched_case("sched-user-other", 0, SCHED_OTHER, 0, 1);
	sched_child_case();
}

/* ---- mount ---- */

/* Owner of the mounted root and of a file on it, whether a new file can be created. */
static const char *mount_state(const char *target, const char *file)
{
	static char out[200];
	struct stat st, fst;
	char f[4096], nf[4096];
	if (is_mountpoint(target) != 1) {
		snprintf(out, sizeof out, "mounted=0");
		return out;
	}
	stat(target, &st);
	snprintf(f, sizeof f, "%s/%s", target, file);
	snprintf(nf, sizeof nf, "%s/new", target);
	int have = file[0] && stat(f, &fst) == 0;
	int fd = open(nf, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	const char *touch = fd >= 0 ? "ok" : ename(errno);
	if (fd >= 0) {
		close(fd);
		unlink(nf); /* the image must be the same for the next run */
	}
	char fo[32] = "-";
	if (have)
		snprintf(fo, sizeof fo, "%u:%u", (unsigned)fst.st_uid, (unsigned)fst.st_gid);
	snprintf(out, sizeof out, "mounted=1 root=%u:%u file=%s touch=%s", (unsigned)st.st_uid,
		 (unsigned)st.st_gid, fo, touch);
	return out;
}

static void mount_case(const char *name, const char *src, const char *target, const char *fstype,
		       unsigned long flags, const char *data, const char *file)
{
	long r = syscall(SYS_mount, src, target, fstype, flags, data);
	int e = errno;
	emit(name, r, e, target ? mount_state(target, file) : NULL);
	if (target)
		while (is_mountpoint(target) == 1 && umount2(target, 0) == 0)
			;
}

static void user_mount(void)
{
	mount_case("mount-user-ext4", "/dev/testblk", wpath("m-user"), "ext4", 0, NULL, "hello");
}

static void group_mount(void)
{
	mount_case("mount-ext4", "/dev/testblk", wpath("m-ext4"), "ext4", 0, NULL, "hello");
	mount_case("mount-ext4-ro-nosuid", "/dev/testblk", wpath("m-ext4"), "ext4", MS_RDONLY | MS_NOSUID,
		   "errors=remount-ro", "hello");
	mount_case("mount-ext2", "/dev/testblk", wpath("m-ext4"), "ext2", 0, NULL, "hello");
	mount_case("mount-tmpfs", "none", wpath("m-tmpfs"), "tmpfs", 0, "size=1m", "");
	mount_case("mount-null-fstype", "/dev/testblk", wpath("m-ext4"), NULL, 0, NULL, "hello");
	mount_case("mount-null-target", "/dev/testblk", NULL, "ext4", 0, NULL, "");
	mount_case("mount-missing-target", "/dev/testblk", wpath("m-missing"), "ext4", 0, NULL, "hello");
	mount_case("mount-missing-source", wpath("nodev"), wpath("m-ext4"), "ext4", 0, NULL, "hello");
	as_user(user_mount);
	long r = syscall(SYS_fsopen, "ext4", 0);
	emit("fsopen-ext4", r, errno, NULL);
	if (r >= 0)
		close((int)r);
}

/* ---- bpf ---- */

static int prog_load(unsigned type, unsigned attr_size, int broken)
{
	/* A runc-style device program: deny c 1:5 (/dev/zero), allow the rest. */
	struct bpf_insn prog[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 0 },
		{ .code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = 2, .imm = 0xffff },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 2, .off = 6, .imm = BPF_DEVCG_DEV_CHAR },
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 1, .off = 4 },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 3, .off = 4, .imm = 1 },
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 4, .src_reg = 1, .off = 8 },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 4, .off = 2, .imm = 5 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	unsigned char buf[512] = { 0 };
	union bpf_attr *a = (union bpf_attr *)buf;
	a->prog_type = type;
	a->insn_cnt = broken ? 7 : sizeof prog / sizeof prog[0];
	a->insns = (uint64_t)(uintptr_t)prog;
	a->license = (uint64_t)(uintptr_t)"GPL";
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, buf, attr_size);
}

static const char *fd_state(int fd)
{
	static char out[32];
	int fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	snprintf(out, sizeof out, "cloexec=%s", fl < 0 ? "-" : fl & FD_CLOEXEC ? "1" : "0");
	return out;
}

static void load_case(const char *name, unsigned type, unsigned size, int broken)
{
	int fd = prog_load(type, size, broken);
	int e = errno;
	emit(name, fd, e, fd_state(fd));
	if (fd >= 0)
		close(fd);
}

static long prog_attach(int cmd, int cg, int prog)
{
	union bpf_attr a;
	memset(&a, 0, sizeof a);
	a.target_fd = (uint32_t)cg;
	a.attach_bpf_fd = (uint32_t)prog;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = cmd == BPF_PROG_ATTACH ? BPF_F_ALLOW_MULTI : 0;
	return syscall(SYS_bpf, cmd, &a, sizeof a);
}

static void open_case(const char *name, const char *dev)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	emit(name, fd < 0 ? -1 : 0, errno, NULL);
	if (fd >= 0)
		close(fd);
}

/* Load, attach to our own cgroup2 directory, /dev/zero blocked, detach, open again. */
static void attach_cases(void)
{
	char cgpath[4096] = "", dir[4096];
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[4096];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "0::", 3))
			snprintf(cgpath, sizeof cgpath, "%s", line + 3);
	if (f)
		fclose(f);
	cgpath[strcspn(cgpath, "\n")] = '\0';
	const char *cg = wpath("cg");
	long r = syscall(SYS_mount, "none", cg, "cgroup2", 0L, NULL);
	if (r < 0) {
		emit("bpf-cgroup2-mount", r, errno, NULL);
		return;
	}
	snprintf(dir, sizeof dir, "%s%s", cg, cgpath);
	int cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int prog = prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, 120, 0);
	int e = errno;
	emit("bpf-attach-load", prog, e, fd_state(prog));
	if (prog >= 0) {
		emit("bpf-attach", prog_attach(BPF_PROG_ATTACH, cgfd, prog), errno, NULL);
		open_case("bpf-open-zero-attached", "/dev/zero");
		open_case("bpf-open-null-attached", "/dev/null");
		emit("bpf-detach", prog_attach(BPF_PROG_DETACH, cgfd, prog), errno, NULL);
		open_case("bpf-open-zero-detached", "/dev/zero");
		close(prog);
	}
	int notcg = open(W, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	prog = prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, 120, 0);
	emit("bpf-attach-not-cgroup", prog_attach(BPF_PROG_ATTACH, notcg, prog), errno, NULL);
	close(notcg);
	if (prog >= 0)
		close(prog);
	close(cgfd);
	umount2(cg, 0);
}

static void user_bpf(void)
{
	load_case("bpf-user-load-120", BPF_PROG_TYPE_CGROUP_DEVICE, 120, 0);
}

static void group_bpf(void)
{
	load_case("bpf-load-120", BPF_PROG_TYPE_CGROUP_DEVICE, 120, 0);
	load_case("bpf-load-72", BPF_PROG_TYPE_CGROUP_DEVICE, 72, 0);
	load_case("bpf-load-144", BPF_PROG_TYPE_CGROUP_DEVICE, 144, 0);
	load_case("bpf-load-socket-filter", BPF_PROG_TYPE_SOCKET_FILTER, 120, 0);
	load_case("bpf-load-rejected-by-verifier", BPF_PROG_TYPE_CGROUP_DEVICE, 120, 1);
	as_user(user_bpf);
	attach_cases();
}

/* ---- sysinfo ---- */

static void group_sysinfo(void)
{
	struct sysinfo si;
	char st[200];
	long r = syscall(SYS_sysinfo, &si);
	int e = errno;
	/* Only the fields that do not move between two runs. */
	snprintf(st, sizeof st, "totalram=%lu totalswap=%lu totalhigh=%lu mem_unit=%u procs_gt0=%d",
		 si.totalram, si.totalswap, si.totalhigh, si.mem_unit, si.procs > 0);
	emit("sysinfo", r, e, r == 0 ? st : NULL);
}

/* ---- work directory ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	while (is_mountpoint(path) == 1 && umount2(path, MNT_DETACH) == 0)
		;
	if (remove(path) < 0 && errno != ENOENT)
		fprintf(stderr, "lxd-diff: remove %s: %s\n", path, strerror(errno));
	return 0;
}

static void clean(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void prepare(void)
{
	static const char *dirs[] = { "", "dfd", "user", "rel", "rel/a", "rel/a/a", "x-opaque", "x-n",
				      "x-yy", "x-foo", "x-user", "x-create", "x-replace", "x-target",
				      "xuser", "x-fset", "m-ext4", "m-tmpfs", "m-user", "cg" };
	clean(W);
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		mkdir(wpath(dirs[i]), 0755);
	close(open(wpath("x-file"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	if (symlink("x-target", wpath("x-link")))
		perror("symlink");
	/* The non-root cases need directories of their own. */
	if (chown(wpath("user"), USER_ID, USER_ID) || chown(wpath("xuser"), USER_ID, USER_ID) ||
	    chown(wpath("m-user"), USER_ID, USER_ID))
		perror("chown");
	chmod(W, 0755);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "clean")) {
		clean(argv[2]);
		return 0;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: lxd-diff WORKDIR FREEPID GROUP... | lxd-diff clean WORKDIR\n");
		return 2;
	}
	W = argv[1];
	freepid = strtol(argv[2], NULL, 10);
	umask(022);
	prepare();
	for (int i = 3; i < argc; i++) {
		const char *g = argv[i];
		if (!strcmp(g, "mknod"))
			group_mknod();
		else if (!strcmp(g, "setxattr"))
			group_setxattr();
		else if (!strcmp(g, "sched"))
			group_sched();
		else if (!strcmp(g, "mount"))
			group_mount();
		else if (!strcmp(g, "bpf"))
			group_bpf();
		else if (!strcmp(g, "sysinfo"))
			group_sysinfo();
		else {
			fprintf(stderr, "lxd-diff: unknown group %s\n", g);
			return 2;
		}
	}
	return 0;
}
