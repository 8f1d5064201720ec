/*
 * Direct codecs of the hot path: a FeatureEvent and an OutcomeEvent read
 * straight from their bytes, a Decision written straight to them, without
 * Avro C's generic values (issue 19: the generic read cost about 8 700
 * instructions of a feature event and the generic write 6 000 of its
 * decision; these cost a few hundred).
 *
 * What keeps them honest:
 *  - a body reaches a reader here only after bd_wire_body_check walked it
 *    against the kind's current schema (messages_decode.c): its lengths,
 *    counts and union branches are known to be in range, and it ends where
 *    the schema says.  The readers still check every read against the end,
 *    so a walk they were not given cannot make them read past the body;
 *  - the writer produces the bytes avro_value_write does for the same
 *    record (test_messages compares them, and decodes them with Avro C);
 *  - each function follows one layout, written out below; bd_codec_new
 *    compares it with the compiled-in schema and refuses to start when a
 *    schema changed and these were not changed with it.
 */
#include "messages_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/sbuf.h"
#include "budgetd/base/utf8.h"

/* ---- the layouts these functions follow ------------------------------------ */

/* One letter per Avro type (n null, b boolean, i int, l long, f float,
 * d double, s string), [X] an array, {X} a map, (X|Y) a union, a record as
 * Name{field:X,...}. */
static const struct {
	bd_msg_kind_t kind;
	const char *layout;
} direct_layouts[] = {
	{BD_MSG_FEATURE, "FeatureEvent{request_id:s,campaign_id:s,user_id:s,ts_ms:l,"
			 "features:[f],context:{s}}"},
	{BD_MSG_OUTCOME, "OutcomeEvent{decision_id:s,campaign_id:s,user_id:s,ts_ms:l,"
			 "orders:i,value:d,cost:d,features:(n|[f]),treatment:(n|i),"
			 "propensity:(n|d)}"},
	{BD_MSG_DECISION, "Decision{decision_id:s,request_id:s,campaign_id:s,user_id:s,"
			  "ts_ms:l,treatment:i,cluster:i,propensity:d,explored:b,"
			  "plan_version:l,model_version:l,reason:s,arm:s}"},
};

static void layout_of(avro_schema_t s, bd_sbuf_t *b)
{
	switch (avro_typeof(s)) {
	case AVRO_NULL: bd_sbuf_cat(b, "n"); return;
	case AVRO_BOOLEAN: bd_sbuf_cat(b, "b"); return;
	case AVRO_INT32: bd_sbuf_cat(b, "i"); return;
	case AVRO_INT64: bd_sbuf_cat(b, "l"); return;
	case AVRO_FLOAT: bd_sbuf_cat(b, "f"); return;
	case AVRO_DOUBLE: bd_sbuf_cat(b, "d"); return;
	case AVRO_STRING: bd_sbuf_cat(b, "s"); return;
	case AVRO_ARRAY:
		bd_sbuf_cat(b, "[");
		layout_of(avro_schema_array_items(s), b);
		bd_sbuf_cat(b, "]");
		return;
	case AVRO_MAP:
		bd_sbuf_cat(b, "{");
		layout_of(avro_schema_map_values(s), b);
		bd_sbuf_cat(b, "}");
		return;
	case AVRO_UNION:
		bd_sbuf_cat(b, "(");
		for (size_t i = 0; i < avro_schema_union_size(s); i++) {
			bd_sbuf_cat(b, i ? "|" : "");
			layout_of(avro_schema_union_branch(s, (int)i), b);
		}
		bd_sbuf_cat(b, ")");
		return;
	case AVRO_RECORD:
		bd_sbuf_printf(b, "%s{", avro_schema_name(s));
		for (size_t i = 0; i < avro_schema_record_size(s); i++) {
			bd_sbuf_printf(b, "%s%s:", i ? "," : "",
				       avro_schema_record_field_name(s, (int)i));
			layout_of(avro_schema_record_field_get_by_index(s, (int)i), b);
		}
		bd_sbuf_cat(b, "}");
		return;
	default: bd_sbuf_cat(b, "?"); return;
	}
}

int bd_codec_direct_check(const bd_codec_t *c, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < sizeof(direct_layouts) / sizeof(direct_layouts[0]); i++) {
		bd_sbuf_t b = BD_SBUF_INIT;
		layout_of(c->schema[direct_layouts[i].kind], &b);
		if (bd_sbuf_failed(&b)) {
			bd_sbuf_free(&b);
			snprintf(errstr, errstr_size, "out of memory");
			return -ENOMEM;
		}
		int same = b.s && strcmp(b.s, direct_layouts[i].layout) == 0;
		if (!same)
			snprintf(errstr, errstr_size,
				 "schema %s is %s, but its direct codec (messages_direct.c) "
				 "follows %s: change them together",
				 bd_msg_kind_name(direct_layouts[i].kind), b.s ? b.s : "?",
				 direct_layouts[i].layout);
		bd_sbuf_free(&b);
		if (!same)
			return BD_ESCHEMA;
	}
	return 0;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct cur_s {
	const uint8_t *p, *end;
	char *text; /* where the next string is copied, NUL-terminated */
	int err;    /* a read past the end: not after a walk */
} cur_t;

static int64_t rd_long(cur_t *k)
{
	uint64_t v = 0;
	for (int i = 0; i < 10 && k->p < k->end; i++) {
		uint8_t b = *k->p++;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
	}
	k->err = 1;
	return 0;
}

static const uint8_t *rd_bytes(cur_t *k, int64_t n)
{
	const uint8_t *p = k->p;
	if (n < 0 || n > k->end - k->p) {
		k->err = 1;
		return NULL;
	}
	k->p += n;
	return p;
}

/* A string, copied with its NUL; *size as Avro C gives it (bytes + 1), so
 * that a NUL inside shows as strlen(s) != size - 1. */
static const char *rd_str(cur_t *k, size_t *size)
{
	int64_t n = rd_long(k);
	const uint8_t *p = rd_bytes(k, n);
	char *s = k->text;
	if (!p) {
		*size = 1;
		return "";
	}
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	k->text += n + 1;
	*size = (size_t)n + 1;
	return s;
}

static uint64_t rd_le(cur_t *k, int n)
{
	const uint8_t *p = rd_bytes(k, n);
	uint64_t v = 0;
	for (int i = n - 1; p && i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static float rd_float(cur_t *k)
{
	uint32_t u = (uint32_t)rd_le(k, 4);
	float x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

static double rd_double(cur_t *k)
{
	uint64_t u = rd_le(k, 8);
	double x;
	memcpy(&x, &u, sizeof(x));
	return x;
}

/* The count of the next block of an array or map (its byte size, when
 * given, skipped: the items are read one by one). */
static int64_t rd_block(cur_t *k)
{
	int64_t n = rd_long(k);
	if (n < 0) {
		n = n == INT64_MIN ? 0 : -n;
		(void)rd_long(k);
	}
	return n;
}

/* An array of floats into c->fscratch; *n the count of the whole array
 * (when it is above BD_MAX_DIM the values past it are skipped). */
static int rd_floats(bd_codec_t *c, cur_t *k, size_t *n)
{
	int64_t b;
	*n = 0;
	while (!k->err && (b = rd_block(k)) > 0) {
		if (b > (k->end - k->p) / 4) {
			k->err = 1;
			break;
		}
		if (*n + (size_t)b > BD_MAX_DIM) {
			rd_bytes(k, 4 * b); /* only counted: the array is refused */
			*n += (size_t)b;
			continue;
		}
		if (c->fscratch_cap < BD_MAX_DIM) {
			float *p = realloc(c->fscratch, BD_MAX_DIM * sizeof(*p));
			if (!p)
				return -ENOMEM;
			c->fscratch = p;
			c->fscratch_cap = BD_MAX_DIM;
		}
		for (int64_t j = 0; j < b; j++)
			c->fscratch[(*n)++] = rd_float(k);
	}
	return 0;
}

/* A map of strings, skipped. */
static void skip_str_map(cur_t *k)
{
	int64_t b;
	while (!k->err && (b = rd_block(k)) > 0)
		for (int64_t j = 0; j < b && !k->err; j++) {
			rd_bytes(k, rd_long(k));
			rd_bytes(k, rd_long(k));
		}
}

/* Room for every string of a body of @p len bytes with its NUL: a string
 * of n bytes takes at least n + 1 bytes of the body (its length). */
static int cur_open(bd_codec_t *c, bd_msg_kind_t kind, const char *body, size_t len, cur_t *k)
{
	int i = kind == BD_MSG_FEATURE ? 0 : 1;
	if (len + 1 > c->tscratch_cap[i]) {
		size_t cap = len + 1 < 256 ? 256 : len + 1;
		char *p = realloc(c->tscratch[i], cap);
		if (!p)
			return -ENOMEM;
		c->tscratch[i] = p;
		c->tscratch_cap[i] = cap;
	}
	*k = (cur_t){.p = (const uint8_t *)body,
		     .end = (const uint8_t *)body + len,
		     .text = c->tscratch[i]};
	return 0;
}

static int cur_close(const cur_t *k, bd_msg_kind_t kind, char *errstr, size_t errstr_size)
{
	if (!k->err && k->p == k->end)
		return 0;
	snprintf(errstr, errstr_size, "Avro body of %s does not decode: %s",
		 bd_msg_kind_name(kind), k->err ? "truncated" : "trailing bytes");
	return BD_EDECODE;
}

int bd_codec_direct_feature(bd_codec_t *c, const char *body, size_t len,
			    bd_codec_feature_t *f, char *errstr, size_t errstr_size)
{
	cur_t k;
	int err = cur_open(c, BD_MSG_FEATURE, body, len, &k);
	if (err)
		return err;
	f->request_id = rd_str(&k, &f->size[0]);
	f->campaign_id = rd_str(&k, &f->size[1]);
	f->user_id = rd_str(&k, &f->size[2]);
	f->ts_ms = rd_long(&k);
	if ((err = rd_floats(c, &k, &f->n)))
		return err;
	skip_str_map(&k);
	f->features = c->fscratch;
	return cur_close(&k, BD_MSG_FEATURE, errstr, errstr_size);
}

int bd_codec_direct_outcome(bd_codec_t *c, const char *body, size_t len,
			    bd_codec_outcome_t *o, char *errstr, size_t errstr_size)
{
	cur_t k;
	int err = cur_open(c, BD_MSG_OUTCOME, body, len, &k);
	if (err)
		return err;
	o->decision_id = rd_str(&k, &o->size[0]);
	o->campaign_id = rd_str(&k, &o->size[1]);
	o->user_id = rd_str(&k, &o->size[2]);
	o->ts_ms = rd_long(&k);
	o->orders = rd_long(&k);
	o->value = rd_double(&k);
	o->cost = rd_double(&k);
	o->n = 0;
	if ((o->has_features = rd_long(&k) == 1) && (err = rd_floats(c, &k, &o->n)))
		return err;
	if ((o->has_treatment = rd_long(&k) == 1))
		o->treatment = rd_long(&k);
	if ((o->has_propensity = rd_long(&k) == 1))
		o->propensity = rd_double(&k);
	o->features = c->fscratch;
	return cur_close(&k, BD_MSG_OUTCOME, errstr, errstr_size);
}

/* ---- writing ------------------------------------------------------------- */

static uint8_t *wr_long(uint8_t *p, int64_t x)
{
	uint64_t v = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *wr_str(uint8_t *p, const char *s, size_t n)
{
	p = wr_long(p, (int64_t)n);
	memcpy(p, s, n);
	return p + n;
}

static uint8_t *wr_double(uint8_t *p, double x)
{
	uint64_t u;
	memcpy(&u, &x, sizeof(u));
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(u >> (8 * i));
	return p;
}

/* The decision's strings, each UTF-8 whatever it was given (as set_str in
 * messages_encode.c: only state written before the inputs were checked
 * can hold other bytes), in @p fixed or, for such a string, in @p t. */
enum { DEC_STRINGS = 6 };

static int decision_strings(const bd_decision_t *d, const char *s[DEC_STRINGS],
			    size_t n[DEC_STRINGS], bd_sbuf_t t[DEC_STRINGS])
{
	const char *in[DEC_STRINGS] = {d->decision_id, d->request_id, d->campaign_id,
				       d->user_id, d->reason, d->arm};
	for (int i = 0; i < DEC_STRINGS; i++) {
		s[i] = in[i] ? in[i] : "";
		n[i] = strlen(s[i]);
		if (bd_utf8_valid(s[i], n[i], NULL))
			continue;
		bd_sbuf_text(&t[i], s[i]);
		if (bd_sbuf_failed(&t[i]))
			return -ENOMEM;
		s[i] = t[i].s ? t[i].s : "";
		n[i] = strlen(s[i]);
	}
	return 0;
}

int bd_codec_direct_decision(bd_codec_t *c, const bd_decision_t *d, bd_buf_t *out)
{
	bd_sbuf_t t[DEC_STRINGS] = {BD_SBUF_INIT, BD_SBUF_INIT, BD_SBUF_INIT,
				    BD_SBUF_INIT, BD_SBUF_INIT, BD_SBUF_INIT};
	const char *s[DEC_STRINGS];
	size_t n[DEC_STRINGS], need = BD_WIRE_HEADER_MAX + 3 * 10 + 2 * 5 + 8 + 1;
	int err = decision_strings(d, s, n, t);
	for (int i = 0; !err && i < DEC_STRINGS; i++)
		need += 10 + n[i];
	if (!err)
		err = bd_buf_reserve(out, need);
	if (err)
		goto done;
	uint8_t *p = out->data;
	p += bd_wire_header_write(c->out_format, c->schema_id[BD_MSG_DECISION],
				  c->fingerprint[BD_MSG_DECISION], p);
	for (int i = 0; i < 4; i++)
		p = wr_str(p, s[i], n[i]);
	p = wr_long(p, d->ts_ms);
	p = wr_long(p, d->treatment);
	p = wr_long(p, d->cluster);
	p = wr_double(p, d->propensity);
	*p++ = d->explored ? 1 : 0;
	p = wr_long(p, d->plan_version);
	p = wr_long(p, d->model_version);
	p = wr_str(p, s[4], n[4]);
	p = wr_str(p, s[5], n[5]);
	out->len = (size_t)(p - out->data);
done:
	for (int i = 0; i < DEC_STRINGS; i++)
		bd_sbuf_free(&t[i]);
	return err;
}
