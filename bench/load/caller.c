/*
 * bench-caller: runs inside a container (LXC, LXD or OCI) and times one kind of
 * syscall in a tight loop. Prints one JSON line with every sample in nanoseconds, so
 * that the bench can pool rounds and compute its own percentiles.
 *
 *   bench-caller CASE WARMUP N [ARG] [START_NS END_NS]
 *
 * CASE:
 *   getppid          not intercepted (the baseline)
 *   mknod DIR        mknod DIR/bench-<pid> c 1:3, then an untimed unlink (emulated)
 *   mknod-declined DIR   mknod DIR/bench-<pid>-b b 8:0 (declined: CONTINUE, EPERM from the kernel)
 *   mknod-eexist DIR mknod c 1:3 over an existing regular file (EEXIST, via the helper)
 *   setxattr PATH    setxattr PATH trusted.overlay.opaque=y (emulated)
 *   sched            sched_setscheduler(0, SCHED_OTHER) (emulated)
 *   sysinfo          sysinfo() (emulated from the cgroups)
 *   bpf-denied       BPF_PROG_LOAD of a CGROUP_DEVICE program the verifier rejects
 *                    (an errno answered by the daemon itself, no helper)
 *
 * WARMUP calls run first and are not recorded. With START_NS/END_NS (CLOCK_MONOTONIC,
 * the same clock in every container) the timed loop waits for START_NS and stops at
 * END_NS or after N calls, whichever comes first: every container of a throughput run
 * measures the same window. Output:
 *   {"case":..,"count":..,"errors":..,"err":..,"errnos":{"EPERM":n,..},"t0_ns":..,"t1_ns":..,"ns":[..]}
 * Exit status 0 when the loop ran, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include "../../integration/probe/errname.h"

enum kind { GETPPID, MKNOD, MKNOD_DECLINED, MKNOD_EEXIST, SETXATTR, SCHED, SYSINFO, BPF_DENIED };

static const struct { const char *name; enum kind kind; int needs_arg; } CASES[] = {
	{ "getppid", GETPPID, 0 },     { "mknod", MKNOD, 1 },       { "mknod-declined", MKNOD_DECLINED, 1 },
	{ "mknod-eexist", MKNOD_EEXIST, 1 }, { "setxattr", SETXATTR, 1 }, { "sched", SCHED, 0 },
	{ "sysinfo", SYSINFO, 0 },     { "bpf-denied", BPF_DENIED, 0 },
};

static void usage(void)
{
	fprintf(stderr, "usage: bench-caller CASE WARMUP N [ARG] [START_NS END_NS]\n");
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long parse_long(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < 0)
		usage();
	return (long)v;
}

/* A CGROUP_DEVICE program cut short: the verifier rejects a path that falls off the end. */
static struct bpf_insn bad_prog[] = {
	{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 0 },
	{ .code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = 2, .imm = 0xffff },
	{ .code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 2, .off = 6, .imm = BPF_DEVCG_DEV_CHAR },
};

struct ctx {
	enum kind kind;
	char path[4096];
	union bpf_attr attr;
	struct sched_param sp;
	struct sysinfo si;
};

/* One call; returns 0 or an errno. Only the syscall itself is inside the timed region. */
static int call(struct ctx *c, uint64_t *elapsed)
{
	long r = 0;
	uint64_t t0 = now_ns();
	switch (c->kind) {
	case GETPPID:
		r = syscall(SYS_getppid);
		break;
	case MKNOD:
	case MKNOD_EEXIST:
		r = syscall(SYS_mknod, c->path, S_IFCHR | 0666, makedev(1, 3));
		break;
	case MKNOD_DECLINED:
		r = syscall(SYS_mknod, c->path, S_IFBLK | 0600, makedev(8, 0));
		break;
	case SETXATTR:
		r = syscall(SYS_setxattr, c->path, "trusted.overlay.opaque", "y", 1, 0);
		break;
	case SCHED:
		r = syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, &c->sp);
		break;
	case SYSINFO:
		r = syscall(SYS_sysinfo, &c->si);
		break;
	case BPF_DENIED:
		r = syscall(SYS_bpf, BPF_PROG_LOAD, &c->attr, sizeof c->attr);
		break;
	}
	int e = r < 0 ? errno : 0;
	*elapsed = now_ns() - t0;
	if (r >= 0 && (c->kind == MKNOD || c->kind == MKNOD_DECLINED))
		unlink(c->path);
	if (r >= 0 && c->kind == BPF_DENIED)
		close((int)r);
	return e;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		usage();
	struct ctx c;
	memset(&c, 0, sizeof c);
	int found = 0, needs_arg = 0;
	for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
		if (!strcmp(argv[1], CASES[i].name)) {
			c.kind = CASES[i].kind;
			needs_arg = CASES[i].needs_arg;
			found = 1;
		}
	}
	if (!found)
		usage();
	long warmup = parse_long(argv[2]), n = parse_long(argv[3]);
	int next = 4;
	const char *arg = NULL;
	if (needs_arg) {
		if (argc <= next)
			usage();
		arg = argv[next++];
	}
	uint64_t start_at = 0, end_at = UINT64_MAX;
	if (argc == next + 2) {
		start_at = (uint64_t)parse_long(argv[next]);
		end_at = (uint64_t)parse_long(argv[next + 1]);
	} else if (argc != next) {
		usage();
	}
	if (n < 1)
		usage();

	switch (c.kind) {
	case MKNOD:
		snprintf(c.path, sizeof c.path, "%s/bench-%d", arg, getpid());
		unlink(c.path);
		break;
	case MKNOD_DECLINED:
		snprintf(c.path, sizeof c.path, "%s/bench-%d-b", arg, getpid());
		break;
	case MKNOD_EEXIST: {
		snprintf(c.path, sizeof c.path, "%s/bench-%d-exists", arg, getpid());
		int fd = open(c.path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			perror("open");
			return 1;
		}
		close(fd);
		break;
	}
	case SETXATTR:
		snprintf(c.path, sizeof c.path, "%s", arg);
		break;
	case BPF_DENIED:
		c.attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
		c.attr.insn_cnt = sizeof bad_prog / sizeof bad_prog[0];
		c.attr.insns = (uint64_t)(uintptr_t)bad_prog;
		c.attr.license = (uint64_t)(uintptr_t)"GPL";
		break;
	default:
		break;
	}

	uint64_t *s = malloc((size_t)n * sizeof *s);
	if (!s)
		return 1;
	memset(s, 0, (size_t)n * sizeof *s); /* fault the pages in before timing */
	uint64_t dt;
	for (long i = 0; i < warmup; i++)
		call(&c, &dt);
	while (start_at && now_ns() < start_at)
		usleep(100);

	long count = 0, errors = 0;
	int first_err = 0;
	/* Every distinct errno seen, with its count (a run mixing EPERM and ENOSYS is not valid). */
	int seen_err[8] = { 0 };
	long seen_count[8] = { 0 };
	uint64_t t0 = now_ns();
	while (count < n) {
		int e = call(&c, &s[count]);
		if (e && !errors++)
			first_err = e;
		for (int k = 0; e && k < 8; k++) {
			if (seen_err[k] == e || seen_err[k] == 0) {
				seen_err[k] = e;
				seen_count[k]++;
				break;
			}
		}
		count++;
		if (end_at != UINT64_MAX && (count & 15) == 0 && now_ns() >= end_at)
			break;
	}
	uint64_t t1 = now_ns();
	if (c.kind == MKNOD_EEXIST)
		unlink(c.path);

	printf("{\"case\":\"%s\",\"count\":%ld,\"errors\":%ld,\"err\":\"%s\",\"errnos\":{",
	       argv[1], count, errors, errname(first_err));
	for (int k = 0; k < 8 && seen_err[k]; k++)
		printf("%s\"%s\":%ld", k ? "," : "", errname(seen_err[k]), seen_count[k]);
	printf("},\"t0_ns\":%llu,\"t1_ns\":%llu,\"ns\":[", (unsigned long long)t0, (unsigned long long)t1);
	for (long i = 0; i < count; i++)
		printf(i ? ",%llu" : "%llu", (unsigned long long)s[i]);
	printf("]}\n");
	fflush(stdout);
	free(s);
	return 0;
}
