/*
 * precontent.c - fanotify pre-content events, as stubs would use them:
 * the handler modes that tests/stub-kernel.sh runs to pin down what the
 * kernel does (Linux 6.14+; Debian 12's headers lack the constants).
 *
 *   precontent fill STUB SRC   answer each read of STUB by writing SRC's
 *                              content through the event's descriptor,
 *                              then FAN_ALLOW; count events on stdout
 *   precontent deny STUB       answer with FAN_DENY and EIO
 *   precontent readdie STUB    read one event and exit, unanswered
 *   precontent hold STUB MS    leave the group to a child and exit
 *                              without reading; the child answers what
 *                              is queued with FAN_DENY and EIO after MS
 *   precontent openfirst FILE MS   open FILE, wait MS, read 4 bytes and
 *                              print them in hex
 *
 * Each watcher prints "ready" once its mark is in place.  Exit 77 when
 * the kernel or the file system has no pre-content events.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FAN_CLASS_PRE_CONTENT
#define FAN_CLASS_PRE_CONTENT	0x00000008
#endif
#define PC_PRE_ACCESS		0x00100000ULL	/* FAN_PRE_ACCESS */
#define PC_DENY_EIO		(FAN_DENY | ((unsigned)EIO << 24))

static int
watch(const char *path)
{
	int g = fanotify_init(FAN_CLASS_PRE_CONTENT | FAN_CLOEXEC,
	    O_RDWR | O_LARGEFILE);

	if (g < 0) {
		fprintf(stderr, "precontent: fanotify_init: %s\n",
		    strerror(errno));
		exit(errno == EINVAL || errno == EPERM ? 77 : 1);
	}
	if (fanotify_mark(g, FAN_MARK_ADD, PC_PRE_ACCESS, AT_FDCWD,
	    path) != 0) {
		fprintf(stderr, "precontent: mark %s: %s\n", path,
		    strerror(errno));
		exit(errno == EINVAL || errno == EOPNOTSUPP ? 77 : 1);
	}
	printf("ready\n");
	fflush(stdout);
	return g;
}

/* Read events; answer each with answer(), or return after one. */
static void
serve(int g, int src, unsigned response, int ms)
{
	char buf[4096], data[65536];
	struct pollfd p = { g, POLLIN, 0 };
	struct fanotify_event_metadata *m;
	struct fanotify_response r;
	ssize_t n, k;
	off_t off;
	int events = 0;

	for (;;) {
		if (ms >= 0 && poll(&p, 1, ms) <= 0)
			return;
		if ((n = read(g, buf, sizeof(buf))) <= 0)
			return;
		for (m = (void *)buf; FAN_EVENT_OK(m, n);
		    m = FAN_EVENT_NEXT(m, n)) {
			printf("event %d\n", ++events);
			fflush(stdout);
			if (src >= 0) {
				for (off = 0; (k = pread(src, data,
				    sizeof(data), off)) > 0; off += k)
					if (pwrite(m->fd, data, (size_t)k,
					    off) != k)
						break;
			}
			r.fd = m->fd;
			r.response = response;
			if (write(g, &r, sizeof(r)) != sizeof(r))
				perror("precontent: response");
			close(m->fd);
		}
	}
}

int
main(int argc, char **argv)
{
	char buf[4];
	int g, fd;

	if (argc < 3)
		goto usage;
	if (strcmp(argv[1], "openfirst") == 0 && argc == 4) {
		if ((fd = open(argv[2], O_RDONLY)) < 0)
			return 1;
		printf("opened\n");
		fflush(stdout);
		usleep((useconds_t)atoi(argv[3]) * 1000);
		memset(buf, 0xff, sizeof(buf));
		if (pread(fd, buf, sizeof(buf), 0) != sizeof(buf))
			return 1;
		printf("%02x%02x%02x%02x\n", (unsigned char)buf[0],
		    (unsigned char)buf[1], (unsigned char)buf[2],
		    (unsigned char)buf[3]);
		return 0;
	}
	g = watch(argv[2]);
	if (strcmp(argv[1], "fill") == 0 && argc == 4) {
		if ((fd = open(argv[3], O_RDONLY)) < 0)
			return 1;
		serve(g, fd, FAN_ALLOW, -1);
	} else if (strcmp(argv[1], "deny") == 0)
		serve(g, -1, PC_DENY_EIO, -1);
	else if (strcmp(argv[1], "readdie") == 0) {
		char ev[4096];

		_exit(read(g, ev, sizeof(ev)) > 0 ? 0 : 1);
	}
	else if (strcmp(argv[1], "hold") == 0 && argc == 4) {
		if (fork() == 0) {
			usleep((useconds_t)atoi(argv[3]) * 1000);
			serve(g, -1, PC_DENY_EIO, 0);
			_exit(0);
		}
		_exit(0);
	} else
		goto usage;
	return 0;
usage:
	fprintf(stderr, "usage: precontent fill|deny|readdie|hold|openfirst "
	    "...\n");
	return 2;
}
