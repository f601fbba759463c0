/* The errno's symbolic name ("ENOENT"), "E<n>" for one glibc does not know, "" for 0. */
#ifndef PROBE_ERRNAME_H
#define PROBE_ERRNAME_H
#include <stdio.h>
#include <string.h>

static const char *errname(int e)
{
	static char buf[16];
	const char *n = e ? strerrorname_np(e) : "";
	if (n)
		return n;
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

#endif
