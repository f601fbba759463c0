// interceptd-keeper: holds interceptd's sockets so that they outlive the daemon. The
// daemon puts every listening socket and live connection here as it gets them; if the
// daemon dies (kill -9, OOM, crash) the kernel keeps those sockets open, liblxc keeps
// its connection, and the next daemon takes them all back. Started by the daemon,
// detached; serves one daemon at a time on a SOCK_SEQPACKET socket.
//
// requests:  'P' u32 id, then metadata bytes, with one fd   (keep: replaces an id)
//            'D' u32 id                                     (drop)
//            'G'                                            (give all back: 'E' u32 id +
//                                                            metadata + fd each, then 'Z')
//            'R'                                            (drop everything)
//            'Q'                                            (drop everything and exit)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_ENTRIES 65536
#define MAX_META 16384

struct entry {
	uint32_t id;
	int fd;
	uint16_t len;
	char *meta;
};

static struct entry *entries;
static int count;

static int find(uint32_t id)
{
	for (int i = 0; i < count; i++)
		if (entries[i].id == id)
			return i;
	return -1;
}

static void drop(int i)
{
	close(entries[i].fd);
	free(entries[i].meta);
	entries[i] = entries[--count];
}

static void drop_all(void)
{
	while (count > 0)
		drop(count - 1);
}

static int send_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* Serves one daemon until it goes away. Returns 1 when told to exit. */
static int serve(int conn)
{
	static unsigned char msg[8 + MAX_META];
	for (;;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int) * 4)];
		} ctl;
		struct iovec iov = { msg, sizeof(msg) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		int fds[4], nfds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k && nfds < 4; i++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
		uint32_t id = 0;
		if (n >= 5)
			memcpy(&id, msg + 1, 4);
		if (msg[0] == 'P' && n >= 5 && nfds == 1 && (size_t)n - 5 <= MAX_META) {
			int i = find(id);
			if (i >= 0)
				drop(i);
			char *meta = malloc((size_t)n - 5 + 1);
			if (count < MAX_ENTRIES && meta) {
				memcpy(meta, msg + 5, (size_t)n - 5);
				entries[count++] = (struct entry){ .id = id, .fd = fds[0], .len = (uint16_t)(n - 5), .meta = meta };
				nfds = 0; /* kept */
			} else {
				free(meta);
			}
		} else if (msg[0] == 'D' && n >= 5) {
			int i = find(id);
			if (i >= 0)
				drop(i);
		} else if (msg[0] == 'G') {
			for (int i = 0; i < count; i++) {
				msg[0] = 'E';
				memcpy(msg + 1, &entries[i].id, 4);
				memcpy(msg + 5, entries[i].meta, entries[i].len);
				send_fd(conn, msg, 5 + (size_t)entries[i].len, entries[i].fd);
			}
			send_fd(conn, "Z", 1, -1);
		} else if (msg[0] == 'R') {
			drop_all();
		} else if (msg[0] == 'Q') {
			drop_all();
			return 1;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (argc != 3 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: interceptd-keeper SOCKET GRACE-MS (started by interceptd)\n");
		return 2;
	}
	/*
	 * How long the sockets are kept for a daemon that died. Past that nobody is coming
	 * back: drop them all, so parked calls get ENOSYS instead of waiting forever.
	 */
	int grace_ms = atoi(argv[2]);
	if (geteuid() != 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	entries = calloc(MAX_ENTRIES, sizeof(*entries));
	if (!entries)
		return 1;
	strcpy(addr.sun_path, argv[1]);
	int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	unlink(argv[1]);
	umask(077);
	if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof(addr)) || listen(sock, 4)) {
		perror("interceptd-keeper: listen");
		return 1;
	}
	/* Ready: the daemon waits for this byte on our stdout before it connects. */
	if (write(1, "r", 1) != 1)
		return 1;
	close(1);
	int orphaned = 0;
	for (;;) {
		if (orphaned) {
			struct pollfd p = { .fd = sock, .events = POLLIN };
			int r = poll(&p, 1, grace_ms);
			if (r == 0) {
				drop_all();
				unlink(argv[1]);
				return 0;
			}
		}
		int conn = accept4(sock, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return 1;
		}
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.uid != 0) {
			close(conn);
			continue;
		}
		int quit = serve(conn);
		close(conn);
		if (quit) {
			unlink(argv[1]);
			return 0;
		}
		/* The daemon went away without saying quit (a crash, or a handover in progress). */
		orphaned = count > 0;
	}
}
