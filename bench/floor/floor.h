/*
 * What both floors share (bench only): the NR:ERRNO rules, the stop signal, and the
 * listening socket that prints "ready". Included by lxc-responder.c and oci-supervisor.c.
 */
#ifndef FLOOR_H
#define FLOOR_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_RULES 16
#define MAX_FDS 8

static int rule_nr[MAX_RULES], rule_errno[MAX_RULES], rules;
static volatile sig_atomic_t stop;
static unsigned long served;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* The errno the rules give syscall `nr`, or 0 for CONTINUE. */
static int answer_errno(int nr)
{
	for (int i = 0; i < rules; i++)
		if (rule_nr[i] == nr)
			return rule_errno[i];
	return 0;
}

/*
 * `PROGRAM SOCKET [NR:ERRNO]...`: reads the rules, listens on SOCKET (root only) with
 * `type`, stops on SIGTERM/SIGINT, and returns an epoll fd watching the listener `*lfd_out`
 * (epoll data: the fd), after printing "ready". Exits with 2 on a bad command line.
 */
static int floor_listen(int argc, char **argv, const char *program, int type, int *lfd_out)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SOCKET [NR:ERRNO]...\n", program);
		_exit(2);
	}
	for (int i = 2; i < argc && rules < MAX_RULES; i++) {
		if (sscanf(argv[i], "%d:%d", &rule_nr[rules], &rule_errno[rules]) != 2) {
			fprintf(stderr, "bad rule %s\n", argv[i]);
			_exit(2);
		}
		rules++;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(argv[1]) >= sizeof sa.sun_path)
		_exit(2);
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	int lfd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 128) < 0) {
		perror("listen");
		_exit(1);
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
	*lfd_out = lfd;
	return ep;
}

#endif
