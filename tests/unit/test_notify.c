/* notify.c: the watchdog's staleness check, and (built with systemd) the
 * datagrams sd_notify sends to $NOTIFY_SOCKET. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "budgetd/daemon/notify.h"

#include "config.h"

#define S 1000000000ULL /* one second in ns */

static void test_stale(void **state)
{
	(void)state;
	uint64_t beats[3] = {100 * S, 99 * S, 95 * S};
	/* all within 10 s of 100 s */
	assert_int_equal(bd_notify_stale_beat(beats, 3, 100 * S, 10 * S), -1);
	/* at 106 s the third (95 s) is 11 s old: stuck */
	assert_int_equal(bd_notify_stale_beat(beats, 3, 106 * S, 10 * S), 2);
	/* exactly max_age is still alive */
	assert_int_equal(bd_notify_stale_beat(beats, 3, 105 * S, 10 * S), -1);
	/* the first stale one is named */
	assert_int_equal(bd_notify_stale_beat(beats, 3, 200 * S, 10 * S), 0);
	/* a stamp newer than "now" (stamped after now was read) is alive */
	beats[1] = 101 * S;
	assert_int_equal(bd_notify_stale_beat(beats, 2, 100 * S, 10 * S), -1);
	/* no workers: nothing can be stale */
	assert_int_equal(bd_notify_stale_beat(beats, 0, 500 * S, 10 * S), -1);
}

#ifdef HAVE_SYSTEMD
static int bind_socket(char *path, size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	snprintf(path, size, "/tmp/bd-test-notify-%d", (int)getpid());
	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	return fd;
}

static void expect(int fd, const char *want, size_t n)
{
	char buf[512];
	ssize_t len = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(len > 0);
	buf[len] = '\0';
	if (strncmp(buf, want, n ? n : strlen(want) + 1) != 0)
		fail_msg("got '%s', want '%s'", buf, want);
}

static void test_send(void **state)
{
	(void)state;
	char path[108];
	int fd = bind_socket(path, sizeof(path));
	assert_true(fd >= 0);
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(bd_notify_status("waiting %d\nof %d", 1, 2), 0);
	expect(fd, "STATUS=waiting 1 of 2", 0);
	assert_int_equal(bd_notify_ready(), 0);
	expect(fd, "READY=1", 0);
	assert_int_equal(bd_notify_reloading(), 0);
	expect(fd, "RELOADING=1\nMONOTONIC_USEC=", 27);
	assert_int_equal(bd_notify_watchdog(), 0);
	expect(fd, "WATCHDOG=1", 0);
	assert_int_equal(bd_notify_stopping(), 0);
	expect(fd, "STOPPING=1", 0);
	close(fd);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(bd_notify_ready(), 0); /* no socket: nothing, no error */
}

static void test_watchdog_usec(void **state)
{
	(void)state;
	char pid[32];
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(bd_notify_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "2000000", 1);
	assert_int_equal(bd_notify_watchdog_usec(), 2000000);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(bd_notify_watchdog_usec(), 2000000);
	/* meant for another process (inherited from a parent): not ours */
	snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(bd_notify_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
}
#else
static void test_send(void **state)
{
	(void)state;
	setenv("NOTIFY_SOCKET", "/nonexistent", 1);
	assert_int_equal(bd_notify_ready(), 0); /* built without systemd: no-op */
}

static void test_watchdog_usec(void **state)
{
	(void)state;
	setenv("WATCHDOG_USEC", "2000000", 1);
	assert_int_equal(bd_notify_watchdog_usec(), 0);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_watchdog_usec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
