/* clock.c: the rule that bounds event times, each campaign's "now", the
 * registry, and the clocks written with a batch and read back at start-up
 * (real RocksDB files in a temporary directory). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/policy/clock.h"
#include "budgetd/policy/snapshot.h"

#define S 1000LL
#define H (3600 * S)
#define DAY (24 * H)
/* 2026-03-01 12:00 UTC */
#define WALL (1772366400LL * S)

static const bd_clock_rule_t wall = {BD_CLOCK_WALL, 300 * S, 12 * H, 600 * S};
static const bd_clock_rule_t event = {BD_CLOCK_EVENT, 300 * S, 12 * H, 600 * S};

static void test_wall_mode(void **state)
{
	char why[256] = "";
	(void)state;
	/* up to clock.max.ahead.s ahead of the host's clock passes, whatever
	 * the campaign's clock says */
	assert_int_equal(bd_clock_check_feature(&wall, 0, 0, WALL, WALL + 300 * S, why,
						sizeof(why)), 0);
	assert_int_equal(bd_clock_check_feature(&wall, WALL - DAY, WALL - 2 * DAY, WALL,
						WALL - 5 * DAY, why, sizeof(why)), 0);
	/* one ms more is refused; two days ahead (the reported defect) too */
	assert_int_equal(bd_clock_check_feature(&wall, 0, 0, WALL, WALL + 300 * S + 1, why,
						sizeof(why)), 1);
	assert_true(bd_clock_check_feature(&wall, WALL, WALL, WALL, WALL + 2 * DAY, why,
					   sizeof(why)) > 0);
	assert_non_null(strstr(why, "172800 s ahead of this host's clock"));
	assert_non_null(strstr(why, "clock.max.ahead.s is 300"));
	/* outcomes alike */
	assert_int_equal(bd_clock_check_outcome(&wall, WALL, WALL + 300 * S, why, sizeof(why)), 0);
	assert_true(bd_clock_check_outcome(&wall, WALL, WALL + 2 * DAY, why, sizeof(why)) > 0);
	assert_non_null(strstr(why, "clock.max.ahead.s is 300"));
}

/* A request dated on a day of its campaign that is over would spend today's
 * money on a closed day's account: stale, in wall mode only. */
static void test_stale(void **state)
{
	char why[256] = "";
	bd_campaign_t c = {.tz_offset_s = 0};
	const int64_t midnight = WALL - 12 * H, now = WALL;
	(void)state;
	/* today, any time before now: fine */
	assert_false(bd_clock_check_stale(&wall, &c, now, WALL, midnight + 1, why, sizeof(why)));
	/* yesterday, a day behind the host's clock: stale */
	assert_true(bd_clock_check_stale(&wall, &c, now, WALL, WALL - DAY, why, sizeof(why)));
	assert_non_null(strstr(why, "clock.max.behind.s is 600"));
	assert_non_null(strstr(why, "86400 s behind this host's clock"));
	/* yesterday, but within clock.max.behind.s of the host's clock (just
	 * after midnight): not refused */
	assert_false(bd_clock_check_stale(&wall, &c, midnight + 60 * S, midnight + 60 * S,
					  midnight - 60 * S, why, sizeof(why)));
	/* the campaign's day, not UTC's: 8 h east, 20:00 UTC is tomorrow there */
	bd_campaign_t east = {.tz_offset_s = 8 * 3600};
	assert_true(bd_clock_check_stale(&wall, &east, midnight + 20 * H, midnight + 20 * H,
					 midnight + 15 * H, why, sizeof(why)));
	/* event mode and a zero bound never refuse */
	assert_false(bd_clock_check_stale(&event, &c, now, WALL, WALL - DAY, why, sizeof(why)));
	bd_clock_rule_t off = wall;
	off.max_behind_ms = 0;
	assert_false(bd_clock_check_stale(&off, &c, now, WALL, WALL - DAY, why, sizeof(why)));
}

static void test_event_mode(void **state)
{
	char why[256] = "";
	(void)state;
	/* no bound from the host's clock: a simulated day runs ahead of it */
	assert_int_equal(bd_clock_check_feature(&event, WALL + 3 * DAY, 0, WALL,
						WALL + 3 * DAY + 60 * S, why, sizeof(why)), 0);
	/* from the campaign's own clock: up to clock.max.jump.s */
	assert_int_equal(bd_clock_check_feature(&event, WALL, 0, 0, WALL + 12 * H, why,
						sizeof(why)), 0);
	assert_int_equal(bd_clock_check_feature(&event, WALL, 0, 0, WALL + 12 * H + 7, why,
						sizeof(why)), 7);
	/* a producer a day off is refused */
	assert_true(bd_clock_check_feature(&event, WALL, 0, 0, WALL + DAY, why, sizeof(why)) > 0);
	assert_non_null(strstr(why, "86400 s ahead of its campaign's clock"));
	assert_non_null(strstr(why, "clock.max.jump.s is 43200"));
	/* before its first event, from the time of the command that created
	 * the campaign; behind it anything passes (a replay of older days) */
	assert_true(bd_clock_check_feature(&event, 0, WALL, 0, WALL + DAY, why, sizeof(why)) > 0);
	assert_non_null(strstr(why, "creation time"));
	assert_int_equal(bd_clock_check_feature(&event, 0, WALL, 0, WALL - 30 * DAY, why,
						sizeof(why)), 0);
	/* 0: no bound */
	bd_clock_rule_t open = event;
	open.max_jump_ms = 0;
	assert_int_equal(bd_clock_check_feature(&open, WALL, WALL, WALL, WALL + 400 * DAY, why,
						sizeof(why)), 0);
	/* outcomes move no clock: not bounded by it */
	assert_int_equal(bd_clock_check_outcome(&event, WALL, WALL + 2 * DAY, why, sizeof(why)), 0);
}

static void test_now(void **state)
{
	(void)state;
	/* wall mode: the campaign's clock, the host's before its first event,
	 * never later than the host's + clock.max.ahead.s */
	assert_int_equal(bd_clock_now(&wall, WALL - H, WALL - DAY, WALL), WALL - H);
	assert_int_equal(bd_clock_now(&wall, 0, WALL - DAY, WALL), WALL);
	assert_int_equal(bd_clock_now(&wall, WALL + DAY, 0, WALL), WALL + 300 * S);
	/* event mode: the clock, else the creation time, else the host's */
	assert_int_equal(bd_clock_now(&event, WALL + DAY, 0, WALL), WALL + DAY);
	assert_int_equal(bd_clock_now(&event, 0, WALL - DAY, WALL), WALL - DAY);
	assert_int_equal(bd_clock_now(&event, 0, 0, WALL), WALL);
}

/* The reported defect at the level of the clocks: campaign B's events do
 * not move campaign A's now or day. */
static void test_campaigns_apart(void **state)
{
	bd_clocks_t reg = {0};
	bd_campaign_t a = {.id = "a"};
	(void)state;
	bd_clock_t *ca = bd_clocks_get(&reg, "a"), *cb = bd_clocks_get(&reg, "b");
	assert_non_null(ca);
	assert_non_null(cb);
	assert_ptr_not_equal(ca, cb);
	assert_ptr_equal(bd_clocks_get(&reg, "a"), ca);
	bd_clock_advance(ca, WALL);
	int64_t day = bd_campaign_day(&a, bd_clock_now(&event, bd_clock_read(ca), 0, WALL), NULL);
	bd_clock_advance(cb, WALL + 2 * DAY);
	assert_int_equal(bd_clock_read(ca), WALL);
	assert_int_equal(bd_campaign_day(&a, bd_clock_now(&event, bd_clock_read(ca), 0, WALL), NULL),
			 day);
	/* a clock only moves forward */
	bd_clock_advance(ca, WALL - H);
	assert_int_equal(bd_clock_read(ca), WALL);
	/* sorted by id whatever the order of creation */
	assert_non_null(bd_clocks_get(&reg, "0"));
	assert_string_equal(reg.v[0]->id, "0");
	assert_string_equal(reg.v[2]->id, "b");
	bd_clocks_free(&reg);
}

typedef struct adv_s {
	bd_clock_t *c;
	int64_t base;
} adv_t;

static void *advancer(void *arg)
{
	adv_t *a = arg;
	for (int64_t i = 0; i < 100000; i++)
		bd_clock_advance(a->c, a->base + (i * 7919) % 100000);
	return NULL;
}

static void test_advance_threads(void **state)
{
	bd_clock_t c = {0};
	pthread_t t[4];
	adv_t a[4];
	(void)state;
	for (int i = 0; i < 4; i++) {
		a[i] = (adv_t){&c, WALL + i};
		assert_int_equal(pthread_create(&t[i], NULL, advancer, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(bd_clock_read(&c), WALL + 3 + 99999);
}

/* Two snapshots of the same campaigns point to the same clocks: a clock
 * survives the snapshot swaps that every control command causes. */
static void test_snapshot_clocks(void **state)
{
	bd_clocks_t reg = {0};
	bd_campaign_t v[2] = {{.id = "a"}, {.id = "b"}};
	bd_campaigns_t cs = {2, 2, v};
	bd_cluster_model_t *m = NULL;
	(void)state;
	assert_int_equal(bd_cluster_model_initial(4, 2, &m), 0);
	bd_snapshot_t *s1 = bd_snapshot_new(1, &cs, NULL, m), *s2 = bd_snapshot_new(2, &cs, NULL, m);
	assert_null(bd_snapshot_clock(s1, &s1->campaigns.v[0]));
	assert_int_equal(bd_snapshot_attach_clocks(s1, &reg), 0);
	assert_int_equal(bd_snapshot_attach_clocks(s2, &reg), 0);
	bd_clock_t *a1 = bd_snapshot_clock(s1, bd_snapshot_find(s1, "a", NULL));
	assert_ptr_equal(a1, bd_snapshot_clock(s2, bd_snapshot_find(s2, "a", NULL)));
	assert_ptr_not_equal(a1, bd_snapshot_clock(s1, bd_snapshot_find(s1, "b", NULL)));
	bd_clock_advance(a1, WALL);
	bd_snapshot_unref(s1);
	assert_int_equal(bd_clock_read(bd_snapshot_clock(s2, &s2->campaigns.v[0])), WALL);
	bd_snapshot_unref(s2);
	bd_cluster_model_unref(m);
	bd_clocks_free(&reg);
}

/* Written with a batch, per partition; read back as the largest value per
 * campaign. */
static void test_persist(void **state)
{
	char dir[64] = "/tmp/bdclockXXXXXX", err[512], cmd[128];
	bd_store_t *st = NULL;
	bd_clocks_t reg = {0}, back = {0};
	bd_clock_marks_t marks = {0};
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(bd_store_open(dir, &st, err, sizeof(err)), 0);
	bd_store_batch_t *b = bd_store_batch_new(st);
	bd_clock_t *a = bd_clocks_get(&reg, "camp-a"), *c = bd_clocks_get(&reg, "camp-c");
	bd_clock_advance(a, WALL);
	/* marked many times, on two partitions: one put per pair */
	for (int i = 0; i < 500; i++) {
		assert_int_equal(bd_clock_mark(&marks, (uint16_t)(i % 2), a), 0);
		assert_int_equal(bd_clock_mark(&marks, 7, c), 0);
	}
	assert_int_equal(marks.used, 3);
	bd_clock_advance(c, WALL + H);
	bd_clock_marks_stage(&marks, b); /* the values when staged */
	assert_int_equal(marks.used, 0);
	assert_int_equal(bd_store_batch_count(b), 3);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	/* a later batch on partition 1 only: the largest value wins */
	bd_clock_advance(a, WALL + 2 * H);
	assert_int_equal(bd_clock_mark(&marks, 1, a), 0);
	bd_clock_marks_stage(&marks, b);
	assert_int_equal(bd_store_batch_write(st, b, err, sizeof(err)), 0);
	bd_store_batch_destroy(b);
	bd_store_close(st);

	assert_int_equal(bd_store_open(dir, &st, err, sizeof(err)), 0);
	assert_int_equal(bd_clocks_load(&back, st), 0);
	assert_int_equal(back.n, 2);
	assert_int_equal(bd_clock_read(bd_clocks_get(&back, "camp-a")), WALL + 2 * H);
	assert_int_equal(bd_clock_read(bd_clocks_get(&back, "camp-c")), WALL + H);
	uint8_t key[6 + BD_ID_MAX];
	char *v = NULL;
	size_t vl = 0;
	assert_int_equal(bd_store_get(st, BD_CF_META, key, bd_clock_key(key, 0, "camp-a"), &v, &vl),
			 0);
	assert_int_equal(vl, 8);
	assert_int_equal((int64_t)bd_rd_be64((uint8_t *)v), WALL);
	free(v);
	bd_store_close(st);
	bd_clock_marks_free(&marks);
	bd_clocks_free(&reg);
	bd_clocks_free(&back);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wall_mode),     cmocka_unit_test(test_event_mode),
		cmocka_unit_test(test_now),	      cmocka_unit_test(test_campaigns_apart),
		cmocka_unit_test(test_advance_threads), cmocka_unit_test(test_snapshot_clocks),
		cmocka_unit_test(test_persist),	      cmocka_unit_test(test_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
