/* messages.c: every kind round-trips in both framings; bad input fails with
 * the right code and a reason that names the problem. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/wire/cluster.h"
#include "budgetd/wire/messages.h"
#include "budgetd/wire/schemas.h"
#include "budgetd/wire/wire.h"

#include <avro.h>

static const uint32_t ids[BD_MSG__COUNT] = {1, 2, 3, 4, 5, 6, 7};
static bd_codec_t *conf_codec, *so_codec;
static char err[512];

static int setup(void **state)
{
	(void)state;
	if (bd_codec_new(ids, BD_WIRE_CONFLUENT, &conf_codec, err, sizeof(err)) ||
	    bd_codec_new(ids, BD_WIRE_SINGLE_OBJECT, &so_codec, err, sizeof(err)))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bd_codec_free(conf_codec);
	bd_codec_free(so_codec);
	return 0;
}

static const float feats[4] = {0.5f, -1.25f, 3.0f, 0.0f};

static void feature_roundtrip(bd_codec_t *c)
{
	bd_feature_event_t in = {"req-1", "camp", "user-9", 1700000000123LL, feats, 4}, out;
	bd_buf_t b = {0};
	assert_int_equal(bd_encode_feature(c, &in, &b), 0);
	assert_int_equal(bd_decode_feature(conf_codec, b.data, b.len, &out, err, sizeof(err)), 0);
	assert_string_equal(out.request_id, "req-1");
	assert_string_equal(out.campaign_id, "camp");
	assert_string_equal(out.user_id, "user-9");
	assert_int_equal(out.ts_ms, 1700000000123LL);
	assert_int_equal(out.dim, 4);
	assert_memory_equal(out.features, feats, sizeof(feats));
	bd_buf_free(&b);
}

static void test_feature(void **state)
{
	(void)state;
	feature_roundtrip(conf_codec);
	feature_roundtrip(so_codec); /* decoded by the Confluent codec: both framings accepted */
}

static void test_outcome(void **state)
{
	bd_outcome_event_t in = {.decision_id = "00000000000000ab", .campaign_id = "c",
				 .user_id = "u", .ts_ms = 5, .orders = 2, .value = 12.5,
				 .cost = 2}, out;
	bd_buf_t b = {0};
	(void)state;
	assert_int_equal(bd_encode_outcome(so_codec, &in, &b), 0);
	assert_int_equal(bd_decode_outcome(so_codec, b.data, b.len, &out, err, sizeof(err)), 0);
	assert_string_equal(out.decision_id, "00000000000000ab");
	assert_int_equal(out.orders, 2);
	assert_true(out.value == 12.5 && out.cost == 2);
	assert_false(out.has_features || out.has_treatment || out.has_propensity);
	/* historical: no decision id, features + treatment + propensity */
	in.decision_id = "";
	in.has_features = in.has_treatment = in.has_propensity = true;
	in.features = feats;
	in.dim = 4;
	in.treatment = 3;
	in.propensity = 0.25;
	assert_int_equal(bd_encode_outcome(conf_codec, &in, &b), 0);
	assert_int_equal(bd_decode_outcome(conf_codec, b.data, b.len, &out, err, sizeof(err)), 0);
	assert_true(out.has_features && out.has_treatment && out.has_propensity);
	assert_int_equal(out.treatment, 3);
	assert_true(out.propensity == 0.25);
	assert_memory_equal(out.features, feats, sizeof(feats));
	bd_buf_free(&b);
}

static bd_control_command_t control(void)
{
	bd_control_command_t c = {.command_id = "cmd", .campaign_id = "camp", .ts_ms = 9,
				  .action = BD_ACTION_UPSERT_CAMPAIGN, .has_budget = true,
				  .daily_budget = 100, .has_treatments = true, .n_treatments = 3,
				  .has_exploration = true, .exploration = 0.2, .has_tz = true,
				  .timezone_offset_s = 28800, .has_max_value = true,
				  .max_value = 1e6, .has_max_cost = true, .max_cost = 0,
				  .has_winsor_value = true, .winsor_value = 250,
				  .has_holdout = true, .holdout = 0.1,
				  .has_uniform_arm = true, .uniform_arm = 0.3};
	c.treatments[0] = (bd_treatment_t){0, "none", 0};
	c.treatments[1] = (bd_treatment_t){1, "two", 2};
	c.treatments[2] = (bd_treatment_t){2, "five", 5};
	return c;
}

static void test_control(void **state)
{
	bd_control_command_t in = control(), out;
	bd_buf_t b = {0};
	(void)state;
	assert_int_equal(bd_encode_control(conf_codec, &in, &b), 0);
	assert_int_equal(bd_decode_control(conf_codec, b.data, b.len, &out, err, sizeof(err)), 0);
	assert_int_equal(out.action, BD_ACTION_UPSERT_CAMPAIGN);
	assert_int_equal(out.n_treatments, 3);
	assert_string_equal(out.treatments[2].name, "five");
	assert_true(out.treatments[2].nominal_cost == 5);
	assert_true(out.daily_budget == 100 && out.exploration == 0.2);
	assert_int_equal(out.timezone_offset_s, 28800);
	assert_true(out.has_max_value && out.max_value == 1e6);
	assert_true(out.has_max_cost && out.max_cost == 0); /* a campaign that may cost nothing */
	assert_true(out.has_winsor_value && out.winsor_value == 250);
	assert_true(out.has_holdout && out.holdout == 0.1);
	assert_true(out.has_uniform_arm && out.uniform_arm == 0.3);
	/* the bounds are optional */
	in.has_max_value = in.has_max_cost = in.has_winsor_value = false;
	assert_int_equal(bd_encode_control(conf_codec, &in, &b), 0);
	assert_int_equal(bd_decode_control(conf_codec, b.data, b.len, &out, err, sizeof(err)), 0);
	assert_false(out.has_max_value || out.has_max_cost || out.has_winsor_value);
	bd_buf_free(&b);
}

/* A ControlCommand written with a layout before the bounds and the holdout
 * (v1), before the holdout (v2) or before the uniform arm (v3), what
 * producers of earlier releases
 * write, still decodes with those fields unset, in both framings; a body of
 * no layout does not. */
static void test_control_old_layout(void **state)
{
	static const struct {
		const char *name;
		int cut; /* trailing nulls of the fields appended since */
	} layouts[] = {{"control_command.v1", 5}, {"control_command.v2", 2},
		       {"control_command.v3", 1}};
	bd_control_command_t in = control(), out;
	bd_buf_t b = {0};
	(void)state;
	in.has_max_value = in.has_max_cost = in.has_winsor_value = in.has_holdout = false;
	in.has_uniform_arm = false;
	for (size_t l = 0; l < sizeof(layouts) / sizeof(layouts[0]); l++) {
		const int cut = layouts[l].cut;
		avro_schema_t old;
		uint64_t fp;
		const char *json = bd_schemas_get(layouts[l].name);
		assert_non_null(json);
		assert_int_equal(avro_schema_from_json_length(json, strlen(json), &old), 0);
		assert_int_equal(bd_wire_fingerprint(old, &fp), 0);
		avro_schema_decref(old);
		/* the old body is the new one without its trailing nulls */
		assert_int_equal(bd_encode_control(conf_codec, &in, &b), 0);
		assert_int_equal(memcmp(b.data + b.len - cut, "\0\0\0\0\0", (size_t)cut), 0);
		assert_int_equal(bd_decode_control(conf_codec, b.data, b.len - (size_t)cut, &out,
						   err, sizeof(err)), 0);
		assert_string_equal(out.campaign_id, "camp");
		assert_int_equal(out.n_treatments, 3);
		assert_int_equal(out.timezone_offset_s, 28800);
		assert_false(out.has_max_value || out.has_max_cost || out.has_winsor_value ||
			     out.has_holdout || out.has_uniform_arm);
		/* single-object framing names the old layout by its fingerprint */
		assert_int_equal(bd_encode_control(so_codec, &in, &b), 0);
		for (int i = 0; i < 8; i++)
			b.data[2 + i] = (uint8_t)(fp >> (8 * i));
		assert_int_equal(bd_decode_control(so_codec, b.data, b.len - (size_t)cut, &out,
						   err, sizeof(err)), 0);
		assert_int_equal(out.n_treatments, 3);
		/* ... and a body of the new layout under the old fingerprint is not it */
		assert_int_equal(bd_decode_control(so_codec, b.data, b.len, &out, err,
						   sizeof(err)), BD_EDECODE);
	}
	/* one byte short of the oldest layout, and between two layouts */
	assert_int_equal(bd_encode_control(conf_codec, &in, &b), 0);
	assert_int_equal(bd_decode_control(conf_codec, b.data, b.len - 6, &out, err,
					   sizeof(err)), BD_EDECODE);
	assert_int_equal(bd_decode_control(conf_codec, b.data, b.len - 3, &out, err,
					   sizeof(err)), BD_EDECODE);
	bd_buf_free(&b);
}

static void test_decision_and_plan(void **state)
{
	bd_decision_t d = {"0123456789abcdef", "r", "c", "u", 77, 2, 5, 0.4, true, 3, 1, "plan",
			   "uniform"}, o;
	double share[2] = {0.25, 0.75}, prob[6] = {1, 0, 0, 0.5, 0.5, 0};
	double cb[2] = {0, 10}, cv[2] = {1, 2};
	bd_plan_msg_t p = {"c", 4, 1, 99, 100, 50, 0.5, 49, 200, "lp", 2, 3, share, prob,
			   2, cb, cv, 0.05, 12.5, 4000, 0.08}, q;
	bd_buf_t b = {0};
	(void)state;
	assert_int_equal(bd_encode_decision(so_codec, &d, &b), 0);
	assert_int_equal(bd_decode_decision(so_codec, b.data, b.len, &o, err, sizeof(err)), 0);
	assert_string_equal(o.decision_id, d.decision_id);
	assert_int_equal(o.treatment, 2);
	assert_int_equal(o.cluster, 5);
	assert_true(o.explored && o.propensity == 0.4 && o.plan_version == 3);
	assert_string_equal(o.reason, "plan");
	assert_string_equal(o.arm, "uniform");
	assert_int_equal(bd_encode_plan(conf_codec, &p, &b), 0);
	assert_int_equal(bd_decode_plan(conf_codec, b.data, b.len, &q, err, sizeof(err)), 0);
	assert_int_equal(q.n_clusters, 2);
	assert_int_equal(q.n_treatments, 3);
	assert_memory_equal(q.probabilities, prob, sizeof(prob));
	assert_memory_equal(q.traffic_share, share, sizeof(share));
	assert_int_equal(q.n_curve, 2);
	assert_true(q.curve_value[1] == 2 && q.lambda == 0.5);
	assert_true(q.exploration == 0.05 && q.spent == 12.5 && q.expected_requests == 4000 &&
		    q.overspend_probability == 0.08);
	bd_dead_letter_t dl = {"t", 1, 2, 3, "wire", "why", "k", 1, "\x01\x02", 2};
	assert_int_equal(bd_encode_dead_letter(conf_codec, &dl, &b), 0);
	assert_true(b.len > 5);
	bd_buf_free(&b);
}

/* ---- errors ------------------------------------------------------------------ */

static void feature_fails(const void *buf, size_t len, int code, const char *why)
{
	bd_feature_event_t ev;
	err[0] = '\0';
	assert_int_equal(bd_decode_feature(conf_codec, buf, len, &ev, err, sizeof(err)), code);
	if (!strstr(err, why))
		fail_msg("error '%s' does not say '%s'", err, why);
}

static void test_feature_errors(void **state)
{
	bd_feature_event_t in = {"r", "c", "u", 1, feats, 4};
	bd_buf_t b = {0};
	uint8_t tmp[64];
	(void)state;
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	feature_fails("", 0, BD_EWIRE, "empty");
	feature_fails("x", 1, BD_EWIRE, "magic");
	memcpy(tmp, b.data, b.len);
	tmp[4] = 2; /* the outcome's schema id */
	feature_fails(tmp, b.len, BD_ESCHEMA, "schema id 2");
	feature_fails(b.data, b.len - 1, BD_EDECODE, "does not decode");
	memcpy(tmp, b.data, b.len);
	tmp[b.len] = 0;
	feature_fails(tmp, b.len + 1, BD_EDECODE, "trailing");
	float bad[4] = {1, NAN, 0, 0};
	in.features = bad;
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	feature_fails(b.data, b.len, BD_EINVAL, "features[1] is not a finite");
	in.features = feats;
	in.request_id = "";
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	feature_fails(b.data, b.len, BD_EINVAL, "request_id is empty");
	in.request_id = "r";
	in.ts_ms = -5;
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	feature_fails(b.data, b.len, BD_EINVAL, "ts_ms");
	in.ts_ms = 1;
	float *big = calloc(BD_MAX_DIM + 1, sizeof(float));
	in.features = big;
	in.dim = BD_MAX_DIM + 1;
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	feature_fails(b.data, b.len, BD_EINVAL, "limit");
	free(big);
	/* a single-object message with an unknown fingerprint */
	in.features = feats;
	in.dim = 4;
	assert_int_equal(bd_encode_feature(so_codec, &in, &b), 0);
	b.data[2] ^= 1;
	feature_fails(b.data, b.len, BD_ESCHEMA, "fingerprint");
	bd_buf_free(&b);
}

static void outcome_fails(const bd_outcome_event_t *in, const char *why)
{
	bd_outcome_event_t out;
	bd_buf_t b = {0};
	assert_int_equal(bd_encode_outcome(conf_codec, in, &b), 0);
	err[0] = '\0';
	assert_int_equal(bd_decode_outcome(conf_codec, b.data, b.len, &out, err, sizeof(err)),
			 BD_EINVAL);
	if (!strstr(err, why))
		fail_msg("error '%s' does not say '%s'", err, why);
	bd_buf_free(&b);
}

/*
 * Bodies Avro C 1.11.1 mishandles (found by tests/fuzz/fuzz_feature): a
 * negative or a huge string length (it mallocs that length) and a body cut
 * inside the context map (it leaks the key read so far).  They must fail
 * cleanly; under ./quickstart check's ASan pass the old code aborted on
 * the allocation or reported the leak here.
 */
static void test_feature_malformed_bodies(void **state)
{
	static const uint8_t negative[] = {0, 0, 0, 0, 1, 0x01};
	static const uint8_t huge[] = {0, 0, 0, 0, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	static const uint8_t cut_map[] = {0, 0, 0, 0, 1, 2, 'r', 2, 'c', 2, 'u', 2, 0,
					  2, 2, 'k', 10, 'x'};
	static const uint8_t lying_count[] = {0, 0, 0, 0, 1, 2, 'r', 2, 'c', 2, 'u', 2, 0,
					     0x03, 0};
	(void)state;
	feature_fails(negative, sizeof(negative), BD_EDECODE, "negative length");
	feature_fails(huge, sizeof(huge), BD_EDECODE, "truncated");
	feature_fails(cut_map, sizeof(cut_map), BD_EDECODE, "truncated");
	feature_fails(lying_count, sizeof(lying_count), BD_EDECODE, "block count");
	/* the codec still decodes good messages afterwards */
	test_feature(state);
}

/* A model decodes only with finite numbers everywhere: a NaN feature mean
 * (found by tests/fuzz/fuzz_model) used to pass and send every user to
 * cluster 0, NaN comparing false with every score. */
static void test_model_not_finite(void **state)
{
	double mean[2] = {0.5, -1}, scale[2] = {1, 2}, w[4] = {1, 0, 0, 1}, b[2] = {0, 0};
	bd_model_layer_msg_t layer = {2, 2, "none", w, b};
	bd_model_msg_t in = {3, 1, "softmax", 2, 2, mean, scale, 1, &layer, 0.9, 0, NULL, NULL};
	bd_cluster_model_t *m = NULL;
	bd_buf_t buf = {0};
	(void)state;
	assert_int_equal(bd_encode_model(conf_codec, &in, &buf), 0);
	assert_int_equal(bd_decode_model(conf_codec, buf.data, buf.len, &m, err, sizeof(err)), 0);
	assert_int_equal(m->dim, 2);
	assert_true(m->mean[1] == -1 && m->scale[1] == 2);
	bd_cluster_model_unref(m);
	for (int k = 0; k < 3; k++) {
		double *x = k == 0 ? &mean[1] : k == 1 ? &scale[0] : &w[3];
		double keep = *x;
		*x = NAN;
		assert_int_equal(bd_encode_model(conf_codec, &in, &buf), 0);
		assert_int_equal(bd_decode_model(conf_codec, buf.data, buf.len, &m, err,
						 sizeof(err)),
				 BD_EINVAL);
		*x = keep;
	}
	bd_buf_free(&buf);
}

static void test_outcome_errors(void **state)
{
	bd_outcome_event_t ok = {.decision_id = "0000000000000001", .campaign_id = "c",
				 .user_id = "u", .ts_ms = 1, .orders = 1, .value = 1, .cost = 1};
	bd_outcome_event_t x;
	(void)state;
	x = ok; x.cost = -1; outcome_fails(&x, "cost");
	x = ok; x.value = INFINITY; outcome_fails(&x, "value");
	x = ok; x.orders = -2; outcome_fails(&x, "orders");
	x = ok; x.has_propensity = true; x.propensity = 0; outcome_fails(&x, "propensity");
	x = ok; x.has_propensity = true; x.propensity = 1.5; outcome_fails(&x, "propensity");
	x = ok; x.has_treatment = true; x.treatment = 16; outcome_fails(&x, "treatment 16");
	x = ok; x.decision_id = ""; outcome_fails(&x, "historical sample");
}

static void control_fails(const bd_control_command_t *in, const char *why)
{
	bd_control_command_t out;
	bd_buf_t b = {0};
	assert_int_equal(bd_encode_control(conf_codec, in, &b), 0);
	err[0] = '\0';
	assert_int_equal(bd_decode_control(conf_codec, b.data, b.len, &out, err, sizeof(err)),
			 BD_EINVAL);
	if (!strstr(err, why))
		fail_msg("error '%s' does not say '%s'", err, why);
	bd_buf_free(&b);
}

static void test_control_errors(void **state)
{
	bd_control_command_t x;
	(void)state;
	x = control(); x.treatments[2].id = 1; control_fails(&x, "appears twice");
	x = control(); x.treatments[0].id = 3; control_fails(&x, "lack id 0");
	x = control(); x.treatments[0].nominal_cost = 1; control_fails(&x, "must cost 0");
	x = control(); x.treatments[2].id = 5; control_fails(&x, "without gaps");
	x = control(); x.treatments[1].nominal_cost = -3; control_fails(&x, "nominal_cost");
	x = control(); x.daily_budget = -1; control_fails(&x, "daily_budget");
	x = control(); x.exploration = 2; control_fails(&x, "exploration");
	x = control(); x.timezone_offset_s = 90000; control_fails(&x, "timezone");
	x = control(); x.campaign_id = ""; control_fails(&x, "campaign_id is empty");
	x = control(); x.action = BD_ACTION_SET_BUDGET; x.has_budget = false;
	control_fails(&x, "SET_BUDGET without daily_budget");
	x = control(); x.n_treatments = 0; control_fails(&x, "0 entries");
	/* outcome bounds: finite, in range (sums of squares stay finite) */
	x = control(); x.max_value = 0; control_fails(&x, "max_value 0 is outside (0, 1e+15]");
	x = control(); x.max_value = NAN; control_fails(&x, "max_value nan");
	x = control(); x.max_value = 2e15; control_fails(&x, "max_value 2e+15");
	x = control(); x.max_cost = -1; control_fails(&x, "max_cost -1 is outside [0, 1e+15]");
	x = control(); x.max_cost = INFINITY; control_fails(&x, "max_cost inf");
	x = control(); x.winsor_value = 0; control_fails(&x, "winsor_value 0");
	x = control(); x.winsor_value = 1e300; control_fails(&x, "winsor_value 1e+300");
	x = control(); x.holdout = 0.6; control_fails(&x, "holdout 0.6 is outside [0, 0.5]");
	x = control(); x.holdout = -0.1; control_fails(&x, "holdout -0.1");
	x = control(); x.uniform_arm = 0.7; control_fails(&x, "uniform_arm 0.7 is outside [0, 0.5]");
	x = control(); x.uniform_arm = NAN; control_fails(&x, "uniform_arm nan");
}

/* ---- strings that are not UTF-8 ------------------------------------------------ */

/* The encoders write only UTF-8 (they replace bad bytes), so a bad string
 * is made by swapping an ASCII placeholder of the same length in the
 * encoded bytes, as a foreign producer would have written them. */
static void swap(bd_buf_t *b, const char *ph, const char *bad)
{
	size_t n = strlen(ph);
	assert_int_equal(strlen(bad), n);
	for (size_t i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, ph, n) == 0) {
			memcpy(b->data + i, bad, n);
			return;
		}
	fail_msg("placeholder '%s' not found", ph);
}

static void encoding_fails(int (*decode)(const bd_buf_t *), const bd_buf_t *b,
			   const char *why)
{
	err[0] = '\0';
	assert_int_equal(decode(b), BD_EENCODING);
	if (strcmp(err, why) != 0)
		fail_msg("error '%s' is not '%s'", err, why);
	assert_int_equal(bd_decode_dead_reason(BD_EENCODING), BD_DEAD_ENCODING);
	assert_string_equal(bd_decode_reason(BD_EENCODING), "encoding");
}

static int dec_feature(const bd_buf_t *b)
{
	bd_feature_event_t ev;
	return bd_decode_feature(conf_codec, b->data, b->len, &ev, err, sizeof(err));
}

static int dec_outcome(const bd_buf_t *b)
{
	bd_outcome_event_t ev;
	return bd_decode_outcome(conf_codec, b->data, b->len, &ev, err, sizeof(err));
}

static int dec_control(const bd_buf_t *b)
{
	bd_control_command_t cmd;
	return bd_decode_control(conf_codec, b->data, b->len, &cmd, err, sizeof(err));
}

static void test_feature_not_utf8(void **state)
{
	bd_feature_event_t in = {"R@@", "C@@@", "U@@", 1, feats, 4};
	bd_buf_t b = {0};
	(void)state;
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	swap(&b, "R@@", "r\xff\xfe");
	encoding_fails(dec_feature, &b, "request_id is not valid UTF-8 (byte 0xff at offset 1)");
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	swap(&b, "C@@@", "c\xed\xa0\x80"); /* a surrogate */
	encoding_fails(dec_feature, &b, "campaign_id is not valid UTF-8 (byte 0xed at offset 1)");
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	swap(&b, "U@@", "u\xc0\x80"); /* an overlong NUL */
	encoding_fails(dec_feature, &b, "user_id is not valid UTF-8 (byte 0xc0 at offset 1)");
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	swap(&b, "U@@", "u\xe2\x82"); /* cut at the end */
	encoding_fails(dec_feature, &b, "user_id is not valid UTF-8 (byte 0xe2 at offset 1)");
	/* a structural error wins: the body is cut, whatever its strings */
	assert_int_equal(dec_feature(&(bd_buf_t){b.data, b.len - 1, b.cap}), BD_EDECODE);
	/* valid multi-byte ids decode */
	in = (bd_feature_event_t){"r\xc3\xa9q-\xe2\x82\xac", "\xf0\x9f\x98\x80", "u", 1, feats, 4};
	assert_int_equal(bd_encode_feature(conf_codec, &in, &b), 0);
	assert_int_equal(dec_feature(&b), 0);
	bd_buf_free(&b);
}

/* The context map (not read by budgetd) is checked too, keys and values:
 * FeatureEvent body written by hand with a map of one entry. */
static void test_feature_context_not_utf8(void **state)
{
	uint8_t msg[] = {0, 0, 0, 0, 1, 2, 'r', 2, 'c', 2, 'u', 2 /* ts */, 0 /* features */,
			 2 /* one entry */, 4, 'k', 'k', 4, 'v', 'v', 0};
	const size_t key = 15, val = 18;
	(void)state;
	feature_fails(msg, sizeof(msg), 0, "");
	msg[key + 1] = 0xf5;
	feature_fails(msg, sizeof(msg), BD_EENCODING,
		      "context (a key) is not valid UTF-8 (byte 0xf5 at offset 1)");
	msg[key + 1] = 'k';
	msg[val] = 0x80;
	feature_fails(msg, sizeof(msg), BD_EENCODING,
		      "context (a value) is not valid UTF-8 (byte 0x80 at offset 0)");
}

static void test_outcome_control_not_utf8(void **state)
{
	bd_outcome_event_t oc = {.decision_id = "D@@", .campaign_id = "C@@", .user_id = "U@@",
				 .ts_ms = 1, .orders = 1, .value = 1, .cost = 1};
	bd_control_command_t cc = control();
	bd_buf_t b = {0};
	(void)state;
	assert_int_equal(bd_encode_outcome(conf_codec, &oc, &b), 0);
	swap(&b, "D@@", "\xff@@");
	encoding_fails(dec_outcome, &b, "decision_id is not valid UTF-8 (byte 0xff at offset 0)");
	assert_int_equal(bd_encode_outcome(conf_codec, &oc, &b), 0);
	swap(&b, "C@@", "c@\xbf");
	encoding_fails(dec_outcome, &b, "campaign_id is not valid UTF-8 (byte 0xbf at offset 2)");
	assert_int_equal(bd_encode_outcome(conf_codec, &oc, &b), 0);
	swap(&b, "U@@", "\xf4\x90\x80");
	encoding_fails(dec_outcome, &b, "user_id is not valid UTF-8 (byte 0xf4 at offset 0)");

	cc.command_id = "K@@";
	cc.campaign_id = "C@@";
	cc.treatments[1].name = "N@@";
	assert_int_equal(bd_encode_control(conf_codec, &cc, &b), 0);
	swap(&b, "K@@", "k\xc1\xbf");
	encoding_fails(dec_control, &b, "command_id is not valid UTF-8 (byte 0xc1 at offset 1)");
	assert_int_equal(bd_encode_control(conf_codec, &cc, &b), 0);
	swap(&b, "C@@", "c\xed\xbf");
	encoding_fails(dec_control, &b, "campaign_id is not valid UTF-8 (byte 0xed at offset 1)");
	assert_int_equal(bd_encode_control(conf_codec, &cc, &b), 0);
	swap(&b, "N@@", "n\xe9x");
	encoding_fails(dec_control, &b, "treatments.name is not valid UTF-8 (byte 0xe9 at offset 1)");
	bd_buf_free(&b);
}

/* An encoder given bytes that are not UTF-8 (state an older release
 * stored) writes U+FFFD for them: what it writes always decodes. */
static void test_encoders_write_utf8(void **state)
{
	bd_decision_t in = {.decision_id = "00000000000000ab", .request_id = "r\xff",
			    .campaign_id = "c\xed\xa0\x80", .user_id = "u", .reason = "plan"},
		      out;
	bd_dead_letter_t dl = {.topic = "t", .reason = "invalid", .detail = "cut \xe2\x82",
			       .key = "", .key_len = 0, .payload = "x", .payload_len = 1};
	bd_buf_t b = {0};
	(void)state;
	assert_int_equal(bd_encode_decision(conf_codec, &in, &b), 0);
	assert_int_equal(bd_decode_decision(conf_codec, b.data, b.len, &out, err, sizeof(err)), 0);
	assert_string_equal(out.request_id, "r\xef\xbf\xbd");
	assert_string_equal(out.campaign_id, "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_int_equal(bd_encode_dead_letter(conf_codec, &dl, &b), 0);
	/* the body passes the strict check of every string */
	char why[160];
	avro_schema_t s;
	const char *json = "{\"type\":\"record\",\"name\":\"D\",\"fields\":["
			   "{\"name\":\"topic\",\"type\":\"string\"},"
			   "{\"name\":\"partition\",\"type\":\"int\"},"
			   "{\"name\":\"offset\",\"type\":\"long\"},"
			   "{\"name\":\"ts_ms\",\"type\":\"long\"},"
			   "{\"name\":\"reason\",\"type\":\"string\"},"
			   "{\"name\":\"detail\",\"type\":\"string\"},"
			   "{\"name\":\"key\",\"type\":[\"null\",\"bytes\"]},"
			   "{\"name\":\"payload\",\"type\":\"bytes\"}]}";
	assert_int_equal(avro_schema_from_json_length(json, strlen(json), &s), 0);
	assert_int_equal(bd_wire_body_check(s, b.data + 5, b.len - 5, why, sizeof(why)), 0);
	avro_schema_decref(s);
	bd_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feature),
		cmocka_unit_test(test_outcome),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_control_old_layout),
		cmocka_unit_test(test_decision_and_plan),
		cmocka_unit_test(test_feature_errors),
		cmocka_unit_test(test_feature_malformed_bodies),
		cmocka_unit_test(test_model_not_finite),
		cmocka_unit_test(test_outcome_errors),
		cmocka_unit_test(test_control_errors),
		cmocka_unit_test(test_feature_not_utf8),
		cmocka_unit_test(test_feature_context_not_utf8),
		cmocka_unit_test(test_outcome_control_not_utf8),
		cmocka_unit_test(test_encoders_write_utf8),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
