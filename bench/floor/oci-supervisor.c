/*
 * oci-supervisor: the floor for the OCI model (bench only). A seccomp agent on a
 * SOCK_STREAM socket (`linux.seccomp.listenerPath`): it takes the listener fd that
 * runc/crun send with the container state, then owns it: NOTIF_RECV, and NOTIF_SEND at
 * once with CONTINUE, or -ERRNO for the syscall numbers given on the command line. It
 * reads no state, memory or /proc: the least any supervisor must do.
 *
 *   oci-supervisor SOCKET [NR:ERRNO]...
 *
 * Prints "ready" once listening; on SIGTERM/SIGINT it prints the notification count to
 * stderr, removes the socket and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_RULES 16
#define MAX_FDS 8
/* Tag in epoll data: listeners have it set, state connections not. */
#define LISTENER (1ull << 32)

static int rule_nr[MAX_RULES], rule_errno[MAX_RULES], rules;
static volatile sig_atomic_t stop;
static unsigned long served;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int answer_errno(int nr)
{
	for (int i = 0; i < rules; i++)
		if (rule_nr[i] == nr)
			return rule_errno[i];
	return 0;
}

/* Reads what the runtime sent; keeps the first fd (runc and crun send only the listener). */
static int take_listener(int conn)
{
	static char buf[65536];
	char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	struct iovec iov = { buf, sizeof buf };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	int listener = -1;
	if (recvmsg(conn, &mh, MSG_CMSG_CLOEXEC) < 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int *fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			if (listener < 0)
				listener = fds[i];
			else
				close(fds[i]);
		}
	}
	return listener;
}

/* Answers every pending notification; -1 when the listener is finished. */
static int serve(int fd)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	memset(&req, 0, sizeof req);
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return errno == ENOENT || errno == EINTR ? 0 : -1;
	int e = answer_errno(req.data.nr);
	resp.id = req.id;
	resp.val = 0;
	resp.error = e ? -e : 0;
	resp.flags = e ? 0 : SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) == 0)
		served++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: oci-supervisor SOCKET [NR:ERRNO]...\n");
		return 2;
	}
	for (int i = 2; i < argc && rules < MAX_RULES; i++) {
		if (sscanf(argv[i], "%d:%d", &rule_nr[rules], &rule_errno[rules]) != 2) {
			fprintf(stderr, "bad rule %s\n", argv[i]);
			return 2;
		}
		rules++;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(argv[1]) >= sizeof sa.sun_path)
		return 2;
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 128) < 0) {
		perror("listen");
		return 1;
	}
	chmod(argv[1], 0600);
	struct sigaction act = { .sa_handler = on_signal };
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)lfd };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("ready\n");
	fflush(stdout);

	while (!stop) {
		struct epoll_event evs[32];
		int n = epoll_wait(ep, evs, 32, 1000);
		for (int i = 0; i < n; i++) {
			int fd = (int)(evs[i].data.u64 & 0xffffffffu);
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
					int l = take_listener(c);
					close(c);
					if (l < 0)
						continue;
					struct epoll_event lev = { .events = EPOLLIN, .data.u64 = LISTENER | (uint64_t)l };
					epoll_ctl(ep, EPOLL_CTL_ADD, l, &lev);
				}
			} else if ((evs[i].events & EPOLLHUP) || ((evs[i].events & EPOLLIN) && serve(fd) < 0)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
	fprintf(stderr, "served %lu\n", served);
	unlink(argv[1]);
	return 0;
}
