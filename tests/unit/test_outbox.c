/* outbox.c on a real Kafka protocol: librdkafka's mock cluster over TCP on
 * loopback, and a real RocksDB directory. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "budgetd/state/outbox.h"

static char dir[64], err[512];
static rd_kafka_t *host;
static rd_kafka_mock_cluster_t *mc;
static char *topics[BD_MSG__COUNT] = {"f", "o", "c", "decisions", "p", "m", "dlq"};
static bd_outbox_t *current; /* the dr callback's target */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	bd_outbox_on_delivery(current, m);
}

static rd_kafka_t *producer(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc),
			  err, sizeof(err));
	rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
	rd_kafka_conf_set(conf, "message.timeout.ms", "1500", err, sizeof(err));
	rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof(err));
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	assert_non_null(rk);
	return rk;
}

static int setup(void **state)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bdoutboxXXXXXX");
	if (!mkdtemp(dir))
		return -1;
	rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
	host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!host || !(mc = rd_kafka_mock_cluster_new(host, 1)))
		return -1;
	rd_kafka_mock_topic_create(mc, "decisions", 1, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(host);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static int count_cb(const char *k, size_t kl, const char *v, size_t vl, void *o)
{
	(void)k; (void)kl; (void)v; (void)vl;
	++*(int *)o;
	return 0;
}

static int outbox_rows(bd_store_t *st)
{
	int n = 0;
	assert_int_equal(bd_store_scan(st, BD_CF_OUTBOX, "", 0, count_cb, &n), 0);
	return n;
}

static void wait_delivered(rd_kafka_t *p, bd_outbox_t *ob, double secs)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		rd_kafka_poll(p, 50);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (bd_outbox_inflight(ob) > 0 &&
		 (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
}

/* the keys and values on @p topic (partition 0), in order */
typedef struct got_s {
	int null_key;
	size_t klen;
	char key0, val[32];
} got_t;

static int read_topic(const char *topic, got_t *out, int max)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc),
			  err, sizeof(err));
	rd_kafka_conf_set(conf, "group.id", "t", err, sizeof(err));
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t lo, hi;
	int n = 0;
	rd_kafka_query_watermark_offsets(c, topic, 0, &lo, &hi, 5000);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = lo;
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
	while (n < hi - lo && n < max) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 5000);
		if (!m)
			break;
		if (!m->err) {
			out[n].null_key = m->key == NULL;
			out[n].klen = m->key_len;
			out[n].key0 = m->key_len ? *(char *)m->key : 0;
			snprintf(out[n].val, sizeof(out[n].val), "%.*s", (int)m->len,
				 (char *)m->payload);
			n++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	return n;
}

/* the end of every test: everything it opened, closed */
static void finish(bd_outbox_t *ob, bd_store_batch_t *b, rd_kafka_t *p, bd_store_t *st)
{
	bd_outbox_free(ob);
	bd_store_batch_destroy(b);
	rd_kafka_flush(p, 5000);
	rd_kafka_destroy(p);
	bd_store_close(st);
}

static void add(bd_outbox_t *ob, bd_store_batch_t *b, const char *payload)
{
	assert_int_equal(bd_outbox_add(ob, b, 3, BD_MSG_DECISION, "key", 3, payload,
				       strlen(payload)), 0);
}

static void test_outbox_life(void **state)
{
	bd_store_t *st;
	rd_kafka_t *p = producer();
	got_t got[32];
	(void)state;
	assert_int_equal(bd_store_open(dir, &st, err, sizeof(err)), 0);
	bd_store_batch_t *b = bd_store_batch_new(st);
	bd_outbox_t *ob = current = bd_outbox_new(st, p, topics);

	/* staged, written, produced, acknowledged, deleted */
	for (int i = 0; i < 5; i++) {
		char s[16];
		snprintf(s, sizeof(s), "m%d", i);
		add(ob, b, s);
	}
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(outbox_rows(st), 5); /* durable before it is produced */
	bd_outbox_produce(ob);
	wait_delivered(p, ob, 10);
	assert_int_equal(bd_outbox_acked(ob), 5);
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(outbox_rows(st), 0);
	assert_int_equal(read_topic("decisions", got, 32), 5);
	assert_string_equal(got[4].val, "m4");

	/* a "crash" after the write, before produce: the next owner of the
	 * partition produces them */
	add(ob, b, "c1");
	add(ob, b, "c2");
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	bd_outbox_discard(ob); /* forget the staged copies, as a crash would */
	bd_outbox_free(ob);
	ob = current = bd_outbox_new(st, p, topics);
	assert_int_equal(bd_outbox_recover(ob, 3), 0);
	wait_delivered(p, ob, 10);
	assert_int_equal(bd_outbox_acked(ob), 2);
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(outbox_rows(st), 0);
	assert_int_equal(read_topic("decisions", got, 32), 7);
	assert_string_equal(got[6].val, "c2");

	/* the sequence continues after the recovered entries (no reuse) */
	add(ob, b, "s1");
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	uint8_t k[10] = {0, 3, 0, 0, 0, 0, 0, 0, 0, 7}; /* seq 7 = 5 + 2 */
	char *v;
	size_t vl;
	assert_int_equal(bd_store_get(st, BD_CF_OUTBOX, k, 10, &v, &vl), 0);
	free(v);

	/* broker down: delivery fails, the entry stays, and is produced again
	 * from the store once the broker is back */
	rd_kafka_mock_broker_set_down(mc, 1);
	usleep(1000 * 1000); /* let the mock drop its connections */
	bd_outbox_produce(ob);
	wait_delivered(p, ob, 8);
	assert_true(bd_outbox_failures(ob) >= 1);
	assert_int_equal(outbox_rows(st), 1);
	rd_kafka_mock_broker_set_up(mc, 1);
	/* what the workers' timer does: retry, record deliveries */
	for (int i = 0; i < 20 && outbox_rows(st) > 0; i++) {
		bd_outbox_retry(ob);
		wait_delivered(p, ob, 10);
		bd_outbox_prepare(ob, b);
		assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	}
	assert_int_equal(outbox_rows(st), 0);
	int n = read_topic("decisions", got, 32);
	assert_int_equal(n, 8);
	assert_string_equal(got[7].val, "s1");

	finish(ob, b, p, st);
}

/* Keys come out as they went in: longer than 65 535 bytes (the old record
 * stored the length in 2 bytes: a 70 000-byte key came out as 4 464 bytes
 * and the value was not the value), empty (stays empty, not null), null. */
static void test_outbox_keys(void **state)
{
	bd_store_t *st;
	rd_kafka_t *p = producer();
	got_t got[8];
	char *big = malloc(70000);
	(void)state;
	memset(big, 'k', 70000);
	rd_kafka_mock_topic_create(mc, "dlq", 1, 1);
	assert_int_equal(bd_store_open(dir, &st, err, sizeof(err)), 0);
	bd_store_batch_t *b = bd_store_batch_new(st);
	bd_outbox_t *ob = current = bd_outbox_new(st, p, topics);
	assert_int_equal(bd_outbox_add(ob, b, 4, BD_MSG_DEADLETTER, big, 70000, "long", 4), 0);
	assert_int_equal(bd_outbox_add(ob, b, 4, BD_MSG_DEADLETTER, "", 0, "empty", 5), 0);
	assert_int_equal(bd_outbox_add(ob, b, 4, BD_MSG_DEADLETTER, NULL, 0, "null", 4), 0);
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	/* produced from the stored records, as after a crash */
	bd_outbox_discard(ob);
	bd_outbox_free(ob);
	ob = current = bd_outbox_new(st, p, topics);
	assert_int_equal(bd_outbox_recover(ob, 4), 0);
	wait_delivered(p, ob, 10);
	assert_int_equal(read_topic("dlq", got, 8), 3);
	assert_int_equal(got[0].klen, 70000);
	assert_int_equal(got[0].key0, 'k');
	assert_string_equal(got[0].val, "long");
	assert_false(got[1].null_key);
	assert_int_equal(got[1].klen, 0);
	assert_string_equal(got[1].val, "empty");
	assert_true(got[2].null_key);
	assert_string_equal(got[2].val, "null");
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(outbox_rows(st), 0);
	finish(ob, b, p, st);
	free(big);
}

/* Records of the previous format (kind, 2-byte key length, key, value),
 * as a state directory of the last release holds them, still go out. */
static void test_outbox_old_records(void **state)
{
	bd_store_t *st;
	rd_kafka_t *p = producer();
	got_t got[8];
	uint8_t k[10] = {0, 5, 0, 0, 0, 0, 0, 0, 0, 1};
	const uint8_t v1_keyed[] = {BD_MSG_DEADLETTER, 0, 2, 'u', '7', 'o', 'l', 'd'};
	const uint8_t v1_unkeyed[] = {BD_MSG_DEADLETTER, 0, 0, 'n', 'o', 'k'};
	const uint8_t damaged[] = {BD_MSG_DEADLETTER, 0, 9, 'x'};
	(void)state;
	assert_int_equal(bd_store_open(dir, &st, err, sizeof(err)), 0);
	bd_store_batch_t *b = bd_store_batch_new(st);
	int before = read_topic("dlq", got, 8);
	bd_store_batch_put(b, BD_CF_OUTBOX, k, 10, v1_keyed, sizeof(v1_keyed));
	k[9] = 2;
	bd_store_batch_put(b, BD_CF_OUTBOX, k, 10, v1_unkeyed, sizeof(v1_unkeyed));
	k[9] = 3;
	bd_store_batch_put(b, BD_CF_OUTBOX, k, 10, damaged, sizeof(damaged));
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	bd_outbox_t *ob = current = bd_outbox_new(st, p, topics);
	assert_int_equal(bd_outbox_recover(ob, 5), 0);
	wait_delivered(p, ob, 10);
	assert_int_equal(read_topic("dlq", got, 8), before + 2);
	assert_int_equal(got[before].klen, 2);
	assert_int_equal(got[before].key0, 'u');
	assert_string_equal(got[before].val, "old");
	assert_true(got[before + 1].null_key); /* as the old release produced it */
	assert_string_equal(got[before + 1].val, "nok");
	/* delivered and the damaged one dropped: all three deleted */
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(outbox_rows(st), 0);
	finish(ob, b, p, st);
}

/* rows of outbox partition @p part */
static int part_rows(bd_store_t *st, uint16_t part)
{
	uint8_t prefix[2] = {(uint8_t)(part >> 8), (uint8_t)part};
	int n = 0;
	assert_int_equal(bd_store_scan(st, BD_CF_OUTBOX, prefix, 2, count_cb, &n), 0);
	return n;
}

/* a delivery report for entry @p seq of partition @p part, as the
 * producer's callback gives it (the opaque is part << 48 | seq) */
static void delivered(bd_outbox_t *ob, uint16_t part, uint64_t seq)
{
	rd_kafka_message_t m;
	memset(&m, 0, sizeof(m));
	m._private = (void *)(uintptr_t)((uint64_t)part << 48 | seq);
	bd_outbox_on_delivery(ob, &m);
}

/* what a worker's batch does at its end: the outbox's deletes and
 * counters into the batch, the batch written */
static void commit(bd_outbox_t *ob, bd_store_batch_t *b, bd_store_t *st)
{
	bd_outbox_prepare(ob, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
}

/* Acknowledged entries go as ranges, and a range never covers an entry
 * still owed: reports out of order wait for the ones before them, and an
 * entry the outbox does not track (here: one written beside it, in the
 * place of a discarded batch's sequence number) splits the range. */
static void test_outbox_ranges(void **state)
{
	const uint16_t part = 9;
	uint8_t k[10] = {0, part, 0, 0, 0, 0, 0, 0, 0, 0};
	bd_store_t *st;
	rd_kafka_t *p = producer();
	(void)state;
	assert_int_equal(bd_store_open(dir, &st, err, sizeof(err)), 0);
	bd_store_batch_t *b = bd_store_batch_new(st);
	bd_outbox_t *ob = current = bd_outbox_new(st, p, topics);
	assert_int_equal(bd_outbox_recover(ob, part), 0);

	/* 0, 1, 2, 3; reports for 0, 2, 3: only 0 can go */
	for (int i = 0; i < 4; i++)
		assert_int_equal(bd_outbox_add(ob, b, part, BD_MSG_DECISION, "k", 1, "v", 1), 0);
	commit(ob, b, st);
	bd_outbox_produce(ob);
	delivered(ob, part, 0);
	delivered(ob, part, 2);
	delivered(ob, part, 3);
	assert_int_equal(bd_outbox_acked(ob), 1);
	commit(ob, b, st);
	assert_int_equal(part_rows(st, part), 3);
	delivered(ob, part, 1); /* now 1, 2, 3 in one range */
	delivered(ob, part, 7); /* never written: ignored */
	assert_int_equal(bd_outbox_acked(ob), 3);
	commit(ob, b, st);
	assert_int_equal(part_rows(st, part), 0);

	/* 4 written; 5 staged and discarded, and a record put at 5 by hand;
	 * 6 written; both reported: 4 and 6 go, 5 stays */
	assert_int_equal(bd_outbox_add(ob, b, part, BD_MSG_DECISION, "k", 1, "v", 1), 0);
	commit(ob, b, st);
	bd_outbox_produce(ob);
	assert_int_equal(bd_outbox_add(ob, b, part, BD_MSG_DECISION, "k", 1, "v", 1), 0);
	bd_outbox_discard(ob);
	bd_store_batch_clear(b);
	k[9] = 5;
	bd_store_batch_put(b, BD_CF_OUTBOX, k, 10, "\xb2\x03\x00\x00\x00\x00\x01kx", 9);
	assert_int_equal(bd_outbox_add(ob, b, part, BD_MSG_DECISION, "k", 1, "v", 1), 0);
	commit(ob, b, st);
	bd_outbox_produce(ob);
	delivered(ob, part, 4);
	delivered(ob, part, 6);
	assert_int_equal(bd_outbox_acked(ob), 2);
	commit(ob, b, st);
	assert_int_equal(part_rows(st, part), 1);
	char *v;
	size_t vl;
	assert_int_equal(bd_store_get(st, BD_CF_OUTBOX, k, 10, &v, &vl), 0);
	free(v);

	/* the producer's own reports for all of them change nothing more */
	rd_kafka_flush(p, 5000);
	commit(ob, b, st);
	assert_int_equal(part_rows(st, part), 1);
	finish(ob, b, p, st);
}

/* The changelog's ordering (bd_outbox_hold): a written batch's outputs go
 * out only when its gate opens, and in order; held entries dropped with
 * the outbox stay in the store for the partition's next owner. */
static void test_outbox_hold(void **state)
{
	got_t got[8];
	bd_store_t *st;
	rd_kafka_t *p = producer();
	(void)state;
	rd_kafka_mock_topic_create(mc, "held", 1, 1);
	char *held_topics[BD_MSG__COUNT] = {"f", "o", "c", "held", "p", "m", "dlq"};
	assert_int_equal(bd_store_open(dir, &st, err, sizeof(err)), 0);
	bd_store_batch_t *b = bd_store_batch_new(st);
	bd_outbox_t *ob = current = bd_outbox_new(st, p, held_topics);
	assert_int_equal(bd_outbox_recover(ob, 11), 0);
	const char *vals[] = {"g1a", "g1b", "g2", "g3"};
	const uint64_t gate[] = {1, 1, 2, 3};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(bd_outbox_add(ob, b, 11, BD_MSG_DECISION, "k", 1, vals[i], 3), 0);
		if (i == 0)
			continue; /* g1a and g1b: one batch */
		commit(ob, b, st);
		bd_outbox_hold(ob, gate[i]);
	}
	assert_int_equal(bd_outbox_held(ob), 4);
	rd_kafka_flush(p, 2000);
	assert_int_equal(read_topic("held", got, 8), 0); /* nothing before its gate */
	bd_outbox_release(ob, 2);
	assert_int_equal(bd_outbox_held(ob), 1);
	wait_delivered(p, ob, 5);
	assert_int_equal(read_topic("held", got, 8), 3);
	assert_string_equal(got[0].val, "g1a");
	assert_string_equal(got[1].val, "g1b");
	assert_string_equal(got[2].val, "g2");
	commit(ob, b, st);
	assert_int_equal(part_rows(st, 11), 1); /* g3: written, held, owed */
	bd_outbox_free(ob); /* g3 never went out: the next owner sends it */
	ob = current = bd_outbox_new(st, p, held_topics);
	assert_int_equal(bd_outbox_recover(ob, 11), 0);
	wait_delivered(p, ob, 5);
	assert_int_equal(read_topic("held", got, 8), 4);
	assert_string_equal(got[3].val, "g3");
	finish(ob, b, p, st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbox_life),
		cmocka_unit_test(test_outbox_keys),
		cmocka_unit_test(test_outbox_old_records),
		cmocka_unit_test(test_outbox_ranges),
		cmocka_unit_test(test_outbox_hold),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
