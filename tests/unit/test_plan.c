/* plan.c: a stored plan read back (bd_plan_from_msg, the inverse of
 * bd_plan_to_msg) through real Avro bytes is the plan that was written, and
 * a record that does not fit or holds an impossible number is refused with
 * its reason. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/wire/messages.h"
#include "budgetd/policy/plan.h"

static const uint32_t ids[BD_MSG__COUNT] = {1, 2, 3, 4, 5, 6, 7};
static bd_codec_t *codec;
static char err[512];

static int setup(void **state)
{
	(void)state;
	return bd_codec_new(ids, BD_WIRE_CONFLUENT, &codec, err, sizeof(err)) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	bd_codec_free(codec);
	return 0;
}

/* A solved-looking plan of 2 clusters x 3 treatments. */
static bd_plan_t *sample_plan(void)
{
	static const double prob[6] = {0.7, 0.2, 0.1, 0, 0.5, 0.5}, share[2] = {0.25, 0.75};
	bd_plan_t *p = bd_plan_new_uniform("camp-1", 2, 3);
	assert_non_null(p);
	memcpy(p->prob, prob, sizeof(prob));
	memcpy(p->share, share, sizeof(share));
	p->version = 17;
	p->model_version = 4;
	p->ts_ms = 1700000000123;
	p->lambda = 0.375;
	p->daily_budget = 1000;
	p->remaining_budget = 612.5;
	p->explore = 0.05;
	p->solver = "lp";
	return p;
}

/* Encodes @p p as the daemon stores it and decodes the bytes back. */
static void store_and_read(const bd_plan_t *p, bd_buf_t *b, bd_plan_msg_t *m)
{
	bd_plan_msg_t out;
	bd_plan_to_msg(p, &out);
	assert_int_equal(bd_encode_plan(codec, &out, b), 0);
	assert_int_equal(bd_decode_plan(codec, b->data, b->len, m, err, sizeof(err)), 0);
}

static void test_round_trip(void **state)
{
	bd_plan_t *p = sample_plan(), *q = NULL;
	bd_plan_msg_t m;
	bd_buf_t b = {0};
	(void)state;
	store_and_read(p, &b, &m);
	assert_int_equal(bd_plan_from_msg(&m, 2, 3, &q, err, sizeof(err)), 0);
	assert_non_null(q);
	assert_string_equal(q->campaign_id, "camp-1");
	assert_int_equal(q->k, 2);
	assert_int_equal(q->j, 3);
	assert_memory_equal(q->prob, p->prob, sizeof(double) * 6);
	assert_memory_equal(q->share, p->share, sizeof(double) * 2);
	assert_int_equal(q->version, 17);
	assert_int_equal(q->model_version, 4);
	assert_int_equal(q->ts_ms, 1700000000123);
	assert_true(q->lambda == 0.375 && q->daily_budget == 1000 &&
		    q->remaining_budget == 612.5 && q->explore == 0.05);
	assert_string_equal(q->solver, "restored");
	/* not carried back: no guard until the next solve */
	assert_null(q->cost);
	assert_int_equal(q->n_curve, 0);
	bd_plan_unref(q);
	bd_plan_unref(p);
	bd_buf_free(&b);
}

static void test_refused(void **state)
{
	bd_plan_t *p = sample_plan(), *q = p;
	bd_plan_msg_t m;
	bd_buf_t b = {0};
	(void)state;
	store_and_read(p, &b, &m);
	/* another shape: a model of another K, a campaign of other treatments */
	assert_int_equal(bd_plan_from_msg(&m, 3, 3, &q, err, sizeof(err)), BD_EINVAL);
	assert_null(q);
	assert_string_equal(err, "plan: 2 clusters x 3 treatments, expected 3 x 3");
	assert_int_equal(bd_plan_from_msg(&m, 2, 4, &q, err, sizeof(err)), BD_EINVAL);
	assert_string_equal(err, "plan: 2 clusters x 3 treatments, expected 2 x 4");
	/* a probability no plan can hold, and a non-finite share: never decided with */
	p->prob[4] = 1.5;
	store_and_read(p, &b, &m);
	assert_int_equal(bd_plan_from_msg(&m, 2, 3, &q, err, sizeof(err)), BD_EINVAL);
	assert_null(q);
	assert_string_equal(err, "plan: probability of treatment 1 in cluster 1 is 1.5");
	p->prob[4] = 0.5;
	p->share[0] = NAN;
	store_and_read(p, &b, &m);
	assert_int_equal(bd_plan_from_msg(&m, 2, 3, &q, err, sizeof(err)), BD_EINVAL);
	assert_string_equal(err, "plan: traffic share of cluster 0 is nan");
	p->share[0] = 0.25;
	p->remaining_budget = INFINITY;
	store_and_read(p, &b, &m);
	assert_int_equal(bd_plan_from_msg(&m, 2, 3, &q, err, sizeof(err)), BD_EINVAL);
	assert_string_equal(err, "plan: remaining_budget is inf");
	bd_plan_unref(p);
	bd_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
