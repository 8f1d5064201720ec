/* resolve.c: Avro schema resolution as a transcoder.  Each case writes a
 * body by hand with the writer's schema, resolves it, and reads the result
 * with Avro C against the reader's schema (its JSON form compared). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/base/common.h"
#include "budgetd/wire/resolve.h"
#include "budgetd/wire/schemas.h"

/* ---- a hand encoder ---- */
typedef struct {
	uint8_t b[4096];
	size_t n;
} enc_t;

static void w_long(enc_t *e, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	do {
		e->b[e->n] = (uint8_t)(z & 0x7f);
		z >>= 7;
		if (z)
			e->b[e->n] |= 0x80;
		e->n++;
	} while (z);
}
static void w_str(enc_t *e, const char *s)
{
	w_long(e, (int64_t)strlen(s));
	memcpy(e->b + e->n, s, strlen(s));
	e->n += strlen(s);
}
static void w_float(enc_t *e, float f)
{
	memcpy(e->b + e->n, &f, 4); /* little-endian host */
	e->n += 4;
}
static avro_schema_t parse(const char *json)
{
	avro_schema_t s;
	if (avro_schema_from_json_length(json, strlen(json), &s) != 0)
		fail_msg("schema does not parse: %s", avro_strerror());
	return s;
}

/* Resolves @p e (written with @p wjson) for @p rjson; the result read by
 * Avro C as JSON into @p out.  @returns what bd_resolve_new or
 * bd_resolve_body returned. */
static int resolve_to_json(const char *wjson, const char *rjson, const enc_t *e, char **out,
			   char *why, size_t why_size)
{
	avro_schema_t w = parse(wjson), r = parse(rjson);
	bd_resolve_t *res = NULL;
	bd_buf_t buf = {0};
	int err = bd_resolve_new(w, r, rjson, &res, why, why_size);
	if (!err)
		err = bd_resolve_body(res, e->b, e->n, &buf, why, why_size);
	if (!err && out) {
		avro_value_iface_t *iface = avro_generic_class_from_schema(r);
		avro_value_t v;
		avro_reader_t rd = avro_reader_memory((const char *)buf.data, (int64_t)buf.len);
		assert_int_equal(avro_generic_value_new(iface, &v), 0);
		if (avro_value_read(rd, &v) != 0)
			fail_msg("resolved body does not read: %s", avro_strerror());
		assert_int_equal(avro_value_to_json(&v, 1, out), 0);
		avro_value_decref(&v);
		avro_value_iface_decref(iface);
		avro_reader_free(rd);
	}
	bd_buf_free(&buf);
	bd_resolve_free(res);
	avro_schema_decref(w);
	avro_schema_decref(r);
	return err;
}

/* A FeatureEvent from a producer whose schema moved on: fields in another
 * order, one added (skipped), ts_ms an int (promoted to long), context
 * left out (the reader's default {}). */
static void test_feature_event_evolved(void **state)
{
	(void)state;
	const char *w = "{\"type\":\"record\",\"name\":\"FeatureEvent\",\"namespace\":\"acme\","
			"\"fields\":[{\"name\":\"user_id\",\"type\":\"string\"},"
			"{\"name\":\"channel\",\"type\":[\"null\",\"string\"],\"default\":null},"
			"{\"name\":\"request_id\",\"type\":\"string\"},"
			"{\"name\":\"campaign_id\",\"type\":\"string\"},"
			"{\"name\":\"ts_ms\",\"type\":\"int\"},"
			"{\"name\":\"features\",\"type\":{\"type\":\"array\",\"items\":\"float\"}}]}";
	enc_t e = {0};
	char why[256] = "", *json = NULL;
	w_str(&e, "u-1");
	w_long(&e, 1), w_str(&e, "app"); /* channel: branch string */
	w_str(&e, "r-1");
	w_str(&e, "c-1");
	w_long(&e, 1700);
	w_long(&e, 2), w_float(&e, 0.5f), w_float(&e, -2.0f), w_long(&e, 0);
	assert_int_equal(resolve_to_json(w, bd_schemas_get("feature_event"), &e, &json, why,
					 sizeof(why)),
			 0);
	assert_string_equal(json, "{\"request_id\": \"r-1\", \"campaign_id\": \"c-1\", \"user_id\": "
				  "\"u-1\", \"ts_ms\": 1700, \"features\": [0.5, -2.0], "
				  "\"context\": {}}");
	free(json);
}

/* A ControlCommand whose Treatment records gained a field and lost none,
 * and which leaves out every optional field (defaults null). */
static void test_control_nested_defaults(void **state)
{
	(void)state;
	const char *w =
		"{\"type\":\"record\",\"name\":\"ControlCommand\",\"fields\":["
		"{\"name\":\"command_id\",\"type\":\"string\"},{\"name\":\"campaign_id\",\"type\":\"string\"},"
		"{\"name\":\"ts_ms\",\"type\":\"long\"},"
		"{\"name\":\"action\",\"type\":{\"type\":\"enum\",\"name\":\"Action\",\"symbols\":"
		"[\"UPSERT_CAMPAIGN\",\"SET_BUDGET\"]}},"
		"{\"name\":\"treatments\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"record\","
		"\"name\":\"Treatment\",\"fields\":[{\"name\":\"label\",\"type\":\"string\"},"
		"{\"name\":\"nominal_cost\",\"type\":\"float\"},{\"name\":\"id\",\"type\":\"int\"},"
		"{\"name\":\"name\",\"type\":\"string\"}]}}]}]}";
	enc_t e = {0};
	char why[256] = "", *json = NULL;
	w_str(&e, "k-1");
	w_str(&e, "c-1");
	w_long(&e, 5);
	w_long(&e, 0); /* UPSERT_CAMPAIGN */
	w_long(&e, 1); /* the array branch */
	w_long(&e, -2), w_long(&e, 29); /* a block with its size in bytes */
	w_str(&e, "x"), w_float(&e, 0.0f), w_long(&e, 0), w_str(&e, "control");
	w_str(&e, "y"), w_float(&e, 2.5f), w_long(&e, 1), w_str(&e, "coupon");
	w_long(&e, 0);
	int err = resolve_to_json(w, bd_schemas_get("control_command"), &e, &json, why, sizeof(why));
	if (err)
		fail_msg("%s", why);
	assert_string_equal(
		json, "{\"command_id\": \"k-1\", \"campaign_id\": \"c-1\", \"ts_ms\": 5, \"action\": "
		      "\"UPSERT_CAMPAIGN\", \"daily_budget\": null, \"treatments\": {\"array\": "
		      "[{\"id\": 0, \"name\": \"control\", \"nominal_cost\": 0.0}, {\"id\": 1, "
		      "\"name\": \"coupon\", \"nominal_cost\": 2.5}]}, \"exploration\": null, "
		      "\"timezone_offset_s\": null, \"max_value\": null, \"max_cost\": null, "
		      "\"winsor_value\": null, \"holdout\": null, \"uniform_arm\": null}");
	free(json);
}

/* A FeatureEvent writer schema: request_id, campaign_id, user_id (unless
 * @p no_user), ts_ms of type @p ts_type, features. */
static const char *feature_writer(int no_user, const char *ts_type)
{
	static char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"type\":\"record\",\"name\":\"FeatureEvent\",\"fields\":["
		 "{\"name\":\"request_id\",\"type\":\"string\"},"
		 "{\"name\":\"campaign_id\",\"type\":\"string\"},%s"
		 "{\"name\":\"ts_ms\",\"type\":\"%s\"},"
		 "{\"name\":\"features\",\"type\":{\"type\":\"array\",\"items\":\"float\"}}]}",
		 no_user ? "" : "{\"name\":\"user_id\",\"type\":\"string\"},", ts_type);
	return buf;
}

/* Incompatible pairs are refused at compile time with the field named. */
static void test_incompatible(void **state)
{
	(void)state;
	enc_t e = {0};
	char why[256] = "";
	const char *rjson = bd_schemas_get("feature_event");
	assert_int_equal(resolve_to_json(feature_writer(1, "long"), rjson, &e, NULL, why,
					 sizeof(why)),
			 BD_ESCHEMA);
	assert_string_equal(why, "field user_id: not written and has no default");
	assert_int_equal(resolve_to_json(feature_writer(0, "string"), rjson, &e, NULL, why,
					 sizeof(why)),
			 BD_ESCHEMA);
	assert_string_equal(why, "field ts_ms: written as string, read as long");
	/* another record altogether */
	assert_int_equal(resolve_to_json(bd_schemas_get("decision"), rjson, &e, NULL, why,
					 sizeof(why)),
			 BD_ESCHEMA);
	assert_string_equal(why, "written as Decision, read as FeatureEvent");
	/* a recursive writer schema */
	assert_int_equal(resolve_to_json("{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":"
					 "\"next\",\"type\":[\"null\",\"L\"]}]}",
					 rjson, &e, NULL, why, sizeof(why)),
			 BD_ESCHEMA);
	assert_non_null(strstr(why, "recursive"));
}

/* Unions: a writer's branch the reader lacks fails only the bodies that
 * take it; a non-union goes into the reader's matching branch; promotions
 * inside branches; enums by symbol, with and without the reader's default. */
static void test_unions_and_enums(void **state)
{
	(void)state;
	const char *w = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
			"{\"name\":\"a\",\"type\":[\"null\",\"string\",\"int\"]},"
			"{\"name\":\"b\",\"type\":\"int\"},"
			"{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\",\"Z\"]}},"
			"{\"name\":\"d\",\"type\":\"float\"}]}";
	const char *r = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
			"{\"name\":\"a\",\"type\":[\"string\",\"double\"]},"
			"{\"name\":\"b\",\"type\":[\"null\",\"long\"]},"
			"{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"Y\",\"X\"]}},"
			"{\"name\":\"d\",\"type\":\"double\"}]}";
	const char *r_def = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
			    "{\"name\":\"a\",\"type\":[\"string\",\"double\"]},"
			    "{\"name\":\"b\",\"type\":[\"null\",\"long\"]},"
			    "{\"name\":\"c\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"Y\",\"X\"],"
			    "\"default\":\"X\"}},{\"name\":\"d\",\"type\":\"double\"}]}";
	char why[256] = "", *json = NULL;
	enc_t e = {0};
	w_long(&e, 2), w_long(&e, 7); /* a: int 7 -> double */
	w_long(&e, -3);               /* b */
	w_long(&e, 1);                /* c: Y */
	w_float(&e, 1.5f);
	assert_int_equal(resolve_to_json(w, r, &e, &json, why, sizeof(why)), 0);
	assert_string_equal(json, "{\"a\": {\"double\": 7.0}, \"b\": {\"long\": -3}, \"c\": \"Y\", "
				  "\"d\": 1.5}");
	free(json);

	enc_t n = {0}; /* a: null, which the reader's union lacks */
	w_long(&n, 0), w_long(&n, 1), w_long(&n, 0), w_float(&n, 0.0f);
	assert_int_equal(resolve_to_json(w, r, &n, NULL, why, sizeof(why)), BD_ESCHEMA);
	assert_string_equal(why, "the writer's union branch null of field a cannot be read");

	enc_t z = {0}; /* c: Z, which the reader lacks: its default, or a failure */
	w_long(&z, 1), w_str(&z, "s"), w_long(&z, 1), w_long(&z, 2), w_float(&z, 0.0f);
	assert_int_equal(resolve_to_json(w, r, &z, NULL, why, sizeof(why)), BD_ESCHEMA);
	assert_string_equal(why, "an enum symbol the reader's schema lacks");
	assert_int_equal(resolve_to_json(w, r_def, &z, &json, why, sizeof(why)), 0);
	assert_string_equal(json, "{\"a\": {\"string\": \"s\"}, \"b\": {\"long\": 1}, \"c\": \"X\", "
				  "\"d\": 0.0}");
	free(json);

	enc_t t = {0}; /* truncated */
	w_long(&t, 1), w_long(&t, 40);
	assert_int_equal(resolve_to_json(w, r, &t, NULL, why, sizeof(why)), BD_EDECODE);
}

static void test_identity(void **state)
{
	(void)state;
	const char *j = bd_schemas_get("outcome_event");
	char why[128];
	avro_schema_t a = parse(j), b = parse(j);
	bd_resolve_t *r = NULL;
	assert_int_equal(bd_resolve_new(a, b, j, &r, why, sizeof(why)), 0);
	assert_true(bd_resolve_identity(r));
	assert_string_equal(bd_resolve_summary(r), "identical");
	bd_resolve_free(r);
	avro_schema_decref(a);
	avro_schema_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_feature_event_evolved),
		cmocka_unit_test(test_control_nested_defaults),
		cmocka_unit_test(test_incompatible),
		cmocka_unit_test(test_unions_and_enums),
		cmocka_unit_test(test_identity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
