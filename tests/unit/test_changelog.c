/* The changelog (state/changelog.h, the codec in wire/messages.h): real
 * RocksDB files in a temporary directory, real Avro bytes.  The record's
 * round trip, splitting a batch into parts, the partition of every column
 * family's keys as the writers make them, a batch with a key of no
 * partition refused, and a store rebuilt from the records equal to the
 * store that wrote them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "budgetd/policy/carry.h"
#include "budgetd/policy/clock.h"
#include "budgetd/state/changelog.h"
#include "budgetd/state/outbox.h"
#include "budgetd/state/samples.h"
#include "budgetd/state/stats.h"
#include "budgetd/state/store.h"
#include "budgetd/wire/messages.h"
#include "store_dir.h"

static char dir[64], err[512];
static bd_codec_t *codec;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bdclogXXXXXX");
	if (!mkdtemp(dir))
		return -1;
	return bd_codec_new(NULL, BD_WIRE_SINGLE_OBJECT, &codec, err, sizeof(err));
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	bd_codec_free(codec);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static bd_store_t *open_at(const char *sub)
{
	return bd_test_store_open(dir, sub, err, sizeof(err));
}

static void assert_records_equal(const bd_changelog_t *a, const bd_changelog_t *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->partition, b->partition);
	assert_int_equal(a->epoch, b->epoch);
	assert_string_equal(a->instance, b->instance);
	assert_int_equal(a->batch_seq, b->batch_seq);
	assert_int_equal(a->part, b->part);
	assert_int_equal(a->parts, b->parts);
	assert_int_equal(a->ts_ms, b->ts_ms);
	assert_int_equal(a->n_offsets, b->n_offsets);
	for (size_t i = 0; i < a->n_offsets; i++) {
		assert_string_equal(a->offsets[i].topic, b->offsets[i].topic);
		assert_int_equal(a->offsets[i].next, b->offsets[i].next);
	}
	assert_int_equal(a->n_ops, b->n_ops);
	for (size_t i = 0; i < a->n_ops; i++) {
		assert_int_equal(a->ops[i].cf, b->ops[i].cf);
		assert_int_equal(a->ops[i].op, b->ops[i].op);
		assert_int_equal(a->ops[i].klen, b->ops[i].klen);
		assert_int_equal(a->ops[i].vlen, b->ops[i].vlen);
		assert_memory_equal(a->ops[i].key, b->ops[i].key, a->ops[i].klen);
		if (a->ops[i].vlen)
			assert_memory_equal(a->ops[i].value, b->ops[i].value, a->ops[i].vlen);
	}
}

/* Every family and every kind of operation, an empty key and value, bytes
 * that are not UTF-8: they come back as they went. */
static void test_round_trip(void **state)
{
	static const uint8_t k1[] = {0, 3, 0xff, 0x00, 0x80}, v1[] = {0xc3, 0x28, 0};
	double x[3] = {1.5, -2, 1e300};
	bd_clog_offset_t offs[2] = {{"budgetd.features", 42}, {"budgetd.outcomes", 7}};
	bd_clog_op_t ops[] = {
		{BD_CLOG_CF_META, BD_CLOG_PUT, k1, v1, sizeof(k1), sizeof(v1)},
		{BD_CLOG_CF_OFFSETS, BD_CLOG_PUT, k1, v1, sizeof(k1), 1},
		{BD_CLOG_CF_DECISIONS, BD_CLOG_DELETE, k1, "", sizeof(k1), 0},
		{BD_CLOG_CF_STATS, BD_CLOG_MERGE, k1, x, sizeof(k1), sizeof(x)},
		{BD_CLOG_CF_SAMPLES, BD_CLOG_DELETE_RANGE, k1, k1, 2, sizeof(k1)},
		{BD_CLOG_CF_OUTBOX, BD_CLOG_PUT, "", "", 0, 0},
		{BD_CLOG_CF_PENDING, BD_CLOG_DELETE, k1, "", 3, 0},
	};
	bd_changelog_t r = {.kind = BD_CLOG_BATCH, .partition = 3, .epoch = 9,
			    .instance = "host:1", .batch_seq = 1234567890123LL, .part = 1,
			    .parts = 2, .ts_ms = 1700000000000LL, .n_offsets = 2,
			    .offsets = offs, .n_ops = BD_ARRAY_SIZE(ops), .ops = ops},
		       d;
	bd_buf_t out = {0};
	(void)state;
	assert_int_equal(bd_encode_changelog(codec, &r, &out), 0);
	assert_int_equal(bd_decode_changelog(codec, out.data, out.len, &d, err, sizeof(err)), 0);
	assert_records_equal(&r, &d);
	/* a record whose part is not below its parts does not decode */
	r.part = 2;
	out.len = 0;
	assert_int_equal(bd_encode_changelog(codec, &r, &out), 0);
	assert_int_equal(bd_decode_changelog(codec, out.data, out.len, &d, err, sizeof(err)),
			 BD_EINVAL);
	assert_non_null(strstr(err, "part 2 of 2"));
	/* cut short: not a record */
	r.part = 0;
	out.len = 0;
	assert_int_equal(bd_encode_changelog(codec, &r, &out), 0);
	assert_int_equal(bd_decode_changelog(codec, out.data, out.len - 1, &d, err, sizeof(err)),
			 BD_EDECODE);
	bd_buf_free(&out);
}

/* A batch of 1000 ops of 100-byte values cut under 8 000 bytes: every part
 * encodes within the limit, the parts hold every op once in order, and a
 * single op larger than the limit makes a part of its own. */
static void test_split_parts(void **state)
{
	enum { N = 1000 };
	static uint8_t keys[N][10], val[100], big[20000];
	bd_clog_op_t ops[N + 1];
	bd_clog_offset_t off = {"budgetd.features", 5};
	bd_changelog_t r = {.kind = BD_CLOG_BATCH, .partition = 1, .instance = "h:2",
			    .n_offsets = 1, .offsets = &off},
		       d;
	bd_buf_t out = {0};
	size_t from = 0, next = 0, head;
	int parts = 0;
	(void)state;
	for (int i = 0; i < N; i++) {
		bd_be16(keys[i], 1);
		bd_be64(keys[i] + 2, (uint64_t)i);
		ops[i] = (bd_clog_op_t){BD_CLOG_CF_SAMPLES, BD_CLOG_PUT, keys[i], val, 10, 100};
	}
	ops[N] = (bd_clog_op_t){BD_CLOG_CF_OUTBOX, BD_CLOG_PUT, keys[0], big, 10, sizeof(big)};
	r.ops = ops;
	r.n_ops = N + 1;
	head = bd_changelog_head_bytes(&r);
	while (from < N + 1) {
		size_t end = bd_changelog_part_end(ops, N + 1, from, head, 8000);
		assert_true(end > from);
		bd_changelog_t p = r;
		p.ops = ops + from;
		p.n_ops = end - from;
		p.part = parts++;
		p.parts = 1000;
		out.len = 0;
		assert_int_equal(bd_encode_changelog(codec, &p, &out), 0);
		if (end - from > 1 || from < N)
			assert_true(out.len <= 8000);
		else
			assert_true(out.len > 8000); /* the big op alone */
		assert_int_equal(bd_decode_changelog(codec, out.data, out.len, &d, err,
						     sizeof(err)), 0);
		for (size_t i = 0; i < d.n_ops; i++)
			assert_memory_equal(d.ops[i].key, keys[from + i < N ? from + i : 0], 10);
		next += d.n_ops;
		from = end;
	}
	assert_int_equal(next, N + 1);
	/* ~110 bytes an op: about 14 parts, and the big op's own */
	assert_true(parts >= 14 && parts <= 16);
	bd_buf_free(&out);
}

/* The keys every writer of a worker batch makes, each family's: the
 * partition they name. */
static void test_key_partition(void **state)
{
	uint8_t k[BD_STATS_KEY_MAX];
	size_t n;
	(void)state;
	n = bd_stats_cell_key(k, 513, "camp", 2, 3, 1, 100);
	assert_int_equal(bd_store_key_partition(BD_CF_STATS, k, n), 513);
	n = bd_stats_day_key(k, 7, "camp", 20000);
	assert_int_equal(bd_store_key_partition(BD_CF_STATS, k, n), 7);
	n = bd_stats_delay_key(k, 6, "camp");
	assert_int_equal(bd_store_key_partition(BD_CF_STATS, k, n), 6);
	n = bd_sample_key(k, 5, 99);
	assert_int_equal(bd_store_key_partition(BD_CF_SAMPLES, k, n), 5);
	n = bd_clock_key(k, 4, "camp");
	assert_int_equal(bd_store_key_partition(BD_CF_META, k, n), 4);
	bd_be16(k, 3);
	bd_be64(k + 2, 12345);
	assert_int_equal(bd_store_key_partition(BD_CF_DECISIONS, k, 10), 3);
	assert_int_equal(bd_store_key_partition(BD_CF_PENDING, k, 10), 3);
	assert_int_equal(bd_store_key_partition(BD_CF_OUTBOX, k, 10), 3);
	/* offsets: topic, NUL, be32 partition */
	memcpy(k, "budgetd.outcomes", 17);
	bd_be32(k + 17, 300);
	assert_int_equal(bd_store_key_partition(BD_CF_OFFSETS, k, 21), 300);
	/* families of no partition, keys too short to hold one */
	assert_int_equal(bd_store_key_partition(BD_CF_CAMPAIGNS, k, 21), BD_EINVAL);
	assert_int_equal(bd_store_key_partition(BD_CF_PLANS, k, 21), BD_EINVAL);
	assert_int_equal(bd_store_key_partition(BD_CF_MODELS, k, 21), BD_EINVAL);
	assert_int_equal(bd_store_key_partition(BD_CF_META, "ctgt", 4), BD_EINVAL);
	assert_int_equal(bd_store_key_partition(BD_CF_STATS, k, 1), BD_EINVAL);
	assert_int_equal(bd_store_key_partition(BD_CF_OFFSETS, "x", 1), BD_EINVAL);
	/* every family the changelog carries maps both ways */
	for (int cf = 0; cf < BD_CF__COUNT; cf++) {
		int c = bd_clog_cf_of((bd_cf_t)cf);
		if (c >= 0)
			assert_int_equal(bd_clog_store_cf(c), cf);
	}
}

static void assert_failed_with(const bd_clog_rec_t *r, const char *why)
{
	const char *got = bd_clog_rec_failed(r);
	if (!got)
		fail_msg("the recorder took it (want: %s)", why);
	assert_string_equal(got, why);
}

/* A key of no partition, or of a partition past the changelog's, fails the
 * recorder with the family named. */
static void test_unpartitioned_fails(void **state)
{
	bd_store_t *st = open_at("unpart");
	bd_store_batch_t *b = bd_store_batch_new(st);
	bd_clog_rec_t *r = bd_clog_rec_new(4);
	uint8_t k[10] = {0, 1};
	(void)state;
	bd_clog_rec_attach(r, b);
	bd_store_batch_put(b, BD_CF_DECISIONS, k, 10, "v", 1);
	assert_null(bd_clog_rec_failed(r));
	bd_store_batch_put(b, BD_CF_CAMPAIGNS, "camp", 4, "v", 1);
	assert_failed_with(r, "campaigns key of 4 bytes names no partition");
	bd_clog_rec_clear(r);
	bd_store_batch_clear(b);
	bd_store_batch_put(b, BD_CF_META, "mver", 4, "v", 1);
	assert_failed_with(r, "default key of 4 bytes names no partition");
	bd_clog_rec_clear(r);
	bd_be16(k, 4); /* the recorder has partitions 0..3 */
	bd_store_batch_delete(b, BD_CF_SAMPLES, k, 10);
	assert_failed_with(r, "samples key of partition 4: the changelog has 4 partitions");
	bd_clog_rec_free(r);
	bd_store_batch_destroy(b);
	bd_store_close(st);
}

typedef struct dump_s {
	char *s;
	size_t len;
} dump_t;

static int dump_cb(const char *key, size_t klen, const char *val, size_t vlen, void *opaque)
{
	dump_t *d = opaque;
	d->s = realloc(d->s, d->len + klen + vlen + 16);
	d->len += (size_t)sprintf(d->s + d->len, "%zu:%zu:", klen, vlen);
	memcpy(d->s + d->len, key, klen);
	memcpy(d->s + d->len + klen, val, vlen);
	d->len += klen + vlen;
	return 0;
}

static void assert_stores_equal(bd_store_t *a, bd_store_t *b)
{
	for (int cf = 0; cf < BD_CF__COUNT; cf++) {
		dump_t da = {0}, db = {0};
		assert_int_equal(bd_store_scan(a, (bd_cf_t)cf, "", 0, dump_cb, &da), 0);
		assert_int_equal(bd_store_scan(b, (bd_cf_t)cf, "", 0, dump_cb, &db), 0);
		if (da.len != db.len || (da.len && memcmp(da.s, db.s, da.len)))
			fail_msg("family %s differs: %zu bytes written, %zu rebuilt",
				 bd_store_cf_name((bd_cf_t)cf), da.len, db.len);
		free(da.s);
		free(db.s);
	}
}

/* Stages what a worker batch does, on partitions 0 and 2, with the
 * writers' own calls. */
static void stage_batch(bd_store_batch_t *b, bd_outbox_t *ob, uint64_t round)
{
	uint8_t k[BD_STATS_KEY_MAX];
	double x[BD_STAT__COUNT];
	for (uint16_t p = 0; p < 4; p += 2) {
		bd_stats_exposure_vector(x, 0.5);
		bd_store_batch_add(b, BD_CF_STATS, k, bd_stats_cell_key(k, p, "c", 0, 1, 2, 10),
				   x, BD_STAT__COUNT);
		bd_store_batch_put(b, BD_CF_SAMPLES, k, bd_sample_key(k, p, round), "sample", 6);
		bd_be16(k, p);
		bd_be64(k + 2, round);
		bd_store_batch_put(b, BD_CF_DECISIONS, k, 10, "decision", 8);
		bd_store_batch_put(b, BD_CF_PENDING, k, 10, "", 0);
		if (round > 0) {
			bd_be64(k + 2, round - 1);
			bd_store_batch_delete(b, BD_CF_PENDING, k, 10);
		}
		assert_int_equal(bd_outbox_add(ob, b, p, BD_MSG_DECISION, "u", 1, "out", 3), 0);
		bd_carry_put_carried(b, p, (int64_t)round);
		bd_store_batch_offset(b, "budgetd.features", p, (int64_t)round + 1);
		if (round == 2) {
			uint8_t from[10], to[10];
			bd_store_batch_delete_range(b, BD_CF_SAMPLES, from, bd_sample_key(from, p, 0),
						    to, bd_sample_key(to, p, 1));
		}
	}
	bd_outbox_prepare(ob, b);
}

/* Three batches written to a store with the recorder on; their records,
 * through Avro bytes, applied to an empty store: the same state, family by
 * family, byte for byte (the stats merges summed alike). */
static void test_rebuild_equal(void **state)
{
	bd_store_t *a = open_at("writer"), *b = open_at("rebuilt");
	bd_store_batch_t *wb = bd_store_batch_new(a), *ab = bd_store_batch_new(b);
	bd_clog_rec_t *r = bd_clog_rec_new(4);
	bd_outbox_t *ob = bd_outbox_new(a, NULL, NULL);
	bd_buf_t out = {0};
	(void)state;
	bd_clog_rec_attach(r, wb);
	for (uint64_t round = 0; round < 3; round++) {
		bd_changelog_t rec, d;
		int cursor = 0, n = 0;
		stage_batch(wb, ob, round);
		bd_clog_rec_stamp(r, wb, 7, (int64_t)round); /* recorded with the batch */
		assert_null(bd_clog_rec_failed(r));
		assert_int_equal(bd_store_batch_write(a, wb, err, sizeof(err)), 0);
		while (bd_clog_rec_next(r, &cursor, &rec) == 1) {
			assert_int_equal(rec.partition % 2, 0);
			assert_int_equal(rec.batch_seq, (int64_t)round);
			assert_int_equal(rec.n_offsets, 1);
			assert_int_equal(rec.offsets[0].next, (int64_t)round + 1);
			out.len = 0;
			assert_int_equal(bd_encode_changelog(codec, &rec, &out), 0);
			assert_int_equal(bd_decode_changelog(codec, out.data, out.len, &d, err,
							     sizeof(err)), 0);
			assert_int_equal(bd_changelog_apply(ab, &d, err, sizeof(err)), 0);
			n++;
		}
		assert_int_equal(n, 2);
		bd_clog_rec_clear(r);
		assert_int_equal(bd_store_batch_write(b, ab, err, sizeof(err)), 0);
	}
	assert_stores_equal(a, b);
	/* the stamps: the last batch each store holds of each partition */
	for (int i = 0; i < 2; i++) {
		bd_store_t *st = i ? b : a;
		bd_clog_stamp_t s0 = bd_clog_stamp_get(st, 0), s1 = bd_clog_stamp_get(st, 1),
				s2 = bd_clog_stamp_get(st, 2);
		assert_int_equal(s0.epoch, 7);
		assert_int_equal(s0.seq, 2);
		assert_int_equal(s2.seq, 2);
		assert_int_equal(s1.epoch, -1); /* nothing of partition 1 */
	}
	bd_buf_free(&out);
	bd_outbox_free(ob);
	bd_clog_rec_free(r);
	bd_store_batch_destroy(wb);
	bd_store_batch_destroy(ab);
	bd_store_close(a);
	bd_store_close(b);
}

/* The applier refuses a record whose operation names another partition. */
static void test_apply_refuses_foreign_key(void **state)
{
	bd_store_t *st = open_at("foreign");
	bd_store_batch_t *b = bd_store_batch_new(st);
	uint8_t k[10] = {0, 5};
	bd_clog_op_t op = {BD_CLOG_CF_DECISIONS, BD_CLOG_PUT, k, "v", 10, 1};
	bd_changelog_t r = {.partition = 4, .parts = 1, .instance = "", .n_ops = 1, .ops = &op};
	(void)state;
	assert_int_equal(bd_changelog_apply(b, &r, err, sizeof(err)), BD_EINVAL);
	assert_string_equal(err, "a decisions key of partition 5 in a record of partition 4");
	bd_store_batch_destroy(b);
	bd_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_split_parts),
		cmocka_unit_test(test_key_partition),
		cmocka_unit_test(test_unpartitioned_fails),
		cmocka_unit_test(test_rebuild_equal),
		cmocka_unit_test(test_apply_refuses_foreign_key),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
