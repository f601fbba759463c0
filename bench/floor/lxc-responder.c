/*
 * lxc-responder: the floor for liblxc's proxy protocol (bench only). Listens on a
 * SOCK_SEQPACKET socket like interceptd's seccomp.socket, and answers every request at
 * once: it closes the request's fds and replies CONTINUE, or -ERRNO for the syscall
 * numbers given on the command line. No policy, no decoding beyond the sizes.
 *
 *   lxc-responder SOCKET [NR:ERRNO]...
 *
 * Prints "ready" once listening; on SIGTERM/SIGINT it prints the request count to
 * stderr, removes the socket and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "floor.h"

#define HDR 32
#define MAX_MSG 4096

/* One request in, one reply out; 0 on success, -1 when the connection is finished. */
static int serve(int fd)
{
	static unsigned char buf[MAX_MSG];
	char cbuf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	struct iovec iov = { buf, sizeof buf };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int *fds = (int *)CMSG_DATA(cm);
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
			close(fds[i]);
	}
	if (n <= 0)
		return -1;
	uint16_t sz_notif, sz_resp;
	memcpy(&sz_notif, buf + 16, 2);
	memcpy(&sz_resp, buf + 18, 2);
	size_t len = HDR + (size_t)sz_notif + sz_resp;
	if (sz_notif < 24 || sz_resp < 24 || len > (size_t)n) {
		send(fd, buf, 0, MSG_NOSIGNAL); /* liblxc answers ENOSYS at once */
		return 0;
	}
	uint64_t id;
	int32_t nr;
	memcpy(&id, buf + HDR, 8);
	memcpy(&nr, buf + HDR + 16, 4);
	unsigned char *resp = buf + HDR + sz_notif;
	int e = answer_errno(nr);
	int64_t val = 0;
	int32_t error = e ? -e : 0;
	uint32_t flags = e ? 0 : 1; /* SECCOMP_USER_NOTIF_FLAG_CONTINUE */
	memcpy(resp, &id, 8);
	memcpy(resp + 8, &val, 8);
	memcpy(resp + 16, &error, 4);
	memcpy(resp + 20, &flags, 4);
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	served++;
	return 0;
}

int main(int argc, char **argv)
{
	int lfd;
	int ep = floor_listen(argc, argv, "lxc-responder", SOCK_SEQPACKET, &lfd);

	while (!stop) {
		struct epoll_event evs[32];
		int n = epoll_wait(ep, evs, 32, 1000);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
					struct epoll_event cev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = c };
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
				}
			} else if ((evs[i].events & EPOLLIN ? serve(fd) : -1) < 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
	fprintf(stderr, "served %lu\n", served);
	unlink(argv[1]);
	return 0;
}
