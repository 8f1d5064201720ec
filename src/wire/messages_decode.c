/*
 * Decoding: the framing is checked against the codec's schemas (an earlier
 * layout still read is brought up to date), the body is walked before Avro
 * C reads it, and every decode ends with a semantic check (finite numbers,
 * ranges, non-empty ids) so that nothing downstream sees a NaN.
 */
#include "messages_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/base/log.h"
#include "budgetd/wire/cluster.h"
#include "budgetd/wire/registry.h"
#include "budgetd/wire/schemas.h"
#include "wire/schema_fields.h" /* BD_F_<RECORD>_<FIELD>, from schemas/fields.c */

static BD_PRINTF(3, 4) int fail(char *errstr, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errstr, size, fmt, ap);
	va_end(ap);
	return BD_EINVAL;
}

/* ---- writer schemas from the registry -------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void writer_clear(bd_codec_writer_t *w)
{
	bd_resolve_free(w->resolve);
	if (w->schema)
		avro_schema_decref(w->schema);
	memset(w, 0, sizeof(*w));
}

/* Fetches writer schema @p id and resolves it against @p kind's schema
 * into @p w. */
static int writer_fetch(bd_codec_t *c, bd_msg_kind_t kind, uint32_t id, bd_codec_writer_t *w)
{
	char *json = NULL;
	int err;

	w->id = id;
	w->kind = kind;
	err = bd_registry_fetch(c->registry, id, &json, w->why, sizeof(w->why));
	if (!err && avro_schema_from_json_length(json, strlen(json), &w->schema) != 0) {
		snprintf(w->why, sizeof(w->why), "schema %u does not parse: %s", id, avro_strerror());
		w->schema = NULL;
		err = BD_ESCHEMA;
	}
	if (!err)
		err = bd_resolve_new(w->schema, c->schema[kind], bd_schemas_get(bd_msg_kind_name(kind)),
				     &w->resolve, w->why, sizeof(w->why));
	free(json);
	if (err && w->schema) {
		avro_schema_decref(w->schema);
		w->schema = NULL;
	}
	w->err = err;
	/* the registry may answer later; an incompatible schema stays so */
	w->retry_at_ms = err == -EIO || err == -ENOMEM ? now_ms() + 5000 : 0;
	if (err)
		bd_warn("%s: writer schema %u from the registry is not read: %s",
			bd_msg_kind_name(kind), id, w->why);
	else
		bd_info("%s: writer schema %u from the registry is read (%s)", bd_msg_kind_name(kind),
			id, bd_resolve_summary(w->resolve));
	return err;
}

/* The resolution of writer schema @p id for @p kind, from the codec's ring
 * or the registry. */
static int writer_get(bd_codec_t *c, bd_msg_kind_t kind, uint32_t id,
		      const bd_codec_writer_t **out)
{
	bd_codec_writer_t *w = NULL;
	for (int i = 0; i < c->n_writers && !w; i++)
		if (c->writers[i].id == id && c->writers[i].kind == kind)
			w = &c->writers[i];
	*out = w;
	if (w && (w->retry_at_ms == 0 || now_ms() < w->retry_at_ms))
		return w->err;
	int64_t second = now_ms() / 1000;
	if (second != c->fetch_second) {
		c->fetch_second = second;
		c->fetches = 0;
	}
	if (c->fetches >= BD_CODEC_FETCHES_PER_S) {
		static const bd_codec_writer_t limited = {.err = BD_ESCHEMA,
						    .why = "not asked: more than 10 new schema ids "
							   "in a second on this worker"};
		*out = &limited;
		return BD_ESCHEMA;
	}
	c->fetches++;
	if (!w) {
		w = c->n_writers < BD_CODEC_WRITERS ? &c->writers[c->n_writers++]
						    : &c->writers[c->next_writer++ % BD_CODEC_WRITERS];
		*out = w;
	}
	writer_clear(w);
	return writer_fetch(c, kind, id, w);
}

/* A body written with another schema than @p kind's own, brought to the
 * kind's layout in c->padded through the registry (bd_codec_set_registry). */
static int resolve_body(bd_codec_t *c, bd_msg_kind_t kind, uint32_t id, const char **body,
			size_t *body_len, char *errstr, size_t errstr_size)
{
	const bd_codec_writer_t *w;
	char why[200];
	int err = writer_get(c, kind, id, &w);
	if (err) {
		snprintf(errstr, errstr_size, "%s written with schema %u: %s", bd_msg_kind_name(kind),
			 id, w->why);
		return err == -ENOMEM ? err : BD_ESCHEMA;
	}
	err = bd_wire_body_check(w->schema, *body, *body_len, why, sizeof(why));
	if (err == BD_EENCODING) {
		snprintf(errstr, errstr_size, "%s", why);
		return err;
	}
	if (err) {
		snprintf(errstr, errstr_size, "Avro body of %s does not decode with its schema %u: %s",
			 bd_msg_kind_name(kind), id, why);
		return BD_EDECODE;
	}
	if (bd_resolve_identity(w->resolve))
		return 0;
	if ((err = bd_resolve_body(w->resolve, *body, *body_len, &c->padded, why, sizeof(why)))) {
		snprintf(errstr, errstr_size, "%s written with schema %u: %s", bd_msg_kind_name(kind),
			 id, why);
		return err;
	}
	*body = (const char *)c->padded.data;
	*body_len = c->padded.len;
	return 0;
}

/* ---- decode helpers ------------------------------------------------------ */

/* Frames, checks the schema is the one of @kind and walks the body: on
 * success *out_body (*out_len bytes) decodes exactly with the kind's
 * current schema (an earlier layout's or another writer's body brought to
 * it in c->padded). */
static int frame_body(bd_codec_t *c, bd_msg_kind_t kind, const void *buf, size_t len,
		      const char **out_body, size_t *out_len, char *errstr, size_t errstr_size)
{
	bd_wire_header_t h;
	int err;

	err = bd_wire_header_parse(buf, len, &h, errstr, errstr_size);
	if (err)
		return err;
	const char *body = (const char *)buf + h.body_offset;
	size_t body_len = len - h.body_offset;
	char why[160];
	int old = -1; /* the earlier layout the body is in */
	if (h.format == BD_WIRE_CONFLUENT && c->registry &&
	    (c->schema_id[kind] == 0 || h.schema_id != c->schema_id[kind])) {
		if ((err = resolve_body(c, kind, h.schema_id, &body, &body_len, errstr, errstr_size)))
			return err;
	} else if (h.format == BD_WIRE_CONFLUENT) {
		if (c->schema_id[kind] == 0 || h.schema_id != c->schema_id[kind]) {
			snprintf(errstr, errstr_size,
				 "unknown Confluent schema id %u for %s "
				 "(configured: %u)",
				 h.schema_id, bd_msg_kind_name(kind),
				 c->schema_id[kind]);
			return BD_ESCHEMA;
		}
	} else if (h.fingerprint != c->fingerprint[kind] &&
		   (old = bd_codec_old_layout_by_fingerprint(c, kind, h.fingerprint)) < 0) {
		snprintf(errstr, errstr_size,
			 "unknown schema fingerprint %016llx for %s "
			 "(expected %016llx)",
			 (unsigned long long)h.fingerprint, bd_msg_kind_name(kind),
			 (unsigned long long)c->fingerprint[kind]);
		return BD_ESCHEMA;
	}
	/* Avro C must never see a malformed body: it leaks on failed reads
	 * and allocates whatever length a message claims (wire.c) */
	if (body != (const char *)buf + h.body_offset) {
		/* resolved through the registry: in the current layout */
	} else if (c->has_old[kind] && h.format == BD_WIRE_CONFLUENT) {
		/* a body that is not the current layout but walks as an
		 * earlier one (a string that is not UTF-8 included) */
		err = bd_wire_body_check(c->schema[kind], body, body_len, why, sizeof(why));
		if (err != 0 && err != BD_EENCODING)
			old = bd_codec_old_layout_by_walk(c, kind, body, body_len);
	}
	if (old >= 0) {
		if ((err = bd_codec_old_layout_pad(c, old, body, body_len)))
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
	*out_body = body;
	*out_len = body_len;
	return 0;
}

/* frame_body, then the body into the codec's generic value of @p kind. */
static int decode_body(bd_codec_t *c, bd_msg_kind_t kind, const void *buf,
		       size_t len, char *errstr, size_t errstr_size)
{
	avro_value_t *v = &c->value[kind];
	const char *body;
	size_t body_len;
	int err = frame_body(c, kind, buf, len, &body, &body_len, errstr, errstr_size);
	if (err)
		return err;
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

/* A string of @p size bytes with its NUL (as Avro C gives it): NUL-free,
 * at most 1024 bytes.  @required: must be non-empty. */
static int check_str(const char *s, size_t size, const char *name, bool required,
		     const char **out, char *errstr, size_t errstr_size)
{
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

/* A string field: non-NULL, NUL-free.  @required: must be non-empty. */
static int get_str(avro_value_t *rec, size_t i, const char *name, bool required,
		   const char **out, char *errstr, size_t errstr_size)
{
	avro_value_t f = bd_codec_field(rec, i);
	const char *s;
	size_t size;

	if (avro_value_get_string(&f, &s, &size) != 0)
		return fail(errstr, errstr_size, "%s: not a string", name);
	return check_str(s, size, name, required, out, errstr, errstr_size);
}

static int64_t get_long(avro_value_t *rec, size_t i)
{
	avro_value_t f = bd_codec_field(rec, i);
	int64_t x = 0;
	avro_value_get_long(&f, &x);
	return x;
}

static int32_t get_int(avro_value_t *rec, size_t i)
{
	avro_value_t f = bd_codec_field(rec, i);
	int32_t x = 0;
	avro_value_get_int(&f, &x);
	return x;
}

static double get_double(avro_value_t *rec, size_t i)
{
	avro_value_t f = bd_codec_field(rec, i);
	double x = 0;
	avro_value_get_double(&f, &x);
	return x;
}

/* The value of union field i when its non-null branch is set, else NULL. */
static bool get_optional(avro_value_t *rec, size_t i, avro_value_t *branch)
{
	avro_value_t f = bd_codec_field(rec, i);
	int disc = 0;
	avro_value_get_discriminant(&f, &disc);
	if (disc == 0)
		return false;
	avro_value_get_current_branch(&f, branch);
	return true;
}

/* A features array of @p n values read (messages_direct.c: the values are
 * there when n <= BD_MAX_DIM). */
static int check_floats(const float *x, size_t n, const char *name, const float **out,
			int *dim, char *errstr, size_t errstr_size)
{
	if (n > BD_MAX_DIM)
		return fail(errstr, errstr_size, "%s has %zu values (limit %d)",
			    name, n, BD_MAX_DIM);
	for (size_t j = 0; j < n; j++)
		if (!isfinite(x[j]))
			return fail(errstr, errstr_size,
				    "%s[%zu] is not a finite number", name, j);
	*out = x;
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
	bd_codec_feature_t f;
	const char *body;
	size_t body_len;

	TRY(frame_body(c, BD_MSG_FEATURE, buf, len, &body, &body_len, errstr, errstr_size));
	TRY(bd_codec_direct_feature(c, body, body_len, &f, errstr, errstr_size));
	TRY(check_str(f.request_id, f.size[0], "request_id", true, &ev->request_id, errstr,
		      errstr_size));
	TRY(check_str(f.campaign_id, f.size[1], "campaign_id", true, &ev->campaign_id, errstr,
		      errstr_size));
	TRY(check_str(f.user_id, f.size[2], "user_id", true, &ev->user_id, errstr,
		      errstr_size));
	ev->ts_ms = f.ts_ms;
	TRY(check_ts(ev->ts_ms, errstr, errstr_size));
	return check_floats(f.features, f.n, "features", &ev->features, &ev->dim, errstr,
			    errstr_size);
}

/* The outcome's values, checked in the order of its fields. */
static int check_outcome(const bd_codec_outcome_t *o, bd_outcome_event_t *ev, char *errstr,
			 size_t errstr_size)
{
	TRY(check_str(o->decision_id, o->size[0], "decision_id", false, &ev->decision_id,
		      errstr, errstr_size));
	TRY(check_str(o->campaign_id, o->size[1], "campaign_id", true, &ev->campaign_id,
		      errstr, errstr_size));
	TRY(check_str(o->user_id, o->size[2], "user_id", true, &ev->user_id, errstr,
		      errstr_size));
	ev->ts_ms = o->ts_ms;
	TRY(check_ts(ev->ts_ms, errstr, errstr_size));
	ev->orders = (int32_t)o->orders; /* an int: the walk checked its range */
	ev->value = o->value;
	ev->cost = o->cost;
	if (ev->orders < 0)
		return fail(errstr, errstr_size, "orders %d is negative", ev->orders);
	if (!isfinite(ev->value) || ev->value < 0)
		return fail(errstr, errstr_size, "value %g is not a finite number >= 0",
			    ev->value);
	if (!isfinite(ev->cost) || ev->cost < 0)
		return fail(errstr, errstr_size, "cost %g is not a finite number >= 0",
			    ev->cost);
	if ((ev->has_features = o->has_features))
		TRY(check_floats(o->features, o->n, "features", &ev->features, &ev->dim,
				 errstr, errstr_size));
	if ((ev->has_treatment = o->has_treatment)) {
		ev->treatment = (int32_t)o->treatment;
		if (ev->treatment < 0 || ev->treatment >= BD_MAX_TREATMENTS)
			return fail(errstr, errstr_size,
				    "treatment %d is outside 0..%d", ev->treatment,
				    BD_MAX_TREATMENTS - 1);
	}
	if ((ev->has_propensity = o->has_propensity)) {
		ev->propensity = o->propensity;
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

int bd_decode_outcome(bd_codec_t *c, const void *buf, size_t len,
		      bd_outcome_event_t *ev, char *errstr, size_t errstr_size)
{
	bd_codec_outcome_t o;
	const char *body;
	size_t body_len;

	TRY(frame_body(c, BD_MSG_OUTCOME, buf, len, &body, &body_len, errstr, errstr_size));
	TRY(bd_codec_direct_outcome(c, body, body_len, &o, errstr, errstr_size));
	memset(ev, 0, sizeof(*ev));
	return check_outcome(&o, ev, errstr, errstr_size);
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

/* Treatment @p j of the array @p b into @p cmd; its id in @p seen, the
 * control's presence in @p has_control.  @returns 0 or negative with @p errstr. */
static int get_treatment(avro_value_t *b, size_t j, bd_control_command_t *cmd, unsigned *seen,
			 bool *has_control, char *errstr, size_t errstr_size)
{
	avro_value_t t;
	bd_treatment_t *tr = &cmd->treatments[j];
	avro_value_get_by_index(b, j, &t, NULL);
	tr->id = get_int(&t, BD_F_TREATMENT_ID);
	TRY(get_str(&t, BD_F_TREATMENT_NAME, "treatments[].name", false, &tr->name,
		    errstr, errstr_size));
	tr->nominal_cost = get_double(&t, BD_F_TREATMENT_NOMINAL_COST);
	if (tr->id < 0 || tr->id >= BD_MAX_TREATMENTS)
		return fail(errstr, errstr_size,
			    "treatment id %d is outside 0..%d",
			    tr->id, BD_MAX_TREATMENTS - 1);
	if (*seen & (1u << tr->id))
		return fail(errstr, errstr_size,
			    "treatment id %d appears twice", tr->id);
	*seen |= 1u << tr->id;
	if (!isfinite(tr->nominal_cost) || tr->nominal_cost < 0)
		return fail(errstr, errstr_size,
			    "treatment %d nominal_cost %g is not a "
			    "finite number >= 0",
			    tr->id, tr->nominal_cost);
	if (tr->id == 0) {
		*has_control = true;
		if (tr->nominal_cost != 0)
			return fail(errstr, errstr_size,
				    "treatment 0 is the control and "
				    "must cost 0, not %g",
				    tr->nominal_cost);
	}
	return 0;
}

/* The treatments array @p b into @p cmd: 1..BD_MAX_TREATMENTS entries with the
 * ids 0..n-1, 0 the control at no cost.  @returns 0 or negative with @p errstr. */
static int get_treatments(avro_value_t *b, bd_control_command_t *cmd, char *errstr,
			  size_t errstr_size)
{
	size_t n = 0;
	unsigned seen = 0;
	bool has_control = false;
	avro_value_get_size(b, &n);
	if (n == 0 || n > BD_MAX_TREATMENTS)
		return fail(errstr, errstr_size,
			    "treatments has %zu entries (need 1..%d)", n,
			    BD_MAX_TREATMENTS);
	cmd->n_treatments = (int)n;
	for (size_t j = 0; j < n; j++)
		TRY(get_treatment(b, j, cmd, &seen, &has_control, errstr, errstr_size));
	if (!has_control)
		return fail(errstr, errstr_size,
			    "treatments lack id 0 (the control)");
	if (seen != (1u << n) - 1)
		return fail(errstr, errstr_size,
			    "treatment ids must be 0..%zu without gaps", n - 1);
	return 0;
}

/* The optional exploration, time zone and outcome bounds of a control
 * command @p v into @p cmd.  @returns 0 or negative with @p errstr. */
static int get_campaign_settings(avro_value_t *v, bd_control_command_t *cmd, char *errstr,
				 size_t errstr_size)
{
	avro_value_t b;
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
	if ((cmd->has_holdout = get_optional(v, BD_F_CONTROL_COMMAND_HOLDOUT, &b))) {
		avro_value_get_double(&b, &cmd->holdout);
		if (!(cmd->holdout >= 0 && cmd->holdout <= BD_HOLDOUT_MAX))
			return fail(errstr, errstr_size, "holdout %g is outside [0, %g]",
				    cmd->holdout, BD_HOLDOUT_MAX);
	}
	if ((cmd->has_uniform_arm = get_optional(v, BD_F_CONTROL_COMMAND_UNIFORM_ARM, &b))) {
		avro_value_get_double(&b, &cmd->uniform_arm);
		if (!(cmd->uniform_arm >= 0 && cmd->uniform_arm <= BD_HOLDOUT_MAX))
			return fail(errstr, errstr_size, "uniform_arm %g is outside [0, %g]",
				    cmd->uniform_arm, BD_HOLDOUT_MAX);
	}
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
	f = bd_codec_field(v, BD_F_CONTROL_COMMAND_ACTION);
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
	if ((cmd->has_treatments = get_optional(v, BD_F_CONTROL_COMMAND_TREATMENTS, &b)))
		TRY(get_treatments(&b, cmd, errstr, errstr_size));
	TRY(get_campaign_settings(v, cmd, errstr, errstr_size));
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
	f = bd_codec_field(v, BD_F_DECISION_EXPLORED);
	avro_value_get_boolean(&f, &b);
	d->explored = b != 0;
	d->plan_version = get_long(v, BD_F_DECISION_PLAN_VERSION);
	d->model_version = get_long(v, BD_F_DECISION_MODEL_VERSION);
	int err = get_str(v, BD_F_DECISION_REASON, "reason", false, &d->reason, errstr,
			  errstr_size);
	return err ? err : get_str(v, BD_F_DECISION_ARM, "arm", false, &d->arm, errstr,
				   errstr_size);
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
	cl = bd_codec_field(v, BD_F_CLUSTER_PLAN_CLUSTERS);
	cu = bd_codec_field(v, BD_F_CLUSTER_PLAN_CURVE);
	avro_value_get_size(&cl, &k);
	avro_value_get_size(&cu, &nc);
	if (k > 0) {
		avro_value_t e, pr;
		avro_value_get_by_index(&cl, 0, &e, NULL);
		pr = bd_codec_field(&e, BD_F_CLUSTER_ALLOCATION_PROBABILITIES);
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
		pr = bd_codec_field(&e, BD_F_CLUSTER_ALLOCATION_PROBABILITIES);
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
	layers = bd_codec_field(v, BD_F_MODEL_UPDATE_LAYERS);
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
	f = bd_codec_field(v, BD_F_MODEL_UPDATE_FEATURE_MEAN);
	avro_value_get_size(&f, &n);
	if ((int)n != m->dim)
		goto bad;
	for (size_t j = 0; j < n; j++)
		if (!isfinite(m->mean[j] = get_double(&f, j)))
			goto bad;
	f = bd_codec_field(v, BD_F_MODEL_UPDATE_FEATURE_SCALE);
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
		w = bd_codec_field(&L, BD_F_LAYER_WEIGHTS);
		b = bd_codec_field(&L, BD_F_LAYER_BIAS);
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

/* ---- changelog records ----------------------------------------------------- */

/* Makes room for @p n elements of @p size bytes in *@p p (capacity *@p cap). */
static int scratch_reserve(void **p, size_t *cap, size_t n, size_t size)
{
	if (n <= *cap)
		return 0;
	void *q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static int get_enum(avro_value_t *rec, size_t i, int count, const char *name, int *out,
		    char *errstr, size_t errstr_size)
{
	avro_value_t f = bd_codec_field(rec, i);
	*out = -1;
	avro_value_get_enum(&f, out);
	if (*out < 0 || *out >= count)
		return fail(errstr, errstr_size, "%s %d is not known", name, *out);
	return 0;
}

static int get_clog_ops(bd_codec_t *c, avro_value_t *arr, bd_changelog_t *r, char *errstr,
			size_t errstr_size)
{
	size_t n = 0;
	avro_value_get_size(arr, &n);
	if (scratch_reserve((void **)&c->opscratch, &c->opscratch_cap, n ? n : 1,
			    sizeof(*c->opscratch)))
		return fail(errstr, errstr_size, "out of memory");
	for (size_t j = 0; j < n; j++) {
		bd_clog_op_t *o = &c->opscratch[j];
		avro_value_t e, f;
		int cf, op;
		avro_value_get_by_index(arr, j, &e, NULL);
		TRY(get_enum(&e, BD_F_STORE_OP_CF, BD_CLOG_CF__COUNT, "ops[].cf", &cf, errstr,
			     errstr_size));
		TRY(get_enum(&e, BD_F_STORE_OP_OP, BD_CLOG_OP__COUNT, "ops[].op", &op, errstr,
			     errstr_size));
		o->cf = (uint8_t)cf;
		o->op = (uint8_t)op;
		f = bd_codec_field(&e, BD_F_STORE_OP_KEY);
		avro_value_get_bytes(&f, &o->key, &o->klen);
		f = bd_codec_field(&e, BD_F_STORE_OP_VALUE);
		avro_value_get_bytes(&f, &o->value, &o->vlen);
	}
	r->ops = c->opscratch;
	r->n_ops = n;
	return 0;
}

static int get_clog_offsets(bd_codec_t *c, avro_value_t *arr, bd_changelog_t *r,
			    char *errstr, size_t errstr_size)
{
	size_t n = 0;
	avro_value_get_size(arr, &n);
	if (scratch_reserve((void **)&c->offscratch, &c->offscratch_cap, n ? n : 1,
			    sizeof(*c->offscratch)))
		return fail(errstr, errstr_size, "out of memory");
	for (size_t j = 0; j < n; j++) {
		avro_value_t e;
		avro_value_get_by_index(arr, j, &e, NULL);
		TRY(get_str(&e, BD_F_INPUT_OFFSET_TOPIC, "input_offsets[].topic", true,
			    &c->offscratch[j].topic, errstr, errstr_size));
		c->offscratch[j].next = get_long(&e, BD_F_INPUT_OFFSET_NEXT);
		if (c->offscratch[j].next < 0)
			return fail(errstr, errstr_size, "input_offsets[].next %lld is negative",
				    (long long)c->offscratch[j].next);
	}
	r->offsets = c->offscratch;
	r->n_offsets = n;
	return 0;
}

int bd_decode_changelog(bd_codec_t *c, const void *buf, size_t len, bd_changelog_t *r,
			char *errstr, size_t errstr_size)
{
	avro_value_t *v = &c->value[BD_MSG_CHANGELOG], arr;
	int kind;

	TRY(decode_body(c, BD_MSG_CHANGELOG, buf, len, errstr, errstr_size));
	memset(r, 0, sizeof(*r));
	TRY(get_enum(v, BD_F_CHANGELOG_RECORD_KIND, BD_CLOG_KIND__COUNT, "kind", &kind, errstr,
		     errstr_size));
	r->kind = (bd_clog_kind_t)kind;
	r->partition = get_int(v, BD_F_CHANGELOG_RECORD_PARTITION);
	r->epoch = get_long(v, BD_F_CHANGELOG_RECORD_EPOCH);
	TRY(get_str(v, BD_F_CHANGELOG_RECORD_INSTANCE, "instance", false, &r->instance, errstr,
		    errstr_size));
	r->batch_seq = get_long(v, BD_F_CHANGELOG_RECORD_BATCH_SEQ);
	r->part = get_int(v, BD_F_CHANGELOG_RECORD_PART);
	r->parts = get_int(v, BD_F_CHANGELOG_RECORD_PARTS);
	r->ts_ms = get_long(v, BD_F_CHANGELOG_RECORD_TS_MS);
	if (r->partition < 0 || r->partition > 0xfffe)
		return fail(errstr, errstr_size, "partition %d is outside 0..65534", r->partition);
	if (r->parts < 1 || r->part < 0 || r->part >= r->parts)
		return fail(errstr, errstr_size, "part %d of %d", r->part, r->parts);
	arr = bd_codec_field(v, BD_F_CHANGELOG_RECORD_INPUT_OFFSETS);
	TRY(get_clog_offsets(c, &arr, r, errstr, errstr_size));
	arr = bd_codec_field(v, BD_F_CHANGELOG_RECORD_OPS);
	return get_clog_ops(c, &arr, r, errstr, errstr_size);
}
