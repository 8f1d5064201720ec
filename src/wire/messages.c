/*
 * Typed decode/encode over Avro C's generic values.
 *
 * Field access is by index, in the order of the .avsc files; the schemas are
 * compiled in (schemas_gen.c) so the indexes cannot drift from the schema the
 * binary uses.  Every decode ends with a semantic check (finite numbers,
 * ranges, non-empty ids) so that nothing downstream sees a NaN.
 */
#include "budgetd/wire/messages.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/wire/cluster.h"
#include "budgetd/base/sbuf.h"
#include "budgetd/wire/schemas.h"
#include "budgetd/base/utf8.h"
#include "budgetd/wire/wire.h"
#include "wire/schema_fields.h" /* BD_F_<RECORD>_<FIELD>, from schemas/fields.c */

struct bd_codec_s {
	avro_schema_t schema[BD_MSG__COUNT];
	avro_value_iface_t *iface[BD_MSG__COUNT];
	avro_value_t value[BD_MSG__COUNT];
	uint64_t fingerprint[BD_MSG__COUNT];
	uint32_t schema_id[BD_MSG__COUNT];
	bd_wire_format_t out_format;
	/* an earlier layout of a kind still read (older layouts, below) */
	avro_schema_t old_schema[BD_MSG__COUNT];
	uint64_t old_fingerprint[BD_MSG__COUNT];
	bd_buf_t padded; /* an earlier layout's body brought up to date */
	avro_reader_t reader;
	avro_writer_t writer;
	/* scratch for decoded arrays */
	float *fscratch;
	size_t fscratch_cap;
	double *dscratch;
	size_t dscratch_cap;
};

static const char *action_names[BD_ACTION__COUNT] = {
	"UPSERT_CAMPAIGN", "SET_BUDGET", "PAUSE", "RESUME", "RESOLVE", "RETRAIN",
};

static int buf_reserve(bd_buf_t *b, size_t need);

/* Older layouts still read.  A schema that grew only by optional fields
 * appended at its end (["null", T] with default null) reads a body of its
 * earlier layout as that body followed by one 0x00 per added field (union
 * branch 0: null): Avro resolution with defaults filled, for the one kind of
 * change budgetd makes to its own input schemas.  Bodies come with the
 * earlier layout's fingerprint (single-object framing) or with the kind's
 * Confluent schema id, where a body that is one layout or the other is told
 * apart by walking it (bd_wire_body_check). */
static const struct {
	bd_msg_kind_t kind;
	const char *name; /* embedded schema (schemas/old/NAME.avsc) */
	int added;        /* optional fields appended since */
} old_layouts[] = {
	{BD_MSG_CONTROL, "control_command.v1", 3}, /* + max_value, max_cost, winsor_value */
};

#define N_OLD_LAYOUTS (sizeof(old_layouts) / sizeof(old_layouts[0]))

static int old_layout_of(bd_msg_kind_t kind)
{
	for (size_t i = 0; i < N_OLD_LAYOUTS; i++)
		if (old_layouts[i].kind == kind)
			return (int)i;
	return -1;
}

static int old_layouts_load(bd_codec_t *c, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < N_OLD_LAYOUTS; i++) {
		bd_msg_kind_t k = old_layouts[i].kind;
		const char *json = bd_schemas_get(old_layouts[i].name);
		if (!json || avro_schema_from_json_length(json, strlen(json),
							  &c->old_schema[k]) != 0) {
			snprintf(errstr, errstr_size, "schema %s: %s", old_layouts[i].name,
				 json ? avro_strerror() : "not compiled in");
			return BD_ESCHEMA;
		}
		int err = bd_wire_fingerprint(c->old_schema[k], &c->old_fingerprint[k]);
		if (err)
			return err;
	}
	return 0;
}

/* Copies the body @p body of @p len bytes, written with the earlier layout
 * of @p kind, into c->padded in the current layout. */
static int old_layout_pad(bd_codec_t *c, bd_msg_kind_t kind, const void *body, size_t len)
{
	int added = old_layouts[old_layout_of(kind)].added;
	int err = buf_reserve(&c->padded, len + (size_t)added);
	if (err)
		return err;
	memcpy(c->padded.data, body, len);
	memset(c->padded.data + len, 0, (size_t)added);
	c->padded.len = len + (size_t)added;
	return 0;
}

const char *bd_action_name(bd_action_t a)
{
	return (unsigned)a < BD_ACTION__COUNT ? action_names[a] : "unknown";
}

void bd_buf_free(bd_buf_t *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static int buf_reserve(bd_buf_t *b, size_t need)
{
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static BD_PRINTF(3, 4) int fail(char *errstr, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errstr, size, fmt, ap);
	va_end(ap);
	return BD_EINVAL;
}

int bd_codec_new(const uint32_t schema_ids[BD_MSG__COUNT],
		 bd_wire_format_t out_format, bd_codec_t **out, char *errstr,
		 size_t errstr_size)
{
	bd_codec_t *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (!c)
		goto fail;
	c->out_format = out_format;
	for (int k = 0; k < BD_MSG__COUNT; k++) {
		const char *json = bd_schemas_get(bd_msg_kind_name((bd_msg_kind_t)k));
		if (!json ||
		    avro_schema_from_json_length(json, strlen(json),
						 &c->schema[k]) != 0) {
			snprintf(errstr, errstr_size, "schema %s: %s",
				 bd_msg_kind_name((bd_msg_kind_t)k),
				 json ? avro_strerror() : "not compiled in");
			err = BD_ESCHEMA;
			goto fail;
		}
		c->iface[k] = avro_generic_class_from_schema(c->schema[k]);
		if (!c->iface[k] ||
		    avro_generic_value_new(c->iface[k], &c->value[k]) != 0) {
			snprintf(errstr, errstr_size, "schema %s: %s",
				 bd_msg_kind_name((bd_msg_kind_t)k), avro_strerror());
			err = BD_ESCHEMA;
			goto fail;
		}
		err = bd_wire_fingerprint(c->schema[k], &c->fingerprint[k]);
		if (err)
			goto fail;
		c->schema_id[k] = schema_ids ? schema_ids[k] : 0;
	}
	if ((err = old_layouts_load(c, errstr, errstr_size)))
		goto fail;
	c->reader = avro_reader_memory("", 0);
	c->writer = avro_writer_memory("", 0);
	if (!c->reader || !c->writer) {
		err = -ENOMEM;
		goto fail;
	}
	*out = c;
	return 0;
fail:
	if (err == -ENOMEM)
		snprintf(errstr, errstr_size, "out of memory");
	bd_codec_free(c);
	return err;
}

void bd_codec_free(bd_codec_t *c)
{
	if (!c)
		return;
	for (int k = 0; k < BD_MSG__COUNT; k++) {
		if (c->iface[k]) {
			if (c->value[k].self)
				avro_value_decref(&c->value[k]);
			avro_value_iface_decref(c->iface[k]);
		}
		if (c->schema[k])
			avro_schema_decref(c->schema[k]);
		if (c->old_schema[k])
			avro_schema_decref(c->old_schema[k]);
	}
	bd_buf_free(&c->padded);
	if (c->reader)
		avro_reader_free(c->reader);
	if (c->writer)
		avro_writer_free(c->writer);
	free(c->fscratch);
	free(c->dscratch);
	free(c);
}

uint64_t bd_codec_fingerprint(const bd_codec_t *c, bd_msg_kind_t kind)
{
	return c->fingerprint[kind];
}

static const char *const dead_reason_names[BD_DEAD__COUNT] = {
	[BD_DEAD_WIRE] = "wire",
	[BD_DEAD_SCHEMA] = "schema",
	[BD_DEAD_DECODE] = "decode",
	[BD_DEAD_INVALID] = "invalid",
	[BD_DEAD_UNKNOWN_CAMPAIGN] = "unknown_campaign",
	[BD_DEAD_UNKNOWN_DECISION] = "unknown_decision",
	[BD_DEAD_DUPLICATE] = "duplicate",
	[BD_DEAD_EXPIRED] = "expired",
	[BD_DEAD_OVERSIZED] = "oversized",
	[BD_DEAD_FUTURE] = "future",
	[BD_DEAD_IMPLAUSIBLE] = "implausible",
	[BD_DEAD_ENCODING] = "encoding",
	[BD_DEAD_CONFLICT] = "conflict",
	[BD_DEAD_STALE] = "stale",
};

const char *bd_dead_reason_name(bd_dead_reason_t r)
{
	return (unsigned)r < BD_DEAD__COUNT ? dead_reason_names[r] : "invalid";
}

size_t bd_dead_keep(bd_dead_reason_t why, size_t len)
{
	return why == BD_DEAD_OVERSIZED && len > BD_DEAD_OVERSIZED_KEEP ? BD_DEAD_OVERSIZED_KEEP
									: len;
}

bool bd_dead_oversized(size_t key_len, size_t len, int max_bytes, char *errstr,
		       size_t errstr_size)
{
	const char *cut = key_len > BD_DEAD_OVERSIZED_KEEP ? "key and payload cut to their"
							   : "payload cut to its";
	if (len > (size_t)max_bytes)
		snprintf(errstr, errstr_size,
			 "message is %zu bytes, input.max.bytes is %d (%s first %d bytes)", len,
			 max_bytes, cut, BD_DEAD_OVERSIZED_KEEP);
	else if (key_len > (size_t)max_bytes)
		/* the key goes into the dead letter twice (Kafka key and field) */
		snprintf(errstr, errstr_size,
			 "key is %zu bytes, input.max.bytes is %d (key and payload cut to their "
			 "first %d bytes)",
			 key_len, max_bytes, BD_DEAD_OVERSIZED_KEEP);
	else
		return false;
	return true;
}

bd_dead_reason_t bd_decode_dead_reason(int err)
{
	switch (err) {
	case BD_EWIRE: return BD_DEAD_WIRE;
	case BD_ESCHEMA: return BD_DEAD_SCHEMA;
	case BD_EINVAL: return BD_DEAD_INVALID;
	case BD_EENCODING: return BD_DEAD_ENCODING;
	default: return BD_DEAD_DECODE;
	}
}

const char *bd_decode_reason(int err)
{
	return bd_dead_reason_name(bd_decode_dead_reason(err));
}

/* ---- decode helpers ------------------------------------------------------ */

/* Frames, checks the schema is the one of @kind, decodes the body into the
 * codec's value of that kind. */
static int decode_body(bd_codec_t *c, bd_msg_kind_t kind, const void *buf,
		       size_t len, char *errstr, size_t errstr_size)
{
	bd_wire_header_t h;
	avro_value_t *v = &c->value[kind];
	int err;

	err = bd_wire_header_parse(buf, len, &h, errstr, errstr_size);
	if (err)
		return err;
	if (h.format == BD_WIRE_CONFLUENT) {
		if (c->schema_id[kind] == 0 || h.schema_id != c->schema_id[kind]) {
			snprintf(errstr, errstr_size,
				 "unknown Confluent schema id %u for %s "
				 "(configured: %u)",
				 h.schema_id, bd_msg_kind_name(kind),
				 c->schema_id[kind]);
			return BD_ESCHEMA;
		}
	} else if (h.fingerprint != c->fingerprint[kind] &&
		   !(c->old_schema[kind] && h.fingerprint == c->old_fingerprint[kind])) {
		snprintf(errstr, errstr_size,
			 "unknown schema fingerprint %016llx for %s "
			 "(expected %016llx)",
			 (unsigned long long)h.fingerprint, bd_msg_kind_name(kind),
			 (unsigned long long)c->fingerprint[kind]);
		return BD_ESCHEMA;
	}
	/* Avro C must never see a malformed body: it leaks on failed reads
	 * and allocates whatever length a message claims (wire.c) */
	char why[160];
	const char *body = (const char *)buf + h.body_offset;
	size_t body_len = len - h.body_offset;
	bool old = false;
	if (c->old_schema[kind] && h.format == BD_WIRE_CONFLUENT) {
		/* a body that is not the current layout but walks as the
		 * earlier one (a string that is not UTF-8 included) */
		err = bd_wire_body_check(c->schema[kind], body, body_len, why, sizeof(why));
		old = err != 0 && err != BD_EENCODING &&
		      ((err = bd_wire_body_check(c->old_schema[kind], body, body_len, why,
						 sizeof(why))) == 0 ||
		       err == BD_EENCODING);
	} else if (c->old_schema[kind]) {
		old = h.fingerprint == c->old_fingerprint[kind];
	}
	if (old) {
		if ((err = old_layout_pad(c, kind, body, body_len)))
			return err;
		body = (const char *)c->padded.data;
		body_len = c->padded.len;
	}
	err = bd_wire_body_check(c->schema[kind], body, body_len, why, sizeof(why));
	if (err == BD_EENCODING) {
		/* "request_id is not valid UTF-8 (byte 0xff at offset 1)" */
		snprintf(errstr, errstr_size, "%s", why);
		return err;
	}
	if (err) {
		if (strncmp(why, "trailing", 8) == 0)
			snprintf(errstr, errstr_size, "%s has %s", bd_msg_kind_name(kind), why);
		else
			snprintf(errstr, errstr_size,
				 "Avro body of %s does not decode: %s",
				 bd_msg_kind_name(kind), why);
		return BD_EDECODE;
	}
	avro_value_reset(v);
	avro_reader_memory_set_source(c->reader, body, (int64_t)body_len);
	if (avro_value_read(c->reader, v) != 0) {
		snprintf(errstr, errstr_size, "Avro body of %s does not decode: %s",
			 bd_msg_kind_name(kind), avro_strerror());
		avro_value_reset(v);
		return BD_EDECODE;
	}
	/* No probe for trailing bytes here: bd_wire_body_check has ruled
	 * them out, and a probing avro_read fails by design, writing Avro
	 * C's error buffer, which is one global for all threads (libavro
	 * 1.11.1): workers decoding at once raced on it (ThreadSanitizer). */
	return 0;
}

static avro_value_t field(avro_value_t *rec, size_t i)
{
	/* cannot fail: i is an index of the compiled-in schema; initialised
	 * because clang cannot see that */
	avro_value_t f = {NULL, NULL};
	avro_value_get_by_index(rec, i, &f, NULL);
	return f;
}

/* A string field: non-NULL, NUL-free.  @required: must be non-empty. */
static int get_str(avro_value_t *rec, size_t i, const char *name, bool required,
		   const char **out, char *errstr, size_t errstr_size)
{
	avro_value_t f = field(rec, i);
	const char *s;
	size_t size;

	if (avro_value_get_string(&f, &s, &size) != 0)
		return fail(errstr, errstr_size, "%s: not a string", name);
	if (size == 0 || strlen(s) != size - 1)
		return fail(errstr, errstr_size, "%s contains a NUL byte", name);
	if (required && s[0] == '\0')
		return fail(errstr, errstr_size, "%s is empty", name);
	if (size - 1 > 1024)
		return fail(errstr, errstr_size, "%s is %zu bytes long (limit 1024)",
			    name, size - 1);
	*out = s;
	return 0;
}

static int64_t get_long(avro_value_t *rec, size_t i)
{
	avro_value_t f = field(rec, i);
	int64_t x = 0;
	avro_value_get_long(&f, &x);
	return x;
}

static int32_t get_int(avro_value_t *rec, size_t i)
{
	avro_value_t f = field(rec, i);
	int32_t x = 0;
	avro_value_get_int(&f, &x);
	return x;
}

static double get_double(avro_value_t *rec, size_t i)
{
	avro_value_t f = field(rec, i);
	double x = 0;
	avro_value_get_double(&f, &x);
	return x;
}

/* The value of union field i when its non-null branch is set, else NULL. */
static bool get_optional(avro_value_t *rec, size_t i, avro_value_t *branch)
{
	avro_value_t f = field(rec, i);
	int disc = 0;
	avro_value_get_discriminant(&f, &disc);
	if (disc == 0)
		return false;
	avro_value_get_current_branch(&f, branch);
	return true;
}

static int get_floats(bd_codec_t *c, avro_value_t *arr, const char *name,
		      const float **out, int *dim, char *errstr, size_t errstr_size)
{
	size_t n = 0;
	avro_value_get_size(arr, &n);
	if (n > BD_MAX_DIM)
		return fail(errstr, errstr_size, "%s has %zu values (limit %d)",
			    name, n, BD_MAX_DIM);
	if (n > c->fscratch_cap) {
		float *p = realloc(c->fscratch, n * sizeof(*p));
		if (!p)
			return fail(errstr, errstr_size, "out of memory");
		c->fscratch = p;
		c->fscratch_cap = n;
	}
	for (size_t j = 0; j < n; j++) {
		avro_value_t e;
		float x = 0;
		avro_value_get_by_index(arr, j, &e, NULL);
		avro_value_get_float(&e, &x);
		if (!isfinite(x))
			return fail(errstr, errstr_size,
				    "%s[%zu] is not a finite number", name, j);
		c->fscratch[j] = x;
	}
	*out = c->fscratch;
	*dim = (int)n;
	return 0;
}

static int check_ts(int64_t ts, char *errstr, size_t errstr_size)
{
	/* 0 .. year 2200: anything else is a unit mistake (seconds, us). */
	if (ts < 0 || ts > 7258118400000LL)
		return fail(errstr, errstr_size,
			    "ts_ms %lld is not milliseconds since the epoch",
			    (long long)ts);
	return 0;
}

#define TRY(x)                                                                 \
	do {                                                                   \
		int err_ = (x);                                                \
		if (err_)                                                      \
			return err_;                                           \
	} while (0)

int bd_decode_feature(bd_codec_t *c, const void *buf, size_t len,
		      bd_feature_event_t *ev, char *errstr, size_t errstr_size)
{
	avro_value_t *v = &c->value[BD_MSG_FEATURE], arr;

	TRY(decode_body(c, BD_MSG_FEATURE, buf, len, errstr, errstr_size));
	TRY(get_str(v, BD_F_FEATURE_EVENT_REQUEST_ID, "request_id", true, &ev->request_id,
		    errstr, errstr_size));
	TRY(get_str(v, BD_F_FEATURE_EVENT_CAMPAIGN_ID, "campaign_id", true, &ev->campaign_id,
		    errstr, errstr_size));
	TRY(get_str(v, BD_F_FEATURE_EVENT_USER_ID, "user_id", true, &ev->user_id,
		    errstr, errstr_size));
	ev->ts_ms = get_long(v, BD_F_FEATURE_EVENT_TS_MS);
	TRY(check_ts(ev->ts_ms, errstr, errstr_size));
	arr = field(v, BD_F_FEATURE_EVENT_FEATURES);
	return get_floats(c, &arr, "features", &ev->features, &ev->dim, errstr,
			  errstr_size);
}

int bd_decode_outcome(bd_codec_t *c, const void *buf, size_t len,
		      bd_outcome_event_t *ev, char *errstr, size_t errstr_size)
{
	avro_value_t *v = &c->value[BD_MSG_OUTCOME], b;

	TRY(decode_body(c, BD_MSG_OUTCOME, buf, len, errstr, errstr_size));
	memset(ev, 0, sizeof(*ev));
	TRY(get_str(v, BD_F_OUTCOME_EVENT_DECISION_ID, "decision_id", false, &ev->decision_id,
		    errstr, errstr_size));
	TRY(get_str(v, BD_F_OUTCOME_EVENT_CAMPAIGN_ID, "campaign_id", true, &ev->campaign_id,
		    errstr, errstr_size));
	TRY(get_str(v, BD_F_OUTCOME_EVENT_USER_ID, "user_id", true, &ev->user_id,
		    errstr, errstr_size));
	ev->ts_ms = get_long(v, BD_F_OUTCOME_EVENT_TS_MS);
	TRY(check_ts(ev->ts_ms, errstr, errstr_size));
	ev->orders = get_int(v, BD_F_OUTCOME_EVENT_ORDERS);
	ev->value = get_double(v, BD_F_OUTCOME_EVENT_VALUE);
	ev->cost = get_double(v, BD_F_OUTCOME_EVENT_COST);
	if (ev->orders < 0)
		return fail(errstr, errstr_size, "orders %d is negative", ev->orders);
	if (!isfinite(ev->value) || ev->value < 0)
		return fail(errstr, errstr_size, "value %g is not a finite number >= 0",
			    ev->value);
	if (!isfinite(ev->cost) || ev->cost < 0)
		return fail(errstr, errstr_size, "cost %g is not a finite number >= 0",
			    ev->cost);
	if ((ev->has_features = get_optional(v, BD_F_OUTCOME_EVENT_FEATURES, &b)))
		TRY(get_floats(c, &b, "features", &ev->features, &ev->dim, errstr,
			       errstr_size));
	if ((ev->has_treatment = get_optional(v, BD_F_OUTCOME_EVENT_TREATMENT, &b))) {
		avro_value_get_int(&b, &ev->treatment);
		if (ev->treatment < 0 || ev->treatment >= BD_MAX_TREATMENTS)
			return fail(errstr, errstr_size,
				    "treatment %d is outside 0..%d", ev->treatment,
				    BD_MAX_TREATMENTS - 1);
	}
	if ((ev->has_propensity = get_optional(v, BD_F_OUTCOME_EVENT_PROPENSITY, &b))) {
		avro_value_get_double(&b, &ev->propensity);
		if (!(ev->propensity > 0 && ev->propensity <= 1))
			return fail(errstr, errstr_size,
				    "propensity %g is outside (0, 1]", ev->propensity);
	}
	if (ev->decision_id[0] == '\0' &&
	    !(ev->has_features && ev->has_treatment && ev->has_propensity))
		return fail(errstr, errstr_size,
			    "outcome without decision_id must carry features, "
			    "treatment and propensity (historical sample)");
	return 0;
}

/* An optional outcome bound of a control command: finite, above 0 (or at
 * least 0 when @p zero_ok), at most BD_OUTCOME_BOUND_MAX. */
static int get_bound(avro_value_t *v, size_t i, const char *name, bool zero_ok, bool *has,
		     double *out, char *errstr, size_t errstr_size)
{
	avro_value_t b;
	if (!(*has = get_optional(v, i, &b)))
		return 0;
	avro_value_get_double(&b, out);
	if (!(*out <= BD_OUTCOME_BOUND_MAX && (zero_ok ? *out >= 0 : *out > 0)))
		return fail(errstr, errstr_size, "%s %g is outside %s0, %g]", name, *out,
			    zero_ok ? "[" : "(", BD_OUTCOME_BOUND_MAX);
	return 0;
}

int bd_decode_control(bd_codec_t *c, const void *buf, size_t len,
		      bd_control_command_t *cmd, char *errstr, size_t errstr_size)
{
	avro_value_t *v = &c->value[BD_MSG_CONTROL], f, b;
	int action = 0;

	TRY(decode_body(c, BD_MSG_CONTROL, buf, len, errstr, errstr_size));
	memset(cmd, 0, sizeof(*cmd));
	TRY(get_str(v, BD_F_CONTROL_COMMAND_COMMAND_ID, "command_id", true, &cmd->command_id,
		    errstr, errstr_size));
	TRY(get_str(v, BD_F_CONTROL_COMMAND_CAMPAIGN_ID, "campaign_id", true, &cmd->campaign_id,
		    errstr, errstr_size));
	cmd->ts_ms = get_long(v, BD_F_CONTROL_COMMAND_TS_MS);
	TRY(check_ts(cmd->ts_ms, errstr, errstr_size));
	f = field(v, BD_F_CONTROL_COMMAND_ACTION);
	avro_value_get_enum(&f, &action);
	if (action < 0 || action >= BD_ACTION__COUNT)
		return fail(errstr, errstr_size, "action %d is unknown", action);
	cmd->action = (bd_action_t)action;
	if ((cmd->has_budget = get_optional(v, BD_F_CONTROL_COMMAND_DAILY_BUDGET, &b))) {
		avro_value_get_double(&b, &cmd->daily_budget);
		if (!isfinite(cmd->daily_budget) || cmd->daily_budget < 0)
			return fail(errstr, errstr_size,
				    "daily_budget %g is not a finite number >= 0",
				    cmd->daily_budget);
	}
	if ((cmd->has_treatments = get_optional(v, BD_F_CONTROL_COMMAND_TREATMENTS, &b))) {
		size_t n = 0;
		unsigned seen = 0;
		bool has_control = false;
		avro_value_get_size(&b, &n);
		if (n == 0 || n > BD_MAX_TREATMENTS)
			return fail(errstr, errstr_size,
				    "treatments has %zu entries (need 1..%d)", n,
				    BD_MAX_TREATMENTS);
		cmd->n_treatments = (int)n;
		for (size_t j = 0; j < n; j++) {
			avro_value_t t;
			bd_treatment_t *tr = &cmd->treatments[j];
			avro_value_get_by_index(&b, j, &t, NULL);
			tr->id = get_int(&t, BD_F_TREATMENT_ID);
			TRY(get_str(&t, BD_F_TREATMENT_NAME, "treatments[].name", false, &tr->name,
				    errstr, errstr_size));
			tr->nominal_cost = get_double(&t, BD_F_TREATMENT_NOMINAL_COST);
			if (tr->id < 0 || tr->id >= BD_MAX_TREATMENTS)
				return fail(errstr, errstr_size,
					    "treatment id %d is outside 0..%d",
					    tr->id, BD_MAX_TREATMENTS - 1);
			if (seen & (1u << tr->id))
				return fail(errstr, errstr_size,
					    "treatment id %d appears twice", tr->id);
			seen |= 1u << tr->id;
			if (!isfinite(tr->nominal_cost) || tr->nominal_cost < 0)
				return fail(errstr, errstr_size,
					    "treatment %d nominal_cost %g is not a "
					    "finite number >= 0",
					    tr->id, tr->nominal_cost);
			if (tr->id == 0) {
				has_control = true;
				if (tr->nominal_cost != 0)
					return fail(errstr, errstr_size,
						    "treatment 0 is the control and "
						    "must cost 0, not %g",
						    tr->nominal_cost);
			}
		}
		if (!has_control)
			return fail(errstr, errstr_size,
				    "treatments lack id 0 (the control)");
		if (seen != (1u << n) - 1)
			return fail(errstr, errstr_size,
				    "treatment ids must be 0..%zu without gaps", n - 1);
	}
	if ((cmd->has_exploration = get_optional(v, BD_F_CONTROL_COMMAND_EXPLORATION, &b))) {
		avro_value_get_double(&b, &cmd->exploration);
		if (!(cmd->exploration >= 0 && cmd->exploration <= 1))
			return fail(errstr, errstr_size,
				    "exploration %g is outside [0, 1]",
				    cmd->exploration);
	}
	if ((cmd->has_tz = get_optional(v, BD_F_CONTROL_COMMAND_TIMEZONE_OFFSET_S, &b))) {
		avro_value_get_int(&b, &cmd->timezone_offset_s);
		if (cmd->timezone_offset_s < -14 * 3600 ||
		    cmd->timezone_offset_s > 14 * 3600)
			return fail(errstr, errstr_size,
				    "timezone_offset_s %d is outside +-14 h",
				    cmd->timezone_offset_s);
	}
	TRY(get_bound(v, BD_F_CONTROL_COMMAND_MAX_VALUE, "max_value", false, &cmd->has_max_value,
		      &cmd->max_value, errstr, errstr_size));
	TRY(get_bound(v, BD_F_CONTROL_COMMAND_MAX_COST, "max_cost", true, &cmd->has_max_cost,
		      &cmd->max_cost, errstr, errstr_size));
	TRY(get_bound(v, BD_F_CONTROL_COMMAND_WINSOR_VALUE, "winsor_value", false,
		      &cmd->has_winsor_value, &cmd->winsor_value, errstr, errstr_size));
	if (cmd->action == BD_ACTION_SET_BUDGET && !cmd->has_budget)
		return fail(errstr, errstr_size, "SET_BUDGET without daily_budget");
	return 0;
}

int bd_decode_decision(bd_codec_t *c, const void *buf, size_t len,
		       bd_decision_t *d, char *errstr, size_t errstr_size)
{
	avro_value_t *v = &c->value[BD_MSG_DECISION], f;
	int b = 0;

	TRY(decode_body(c, BD_MSG_DECISION, buf, len, errstr, errstr_size));
	TRY(get_str(v, BD_F_DECISION_DECISION_ID, "decision_id", true, &d->decision_id,
		    errstr, errstr_size));
	TRY(get_str(v, BD_F_DECISION_REQUEST_ID, "request_id", true, &d->request_id,
		    errstr, errstr_size));
	TRY(get_str(v, BD_F_DECISION_CAMPAIGN_ID, "campaign_id", true, &d->campaign_id,
		    errstr, errstr_size));
	TRY(get_str(v, BD_F_DECISION_USER_ID, "user_id", true, &d->user_id, errstr, errstr_size));
	d->ts_ms = get_long(v, BD_F_DECISION_TS_MS);
	d->treatment = get_int(v, BD_F_DECISION_TREATMENT);
	d->cluster = get_int(v, BD_F_DECISION_CLUSTER);
	d->propensity = get_double(v, BD_F_DECISION_PROPENSITY);
	f = field(v, BD_F_DECISION_EXPLORED);
	avro_value_get_boolean(&f, &b);
	d->explored = b != 0;
	d->plan_version = get_long(v, BD_F_DECISION_PLAN_VERSION);
	d->model_version = get_long(v, BD_F_DECISION_MODEL_VERSION);
	return get_str(v, BD_F_DECISION_REASON, "reason", false, &d->reason, errstr, errstr_size);
}

static int grow_doubles(bd_codec_t *c, size_t n)
{
	if (n <= c->dscratch_cap)
		return 0;
	double *p = realloc(c->dscratch, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->dscratch = p;
	c->dscratch_cap = n;
	return 0;
}

int bd_decode_plan(bd_codec_t *c, const void *buf, size_t len, bd_plan_msg_t *p,
		   char *errstr, size_t errstr_size)
{
	avro_value_t *v = &c->value[BD_MSG_PLAN], cl, cu;
	size_t k = 0, nc = 0, j = 0;

	TRY(decode_body(c, BD_MSG_PLAN, buf, len, errstr, errstr_size));
	memset(p, 0, sizeof(*p));
	TRY(get_str(v, BD_F_CLUSTER_PLAN_CAMPAIGN_ID, "campaign_id", true, &p->campaign_id,
		    errstr, errstr_size));
	p->plan_version = get_long(v, BD_F_CLUSTER_PLAN_PLAN_VERSION);
	p->model_version = get_long(v, BD_F_CLUSTER_PLAN_MODEL_VERSION);
	p->ts_ms = get_long(v, BD_F_CLUSTER_PLAN_TS_MS);
	p->daily_budget = get_double(v, BD_F_CLUSTER_PLAN_DAILY_BUDGET);
	p->remaining_budget = get_double(v, BD_F_CLUSTER_PLAN_REMAINING_BUDGET);
	p->lambda = get_double(v, BD_F_CLUSTER_PLAN_LAMBDA);
	p->expected_spend = get_double(v, BD_F_CLUSTER_PLAN_EXPECTED_SPEND);
	p->expected_value = get_double(v, BD_F_CLUSTER_PLAN_EXPECTED_VALUE);
	TRY(get_str(v, BD_F_CLUSTER_PLAN_SOLVER, "solver", false, &p->solver, errstr, errstr_size));
	p->exploration = get_double(v, BD_F_CLUSTER_PLAN_EXPLORATION);
	p->spent = get_double(v, BD_F_CLUSTER_PLAN_SPENT);
	p->expected_requests = get_double(v, BD_F_CLUSTER_PLAN_EXPECTED_REQUESTS);
	p->overspend_probability = get_double(v, BD_F_CLUSTER_PLAN_OVERSPEND_PROBABILITY);
	cl = field(v, BD_F_CLUSTER_PLAN_CLUSTERS);
	cu = field(v, BD_F_CLUSTER_PLAN_CURVE);
	avro_value_get_size(&cl, &k);
	avro_value_get_size(&cu, &nc);
	if (k > 0) {
		avro_value_t e, pr;
		avro_value_get_by_index(&cl, 0, &e, NULL);
		pr = field(&e, BD_F_CLUSTER_ALLOCATION_PROBABILITIES);
		avro_value_get_size(&pr, &j);
	}
	if (j > BD_MAX_TREATMENTS || k > 1000000)
		return fail(errstr, errstr_size, "plan too large");
	if (grow_doubles(c, k + k * j + 2 * nc) != 0)
		return fail(errstr, errstr_size, "out of memory");
	double *share = c->dscratch, *prob = share + k, *cb = prob + k * j,
	       *cv = cb + nc;
	for (size_t i = 0; i < k; i++) {
		avro_value_t e, pr;
		size_t jj = 0;
		avro_value_get_by_index(&cl, i, &e, NULL);
		share[i] = get_double(&e, BD_F_CLUSTER_ALLOCATION_TRAFFIC_SHARE);
		pr = field(&e, BD_F_CLUSTER_ALLOCATION_PROBABILITIES);
		avro_value_get_size(&pr, &jj);
		if (jj != j)
			return fail(errstr, errstr_size,
				    "cluster %zu has %zu probabilities, cluster 0 %zu",
				    i, jj, j);
		for (size_t t = 0; t < j; t++)
			prob[i * j + t] = get_double(&pr, t);
	}
	for (size_t i = 0; i < nc; i++) {
		avro_value_t e;
		avro_value_get_by_index(&cu, i, &e, NULL);
		cb[i] = get_double(&e, BD_F_CURVE_POINT_BUDGET);
		cv[i] = get_double(&e, BD_F_CURVE_POINT_VALUE);
	}
	p->n_clusters = (int)k;
	p->n_treatments = (int)j;
	p->traffic_share = share;
	p->probabilities = prob;
	p->n_curve = (int)nc;
	p->curve_budget = cb;
	p->curve_value = cv;
	return 0;
}

int bd_decode_model(bd_codec_t *c, const void *buf, size_t len,
		    bd_cluster_model_t **out, char *errstr, size_t errstr_size)
{
	avro_value_t *v = &c->value[BD_MSG_MODEL], f, layers;
	int sizes[BD_CLUSTER_MAX_LAYERS + 1];
	bd_activation_t acts[BD_CLUSTER_MAX_LAYERS];
	const char *kind;
	size_t n_layers = 0, n = 0;
	bd_cluster_model_t *m = NULL;

	TRY(decode_body(c, BD_MSG_MODEL, buf, len, errstr, errstr_size));
	TRY(get_str(v, BD_F_MODEL_UPDATE_KIND, "kind", true, &kind, errstr, errstr_size));
	layers = field(v, BD_F_MODEL_UPDATE_LAYERS);
	avro_value_get_size(&layers, &n_layers);
	if (n_layers < 1 || n_layers > BD_CLUSTER_MAX_LAYERS)
		return fail(errstr, errstr_size, "model has %zu layers", n_layers);
	sizes[0] = get_int(v, BD_F_MODEL_UPDATE_DIM);
	for (size_t l = 0; l < n_layers; l++) {
		avro_value_t L;
		const char *act;
		avro_value_get_by_index(&layers, l, &L, NULL);
		if (get_int(&L, BD_F_LAYER_COLS) != sizes[l])
			return fail(errstr, errstr_size, "layer %zu has %d inputs, expected %d",
				    l, get_int(&L, BD_F_LAYER_COLS), sizes[l]);
		sizes[l + 1] = get_int(&L, BD_F_LAYER_ROWS);
		TRY(get_str(&L, BD_F_LAYER_ACTIVATION, "activation", true, &act,
			    errstr, errstr_size));
		acts[l] = strcmp(act, "relu") == 0 ? BD_ACT_RELU : BD_ACT_NONE;
	}
	if (sizes[n_layers] != get_int(v, BD_F_MODEL_UPDATE_CLUSTERS))
		return fail(errstr, errstr_size, "last layer has %d outputs, clusters %d",
			    sizes[n_layers], get_int(v, BD_F_MODEL_UPDATE_CLUSTERS));
	if (bd_cluster_model_new((int)n_layers, sizes, acts, &m) != 0)
		return fail(errstr, errstr_size, "model shape is invalid or too large");
	m->version = get_long(v, BD_F_MODEL_UPDATE_MODEL_VERSION);
	m->kind = strcmp(kind, "random-linear") == 0 ? "random-linear" :
		  strcmp(kind, "softmax") == 0 ? "softmax" : "mlp";
	m->agreement = get_double(v, BD_F_MODEL_UPDATE_AGREEMENT);
	f = field(v, BD_F_MODEL_UPDATE_FEATURE_MEAN);
	avro_value_get_size(&f, &n);
	if ((int)n != m->dim)
		goto bad;
	for (size_t j = 0; j < n; j++)
		if (!isfinite(m->mean[j] = get_double(&f, j)))
			goto bad;
	f = field(v, BD_F_MODEL_UPDATE_FEATURE_SCALE);
	avro_value_get_size(&f, &n);
	if ((int)n != m->dim)
		goto bad;
	for (size_t j = 0; j < n; j++) {
		m->scale[j] = get_double(&f, j);
		if (!(m->scale[j] != 0 && isfinite(m->scale[j])))
			goto bad;
	}
	for (size_t l = 0; l < n_layers; l++) {
		avro_value_t L, w, b;
		avro_value_get_by_index(&layers, l, &L, NULL);
		w = field(&L, BD_F_LAYER_WEIGHTS);
		b = field(&L, BD_F_LAYER_BIAS);
		bd_layer_t *ml = &m->layer[l];
		avro_value_get_size(&w, &n);
		if (n != (size_t)ml->rows * (size_t)ml->cols)
			goto bad;
		for (size_t i = 0; i < n; i++)
			if (!isfinite(ml->w[i] = get_double(&w, i)))
				goto bad;
		avro_value_get_size(&b, &n);
		if (n != (size_t)ml->rows)
			goto bad;
		for (size_t i = 0; i < n; i++)
			if (!isfinite(ml->b[i] = get_double(&b, i)))
				goto bad;
	}
	*out = m;
	return 0;
bad:
	bd_cluster_model_unref(m);
	return fail(errstr, errstr_size, "model arrays do not match its shape or are not finite");
}

/* ---- encode helpers ------------------------------------------------------ */

/* Every string written is UTF-8, whatever it was given: the inputs are
 * checked (wire.c) and details quote them safely (utf8.h), so this only
 * ever replaces bytes of state written before those checks (U+FFFD). */
static void set_str(avro_value_t *rec, size_t i, const char *s)
{
	avro_value_t f = field(rec, i);
	bd_sbuf_t t = BD_SBUF_INIT;
	if (!s)
		s = "";
	if (bd_utf8_valid(s, strlen(s), NULL)) {
		avro_value_set_string(&f, s);
		return;
	}
	bd_sbuf_text(&t, s);
	avro_value_set_string(&f, bd_sbuf_failed(&t) || !t.s ? "" : t.s);
	bd_sbuf_free(&t);
}

static void set_long(avro_value_t *rec, size_t i, int64_t x)
{
	avro_value_t f = field(rec, i);
	avro_value_set_long(&f, x);
}

static void set_int(avro_value_t *rec, size_t i, int32_t x)
{
	avro_value_t f = field(rec, i);
	avro_value_set_int(&f, x);
}

static void set_double(avro_value_t *rec, size_t i, double x)
{
	avro_value_t f = field(rec, i);
	avro_value_set_double(&f, x);
}

/* Selects branch 0 (null) or 1 of union field i; returns the branch. */
static avro_value_t set_optional(avro_value_t *rec, size_t i, bool present)
{
	avro_value_t f = field(rec, i), b;
	avro_value_set_branch(&f, present ? 1 : 0, &b);
	if (!present)
		avro_value_set_null(&b);
	return b;
}

static void set_floats(avro_value_t *arr, const float *x, int n)
{
	for (int j = 0; j < n; j++) {
		avro_value_t e;
		avro_value_append(arr, &e, NULL);
		avro_value_set_float(&e, x[j]);
	}
}

static int encode_value(bd_codec_t *c, bd_msg_kind_t kind, bd_buf_t *out)
{
	avro_value_t *v = &c->value[kind];
	size_t size = 0, hlen;
	uint8_t hdr[BD_WIRE_HEADER_MAX];
	int err;

	if (avro_value_sizeof(v, &size) != 0)
		return BD_EDECODE;
	hlen = bd_wire_header_write(c->out_format, c->schema_id[kind],
				    c->fingerprint[kind], hdr);
	err = buf_reserve(out, hlen + size);
	if (err)
		return err;
	memcpy(out->data, hdr, hlen);
	avro_writer_memory_set_dest(c->writer, (char *)out->data + hlen,
				    (int64_t)size);
	if (avro_value_write(c->writer, v) != 0)
		return BD_EDECODE;
	out->len = hlen + size;
	return 0;
}

int bd_encode_feature(bd_codec_t *c, const bd_feature_event_t *ev, bd_buf_t *out)
{
	avro_value_t *v = &c->value[BD_MSG_FEATURE], f;
	avro_value_reset(v);
	set_str(v, BD_F_FEATURE_EVENT_REQUEST_ID, ev->request_id);
	set_str(v, BD_F_FEATURE_EVENT_CAMPAIGN_ID, ev->campaign_id);
	set_str(v, BD_F_FEATURE_EVENT_USER_ID, ev->user_id);
	set_long(v, BD_F_FEATURE_EVENT_TS_MS, ev->ts_ms);
	f = field(v, BD_F_FEATURE_EVENT_FEATURES);
	set_floats(&f, ev->features, ev->dim);
	return encode_value(c, BD_MSG_FEATURE, out);
}

int bd_encode_outcome(bd_codec_t *c, const bd_outcome_event_t *ev, bd_buf_t *out)
{
	avro_value_t *v = &c->value[BD_MSG_OUTCOME], b;
	avro_value_reset(v);
	set_str(v, BD_F_OUTCOME_EVENT_DECISION_ID, ev->decision_id);
	set_str(v, BD_F_OUTCOME_EVENT_CAMPAIGN_ID, ev->campaign_id);
	set_str(v, BD_F_OUTCOME_EVENT_USER_ID, ev->user_id);
	set_long(v, BD_F_OUTCOME_EVENT_TS_MS, ev->ts_ms);
	set_int(v, BD_F_OUTCOME_EVENT_ORDERS, ev->orders);
	set_double(v, BD_F_OUTCOME_EVENT_VALUE, ev->value);
	set_double(v, BD_F_OUTCOME_EVENT_COST, ev->cost);
	b = set_optional(v, BD_F_OUTCOME_EVENT_FEATURES, ev->has_features);
	if (ev->has_features)
		set_floats(&b, ev->features, ev->dim);
	b = set_optional(v, BD_F_OUTCOME_EVENT_TREATMENT, ev->has_treatment);
	if (ev->has_treatment)
		avro_value_set_int(&b, ev->treatment);
	b = set_optional(v, BD_F_OUTCOME_EVENT_PROPENSITY, ev->has_propensity);
	if (ev->has_propensity)
		avro_value_set_double(&b, ev->propensity);
	return encode_value(c, BD_MSG_OUTCOME, out);
}

int bd_encode_control(bd_codec_t *c, const bd_control_command_t *cmd,
		      bd_buf_t *out)
{
	avro_value_t *v = &c->value[BD_MSG_CONTROL], f, b;
	avro_value_reset(v);
	set_str(v, BD_F_CONTROL_COMMAND_COMMAND_ID, cmd->command_id);
	set_str(v, BD_F_CONTROL_COMMAND_CAMPAIGN_ID, cmd->campaign_id);
	set_long(v, BD_F_CONTROL_COMMAND_TS_MS, cmd->ts_ms);
	f = field(v, BD_F_CONTROL_COMMAND_ACTION);
	avro_value_set_enum(&f, (int)cmd->action);
	b = set_optional(v, BD_F_CONTROL_COMMAND_DAILY_BUDGET, cmd->has_budget);
	if (cmd->has_budget)
		avro_value_set_double(&b, cmd->daily_budget);
	b = set_optional(v, BD_F_CONTROL_COMMAND_TREATMENTS, cmd->has_treatments);
	for (int j = 0; cmd->has_treatments && j < cmd->n_treatments; j++) {
		avro_value_t t;
		avro_value_append(&b, &t, NULL);
		set_int(&t, BD_F_TREATMENT_ID, cmd->treatments[j].id);
		set_str(&t, BD_F_TREATMENT_NAME, cmd->treatments[j].name);
		set_double(&t, BD_F_TREATMENT_NOMINAL_COST, cmd->treatments[j].nominal_cost);
	}
	b = set_optional(v, BD_F_CONTROL_COMMAND_EXPLORATION, cmd->has_exploration);
	if (cmd->has_exploration)
		avro_value_set_double(&b, cmd->exploration);
	b = set_optional(v, BD_F_CONTROL_COMMAND_TIMEZONE_OFFSET_S, cmd->has_tz);
	if (cmd->has_tz)
		avro_value_set_int(&b, cmd->timezone_offset_s);
	b = set_optional(v, BD_F_CONTROL_COMMAND_MAX_VALUE, cmd->has_max_value);
	if (cmd->has_max_value)
		avro_value_set_double(&b, cmd->max_value);
	b = set_optional(v, BD_F_CONTROL_COMMAND_MAX_COST, cmd->has_max_cost);
	if (cmd->has_max_cost)
		avro_value_set_double(&b, cmd->max_cost);
	b = set_optional(v, BD_F_CONTROL_COMMAND_WINSOR_VALUE, cmd->has_winsor_value);
	if (cmd->has_winsor_value)
		avro_value_set_double(&b, cmd->winsor_value);
	return encode_value(c, BD_MSG_CONTROL, out);
}

int bd_encode_decision(bd_codec_t *c, const bd_decision_t *d, bd_buf_t *out)
{
	avro_value_t *v = &c->value[BD_MSG_DECISION], f;
	avro_value_reset(v);
	set_str(v, BD_F_DECISION_DECISION_ID, d->decision_id);
	set_str(v, BD_F_DECISION_REQUEST_ID, d->request_id);
	set_str(v, BD_F_DECISION_CAMPAIGN_ID, d->campaign_id);
	set_str(v, BD_F_DECISION_USER_ID, d->user_id);
	set_long(v, BD_F_DECISION_TS_MS, d->ts_ms);
	set_int(v, BD_F_DECISION_TREATMENT, d->treatment);
	set_int(v, BD_F_DECISION_CLUSTER, d->cluster);
	set_double(v, BD_F_DECISION_PROPENSITY, d->propensity);
	f = field(v, BD_F_DECISION_EXPLORED);
	avro_value_set_boolean(&f, d->explored);
	set_long(v, BD_F_DECISION_PLAN_VERSION, d->plan_version);
	set_long(v, BD_F_DECISION_MODEL_VERSION, d->model_version);
	set_str(v, BD_F_DECISION_REASON, d->reason);
	return encode_value(c, BD_MSG_DECISION, out);
}

int bd_encode_plan(bd_codec_t *c, const bd_plan_msg_t *p, bd_buf_t *out)
{
	avro_value_t *v = &c->value[BD_MSG_PLAN], cl, cu;
	avro_value_reset(v);
	set_str(v, BD_F_CLUSTER_PLAN_CAMPAIGN_ID, p->campaign_id);
	set_long(v, BD_F_CLUSTER_PLAN_PLAN_VERSION, p->plan_version);
	set_long(v, BD_F_CLUSTER_PLAN_MODEL_VERSION, p->model_version);
	set_long(v, BD_F_CLUSTER_PLAN_TS_MS, p->ts_ms);
	set_double(v, BD_F_CLUSTER_PLAN_DAILY_BUDGET, p->daily_budget);
	set_double(v, BD_F_CLUSTER_PLAN_REMAINING_BUDGET, p->remaining_budget);
	set_double(v, BD_F_CLUSTER_PLAN_LAMBDA, p->lambda);
	set_double(v, BD_F_CLUSTER_PLAN_EXPECTED_SPEND, p->expected_spend);
	set_double(v, BD_F_CLUSTER_PLAN_EXPECTED_VALUE, p->expected_value);
	set_str(v, BD_F_CLUSTER_PLAN_SOLVER, p->solver);
	cl = field(v, BD_F_CLUSTER_PLAN_CLUSTERS);
	for (int k = 0; k < p->n_clusters; k++) {
		avro_value_t e, pr;
		avro_value_append(&cl, &e, NULL);
		set_int(&e, BD_F_CLUSTER_ALLOCATION_CLUSTER, k);
		set_double(&e, BD_F_CLUSTER_ALLOCATION_TRAFFIC_SHARE, p->traffic_share[k]);
		pr = field(&e, BD_F_CLUSTER_ALLOCATION_PROBABILITIES);
		for (int j = 0; j < p->n_treatments; j++) {
			avro_value_t x;
			avro_value_append(&pr, &x, NULL);
			avro_value_set_double(&x,
					      p->probabilities[k * p->n_treatments + j]);
		}
	}
	cu = field(v, BD_F_CLUSTER_PLAN_CURVE);
	for (int i = 0; i < p->n_curve; i++) {
		avro_value_t e;
		avro_value_append(&cu, &e, NULL);
		set_double(&e, BD_F_CURVE_POINT_BUDGET, p->curve_budget[i]);
		set_double(&e, BD_F_CURVE_POINT_VALUE, p->curve_value[i]);
	}
	set_double(v, BD_F_CLUSTER_PLAN_EXPLORATION, p->exploration);
	set_double(v, BD_F_CLUSTER_PLAN_SPENT, p->spent);
	set_double(v, BD_F_CLUSTER_PLAN_EXPECTED_REQUESTS, p->expected_requests);
	set_double(v, BD_F_CLUSTER_PLAN_OVERSPEND_PROBABILITY, p->overspend_probability);
	return encode_value(c, BD_MSG_PLAN, out);
}

static void set_doubles(avro_value_t *arr, const double *x, int n)
{
	for (int j = 0; j < n; j++) {
		avro_value_t e;
		avro_value_append(arr, &e, NULL);
		avro_value_set_double(&e, x[j]);
	}
}

int bd_encode_model(bd_codec_t *c, const bd_model_msg_t *m, bd_buf_t *out)
{
	avro_value_t *v = &c->value[BD_MSG_MODEL], f, mp;
	avro_value_reset(v);
	set_long(v, BD_F_MODEL_UPDATE_MODEL_VERSION, m->model_version);
	set_long(v, BD_F_MODEL_UPDATE_TS_MS, m->ts_ms);
	set_str(v, BD_F_MODEL_UPDATE_KIND, m->kind);
	set_int(v, BD_F_MODEL_UPDATE_CLUSTERS, m->clusters);
	set_int(v, BD_F_MODEL_UPDATE_DIM, m->dim);
	f = field(v, BD_F_MODEL_UPDATE_FEATURE_MEAN);
	set_doubles(&f, m->feature_mean, m->dim);
	f = field(v, BD_F_MODEL_UPDATE_FEATURE_SCALE);
	set_doubles(&f, m->feature_scale, m->dim);
	f = field(v, BD_F_MODEL_UPDATE_LAYERS);
	for (int l = 0; l < m->n_layers; l++) {
		const bd_model_layer_msg_t *L = &m->layers[l];
		avro_value_t e, a;
		avro_value_append(&f, &e, NULL);
		set_int(&e, BD_F_LAYER_ROWS, L->rows);
		set_int(&e, BD_F_LAYER_COLS, L->cols);
		set_str(&e, BD_F_LAYER_ACTIVATION, L->activation);
		a = field(&e, BD_F_LAYER_WEIGHTS);
		set_doubles(&a, L->weights, L->rows * L->cols);
		a = field(&e, BD_F_LAYER_BIAS);
		set_doubles(&a, L->bias, L->rows);
	}
	set_double(v, BD_F_MODEL_UPDATE_AGREEMENT, m->agreement);
	mp = field(v, BD_F_MODEL_UPDATE_METRICS);
	for (int i = 0; i < m->n_metrics; i++) {
		avro_value_t e;
		avro_value_add(&mp, m->metric_names[i], &e, NULL, NULL);
		avro_value_set_double(&e, m->metric_values[i]);
	}
	return encode_value(c, BD_MSG_MODEL, out);
}

int bd_encode_dead_letter(bd_codec_t *c, const bd_dead_letter_t *dl,
			  bd_buf_t *out)
{
	avro_value_t *v = &c->value[BD_MSG_DEADLETTER], f, b;
	avro_value_reset(v);
	set_str(v, BD_F_DEAD_LETTER_TOPIC, dl->topic);
	set_int(v, BD_F_DEAD_LETTER_PARTITION, dl->partition);
	set_long(v, BD_F_DEAD_LETTER_OFFSET, dl->offset);
	set_long(v, BD_F_DEAD_LETTER_TS_MS, dl->ts_ms);
	set_str(v, BD_F_DEAD_LETTER_REASON, dl->reason);
	set_str(v, BD_F_DEAD_LETTER_DETAIL, dl->detail);
	b = set_optional(v, BD_F_DEAD_LETTER_KEY, dl->key != NULL);
	if (dl->key)
		avro_value_set_bytes(&b, (void *)dl->key, dl->key_len);
	f = field(v, BD_F_DEAD_LETTER_PAYLOAD);
	avro_value_set_bytes(&f, (void *)(dl->payload ? dl->payload : ""),
			     dl->payload_len);
	return encode_value(c, BD_MSG_DEADLETTER, out);
}
