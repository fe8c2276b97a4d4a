/*
 * tier-lease.c - read leases on local files (F_SETLEASE F_RDLCK): held
 * on a source from the copy to its release, broken by a writer (an open
 * for writing, a truncate), never by a reader.  A break is reported by a
 * real-time signal whose handler raises the descriptor's flag.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>

#include "move-int.h"

/* Lease breaks, by descriptor, set from the signal handler. */
static volatile sig_atomic_t lease_broken[MAX_FD];
static int lease_sig;

static void
on_lease_break(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_fd >= 0 && si->si_fd < MAX_FD)
		lease_broken[si->si_fd] = 1;
}

void
lease_setup(void)
{
	struct sigaction sa;

	if (lease_sig)
		return;
	lease_sig = SIGRTMIN + 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_lease_break;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(lease_sig, &sa, NULL);
	/* Lease breaks are reported with lease_sig, never the default SIGIO. */
	signal(SIGIO, SIG_IGN);
}

volatile sig_atomic_t *
lease_flag(int fd)
{
	static volatile sig_atomic_t none;

	return fd >= 0 && fd < MAX_FD ? &lease_broken[fd] : &none;
}

void
lease_forget(int fd)
{
	if (fd >= 0 && fd < MAX_FD)
		lease_broken[fd] = 0;
}

bool
lease_lost_fd(int fd)
{
	return fd < 0 || (fd < MAX_FD && lease_broken[fd]) ||
	    fcntl(fd, F_GETLEASE) != F_RDLCK;
}

int
lease_take(int fd)
{
	if (fd < 0 || fd >= MAX_FD)
		return -EMFILE;
	lease_broken[fd] = 0;
	if (fcntl(fd, F_SETSIG, lease_sig) != 0 ||
	    fcntl(fd, F_SETLEASE, F_RDLCK) != 0)
		return -errno;
	return 0;
}
