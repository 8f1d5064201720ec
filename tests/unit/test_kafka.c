/* kafka.c: the kafka.* pass-through settings reach the clients they are
 * for: plain ones by librdkafka's own property table (a consumer property
 * such as session.timeout.ms made every producer warn "is a consumer
 * property and will be ignored"), kafka.consumer.X and kafka.producer.X
 * to that kind of client only, over the plain form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/base/config.h"
#include "budgetd/serve/kafka.h"

/* The value of @p key in @p conf (a static buffer per call site). */
static const char *get(rd_kafka_conf_t *conf, const char *key, char *buf, size_t size)
{
	size_t n = size;
	assert_int_equal(rd_kafka_conf_get(conf, key, buf, &n), RD_KAFKA_CONF_OK);
	return buf;
}

static void set(bd_config_t *cfg, const char *key, const char *val)
{
	char err[256];
	if (bd_config_set(cfg, key, val, err, sizeof(err)) != 0)
		fail_msg("%s=%s: %s", key, val, err);
}

static void test_scopes(void **state)
{
	bd_config_t cfg;
	char err[256], a[64], b[64];
	(void)state;
	assert_int_equal(bd_config_init(&cfg), 0);
	set(&cfg, "kafka.session.timeout.ms", "6000");      /* C */
	set(&cfg, "kafka.linger.ms", "7");                  /* P */
	set(&cfg, "kafka.socket.timeout.ms", "1234");       /* both */
	set(&cfg, "kafka.producer.linger.ms", "3");         /* over the plain 7 */
	set(&cfg, "kafka.consumer.fetch.wait.max.ms", "9");
	rd_kafka_conf_t *fresh = rd_kafka_conf_new();
	rd_kafka_conf_t *c = bd_kafka_conf_new(&cfg, "127.0.0.1:9", RD_KAFKA_CONSUMER, err, sizeof(err));
	rd_kafka_conf_t *p = bd_kafka_conf_new(&cfg, "127.0.0.1:9", RD_KAFKA_PRODUCER, err, sizeof(err));
	assert_non_null(c);
	assert_non_null(p);
	/* the consumer: its own and the shared settings, no producer's */
	assert_string_equal(get(c, "session.timeout.ms", a, sizeof(a)), "6000");
	assert_string_equal(get(c, "fetch.wait.max.ms", a, sizeof(a)), "9");
	assert_string_equal(get(c, "socket.timeout.ms", a, sizeof(a)), "1234");
	assert_string_equal(get(c, "linger.ms", a, sizeof(a)), get(fresh, "linger.ms", b, sizeof(b)));
	/* the producer: the scoped linger.ms, no consumer setting */
	assert_string_equal(get(p, "linger.ms", a, sizeof(a)), "3");
	assert_string_equal(get(p, "socket.timeout.ms", a, sizeof(a)), "1234");
	if (strcmp(get(p, "session.timeout.ms", a, sizeof(a)),
		   get(fresh, "session.timeout.ms", b, sizeof(b))) != 0)
		fail_msg("the producer got the consumer's session.timeout.ms %s", a);
	assert_string_equal(get(p, "fetch.wait.max.ms", a, sizeof(a)),
			    get(fresh, "fetch.wait.max.ms", b, sizeof(b)));
	/* budgetd's defaults yield to either form, for the client concerned */
	assert_int_equal(bd_kafka_conf_default(c, &cfg, RD_KAFKA_CONSUMER, "fetch.wait.max.ms", "5",
					       err, sizeof(err)), 0);
	assert_string_equal(get(c, "fetch.wait.max.ms", a, sizeof(a)), "9");
	assert_int_equal(bd_kafka_conf_default(p, &cfg, RD_KAFKA_PRODUCER, "statistics.interval.ms",
					       "1000", err, sizeof(err)), 0);
	assert_string_equal(get(p, "statistics.interval.ms", a, sizeof(a)), "1000");
	rd_kafka_conf_destroy(c);
	rd_kafka_conf_destroy(p);
	rd_kafka_conf_destroy(fresh);
	/* a scoped name librdkafka does not know stops the start, named */
	set(&cfg, "kafka.consumer.no.such.property", "1");
	assert_null(bd_kafka_conf_new(&cfg, "127.0.0.1:9", RD_KAFKA_CONSUMER, err, sizeof(err)));
	assert_non_null(strstr(err, "kafka.consumer.no.such.property"));
	/* the producer does not see it */
	p = bd_kafka_conf_new(&cfg, "127.0.0.1:9", RD_KAFKA_PRODUCER, err, sizeof(err));
	assert_non_null(p);
	rd_kafka_conf_destroy(p);
	bd_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
