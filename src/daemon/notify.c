/*
 * sd_notify wrappers.  libsystemd's sd_notify already does nothing without
 * $NOTIFY_SOCKET; the #if only keeps builds without libsystemd linking.
 */
#include "budgetd/daemon/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "budgetd/base/log.h"

#include "config.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static int notify_send(const char *msg)
{
	/* unset_environment=0: the variables stay for the next message */
	static int warned; /* the main loop only */
	int r = sd_notify(0, msg);
	if (r < 0) {
		/* systemd is told nothing: worth a line, not one per watchdog
		 * tick, and not fatal */
		if (!warned++)
			bd_warn("sd_notify(%.40s): %s (further failures are not logged)",
				msg, bd_strerror(r));
		return r;
	}
	return 0;
}

uint64_t bd_notify_watchdog_usec(void)
{
	uint64_t usec = 0;
	/* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or
	 * our pid (a variable inherited from a parent is not for us) */
	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
#else
static int notify_send(const char *msg)
{
	(void)msg;
	return 0;
}

uint64_t bd_notify_watchdog_usec(void)
{
	return 0;
}
#endif

int bd_notify_ready(void)
{
	return notify_send("READY=1");
}

int bd_notify_status(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n = snprintf(msg, sizeof(msg), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one line: a newline would start another assignment */
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return notify_send(msg);
}

int bd_notify_reloading(void)
{
	char msg[64];
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000ULL);
	return notify_send(msg);
}

int bd_notify_stopping(void)
{
	return notify_send("STOPPING=1");
}

int bd_notify_watchdog(void)
{
	return notify_send("WATCHDOG=1");
}

int bd_notify_stale_beat(const uint64_t *beat_ns, int n, uint64_t now_ns,
			 uint64_t max_age_ns)
{
	for (int i = 0; i < n; i++)
		if (beat_ns[i] < now_ns && now_ns - beat_ns[i] > max_age_ns)
			return i;
	return -1;
}
