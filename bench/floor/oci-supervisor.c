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

#include "floor.h"

/* Older headers lack these (Linux 6.6). */
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS_ 0x40082104UL
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP_ 1UL

/* Tag in epoll data: listeners have it set, state connections not. */
#define LISTENER (1ull << 32)

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
	int lfd;
	int ep = floor_listen(argc, argv, "oci-supervisor", SOCK_STREAM, &lfd);

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
					/* As interceptd does: the answer hands the CPU to the caller (Linux >= 6.6). */
					ioctl(l, SECCOMP_IOCTL_NOTIF_SET_FLAGS_, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP_);
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
