/* health.c and the librdkafka statistics reader behind "degraded". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/serve/health.h"
#include "budgetd/serve/kafka.h"

static void test_window(void **state)
{
	(void)state;
	bd_health_t *h = bd_health_new(3000);
	char why[300] = "";
	assert_non_null(h);
	assert_int_equal(bd_health_eval(h, 10000, why, sizeof(why)), 0);
	bd_health_note_at(h, BD_HEALTH_KAFKA, 10000, "broker 2 is DOWN");
	assert_int_equal(bd_health_eval(h, 10001, why, sizeof(why)), 1);
	assert_string_equal(why, "kafka: broker 2 is DOWN");
	/* the most recent problem names the state */
	bd_health_note_at(h, BD_HEALTH_OUTPUT, 11000, "delivery failed");
	assert_int_equal(bd_health_eval(h, 12999, why, sizeof(why)), 1);
	assert_string_equal(why, "output: delivery failed");
	/* still degraded while any source is inside the window */
	assert_int_equal(bd_health_eval(h, 13500, why, sizeof(why)), 1);
	/* a whole window without a problem: healthy */
	assert_int_equal(bd_health_eval(h, 14000, NULL, 0), 0);
	assert_int_equal(bd_health_count(h, BD_HEALTH_KAFKA), 1);
	assert_int_equal(bd_health_count(h, BD_HEALTH_OUTPUT), 1);
	assert_int_equal(bd_health_count(h, BD_HEALTH_STORE), 0);
	bd_health_free(h);
}

/* A condition lasts until it is cleared, not a window; it is counted once
 * per time it is set. */
static void test_condition(void **state)
{
	(void)state;
	bd_health_t *h = bd_health_new(3000);
	char why[300] = "";
	assert_non_null(h);
	bd_health_set_at(h, BD_HEALTH_SOLVE, 10000, "campaign a: solve failed: plan: lambda is nan");
	assert_int_equal(bd_health_eval(h, 10001, why, sizeof(why)), 1);
	assert_string_equal(why, "solve: campaign a: solve failed: plan: lambda is nan");
	/* long past the window: still degraded */
	assert_int_equal(bd_health_eval(h, 500000, why, sizeof(why)), 1);
	/* set again (every failing pass): counted once */
	bd_health_set_at(h, BD_HEALTH_SOLVE, 600000, "campaign a: solve failed: plan: lambda is nan");
	assert_int_equal(bd_health_count(h, BD_HEALTH_SOLVE), 1);
	/* a newer note names the state while it is recent, then the
	 * condition again */
	bd_health_note_at(h, BD_HEALTH_SPEND, 700000, "campaign b: cost refused");
	assert_int_equal(bd_health_eval(h, 700001, why, sizeof(why)), 1);
	assert_string_equal(why, "spend: campaign b: cost refused");
	assert_int_equal(bd_health_eval(h, 704000, why, sizeof(why)), 1);
	assert_string_equal(why, "solve: campaign a: solve failed: plan: lambda is nan");
	/* a new reason is news */
	bd_health_set_at(h, BD_HEALTH_SOLVE, 705000, "campaign c: solve failed: x");
	assert_int_equal(bd_health_eval(h, 705001, why, sizeof(why)), 1);
	assert_string_equal(why, "solve: campaign c: solve failed: x");
	/* cleared: healthy at once */
	bd_health_set_at(h, BD_HEALTH_SOLVE, 706000, NULL);
	assert_int_equal(bd_health_eval(h, 706001, NULL, 0), 0);
	bd_health_set_at(h, BD_HEALTH_SOLVE, 707000, "again");
	assert_int_equal(bd_health_count(h, BD_HEALTH_SOLVE), 2);
	assert_string_equal(bd_health_src_name(BD_HEALTH_SOLVE), "solve");
	assert_string_equal(bd_health_src_name(BD_HEALTH_SPEND), "spend");
	bd_health_free(h);
}

/* Skipped input counts for its own (longer) window; the instance's
 * condition (standby, inputs paused) holds until cleared. */
static void test_src_window(void **state)
{
	(void)state;
	bd_health_t *h = bd_health_new(1000);
	char why[300] = "";
	assert_non_null(h);
	bd_health_set_src_window(h, BD_HEALTH_INPUT, 60000);
	bd_health_note_at(h, BD_HEALTH_KAFKA, 5000, "broker 1 is DOWN");
	bd_health_note_at(h, BD_HEALTH_INPUT, 5000, "budgetd.features/3: offsets 10..11 skipped");
	/* past the common window, inside the input source's own */
	assert_int_equal(bd_health_eval(h, 30000, why, sizeof(why)), 1);
	assert_string_equal(why, "input: budgetd.features/3: offsets 10..11 skipped");
	assert_int_equal(bd_health_eval(h, 65000, NULL, 0), 0);
	/* reloading health.window.ms leaves the source's own window alone */
	bd_health_set_window(h, 500);
	bd_health_note_at(h, BD_HEALTH_INPUT, 70000, "again");
	assert_int_equal(bd_health_eval(h, 100000, NULL, 0), 1);
	assert_int_equal(bd_health_eval(h, 131000, NULL, 0), 0);

	bd_health_set_at(h, BD_HEALTH_INSTANCE, 140000, "standby");
	assert_int_equal(bd_health_eval(h, 10000000, why, sizeof(why)), 1);
	assert_string_equal(why, "instance: standby");
	bd_health_set_at(h, BD_HEALTH_INSTANCE, 150000, NULL);
	assert_int_equal(bd_health_eval(h, 10000000, NULL, 0), 0);
	assert_string_equal(bd_health_src_name(BD_HEALTH_INSTANCE), "instance");
	assert_string_equal(bd_health_src_name(BD_HEALTH_INPUT), "input");
	bd_health_free(h);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 20);
	size_t n;
	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A real statistics document (a producer while the mock cluster's broker 2
 * was down): broker 2 is TRY_CONNECT, 1 and 3 are UP. */
static void test_stats(void **state)
{
	(void)state;
	const char *srcdir = getenv("srcdir");
	char path[4096], why[300];
	snprintf(path, sizeof(path), "%s/tests/data/rdkafka-stats-broker-down.json",
		 srcdir ? srcdir : ".");
	char *json = slurp(path);
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rd_kafka_conf_set(conf, "client.id", "t", errstr, sizeof(errstr)),
			 RD_KAFKA_CONF_OK);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(rk);
	bd_health_t *h = bd_health_new(1000);
	int64_t now = (int64_t)(uv_hrtime() / 1000000);
	/* first sight of broker 2 not up: connecting, not yet a problem */
	assert_int_equal(bd_kafka_stats_health(h, rk, json), 0);
	/* ... still not up a grace period later: lost */
	assert_int_equal(bd_health_broker_seen(h, rd_kafka_name(rk), 2, 0,
					       now + BD_HEALTH_BROKER_GRACE_MS - 1), 0);
	bd_health_t *h3 = bd_health_new(1000);
	assert_int_equal(bd_health_broker_seen(h3, rd_kafka_name(rk), 2, 0,
					       now - BD_HEALTH_BROKER_GRACE_MS), 0);
	bd_health_free(h);
	h = h3;
	assert_int_equal(bd_kafka_stats_health(h, rk, json), 1);
	assert_int_equal(bd_health_eval(h, (int64_t)(uv_hrtime() / 1000000), why, sizeof(why)), 1);
	assert_non_null(strstr(why, "broker 2 is TRY_CONNECT"));
	/* the same document with every broker up: nothing noted */
	for (char *p = json; (p = strstr(p, "\"TRY_CONNECT\"")) != NULL;)
		memcpy(p, "\"UP\"         ", 13);
	bd_health_t *h2 = bd_health_new(1000);
	assert_int_equal(bd_kafka_stats_health(h2, rk, json), 0);
	/* INIT (never needed) is not a problem either */
	assert_int_equal(bd_kafka_stats_health(h2, rk, "{\"brokers\":{\"b/1\":{\"nodeid\":1,"
							 "\"state\":\"INIT\"}}}"), 0);
	/* a broker first seen a grace period ago and DOWN now: lost */
	bd_health_t *h4 = bd_health_new(1000);
	assert_int_equal(bd_health_broker_seen(h4, rd_kafka_name(rk), 1, 0,
					       now - BD_HEALTH_BROKER_GRACE_MS), 0);
	assert_int_equal(bd_kafka_stats_health(h4, rk, "{\"brokers\":{\"b/1\":{\"nodeid\":1,"
							 "\"state\":\"DOWN\"}}}"), 1);
	/* back up: the clock restarts, so connecting again is no problem yet */
	assert_int_equal(bd_kafka_stats_health(h4, rk, "{\"brokers\":{\"b/1\":{\"nodeid\":1,"
							 "\"state\":\"UP\"}}}"), 0);
	assert_int_equal(bd_kafka_stats_health(h4, rk, "{\"brokers\":{\"b/1\":{\"nodeid\":1,"
							 "\"state\":\"CONNECT\"}}}"), 0);
	bd_health_free(h4);
	/* truncated documents end the scan */
	assert_int_equal(bd_kafka_stats_health(h2, rk, "{\"brokers\":{\"b/1\":{\"nodeid\":1,"), 0);
	assert_int_equal(bd_kafka_stats_health(h2, rk, ""), 0);
	bd_health_free(h);
	bd_health_free(h2);
	rd_kafka_destroy(rk);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_condition),
		cmocka_unit_test(test_src_window),
		cmocka_unit_test(test_stats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
