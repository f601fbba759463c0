/*
 * probe: run inside a test container; makes raw syscalls and prints exactly
 * one JSON line per operation on stdout, e.g.
 *   {"op":"mknod","ret":-1,"errno":1,"err":"EPERM"}
 * ("err" is "" when the call succeeded). Exit status is 0 whenever the
 * operation ran, whatever the syscall returned, and 2 on a usage error.
 *
 *   probe mknod PATH TYPE MAJOR MINOR [MODE]     TYPE: c b p s r(egular)
 *   probe mknodat DIRPATH|- PATH TYPE MAJOR MINOR [MODE]
 *   probe umask OCTAL <op...>
 *   probe stat PATH                              (lstat)
 *   probe writedev PATH
 *   probe thread <op...>                         (op runs in a non-leader thread)
 *   probe bench-mknod DIR N | bench-mknod-denied DIR N | bench-getppid N
 *   probe badptr | longpath
 *   probe setxattr PATH NAME VALUE [FLAGS] | sched PID POLICY PRIO | getsched PID
 *   probe bench-setxattr PATH N | bench-sched N
 *   probe bpfdev CGDIR MAJ MIN DEVPATH [ATTRSIZE] | bpfbad | bpf-nondir PATH
 *   probe fsopen TYPE | mount SOURCE TARGET FSTYPE [FLAGS] [DATA] | pause
 *   probe sysinfo [badptr|readonly|straddle] | bench-sysinfo N  (every field, and
 *                                  whether the bytes after the struct survived)
 *   probe sigusr1 restart|norestart <op...>      (a SIGUSR1 handler, with or without
 *                                  SA_RESTART; the op's line adds "signals":N)
 *   probe mknod-fixed PATH TYPE MAJOR MINOR [MODE]  (PATH at a fixed address)
 *   probe impostor HOSTPID DIR PATH [NSPID INITPID]  (host root only: a process with
 *                                  that host pid, and NSPID in INITPID's pid and mount
 *                                  namespaces; cwd DIR, PATH at the fixed address;
 *                                  prints its line, then waits to be killed)
 *
 * Syscalls go through syscall(SYS_*) so that libc never rewrites them
 * (glibc turns mknod() into mknodat()); it builds for x86_64 and i386.
 */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <linux/bpf.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "errname.h"

static int in_thread;
static volatile sig_atomic_t signals = -1; /* -1: no handler installed */


/* Prints {"op":..,"ret":..,"errno":..,"err":..<extra>} and a newline. */
static void emit(const char *op, long ret, int err, const char *extra)
{
	char sigs[32] = "";
	if (ret >= 0)
		err = 0;
	if (signals >= 0)
		snprintf(sigs, sizeof sigs, ",\"signals\":%d", (int)signals);
	printf("{\"op\":\"%s\",\"ret\":%ld,\"errno\":%d,\"err\":\"%s\"%s%s%s}\n",
	       op, ret, err, errname(err), in_thread ? ",\"thread\":true" : "",
	       sigs, extra ? extra : "");
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: probe mknod|mknodat|umask|stat|writedev|thread|"
			"bench-mknod|bench-mknod-denied|bench-getppid|badptr|longpath ...\n");
	exit(2);
}

static long parse_num(const char *s, int base)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, base);
	if (errno || *s == '\0' || *end != '\0') {
		fprintf(stderr, "probe: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static unsigned long type_bits(const char *t)
{
	switch (t[0] && !t[1] ? t[0] : '?') {
	case 'c': return S_IFCHR;
	case 'b': return S_IFBLK;
	case 'p': return S_IFIFO;
	case 's': return S_IFSOCK;
	case 'r': return S_IFREG;
	}
	fprintf(stderr, "probe: bad type '%s'\n", t);
	exit(2);
}

/* The kernel takes a 32-bit dev on both ABIs; pass it as one long so that
 * i386 varargs do not split a 64-bit dev_t across two slots. */
static unsigned long dev_arg(const char *maj, const char *min)
{
	return (unsigned long)makedev(parse_num(maj, 10), parse_num(min, 10));
}

/* argv: TYPE MAJOR MINOR [MODE] */
static unsigned long mode_arg(int argc, char **argv)
{
	unsigned long perm = argc > 3 ? (unsigned long)parse_num(argv[3], 8) : 0666;
	return type_bits(argv[0]) | perm;
}

static void op_mknod(int argc, char **argv)
{
	if (argc < 4)
		usage();
	long r = syscall(SYS_mknod, argv[0], mode_arg(argc - 1, argv + 1),
			 dev_arg(argv[2], argv[3]));
	emit("mknod", r, errno, NULL);
}

static void op_mknodat(int argc, char **argv)
{
	if (argc < 5)
		usage();
	long dirfd = AT_FDCWD;
	if (strcmp(argv[0], "-") != 0) {
		dirfd = open(argv[0], O_DIRECTORY | O_PATH | O_CLOEXEC);
		if (dirfd < 0) {
			emit("mknodat", -1, errno, ",\"stage\":\"open\"");
			return;
		}
	}
	long r = syscall(SYS_mknodat, dirfd, argv[1], mode_arg(argc - 2, argv + 2),
			 dev_arg(argv[3], argv[4]));
	int e = errno;
	if (dirfd >= 0)
		close(dirfd);
	emit("mknodat", r, e, NULL);
}

static void op_stat(int argc, char **argv)
{
	struct stat st;
	char extra[160];
	if (argc < 1)
		usage();
	if (lstat(argv[0], &st) < 0) {
		emit("stat", -1, errno, NULL);
		return;
	}
	char t = S_ISCHR(st.st_mode) ? 'c' : S_ISBLK(st.st_mode) ? 'b' :
		 S_ISFIFO(st.st_mode) ? 'p' : S_ISSOCK(st.st_mode) ? 's' :
		 S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f';
	snprintf(extra, sizeof extra,
		 ",\"type\":\"%c\",\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u,\"major\":%u,\"minor\":%u",
		 t, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (unsigned)st.st_gid,
		 major(st.st_rdev), minor(st.st_rdev));
	emit("stat", 0, 0, extra);
}

static void op_writedev(int argc, char **argv)
{
	if (argc < 1)
		usage();
	int fd = open(argv[0], O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		emit("writedev", -1, errno, ",\"stage\":\"open\"");
		return;
	}
	long r = write(fd, "probe", 5);
	int e = errno;
	close(fd);
	emit("writedev", r, e, NULL);
}

static void op_badptr(void)
{
	long r = syscall(SYS_mknod, (char *)1, (unsigned long)(S_IFCHR | 0666),
			 (unsigned long)makedev(1, 3));
	emit("badptr", r, errno, NULL);
}

/* A path that fills a whole page with no NUL, followed by an unmapped page. */
static void op_longpath(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		emit("longpath", -1, errno, ",\"stage\":\"mmap\"");
		return;
	}
	munmap(p + pg, pg);
	memset(p, 'a', pg);
	long r = syscall(SYS_mknod, p, (unsigned long)(S_IFCHR | 0666),
			 (unsigned long)makedev(1, 3));
	emit("longpath", r, errno, NULL);
	munmap(p, pg);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

enum bench { B_MKNOD, B_DENIED, B_GETPPID };

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double pct_us(const uint64_t *s, long n, double p)
{
	long i = (long)(p * (double)n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return (double)s[i] / 1000.0;
}

/* Sorts the samples (ns), prints one JSON line of percentiles (µs), frees them. */
static void bench_report(const char *op, uint64_t *s, long n, long errors, int first_err)
{
	qsort(s, (size_t)n, sizeof *s, cmp_u64);
	printf("{\"op\":\"%s\",\"count\":%ld,\"errors\":%ld,\"err\":\"%s\","
	       "\"median_us\":%.3f,\"p99_us\":%.3f,\"p999_us\":%.3f,\"min_us\":%.3f,\"max_us\":%.3f}\n",
	       op, n, errors, errname(first_err), pct_us(s, n, 0.5), pct_us(s, n, 0.99),
	       pct_us(s, n, 0.999), (double)s[0] / 1000.0, (double)s[n - 1] / 1000.0);
	fflush(stdout);
	free(s);
}

static void op_bench(enum bench kind, const char *op, const char *dir, const char *count)
{
	long n = parse_num(count, 10);
	if (n < 1)
		usage();
	uint64_t *s = malloc((size_t)n * sizeof *s);
	char path[4096];
	if (!s)
		exit(1);
	if (dir) {
		snprintf(path, sizeof path, "%s/%s", dir, kind == B_DENIED ? "bench-denied" : "bench");
		unlink(path); /* left over from an interrupted run */
	}
	unsigned long mode = kind == B_DENIED ? S_IFBLK | 0600 : S_IFCHR | 0666;
	unsigned long dev = kind == B_DENIED ? makedev(8, 0) : makedev(1, 3);
	long errors = 0;
	int first_err = 0;
	for (long i = 0; i < n; i++) {
		long r;
		uint64_t t0 = now_ns();
		if (kind == B_GETPPID)
			r = syscall(SYS_getppid);
		else
			r = syscall(SYS_mknod, path, mode, dev);
		int e = errno;
		uint64_t t1 = now_ns();
		s[i] = t1 - t0;
		if (r < 0 && !errors++)
			first_err = e;
		/* Unlink even after a failure: a node made by a call answered with an error must not fail the rest. */
		if (kind == B_MKNOD)
			unlink(path);
	}
	bench_report(op, s, n, errors, first_err);
}

/* setxattr PATH NAME VALUE [FLAGS]: the raw syscall, size = strlen(VALUE). */
static void op_setxattr(int argc, char **argv)
{
	if (argc < 3)
		usage();
	long flags = argc > 3 ? parse_num(argv[3], 10) : 0;
	long r = syscall(SYS_setxattr, argv[0], argv[1], argv[2], strlen(argv[2]), flags);
	emit("setxattr", r, errno, NULL);
}

/* sched PID POLICY PRIORITY: the raw syscall. */
static void op_sched(int argc, char **argv)
{
	if (argc < 3)
		usage();
	struct sched_param sp = { .sched_priority = (int)parse_num(argv[2], 10) };
	long r = syscall(SYS_sched_setscheduler, (int)parse_num(argv[0], 10), (int)parse_num(argv[1], 10), &sp);
	emit("sched", r, errno, NULL);
}

/* getsched PID: policy and priority as the kernel reports them. */
static void op_getsched(int argc, char **argv)
{
	char extra[96];
	struct sched_param sp = { 0 };
	if (argc < 1)
		usage();
	int pid = (int)parse_num(argv[0], 10);
	long pol = syscall(SYS_sched_getscheduler, pid);
	int e = errno;
	if (pol < 0) {
		emit("getsched", pol, e, NULL);
		return;
	}
	syscall(SYS_sched_getparam, pid, &sp);
	snprintf(extra, sizeof extra, ",\"policy\":%ld,\"priority\":%d", pol, sp.sched_priority);
	emit("getsched", 0, 0, extra);
}

/* bench-setxattr PATH N | bench-sched N: latency of an intercepted call, same output as op_bench. */
static void op_bench_call(const char *op, const char *path, const char *count)
{
	long n = parse_num(count, 10), errors = 0;
	int first_err = 0;
	uint64_t *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
	struct sched_param sp = { 0 };
	if (n < 1 || !s)
		usage();
	for (long i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		long r = path ? syscall(SYS_setxattr, path, "trusted.overlay.opaque", "y", 1, 0)
			      : syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &sp);
		int e = errno;
		s[i] = now_ns() - t0;
		if (r < 0 && !errors++)
			first_err = e;
	}
	bench_report(op, s, n, errors, first_err);
}

/* sysinfo [badptr]: the raw syscall into a larger buffer full of a canary; the 8
 * bytes after sizeof(struct sysinfo) (64 on i386, 112 on x86_64) must survive. */
static void op_sysinfo(int argc, char **argv)
{
	unsigned char buf[sizeof(struct sysinfo) + 64];
	struct sysinfo si;
	char extra[640];
	memset(buf, 0xa5, sizeof buf);
	if (argc > 0) {
		/* badptr: unmapped; readonly: a PROT_READ page; straddle: the struct runs
		 * into an unmapped page. The kernel answers EFAULT to each. */
		long pg = sysconf(_SC_PAGESIZE), r;
		unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			emit("sysinfo", -1, errno, ",\"stage\":\"mmap\"");
			return;
		}
		munmap(p + pg, pg);
		if (!strcmp(argv[0], "badptr")) {
			r = syscall(SYS_sysinfo, (void *)1);
		} else if (!strcmp(argv[0], "readonly")) {
			mprotect(p, pg, PROT_READ);
			r = syscall(SYS_sysinfo, p);
		} else if (!strcmp(argv[0], "straddle")) {
			r = syscall(SYS_sysinfo, p + pg - 40);
		} else {
			usage();
		}
		emit("sysinfo", r, errno, NULL);
		munmap(p, pg);
		return;
	}
	long r = syscall(SYS_sysinfo, buf);
	int e = errno;
	int canary_ok = 1;
	for (size_t i = sizeof si; i < sizeof si + 8; i++)
		canary_ok &= buf[i] == 0xa5;
	memcpy(&si, buf, sizeof si);
	snprintf(extra, sizeof extra,
		 ",\"size\":%u,\"uptime\":%lld,\"loads\":[%llu,%llu,%llu],\"totalram\":%llu,"
		 "\"freeram\":%llu,\"sharedram\":%llu,\"bufferram\":%llu,\"totalswap\":%llu,"
		 "\"freeswap\":%llu,\"procs\":%u,\"totalhigh\":%llu,\"freehigh\":%llu,"
		 "\"mem_unit\":%u,\"canary_ok\":%s",
		 (unsigned)sizeof si, (long long)si.uptime, (unsigned long long)si.loads[0],
		 (unsigned long long)si.loads[1], (unsigned long long)si.loads[2],
		 (unsigned long long)si.totalram, (unsigned long long)si.freeram,
		 (unsigned long long)si.sharedram, (unsigned long long)si.bufferram,
		 (unsigned long long)si.totalswap, (unsigned long long)si.freeswap,
		 (unsigned)si.procs, (unsigned long long)si.totalhigh,
		 (unsigned long long)si.freehigh, (unsigned)si.mem_unit,
		 canary_ok ? "true" : "false");
	emit("sysinfo", r, e, r == 0 ? extra : NULL);
}

/* bench-sysinfo N: latency of sysinfo(), same output as op_bench. */
static void op_bench_sysinfo(const char *op, const char *count)
{
	long n = parse_num(count, 10), errors = 0;
	int first_err = 0;
	uint64_t *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
	struct sysinfo si;
	if (n < 1 || !s)
		usage();
	for (long i = 0; i < n; i++) {
		uint64_t t0 = now_ns();
		long r = syscall(SYS_sysinfo, &si);
		int e = errno;
		s[i] = now_ns() - t0;
		if (r < 0 && !errors++)
			first_err = e;
	}
	bench_report(op, s, n, errors, first_err);
}

/* A runc-style device program: deny char device MAJ:MIN, allow everything else. */
static int bpf_load_dev(unsigned maj, unsigned min, unsigned attr_size, char *log, unsigned log_size, int broken)
{
	struct bpf_insn prog[] = {
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 0 },
		{ .code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = 2, .imm = 0xffff },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 2, .off = 6, .imm = BPF_DEVCG_DEV_CHAR },
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 1, .off = 4 },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 3, .off = 4, .imm = (int)maj },
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 4, .src_reg = 1, .off = 8 },
		{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 4, .off = 2, .imm = (int)min },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	unsigned char attr_buf[4096] = { 0 };
	union bpf_attr *a = (union bpf_attr *)attr_buf;
	a->prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	/* A broken program: the verifier rejects a path that falls off the end. */
	a->insn_cnt = broken ? 7 : sizeof(prog) / sizeof(prog[0]);
	a->insns = (uint64_t)(uintptr_t)prog;
	a->license = (uint64_t)(uintptr_t)"GPL";
	if (log) {
		a->log_level = 1;
		a->log_size = log_size;
		a->log_buf = (uint64_t)(uintptr_t)log;
	}
	return (int)syscall(SYS_bpf, BPF_PROG_LOAD, attr_buf, attr_size);
}

static long bpf_attach(int cmd, int cgfd, int progfd, unsigned flags)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)progfd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = flags;
	return syscall(SYS_bpf, cmd, &a, sizeof(a));
}

static void emit_open(const char *op, const char *dev)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC);
	emit(op, fd < 0 ? -1 : 0, errno, NULL);
	if (fd >= 0)
		close(fd);
}

/*
 * bpfdev CGDIR MAJ MIN DEVPATH [ATTRSIZE]: what runc does for device rules, one JSON
 * line per step: load, attach to CGDIR, open DEVPATH (blocked), detach, open again.
 */
static void op_bpfdev(int argc, char **argv)
{
	char extra[96];
	if (argc < 4)
		usage();
	unsigned size = argc > 4 ? (unsigned)parse_num(argv[4], 10) : (unsigned)sizeof(union bpf_attr);
	int prog = bpf_load_dev((unsigned)parse_num(argv[1], 10), (unsigned)parse_num(argv[2], 10), size, NULL, 0, 0);
	int e = errno;
	snprintf(extra, sizeof extra, ",\"attr_size\":%u,\"cloexec\":%s", size,
		 prog >= 0 && (fcntl(prog, F_GETFD) & FD_CLOEXEC) ? "true" : "false");
	emit("bpf-load", prog, e, extra);
	if (prog < 0)
		return;
	int cg = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long r = bpf_attach(BPF_PROG_ATTACH, cg, prog, BPF_F_ALLOW_MULTI);
	emit("bpf-attach", r, errno, NULL);
	emit_open("open-while-attached", argv[3]);
	emit_open("open-other-device", "/dev/null");
	r = bpf_attach(BPF_PROG_DETACH, cg, prog, 0);
	emit("bpf-detach", r, errno, NULL);
	emit_open("open-after-detach", argv[3]);
}

/* bpfbad: a program the verifier rejects; its log must come back in our buffer. */
static void op_bpfbad(void)
{
	static char log[65536];
	char extra[64];
	int r = bpf_load_dev(1, 3, sizeof(union bpf_attr), log, sizeof(log), 1);
	snprintf(extra, sizeof extra, ",\"log_len\":%zu", strlen(log));
	emit("bpf-verifier", r, errno, extra);
}

/* bpfattach-nondir PATH: attach with a target fd that is not a cgroup. */
static void op_bpf_nondir(int argc, char **argv)
{
	if (argc < 1)
		usage();
	int prog = bpf_load_dev(1, 5, sizeof(union bpf_attr), NULL, 0, 0);
	int fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	long r = bpf_attach(BPF_PROG_ATTACH, fd, prog, BPF_F_ALLOW_MULTI);
	emit("bpf-attach-nondir", r, errno, NULL);
}

/* fsopen TYPE: is the new mount API blocked (ENOSYS) or refused by the kernel? */
static void op_fsopen(int argc, char **argv)
{
	if (argc < 1)
		usage();
	long r = syscall(SYS_fsopen, argv[0], 0);
	emit("fsopen", r, errno, NULL);
	if (r >= 0)
		close((int)r);
}

/* mount SOURCE TARGET FSTYPE [FLAGS] [DATA]: the raw syscall. */
static void op_mount(int argc, char **argv)
{
	if (argc < 3)
		usage();
	unsigned long flags = argc > 3 ? (unsigned long)parse_num(argv[3], 0) : 0;
	long r = syscall(SYS_mount, argv[0], argv[1], argv[2], flags, argc > 4 ? argv[4] : NULL);
	emit("mount", r, errno, NULL);
}

static void run(int argc, char **argv);

static void on_signal(int sig)
{
	(void)sig;
	signals++;
}

/* sigusr1 restart|norestart <op...>: the op runs with a SIGUSR1 handler installed. */
static void op_sigusr1(int argc, char **argv)
{
	struct sigaction sa;
	if (argc < 2 || (strcmp(argv[0], "restart") && strcmp(argv[0], "norestart")))
		usage();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = strcmp(argv[0], "restart") ? 0 : SA_RESTART;
	sigemptyset(&sa.sa_mask);
	signals = 0;
	if (sigaction(SIGUSR1, &sa, NULL)) {
		emit("sigusr1", -1, errno, ",\"stage\":\"sigaction\"");
		return;
	}
	run(argc - 1, argv + 1);
}

/* The same address in every probe: a process that reuses a caller's pid can hold another path there. */
#define FIXED_ADDR 0x100000000000ULL

static char *fixed_path(const char *path)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p = mmap((void *)(uintptr_t)FIXED_ADDR, pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	snprintf(p, pg, "%s", path);
	return p;
}

/* mknod-fixed PATH TYPE MAJOR MINOR [MODE]: mknod with PATH at FIXED_ADDR. */
static void op_mknod_fixed(int argc, char **argv)
{
	if (argc < 4)
		usage();
	char *p = fixed_path(argv[0]);
	if (!p) {
		emit("mknod-fixed", -1, errno, ",\"stage\":\"mmap\"");
		return;
	}
	long r = syscall(SYS_mknod, p, mode_arg(argc - 1, argv + 1), dev_arg(argv[2], argv[3]));
	emit("mknod-fixed", r, errno, NULL);
}

/*
 * impostor HOSTPID DIR PATH [NSPID INITPID]: run by host root. Creates a process whose
 * pid is HOSTPID on the host (and NSPID in INITPID's pid namespace, whose mount
 * namespace it also enters), with cwd DIR and PATH at FIXED_ADDR: what a dead caller's
 * pid, reused, would name. The child prints the line; this process waits for it.
 */
static void op_impostor(int argc, char **argv)
{
	pid_t tids[2];
	struct clone_args ca;
	char ns[64], extra[64];
	int levels = 1;
	if (argc != 3 && argc != 5)
		usage();
	tids[0] = (pid_t)parse_num(argv[0], 10);
	if (argc == 5) {
		const char *kinds[] = { "pid", "mnt" };
		int types[] = { CLONE_NEWPID, CLONE_NEWNS };
		for (int i = 0; i < 2; i++) {
			snprintf(ns, sizeof ns, "/proc/%s/ns/%s", argv[4], kinds[i]);
			int fd = open(ns, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, types[i])) {
				emit("impostor", -1, errno, ",\"stage\":\"setns\"");
				return;
			}
			close(fd);
		}
		/* set_tid lists the innermost namespace first. */
		tids[1] = tids[0];
		tids[0] = (pid_t)parse_num(argv[3], 10);
		levels = 2;
	}
	memset(&ca, 0, sizeof ca);
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)tids;
	ca.set_tid_size = (uint64_t)levels;
	long child = syscall(SYS_clone3, &ca, sizeof ca);
	if (child < 0) {
		emit("impostor", -1, errno, ",\"stage\":\"clone3\"");
		return;
	}
	if (child == 0) {
		if (chdir(argv[1]) || !fixed_path(argv[2])) {
			emit("impostor", -1, errno, ",\"stage\":\"setup\"");
			_exit(1);
		}
		snprintf(extra, sizeof extra, ",\"pid\":%d", (int)getpid());
		emit("impostor", 0, 0, extra);
		pause();
		_exit(0);
	}
	waitpid((pid_t)child, NULL, 0);
}

struct thread_args {
	int argc;
	char **argv;
};

static void *thread_main(void *p)
{
	struct thread_args *a = p;
	in_thread = 1;
	run(a->argc, a->argv);
	return NULL;
}

/* argv[0] is the operation name. */
static void run(int argc, char **argv)
{
	if (argc < 1)
		usage();
	const char *op = argv[0];
	argc--, argv++;
	if (!strcmp(op, "mknod")) {
		op_mknod(argc, argv);
	} else if (!strcmp(op, "mknodat")) {
		op_mknodat(argc, argv);
	} else if (!strcmp(op, "umask")) {
		if (argc < 2)
			usage();
		umask((mode_t)parse_num(argv[0], 8));
		run(argc - 1, argv + 1);
	} else if (!strcmp(op, "stat")) {
		op_stat(argc, argv);
	} else if (!strcmp(op, "writedev")) {
		op_writedev(argc, argv);
	} else if (!strcmp(op, "thread")) {
		struct thread_args a = { argc, argv };
		pthread_t th;
		int e = pthread_create(&th, NULL, thread_main, &a);
		if (e) {
			emit("thread", -1, e, ",\"stage\":\"pthread_create\"");
			return;
		}
		pthread_join(th, NULL);
	} else if (!strcmp(op, "bench-mknod") || !strcmp(op, "bench-mknod-denied")) {
		if (argc < 2)
			usage();
		op_bench(strcmp(op, "bench-mknod") ? B_DENIED : B_MKNOD, op, argv[0], argv[1]);
	} else if (!strcmp(op, "bench-getppid")) {
		if (argc < 1)
			usage();
		op_bench(B_GETPPID, op, NULL, argv[0]);
	} else if (!strcmp(op, "setxattr")) {
		op_setxattr(argc, argv);
	} else if (!strcmp(op, "sched")) {
		op_sched(argc, argv);
	} else if (!strcmp(op, "getsched")) {
		op_getsched(argc, argv);
	} else if (!strcmp(op, "bench-setxattr")) {
		if (argc < 2)
			usage();
		op_bench_call(op, argv[0], argv[1]);
	} else if (!strcmp(op, "bench-sched")) {
		if (argc < 1)
			usage();
		op_bench_call(op, NULL, argv[0]);
	} else if (!strcmp(op, "sysinfo")) {
		op_sysinfo(argc, argv);
	} else if (!strcmp(op, "bench-sysinfo")) {
		if (argc < 1)
			usage();
		op_bench_sysinfo(op, argv[0]);
	} else if (!strcmp(op, "bpfdev")) {
		op_bpfdev(argc, argv);
	} else if (!strcmp(op, "bpfbad")) {
		op_bpfbad();
	} else if (!strcmp(op, "bpf-nondir")) {
		op_bpf_nondir(argc, argv);
	} else if (!strcmp(op, "pause")) {
		pause(); /* a program that hangs, recognisable by its command line */
	} else if (!strcmp(op, "mount")) {
		op_mount(argc, argv);
	} else if (!strcmp(op, "fsopen")) {
		op_fsopen(argc, argv);
	} else if (!strcmp(op, "sigusr1")) {
		op_sigusr1(argc, argv);
	} else if (!strcmp(op, "mknod-fixed")) {
		op_mknod_fixed(argc, argv);
	} else if (!strcmp(op, "impostor")) {
		op_impostor(argc, argv);
	} else if (!strcmp(op, "badptr")) {
		op_badptr();
	} else if (!strcmp(op, "longpath")) {
		op_longpath();
	} else {
		usage();
	}
}

int main(int argc, char **argv)
{
	run(argc - 1, argv + 1);
	return 0;
}
