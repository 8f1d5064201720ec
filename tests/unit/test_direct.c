/* messages_direct.c: the hot path's direct codecs agree with Avro C's
 * generic values, on random records: a Decision written directly is the
 * bytes avro_value_write gives; a FeatureEvent or an OutcomeEvent written
 * in blocks of every shape (several blocks, negative counts with their
 * byte size, as other Avro writers may write them) reads as Avro C reads
 * it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/wire/messages.h"
#include "budgetd/wire/schemas.h"
#include "budgetd/wire/wire.h"

#include <avro.h>

static const uint32_t ids[BD_MSG__COUNT] = {1, 2, 3, 4, 5, 6, 7};
static char err[512];

/* ---- random records ---------------------------------------------------------- */

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random id of 1..@p max bytes (ASCII, two-byte and three-byte UTF-8),
 * or, when @p bad, with a byte that is not UTF-8 somewhere. */
static void rnd_text(char *s, size_t max, bool bad)
{
	static const char *pieces[] = {"a", "Z", "7", "-", "\xc3\xa9", "\xe2\x82\xac"};
	size_t n = 0, want = 1 + rnd() % max;
	while (n < want) {
		const char *p = pieces[rnd() % 6];
		if (n + strlen(p) > want)
			break;
		memcpy(s + n, p, strlen(p));
		n += strlen(p);
	}
	if (n == 0)
		s[n++] = 'x';
	if (bad)
		s[rnd() % n] = (char)0xff;
	s[n] = '\0';
}

static int64_t rnd_long(void)
{
	switch (rnd() % 4) {
	case 0: return (int64_t)(rnd() % 300) - 150;
	case 1: return INT64_MIN + (int64_t)(rnd() % 3);
	case 2: return INT64_MAX - (int64_t)(rnd() % 3);
	default: return (int64_t)rnd();
	}
}

static int32_t rnd_int(void)
{
	return rnd() % 2 ? (int32_t)rnd() : (int32_t)(rnd() % 40) - 20;
}

/* ---- a Decision: the bytes avro_value_write gives ---------------------------- */

static void set_s(avro_value_t *rec, const char *name, const char *s)
{
	avro_value_t f;
	avro_value_get_by_name(rec, name, &f, NULL);
	avro_value_set_string(&f, s);
}

static void set_l(avro_value_t *rec, const char *name, int64_t x)
{
	avro_value_t f;
	avro_value_get_by_name(rec, name, &f, NULL);
	avro_value_set_long(&f, x);
}

static void set_i(avro_value_t *rec, const char *name, int32_t x)
{
	avro_value_t f;
	avro_value_get_by_name(rec, name, &f, NULL);
	avro_value_set_int(&f, x);
}

/* What Avro C writes for @p d (whose strings are UTF-8) into @p out. */
static size_t generic_decision(avro_value_t *v, const bd_decision_t *d, char *out,
			       size_t size)
{
	avro_value_t f;
	avro_value_reset(v);
	set_s(v, "decision_id", d->decision_id);
	set_s(v, "request_id", d->request_id);
	set_s(v, "campaign_id", d->campaign_id);
	set_s(v, "user_id", d->user_id);
	set_l(v, "ts_ms", d->ts_ms);
	set_i(v, "treatment", d->treatment);
	set_i(v, "cluster", d->cluster);
	avro_value_get_by_name(v, "propensity", &f, NULL);
	avro_value_set_double(&f, d->propensity);
	avro_value_get_by_name(v, "explored", &f, NULL);
	avro_value_set_boolean(&f, d->explored);
	set_l(v, "plan_version", d->plan_version);
	set_l(v, "model_version", d->model_version);
	set_s(v, "reason", d->reason);
	set_s(v, "arm", d->arm);
	avro_writer_t w = avro_writer_memory(out, (int64_t)size);
	assert_int_equal(avro_value_write(w, v), 0);
	size_t n = (size_t)avro_writer_tell(w);
	avro_writer_free(w);
	return n;
}

static void test_decision_bytes(void **state)
{
	(void)state;
	const char *json = bd_schemas_get(bd_msg_kind_name(BD_MSG_DECISION));
	avro_schema_t s;
	assert_int_equal(avro_schema_from_json_length(json, strlen(json), &s), 0);
	avro_value_iface_t *iface = avro_generic_class_from_schema(s);
	avro_value_t v;
	assert_int_equal(avro_generic_value_new(iface, &v), 0);
	bd_codec_t *codec[2];
	assert_int_equal(bd_codec_new(ids, BD_WIRE_CONFLUENT, &codec[0], err, sizeof(err)), 0);
	assert_int_equal(bd_codec_new(ids, BD_WIRE_SINGLE_OBJECT, &codec[1], err, sizeof(err)), 0);
	bd_buf_t b = {0};
	static char ref[8192];
	for (int i = 0; i < 4000; i++) {
		char t[6][80];
		for (int j = 0; j < 6; j++)
			rnd_text(t[j], j == 0 ? 16 : 60, false);
		bd_decision_t d = {t[0], t[1], t[2], t[3], rnd_long(), rnd_int(), rnd_int(),
				   (double)(rnd() % 1000) / 999.0, rnd() % 2, rnd_long(),
				   rnd_long(), t[4], t[5]};
		if (i % 7 == 0)
			d.arm = "";
		size_t n = generic_decision(&v, &d, ref, sizeof(ref));
		bd_codec_t *c = codec[i % 2];
		uint8_t hdr[BD_WIRE_HEADER_MAX];
		size_t hlen = bd_wire_header_write(i % 2 ? BD_WIRE_SINGLE_OBJECT : BD_WIRE_CONFLUENT,
						   4, bd_codec_fingerprint(c, BD_MSG_DECISION), hdr);
		assert_int_equal(bd_encode_decision(c, &d, &b), 0);
		assert_int_equal(b.len, hlen + n);
		assert_memory_equal(b.data, hdr, hlen);
		assert_memory_equal(b.data + hlen, ref, n);
	}
	/* a string that is not UTF-8 is written as Avro C writes its
	 * replacement (U+FFFD), and a NULL arm as "" */
	bd_decision_t d = {"0123456789abcdef", "r\xff", "c", "u", 1, 0, 0, 1, false, 0, 0,
			   "plan", NULL};
	assert_int_equal(bd_encode_decision(codec[0], &d, &b), 0);
	d.request_id = "r\xef\xbf\xbd";
	d.arm = "";
	size_t n = generic_decision(&v, &d, ref, sizeof(ref));
	assert_int_equal(b.len, 5 + n);
	assert_memory_equal(b.data + 5, ref, n);
	bd_buf_free(&b);
	bd_codec_free(codec[0]);
	bd_codec_free(codec[1]);
	avro_value_decref(&v);
	avro_value_iface_decref(iface);
	avro_schema_decref(s);
}

/* ---- inputs written in blocks of every shape ------------------------------- */

typedef struct out_s {
	uint8_t b[1 << 16];
	size_t n;
} out_t;

static void put_long(out_t *o, int64_t x)
{
	uint64_t v = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
	while (v >= 0x80) {
		o->b[o->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	o->b[o->n++] = (uint8_t)v;
}

static void put_str(out_t *o, const char *s)
{
	put_long(o, (int64_t)strlen(s));
	memcpy(o->b + o->n, s, strlen(s));
	o->n += strlen(s);
}

static void put_raw(out_t *o, const void *p, size_t n)
{
	memcpy(o->b + o->n, p, n); /* little-endian, as Avro's float and double */
	o->n += n;
}

/* @p n floats, in random blocks: some with a negative count and their size. */
static void put_floats(out_t *o, const float *x, int n)
{
	int i = 0;
	while (i < n) {
		int k = 1 + (int)(rnd() % (uint64_t)(n - i));
		if (rnd() % 2) {
			put_long(o, -k);
			put_long(o, 4 * k);
		} else {
			put_long(o, k);
		}
		put_raw(o, x + i, 4 * (size_t)k);
		i += k;
	}
	put_long(o, 0);
}

/* A context map of 0..5 entries in blocks of 1..2 (a negative count's size
 * is the bytes of the block's keys and values). */
static void put_context(out_t *o)
{
	int n = (int)(rnd() % 6);
	while (n > 0) {
		int k = n > 1 && rnd() % 2 ? 2 : 1;
		out_t *blk = calloc(1, sizeof(*blk));
		for (int j = 0; j < k; j++) {
			char key[40], val[40];
			rnd_text(key, 30, false);
			rnd_text(val, 30, false);
			put_str(blk, key);
			put_str(blk, val);
		}
		if (rnd() % 2) {
			put_long(o, -k);
			put_long(o, (int64_t)blk->n);
		} else {
			put_long(o, k);
		}
		put_raw(o, blk->b, blk->n);
		free(blk);
		n -= k;
	}
	put_long(o, 0);
}

/* Avro C's generic read of @p body with schema @p kind. */
static void generic_read(bd_msg_kind_t kind, const out_t *body, avro_schema_t *s,
			 avro_value_iface_t **iface, avro_value_t *v)
{
	const char *json = bd_schemas_get(bd_msg_kind_name(kind));
	assert_int_equal(avro_schema_from_json_length(json, strlen(json), s), 0);
	*iface = avro_generic_class_from_schema(*s);
	assert_int_equal(avro_generic_value_new(*iface, v), 0);
	avro_reader_t r = avro_reader_memory((const char *)body->b + 5, (int64_t)body->n - 5);
	assert_int_equal(avro_value_read(r, v), 0);
	avro_reader_free(r);
}

static void generic_free(avro_schema_t s, avro_value_iface_t *iface, avro_value_t *v)
{
	avro_value_decref(v);
	avro_value_iface_decref(iface);
	avro_schema_decref(s);
}

static void assert_field_str(avro_value_t *v, const char *name, const char *want)
{
	avro_value_t f;
	const char *s;
	size_t n;
	avro_value_get_by_name(v, name, &f, NULL);
	avro_value_get_string(&f, &s, &n);
	assert_string_equal(want, s);
}

static void assert_floats(avro_value_t *arr, const float *x, int n)
{
	size_t m;
	avro_value_get_size(arr, &m);
	assert_int_equal(m, n);
	for (int j = 0; j < n; j++) {
		avro_value_t e;
		float f;
		avro_value_get_by_index(arr, (size_t)j, &e, NULL);
		avro_value_get_float(&e, &f);
		assert_memory_equal(&f, &x[j], sizeof(f));
	}
}

static void header(out_t *o, uint32_t id)
{
	o->n = 0;
	o->b[o->n++] = 0;
	for (int i = 3; i >= 0; i--)
		o->b[o->n++] = (uint8_t)(id >> (8 * i));
}

static void rnd_floats(float *x, int n)
{
	for (int j = 0; j < n; j++)
		x[j] = (float)((double)(int64_t)(rnd() % 2000001) / 1000.0 - 1000.0);
}

static void test_feature_blocks(void **state)
{
	(void)state;
	bd_codec_t *c;
	assert_int_equal(bd_codec_new(ids, BD_WIRE_CONFLUENT, &c, err, sizeof(err)), 0);
	static out_t o;
	static float x[BD_MAX_DIM];
	for (int i = 0; i < 500; i++) {
		char r[80], camp[80], u[80];
		rnd_text(r, 70, false);
		rnd_text(camp, 70, false);
		rnd_text(u, 70, false);
		int n = i % 50 == 0 ? (int)(rnd() % BD_MAX_DIM) : (int)(rnd() % 40);
		int64_t ts = (int64_t)(rnd() % 7258118400000ULL);
		rnd_floats(x, n);
		header(&o, ids[BD_MSG_FEATURE]);
		put_str(&o, r);
		put_str(&o, camp);
		put_str(&o, u);
		put_long(&o, ts);
		put_floats(&o, x, n);
		put_context(&o);
		bd_feature_event_t ev;
		assert_int_equal(bd_decode_feature(c, o.b, o.n, &ev, err, sizeof(err)), 0);
		avro_schema_t s;
		avro_value_iface_t *iface;
		avro_value_t v, f;
		generic_read(BD_MSG_FEATURE, &o, &s, &iface, &v);
		assert_field_str(&v, "request_id", ev.request_id);
		assert_field_str(&v, "campaign_id", ev.campaign_id);
		assert_field_str(&v, "user_id", ev.user_id);
		avro_value_get_by_name(&v, "ts_ms", &f, NULL);
		int64_t t;
		avro_value_get_long(&f, &t);
		assert_int_equal(t, ev.ts_ms);
		avro_value_get_by_name(&v, "features", &f, NULL);
		assert_floats(&f, ev.features, ev.dim);
		generic_free(s, iface, &v);
	}
	bd_codec_free(c);
}

static void test_outcome_blocks(void **state)
{
	(void)state;
	bd_codec_t *c;
	assert_int_equal(bd_codec_new(ids, BD_WIRE_CONFLUENT, &c, err, sizeof(err)), 0);
	static out_t o;
	float x[64];
	for (int i = 0; i < 500; i++) {
		char d[80], camp[80], u[80];
		bool hist = rnd() % 3 == 0, has_f = hist || rnd() % 2, has_t = hist || rnd() % 2,
		     has_p = hist || rnd() % 2;
		if (hist)
			d[0] = '\0';
		else
			rnd_text(d, 20, false);
		rnd_text(camp, 70, false);
		rnd_text(u, 70, false);
		int n = (int)(rnd() % 64);
		int32_t orders = (int32_t)(rnd() % 5), tr = (int32_t)(rnd() % BD_MAX_TREATMENTS);
		double value = (double)(rnd() % 100000) / 7.0, cost = (double)(rnd() % 1000) / 3.0;
		double prop = (double)(1 + rnd() % 1000) / 1000.0;
		rnd_floats(x, n);
		header(&o, ids[BD_MSG_OUTCOME]);
		put_str(&o, d);
		put_str(&o, camp);
		put_str(&o, u);
		put_long(&o, (int64_t)(rnd() % 7258118400000ULL));
		put_long(&o, orders);
		put_raw(&o, &value, 8);
		put_raw(&o, &cost, 8);
		put_long(&o, has_f);
		if (has_f)
			put_floats(&o, x, n);
		put_long(&o, has_t);
		if (has_t)
			put_long(&o, tr);
		put_long(&o, has_p);
		if (has_p)
			put_raw(&o, &prop, 8);
		bd_outcome_event_t ev;
		assert_int_equal(bd_decode_outcome(c, o.b, o.n, &ev, err, sizeof(err)), 0);
		avro_schema_t s;
		avro_value_iface_t *iface;
		avro_value_t v, f, b;
		generic_read(BD_MSG_OUTCOME, &o, &s, &iface, &v);
		assert_field_str(&v, "decision_id", ev.decision_id);
		assert_field_str(&v, "campaign_id", ev.campaign_id);
		assert_field_str(&v, "user_id", ev.user_id);
		int32_t oi;
		double od;
		avro_value_get_by_name(&v, "orders", &f, NULL);
		avro_value_get_int(&f, &oi);
		assert_int_equal(oi, ev.orders);
		avro_value_get_by_name(&v, "cost", &f, NULL);
		avro_value_get_double(&f, &od);
		assert_true(od == ev.cost);
		int disc;
		avro_value_get_by_name(&v, "features", &f, NULL);
		avro_value_get_discriminant(&f, &disc);
		assert_int_equal(disc, ev.has_features);
		if (disc) {
			avro_value_get_current_branch(&f, &b);
			assert_floats(&b, ev.features, ev.dim);
		}
		avro_value_get_by_name(&v, "treatment", &f, NULL);
		avro_value_get_discriminant(&f, &disc);
		assert_int_equal(disc, ev.has_treatment);
		if (disc) {
			avro_value_get_current_branch(&f, &b);
			avro_value_get_int(&b, &oi);
			assert_int_equal(oi, ev.treatment);
		}
		avro_value_get_by_name(&v, "propensity", &f, NULL);
		avro_value_get_discriminant(&f, &disc);
		assert_int_equal(disc, ev.has_propensity);
		if (disc) {
			avro_value_get_current_branch(&f, &b);
			avro_value_get_double(&b, &od);
			assert_true(od == ev.propensity);
		}
		generic_free(s, iface, &v);
	}
	bd_codec_free(c);
}

/* A features array longer than BD_MAX_DIM in blocks is refused with the
 * whole array's count, as the generic read gave it. */
static void test_feature_too_long(void **state)
{
	(void)state;
	bd_codec_t *c;
	assert_int_equal(bd_codec_new(ids, BD_WIRE_CONFLUENT, &c, err, sizeof(err)), 0);
	static out_t o;
	static float x[BD_MAX_DIM + 10];
	memset(x, 0, sizeof(x));
	header(&o, ids[BD_MSG_FEATURE]);
	put_str(&o, "r");
	put_str(&o, "c");
	put_str(&o, "u");
	put_long(&o, 1);
	put_long(&o, BD_MAX_DIM - 2);
	put_raw(&o, x, 4 * (BD_MAX_DIM - 2));
	put_long(&o, -12);
	put_long(&o, 48);
	put_raw(&o, x, 48);
	put_long(&o, 0);
	put_long(&o, 0);
	bd_feature_event_t ev;
	assert_int_equal(bd_decode_feature(c, o.b, o.n, &ev, err, sizeof(err)), BD_EINVAL);
	assert_string_equal(err, "features has 4106 values (limit 4096)");
	bd_codec_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decision_bytes),
		cmocka_unit_test(test_feature_blocks),
		cmocka_unit_test(test_outcome_blocks),
		cmocka_unit_test(test_feature_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
