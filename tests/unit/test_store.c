/* store.c, stats.c, samples.c: real RocksDB files in a temporary directory. */
#include <dirent.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "budgetd/state/cmdids.h"
#include "budgetd/state/samples.h"
#include "budgetd/state/stats.h"
#include "budgetd/state/store.h"
#include "store_dir.h"

static char dir[64], err[512];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/bdstoreXXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static bd_store_t *open_at(const char *sub)
{
	return bd_test_store_open(dir, sub, err, sizeof(err));
}

static void get_doubles(bd_store_t *st, const void *k, size_t kl, double *x, size_t n)
{
	char *v = NULL;
	size_t vl = 0;
	assert_int_equal(bd_store_get(st, BD_CF_STATS, k, kl, &v, &vl), 0);
	assert_int_equal(vl, n * sizeof(double));
	memcpy(x, v, vl);
	free(v);
}

static void test_put_get_merge(void **state)
{
	bd_store_t *st = open_at("a");
	bd_store_batch_t *b = bd_store_batch_new(st);
	char *v = NULL;
	size_t vl = 0;
	double x[3] = {1, 2, 3}, y[2] = {10, 20}, got[3];
	(void)state;
	bd_store_batch_put(b, BD_CF_META, "k", 1, "v1", 2);
	bd_store_batch_add(b, BD_CF_STATS, "s", 1, x, 3);
	bd_store_batch_add(b, BD_CF_STATS, "s", 1, y, 2); /* shorter vector */
	assert_int_equal(bd_store_batch_count(b), 3);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(bd_store_batch_count(b), 0);
	assert_int_equal(bd_store_get(st, BD_CF_META, "k", 1, &v, &vl), 0);
	assert_memory_equal(v, "v1", 2);
	free(v);
	assert_int_equal(bd_store_get(st, BD_CF_META, "absent", 6, &v, &vl), 1);
	get_doubles(st, "s", 1, got, 3);
	assert_true(got[0] == 11 && got[1] == 22 && got[2] == 3);
	/* merges survive a reopen (the operator is registered again) */
	bd_store_batch_add(b, BD_CF_STATS, "s", 1, x, 3);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	bd_store_batch_destroy(b);
	bd_store_close(st);
	st = open_at("a");
	get_doubles(st, "s", 1, got, 3);
	assert_true(got[0] == 12 && got[1] == 24 && got[2] == 6);
	b = bd_store_batch_new(st);
	bd_store_batch_delete(b, BD_CF_META, "k", 1);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(bd_store_get(st, BD_CF_META, "k", 1, &v, &vl), 1);
	bd_store_batch_destroy(b);
	bd_store_close(st);
}

/* The statistics family's memtables stay small however many merge operands
 * arrive (store.c STATS_WRITE_BUFFER): every solve's scan sums the operands
 * still in them, so their size is that scan's cost.  24 MB of operands over
 * 64 cells; the sums stay exact across the flushes that fold them. */
static void test_stats_memtable_bounded(void **state)
{
	bd_store_t *st = open_at("m");
	bd_store_batch_t *b = bd_store_batch_new(st);
	double x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, got[8];
	char key[16];
	(void)state;
	for (int batch = 0; batch < 1500; batch++) {
		for (int k = 0; k < 128; k++) {
			snprintf(key, sizeof(key), "cell%03d", k % 64);
			bd_store_batch_add(b, BD_CF_STATS, key, strlen(key), x, 8);
		}
		assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	}
	bd_store_memory_t m;
	assert_int_equal(bd_store_memory(st, &m), 0);
	/* the 4 MiB active memtable and one being flushed, with slack */
	assert_true(m.memtable_cf[BD_CF_STATS] < 10.0 * 1048576);
	get_doubles(st, "cell007", 7, got, 8);
	assert_true(got[0] == 3000 && got[7] == 8 * 3000);
	bd_store_batch_destroy(b);
	bd_store_close(st);
}

/* A batch's operations are written sorted by family and key (store.c
 * sorted_flush): the result must be what they make in the order they were
 * made.  One key's operations keep their order; a range delete removes what
 * was put before it and nothing put after it. */
static void test_batch_order(void **state)
{
	bd_store_t *st = open_at("order");
	bd_store_batch_t *b = bd_store_batch_new(st);
	char *v = NULL, key[8];
	size_t vl = 0;
	(void)state;
	bd_store_batch_put(b, BD_CF_META, "z", 1, "1", 1);
	bd_store_batch_put(b, BD_CF_META, "k", 1, "a", 1);
	bd_store_batch_delete(b, BD_CF_META, "k", 1);
	bd_store_batch_put(b, BD_CF_META, "k", 1, "b", 1);
	bd_store_batch_put(b, BD_CF_META, "a", 1, "2", 1);
	bd_store_batch_put(b, BD_CF_META, "k", 1, "c", 1);
	bd_store_batch_delete(b, BD_CF_META, "z", 1);
	/* r1..r9 put, the range [r0, r9) deleted, then r3 and r9 put again */
	for (int i = 1; i <= 9; i++) {
		snprintf(key, sizeof(key), "r%d", i);
		bd_store_batch_put(b, BD_CF_META, key, 2, "old", 3);
	}
	bd_store_batch_delete_range(b, BD_CF_META, "r0", 2, "r9", 2);
	bd_store_batch_put(b, BD_CF_META, "r3", 2, "new", 3);
	assert_int_equal(bd_store_batch_count(b), 18);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(bd_store_get(st, BD_CF_META, "k", 1, &v, &vl), 0);
	assert_memory_equal(v, "c", 1); /* the last put of three */
	free(v);
	assert_int_equal(bd_store_get(st, BD_CF_META, "z", 1, &v, &vl), 1);
	assert_int_equal(bd_store_get(st, BD_CF_META, "a", 1, &v, &vl), 0);
	free(v);
	for (int i = 1; i <= 9; i++) {
		snprintf(key, sizeof(key), "r%d", i);
		int rc = bd_store_get(st, BD_CF_META, key, 2, &v, &vl);
		if (i == 3 || i == 9) { /* put after the range delete; r9 is past its end */
			assert_int_equal(rc, 0);
			assert_memory_equal(v, i == 3 ? "new" : "old", 3);
			free(v);
		} else {
			assert_int_equal(rc, 1);
		}
	}
	bd_store_batch_destroy(b);
	bd_store_close(st);
}

static void test_offsets_and_checkpoint(void **state)
{
	bd_store_t *st = open_at("b"), *cp;
	bd_store_batch_t *b = bd_store_batch_new(st);
	char path[128];
	(void)state;
	assert_int_equal(bd_store_offset_get(st, "topic", 3), -1);
	bd_store_batch_offset(b, "topic", 3, 42);
	bd_store_batch_offset(b, "topic", 4, 7);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(bd_store_offset_get(st, "topic", 3), 42);
	assert_int_equal(bd_store_offset_get(st, "topic", 4), 7);
	assert_int_equal(bd_store_offset_get(st, "topi", 3), -1);
	snprintf(path, sizeof(path), "%s/b-checkpoint", dir);
	assert_int_equal(bd_store_checkpoint(st, path, err, sizeof(err)), 0);
	bd_store_batch_offset(b, "topic", 3, 99);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	bd_store_batch_destroy(b);
	bd_store_close(st);
	cp = open_at("b-checkpoint");
	assert_int_equal(bd_store_offset_get(cp, "topic", 3), 42); /* as of the checkpoint */
	bd_store_close(cp);
}

/* entries of @p path starting with "checkpoint-", complete or (tmp) not */
static int count_entries(const char *path, bool tmp)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "checkpoint-", 11) == 0 &&
		    (strstr(e->d_name, ".tmp") != NULL) == tmp)
			n++;
	closedir(d);
	return n;
}

static int sum_cb(const char *k, size_t kl, const char *v, size_t vl, void *o)
{
	double *acc = o, x;
	(void)k; (void)kl;
	assert_int_equal(vl, sizeof(double));
	memcpy(&x, v, sizeof(x));
	acc[0] += x;
	acc[1] += 1;
	return 0;
}

static void test_checkpoint_rotate(void **state)
{
	bd_store_t *st = open_at("r"), *cp;
	bd_store_batch_t *b = bd_store_batch_new(st);
	char cpdir[128], path[256], first[256] = "", stale[300], *v;
	size_t vl;
	double one = 1, acc[2];
	(void)state;
	snprintf(cpdir, sizeof(cpdir), "%s/backups/deeper", dir); /* created */
	for (int i = 0; i < 5; i++) {
		char key[8];
		snprintf(key, sizeof(key), "k%d", i);
		bd_store_batch_add(b, BD_CF_STATS, key, strlen(key), &one, 1);
		bd_store_batch_offset(b, "features", 0, 100 + i);
		bd_store_batch_put(b, BD_CF_CAMPAIGNS, "c", 1, key, strlen(key));
		assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
		if (i == 2) { /* a crash's leftover: deleted by the next rotation */
			snprintf(stale, sizeof(stale), "mkdir %s/checkpoint-19700101T000000.000Z.tmp",
				 cpdir);
			assert_int_equal(system(stale), 0);
		}
		assert_int_equal(bd_store_checkpoint_rotate(st, cpdir, 3, path, sizeof(path),
							     err, sizeof(err)), 0);
		assert_non_null(strstr(path, "/checkpoint-"));
		assert_true(strcmp(path, first) > 0); /* names sort by time */
		snprintf(first, sizeof(first), "%s", path);
		usleep(2000); /* distinct milliseconds */
	}
	assert_int_equal(count_entries(cpdir, false), 3);
	assert_int_equal(count_entries(cpdir, true), 0);
	/* more after the newest checkpoint: not in it */
	bd_store_batch_add(b, BD_CF_STATS, "k0", 2, &one, 1);
	bd_store_batch_offset(b, "features", 0, 999);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	bd_store_batch_destroy(b);
	bd_store_close(st);
	/* the newest checkpoint opens as a store with the content as of then */
	if (bd_store_open(path, &cp, err, sizeof(err)) != 0)
		fail_msg("open checkpoint %s: %s", path, err);
	assert_int_equal(bd_store_offset_get(cp, "features", 0), 104);
	acc[0] = acc[1] = 0;
	assert_int_equal(bd_store_scan(cp, BD_CF_STATS, "", 0, sum_cb, acc), 0);
	assert_true(acc[0] == 5 && acc[1] == 5);
	assert_int_equal(bd_store_get(cp, BD_CF_CAMPAIGNS, "c", 1, &v, &vl), 0);
	assert_memory_equal(v, "k4", 2);
	free(v);
	bd_store_close(cp);
	/* keep 0 deletes nothing; a rotation into an unwritable place fails */
	st = open_at("r");
	assert_int_equal(bd_store_checkpoint_rotate(st, cpdir, 0, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(count_entries(cpdir, false), 4);
	assert_int_not_equal(bd_store_checkpoint_rotate(st, "/proc/no/such", 3, NULL, 0, err,
							sizeof(err)), 0);
	assert_non_null(strstr(err, "/proc/no/such"));
	bd_store_close(st);
}

static int count_cb(const char *k, size_t kl, const char *v, size_t vl, void *o)
{
	int *n = o;
	(void)k; (void)kl; (void)v; (void)vl;
	return ++*n == 3 ? 1 : 0; /* stop after three */
}

static void test_scan_and_ranges(void **state)
{
	bd_store_t *st = open_at("c");
	bd_store_batch_t *b = bd_store_batch_new(st);
	uint8_t k[10], from[10], to[10];
	int n = 0;
	(void)state;
	for (uint64_t i = 0; i < 10; i++) {
		bd_store_batch_put(b, BD_CF_SAMPLES, k, bd_sample_key(k, 1, i), "x", 1);
		bd_store_batch_put(b, BD_CF_SAMPLES, k, bd_sample_key(k, 2, i), "y", 1);
	}
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	uint8_t p1[2] = {0, 1};
	assert_int_equal(bd_store_scan(st, BD_CF_SAMPLES, p1, 2, count_cb, &n), 0);
	assert_int_equal(n, 3);
	bd_store_batch_delete_range(b, BD_CF_SAMPLES, from, bd_sample_key(from, 1, 0), to,
				    bd_sample_key(to, 1, 8));
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	char *v;
	size_t vl;
	assert_int_equal(bd_store_get(st, BD_CF_SAMPLES, k, bd_sample_key(k, 1, 7), &v, &vl), 1);
	assert_int_equal(bd_store_get(st, BD_CF_SAMPLES, k, bd_sample_key(k, 1, 8), &v, &vl), 0);
	free(v);
	assert_int_equal(bd_store_get(st, BD_CF_SAMPLES, k, bd_sample_key(k, 2, 0), &v, &vl), 0);
	free(v);
	bd_store_batch_destroy(b);
	bd_store_close(st);
}

static void test_stats_keys_and_delta(void **state)
{
	uint8_t k1[BD_STATS_KEY_MAX], k2[BD_STATS_KEY_MAX];
	bd_stats_key_t p;
	(void)state;
	size_t n1 = bd_stats_cell_key(k1, 1, "camp", 5, 300, 3, 493000);
	assert_int_equal(bd_stats_key_parse(k1, n1, &p), 0);
	assert_int_equal(p.kind, BD_STATS_CELL);
	assert_int_equal(p.partition, 1);
	assert_string_equal(p.campaign, "camp");
	assert_int_equal(p.model_version, 5);
	assert_int_equal(p.cluster, 300);
	assert_int_equal(p.treatment, 3);
	assert_int_equal(p.hour, 493000);
	size_t n2 = bd_stats_day_key(k2, 2, "camp", 20000);
	assert_int_equal(bd_stats_key_parse(k2, n2, &p), 0);
	assert_int_equal(p.kind, BD_STATS_DAY);
	assert_int_equal(p.day, 20000);
	assert_true(memcmp(k1, k2, 2) < 0); /* partition first, big-endian */
	assert_int_equal(bd_stats_key_parse(k1, 3, &p), BD_EDECODE);

	bd_store_t *st = open_at("d");
	bd_store_batch_t *b = bd_store_batch_new(st);
	bd_stats_delta_t *d = bd_stats_delta_new();
	double one[2] = {1, 0.5}, got[2];
	for (int i = 0; i < 1000; i++) {
		uint8_t k[BD_STATS_KEY_MAX];
		size_t n = bd_stats_cell_key(k, 0, "c", 0, i % 300, 0, 1); /* grows past 256 */
		assert_int_equal(bd_stats_delta_add(d, k, n, one, 2), 0);
	}
	assert_int_equal(bd_stats_delta_count(d), 300);
	bd_stats_delta_flush(d, b);
	assert_int_equal(bd_stats_delta_count(d), 0);
	assert_int_equal(bd_store_batch_count(b), 300);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	n1 = bd_stats_cell_key(k1, 0, "c", 0, 7, 0, 1);
	get_doubles(st, k1, n1, got, 2);
	assert_true(got[0] == 4 && got[1] == 2); /* i = 7, 307, 607, 907 */
	n1 = bd_stats_cell_key(k1, 0, "c", 0, 200, 0, 1);
	get_doubles(st, k1, n1, got, 2);
	assert_true(got[0] == 3); /* i = 200, 500, 800 */
	bd_stats_delta_free(d);
	bd_store_batch_destroy(b);
	bd_store_close(st);
}

static void test_samples(void **state)
{
	float f[3] = {1, 2, 3}, back[8];
	bd_sample_t s = {.ts_ms = 9, .model_version = 2, .treatment = 1, .cluster = 4,
			 .orders = 1, .explored = true, .propensity = 0.3, .value = 7,
			 .cost = 2, .campaign_id = "camp", .dim = 3, .features = f}, o;
	uint8_t buf[256];
	(void)state;
	int n = bd_sample_pack(&s, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(bd_sample_unpack(&o, buf, (size_t)n, back, 8), 0);
	assert_string_equal(o.campaign_id, "camp");
	assert_true(o.explored && o.propensity == 0.3 && o.cluster == 4);
	assert_memory_equal(o.features, f, sizeof(f));
	assert_int_equal(bd_sample_unpack(&o, buf, (size_t)n - 1, back, 8), BD_EDECODE);
	assert_int_equal(bd_sample_unpack(&o, buf, (size_t)n, back, 2), BD_EDECODE);
	assert_int_equal(bd_sample_pack(&s, buf, 10), -28 /* -ENOSPC */);
}

static void test_corrupt_refuses(void **state)
{
	char cmd[256], path[128];
	bd_store_t *st = open_at("e");
	bd_store_batch_t *b = bd_store_batch_new(st);
	(void)state;
	bd_store_batch_put(b, BD_CF_META, "k", 1, "v", 1);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	bd_store_batch_destroy(b);
	bd_store_close(st);
	snprintf(cmd, sizeof(cmd), "for f in %s/e/MANIFEST-*; do echo garbage > $f; done", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/e", dir);
	err[0] = '\0';
	assert_int_not_equal(bd_store_open(path, &st, err, sizeof(err)), 0);
	assert_true(strlen(err) > 0);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "damaged")); /* and what to do about it */
}

/* Command ids: remembered in the batch that holds the command's effect,
 * bounded to the newest max, and read back after a reopen. */
static void test_command_ids(void **state)
{
	bd_store_t *st = open_at("cmd");
	bd_store_batch_t *b = bd_store_batch_new(st);
	bd_cmdids_t ids;
	uint64_t seq = 99;
	char id[16];
	(void)state;
	bd_cmdids_init(&ids, st);
	assert_int_equal(bd_cmdids_seen(&ids, "a", &seq), 1);
	assert_int_equal(bd_cmdids_remember(&ids, b, "a", 3), 0);
	/* staged, not written: not seen yet (the batch may still fail) */
	assert_int_equal(bd_cmdids_seen(&ids, "a", &seq), 1);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	assert_int_equal(bd_cmdids_seen(&ids, "a", &seq), 0);
	assert_int_equal(seq, 0);
	for (int i = 0; i < 4; i++) { /* b c d e: a and b fall out of 3 */
		snprintf(id, sizeof(id), "%c", 'b' + i);
		assert_int_equal(bd_cmdids_remember(&ids, b, id, 3), 0);
		assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	}
	assert_int_equal(bd_cmdids_seen(&ids, "a", NULL), 1);
	assert_int_equal(bd_cmdids_seen(&ids, "b", NULL), 1);
	assert_int_equal(bd_cmdids_seen(&ids, "e", &seq), 0);
	assert_int_equal(seq, 4);
	bd_store_batch_destroy(b);
	bd_store_close(st);

	/* reopened: the same ids, and the counters go on */
	st = open_at("cmd");
	bd_store_batch_t *b2 = bd_store_batch_new(st);
	bd_cmdids_init(&ids, st);
	assert_int_equal(bd_cmdids_seen(&ids, "c", NULL), 0);
	assert_int_equal(bd_cmdids_seen(&ids, "d", NULL), 0);
	/* a smaller max (a reload): the next one forgets down to it */
	assert_int_equal(bd_cmdids_remember(&ids, b2, "f", 1), 0);
	assert_int_equal(bd_store_batch_write(st, b2, err, sizeof(err)), 0);
	assert_int_equal(bd_cmdids_seen(&ids, "c", NULL), 1);
	assert_int_equal(bd_cmdids_seen(&ids, "e", NULL), 1);
	assert_int_equal(bd_cmdids_seen(&ids, "f", &seq), 0);
	assert_int_equal(seq, 5);
	/* ids are bytes: any length up to the decoder's 1024 */
	char longid[1025];
	memset(longid, 'x', 1024);
	longid[1024] = '\0';
	assert_int_equal(bd_cmdids_remember(&ids, b2, longid, 10), 0);
	assert_int_equal(bd_store_batch_write(st, b2, err, sizeof(err)), 0);
	assert_int_equal(bd_cmdids_seen(&ids, longid, NULL), 0);
	longid[1023] = 'y';
	assert_int_equal(bd_cmdids_seen(&ids, longid, NULL), 1);
	bd_store_batch_destroy(b2);
	bd_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_merge),
		cmocka_unit_test(test_batch_order),
		cmocka_unit_test(test_stats_memtable_bounded),
		cmocka_unit_test(test_offsets_and_checkpoint),
		cmocka_unit_test(test_checkpoint_rotate),
		cmocka_unit_test(test_scan_and_ranges),
		cmocka_unit_test(test_stats_keys_and_delta),
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_corrupt_refuses),
		cmocka_unit_test(test_command_ids),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
