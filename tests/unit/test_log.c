/* log.c: each format writes one line per record (text, JSON with valid
 * UTF-8 and escapes, journald's <N> prefix), auto picks journal only when
 * stderr is the stream JOURNAL_STREAM names, the level filters, and
 * librdkafka's lines (bd_kafka_log_cb) come through with their level
 * mapped and their source named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "budgetd/base/log.h"
#include "budgetd/serve/kafka.h"

static char path[] = "/tmp/budgetd-test-log.XXXXXX";
static int saved = -1, fd = -1;

/* stderr into a fresh temporary file */
static int setup(void **state)
{
	(void)state;
	fd = mkstemp(path);
	saved = dup(STDERR_FILENO);
	if (fd < 0 || saved < 0 || dup2(fd, STDERR_FILENO) < 0)
		return -1;
	bd_log_level = BD_LOG_INFO;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	unlink(path);
	bd_log_format = BD_LOG_FORMAT_TEXT;
	return 0;
}

/* What was logged since the last call. */
static const char *logged(void)
{
	static char buf[8192];
	static long at;
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	fseek(f, at, SEEK_SET);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	at += (long)n;
	fclose(f);
	return buf;
}

static void test_formats(void **state)
{
	(void)state;
	bd_log_format = BD_LOG_FORMAT_TEXT;
	bd_info("plain %d\nsecond", 1);
	const char *s = logged();
	assert_non_null(strstr(s, "Z budgetd INFO: plain 1 second\n"));
	assert_int_equal(strchr(s, '\n') - s + 1, (long)strlen(s)); /* one line */

	bd_log_format = BD_LOG_FORMAT_JSON;
	bd_warn("quote \" backslash \\ tab\t bad \xff end");
	s = logged();
	assert_true(strncmp(s, "{\"ts\":\"", 7) == 0);
	assert_non_null(strstr(s, "\",\"level\":\"warn\",\"ident\":\"budgetd\",\"msg\":\"quote \\\" "
				  "backslash \\\\ tab\\u0009 bad \xef\xbf\xbd end\"}\n"));
	bd_debug("not at info");
	assert_string_equal(logged(), "");

	bd_log_format = BD_LOG_FORMAT_JOURNAL;
	bd_error("broken");
	bd_info("fine");
	assert_string_equal(logged(), "<3>broken\n<6>fine\n");
}

static void test_kafka_lines(void **state)
{
	(void)state;
	bd_log_format = BD_LOG_FORMAT_JOURNAL;
	bd_kafka_log_cb(NULL, 5, "CONFWARN", "linger.ms is a producer property");
	bd_kafka_log_cb(NULL, 3, "FAIL", "connection refused");
	bd_kafka_log_cb(NULL, 7, "BROKER", "debug chatter");
	assert_string_equal(logged(), "<4>kafka - CONFWARN: linger.ms is a producer property\n"
				      "<3>kafka - FAIL: connection refused\n");
	bd_log_format = BD_LOG_FORMAT_JSON;
	bd_kafka_log_cb(NULL, 6, "INIT", "hello");
	assert_non_null(strstr(logged(), "\"level\":\"info\",\"ident\":\"budgetd\",\"source\":"
					 "\"kafka - INIT\",\"msg\":\"hello\"}\n"));
}

static void test_auto(void **state)
{
	struct stat st;
	char js[64];
	(void)state;
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(bd_log_format_parse("auto"), BD_LOG_FORMAT_TEXT);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	assert_int_equal(bd_log_format_parse("auto"), BD_LOG_FORMAT_JOURNAL);
	/* inherited by a child whose stderr was redirected: not the journal */
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", js, 1);
	assert_int_equal(bd_log_format_parse("auto"), BD_LOG_FORMAT_TEXT);
	assert_int_equal(bd_log_format_parse("json"), BD_LOG_FORMAT_JSON);
	assert_int_equal(bd_log_format_parse("xml"), -1);
	unsetenv("JOURNAL_STREAM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_kafka_lines),
		cmocka_unit_test(test_auto),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
