/*
 * fake-monitors: stands in for liblxc monitors when real containers would be too many
 * for the machine (bench only). Each fake monitor is one SOCK_SEQPACKET connection that
 * sends well-formed requests with three real fds, as liblxc does, and waits for each
 * 136-byte reply.
 *
 *   fake-monitors ready SOCKET TIMEOUT_MS
 *       Retries connect every 200 µs until a request is answered; prints
 *       {"ready_ns":<CLOCK_MONOTONIC>,"attempts":N} (the bench spawned the daemon just
 *       before, on the same clock).
 *   fake-monitors peers SOCKET COUNT PREFIX REQS
 *       COUNT connections, cookie PREFIX-<i>, each with its own sleeping "init" process
 *       (a forked child, so per-container caches see COUNT different inits). Each sends
 *       REQS requests, alternating a declined mknod b 8:0 and a sysinfo. Prints
 *       {"connected":..,"replies":..} and keeps every connection open until stdin closes.
 *
 * The listener fd (fd #2) is a /proc directory, not a seccomp listener, so requests that
 * reach NOTIF_ID_VALID are answered CONTINUE: these peers measure connection and
 * per-container state, not emulation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define AUDIT_ARCH_X86_64 0xC000003Eu

static struct seccomp_notif_sizes sizes;
static struct sysinfo target_buf;
static const char target_path[] = "/tmp/fake-monitor-node";

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request as liblxc builds it; 0 once a full-length reply came back within timeout_ms. */
static int request(int sock, pid_t init, const char *cookie, uint64_t id, int sysinfo_call, int timeout_ms)
{
	unsigned char msg[512];
	size_t clen = strlen(cookie);
	size_t reply_len = 32 + sizes.seccomp_notif + sizes.seccomp_notif_resp;
	memset(msg, 0, sizeof msg);
	int32_t pid = init;
	uint16_t s[3] = { sizes.seccomp_notif, sizes.seccomp_notif_resp, sizes.seccomp_data };
	uint64_t cl = clen;
	memcpy(msg + 8, &pid, 4);   /* monitor_pid */
	memcpy(msg + 12, &pid, 4);  /* init_pid */
	memcpy(msg + 16, s, 6);
	memcpy(msg + 24, &cl, 8);
	struct seccomp_notif *n = (struct seccomp_notif *)(msg + 32);
	n->id = id;
	n->pid = (uint32_t)init;
	n->data.arch = AUDIT_ARCH_X86_64;
	if (sysinfo_call) {
		n->data.nr = SYS_sysinfo;
		n->data.args[0] = (uint64_t)(uintptr_t)&target_buf;
	} else {
		n->data.nr = SYS_mknod;
		n->data.args[0] = (uint64_t)(uintptr_t)target_path;
		n->data.args[1] = S_IFBLK | 0600;
		n->data.args[2] = makedev(8, 0);
	}
	memcpy(msg + 32 + sizes.seccomp_notif, &id, 8);
	memcpy(msg + reply_len, cookie, clen);

	char proc[64], mem[64];
	snprintf(proc, sizeof proc, "/proc/%d", init);
	snprintf(mem, sizeof mem, "/proc/%d/mem", init);
	int fds[3] = { open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC), open(mem, O_RDWR | O_CLOEXEC),
		       open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC) };
	char cbuf[CMSG_SPACE(sizeof fds)];
	struct iovec iov = { msg, reply_len + clen };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(cm), fds, sizeof fds);
	ssize_t sent = sendmsg(sock, &mh, MSG_NOSIGNAL);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	if (sent < 0)
		return -1;
	struct pollfd p = { .fd = sock, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	unsigned char reply[512];
	return recv(sock, reply, sizeof reply, 0) == (ssize_t)reply_len ? 0 : -1;
}

static int cmd_ready(const char *path, long timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	long attempts = 0;
	while (now_ns() < deadline) {
		attempts++;
		int fd = connect_to(path);
		if (fd >= 0) {
			int ok = request(fd, getpid(), "bench-ready", 1, 0, (int)timeout_ms) == 0;
			uint64_t t = now_ns();
			close(fd);
			if (ok) {
				printf("{\"ready_ns\":%llu,\"attempts\":%ld}\n", (unsigned long long)t, attempts);
				return 0;
			}
		}
		usleep(200);
	}
	printf("{\"ready_ns\":0,\"attempts\":%ld}\n", attempts);
	return 1;
}

static int cmd_peers(const char *path, long count, const char *prefix, long reqs)
{
	int *socks = calloc((size_t)count, sizeof *socks);
	if (!socks)
		return 1;
	long connected = 0, replies = 0;
	for (long i = 0; i < count; i++) {
		pid_t init = fork();
		if (init == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (long j = 0; j < i; j++)
				if (socks[j] >= 0)
					close(socks[j]);
			for (;;)
				pause();
		}
		char cookie[128];
		snprintf(cookie, sizeof cookie, "%s-%ld", prefix, i);
		socks[i] = connect_to(path);
		if (socks[i] < 0)
			continue;
		connected++;
		for (long r = 0; r < reqs; r++)
			replies += request(socks[i], init, cookie, (uint64_t)(i * reqs + r + 1), (int)(r & 1), 5000) == 0;
	}
	printf("{\"connected\":%ld,\"replies\":%ld}\n", connected, replies);
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
	for (long i = 0; i < count; i++)
		if (socks[i] >= 0)
			close(socks[i]);
	return 0;
}

int main(int argc, char **argv)
{
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) {
		perror("SECCOMP_GET_NOTIF_SIZES");
		return 1;
	}
	if (argc == 4 && !strcmp(argv[1], "ready"))
		return cmd_ready(argv[2], strtol(argv[3], NULL, 10));
	if (argc == 6 && !strcmp(argv[1], "peers"))
		return cmd_peers(argv[2], strtol(argv[3], NULL, 10), argv[4], strtol(argv[5], NULL, 10));
	fprintf(stderr, "usage: fake-monitors ready SOCKET TIMEOUT_MS | peers SOCKET COUNT PREFIX REQS\n");
	return 2;
}
