/*
 * Encoding: every output body is written with the codec's current schema
 * of its kind and framed as output.format says (wire.h).
 */
#include "messages_int.h"

#include <string.h>

#include "budgetd/base/sbuf.h"
#include "budgetd/base/utf8.h"
#include "wire/schema_fields.h" /* BD_F_<RECORD>_<FIELD>, from schemas/fields.c */

/* ---- encode helpers ------------------------------------------------------ */

/* Every string written is UTF-8, whatever it was given: the inputs are
 * checked (wire.c) and details quote them safely (utf8.h), so this only
 * ever replaces bytes of state written before those checks (U+FFFD). */
static void set_str(avro_value_t *rec, size_t i, const char *s)
{
	avro_value_t f = bd_codec_field(rec, i);
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
	avro_value_t f = bd_codec_field(rec, i);
	avro_value_set_long(&f, x);
}

static void set_int(avro_value_t *rec, size_t i, int32_t x)
{
	avro_value_t f = bd_codec_field(rec, i);
	avro_value_set_int(&f, x);
}

static void set_double(avro_value_t *rec, size_t i, double x)
{
	avro_value_t f = bd_codec_field(rec, i);
	avro_value_set_double(&f, x);
}

/* Selects branch 0 (null) or 1 of union field i; returns the branch. */
static avro_value_t set_optional(avro_value_t *rec, size_t i, bool present)
{
	avro_value_t f = bd_codec_field(rec, i), b;
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
	err = bd_buf_reserve(out, hlen + size);
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
	f = bd_codec_field(v, BD_F_FEATURE_EVENT_FEATURES);
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
	f = bd_codec_field(v, BD_F_CONTROL_COMMAND_ACTION);
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
	b = set_optional(v, BD_F_CONTROL_COMMAND_HOLDOUT, cmd->has_holdout);
	if (cmd->has_holdout)
		avro_value_set_double(&b, cmd->holdout);
	b = set_optional(v, BD_F_CONTROL_COMMAND_UNIFORM_ARM, cmd->has_uniform_arm);
	if (cmd->has_uniform_arm)
		avro_value_set_double(&b, cmd->uniform_arm);
	return encode_value(c, BD_MSG_CONTROL, out);
}

/* Written directly (messages_direct.c): the hot path's output. */
int bd_encode_decision(bd_codec_t *c, const bd_decision_t *d, bd_buf_t *out)
{
	return bd_codec_direct_decision(c, d, out);
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
	cl = bd_codec_field(v, BD_F_CLUSTER_PLAN_CLUSTERS);
	for (int k = 0; k < p->n_clusters; k++) {
		avro_value_t e, pr;
		avro_value_append(&cl, &e, NULL);
		set_int(&e, BD_F_CLUSTER_ALLOCATION_CLUSTER, k);
		set_double(&e, BD_F_CLUSTER_ALLOCATION_TRAFFIC_SHARE, p->traffic_share[k]);
		pr = bd_codec_field(&e, BD_F_CLUSTER_ALLOCATION_PROBABILITIES);
		for (int j = 0; j < p->n_treatments; j++) {
			avro_value_t x;
			avro_value_append(&pr, &x, NULL);
			avro_value_set_double(&x,
					      p->probabilities[k * p->n_treatments + j]);
		}
	}
	cu = bd_codec_field(v, BD_F_CLUSTER_PLAN_CURVE);
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
	f = bd_codec_field(v, BD_F_MODEL_UPDATE_FEATURE_MEAN);
	set_doubles(&f, m->feature_mean, m->dim);
	f = bd_codec_field(v, BD_F_MODEL_UPDATE_FEATURE_SCALE);
	set_doubles(&f, m->feature_scale, m->dim);
	f = bd_codec_field(v, BD_F_MODEL_UPDATE_LAYERS);
	for (int l = 0; l < m->n_layers; l++) {
		const bd_model_layer_msg_t *L = &m->layers[l];
		avro_value_t e, a;
		avro_value_append(&f, &e, NULL);
		set_int(&e, BD_F_LAYER_ROWS, L->rows);
		set_int(&e, BD_F_LAYER_COLS, L->cols);
		set_str(&e, BD_F_LAYER_ACTIVATION, L->activation);
		a = bd_codec_field(&e, BD_F_LAYER_WEIGHTS);
		set_doubles(&a, L->weights, L->rows * L->cols);
		a = bd_codec_field(&e, BD_F_LAYER_BIAS);
		set_doubles(&a, L->bias, L->rows);
	}
	set_double(v, BD_F_MODEL_UPDATE_AGREEMENT, m->agreement);
	mp = bd_codec_field(v, BD_F_MODEL_UPDATE_METRICS);
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
	f = bd_codec_field(v, BD_F_DEAD_LETTER_PAYLOAD);
	avro_value_set_bytes(&f, (void *)(dl->payload ? dl->payload : ""),
			     dl->payload_len);
	return encode_value(c, BD_MSG_DEADLETTER, out);
}

/* ---- changelog records ----------------------------------------------------- */

/* Bytes of Avro's zig-zag varint of @p x. */
static size_t varint_len(int64_t x)
{
	uint64_t z = ((uint64_t)x << 1) ^ (uint64_t)(x >> 63);
	size_t n = 1;
	while (z >= 0x80) {
		z >>= 7;
		n++;
	}
	return n;
}

/* The exact Avro bytes of one StoreOp: two enums and two byte strings. */
static size_t op_bytes(const bd_clog_op_t *o)
{
	return varint_len(o->cf) + varint_len(o->op) + varint_len((int64_t)o->klen) + o->klen +
	       varint_len((int64_t)o->vlen) + o->vlen;
}

size_t bd_changelog_head_bytes(const bd_changelog_t *r)
{
	/* framing, 8 fixed fields (10 bytes each at most), the two arrays'
	 * block counts and end markers (10 + 1 each) */
	size_t n = BD_WIRE_HEADER_MAX + 8 * 10 + 2 * 11;
	n += 10 + (r->instance ? strlen(r->instance) : 0);
	for (size_t i = 0; i < r->n_offsets; i++)
		n += 10 + strlen(r->offsets[i].topic) + 10;
	return n;
}

size_t bd_changelog_part_end(const bd_clog_op_t *ops, size_t n, size_t from,
			     size_t head_bytes, size_t max_bytes)
{
	size_t used = head_bytes, i = from;
	if (i < n)
		used += op_bytes(&ops[i++]); /* at least one */
	while (i < n && used + op_bytes(&ops[i]) <= max_bytes)
		used += op_bytes(&ops[i++]);
	return i;
}

int bd_encode_changelog(bd_codec_t *c, const bd_changelog_t *r, bd_buf_t *out)
{
	avro_value_t *v = &c->value[BD_MSG_CHANGELOG], f, arr;
	avro_value_reset(v);
	f = bd_codec_field(v, BD_F_CHANGELOG_RECORD_KIND);
	avro_value_set_enum(&f, (int)r->kind);
	set_int(v, BD_F_CHANGELOG_RECORD_PARTITION, r->partition);
	set_long(v, BD_F_CHANGELOG_RECORD_EPOCH, r->epoch);
	set_str(v, BD_F_CHANGELOG_RECORD_INSTANCE, r->instance);
	set_long(v, BD_F_CHANGELOG_RECORD_BATCH_SEQ, r->batch_seq);
	set_int(v, BD_F_CHANGELOG_RECORD_PART, r->part);
	set_int(v, BD_F_CHANGELOG_RECORD_PARTS, r->parts);
	set_long(v, BD_F_CHANGELOG_RECORD_TS_MS, r->ts_ms);
	arr = bd_codec_field(v, BD_F_CHANGELOG_RECORD_INPUT_OFFSETS);
	for (size_t i = 0; i < r->n_offsets; i++) {
		avro_value_t e;
		avro_value_append(&arr, &e, NULL);
		set_str(&e, BD_F_INPUT_OFFSET_TOPIC, r->offsets[i].topic);
		set_long(&e, BD_F_INPUT_OFFSET_NEXT, r->offsets[i].next);
	}
	arr = bd_codec_field(v, BD_F_CHANGELOG_RECORD_OPS);
	for (size_t i = 0; i < r->n_ops; i++) {
		const bd_clog_op_t *o = &r->ops[i];
		avro_value_t e;
		avro_value_append(&arr, &e, NULL);
		f = bd_codec_field(&e, BD_F_STORE_OP_CF);
		avro_value_set_enum(&f, o->cf);
		f = bd_codec_field(&e, BD_F_STORE_OP_OP);
		avro_value_set_enum(&f, o->op);
		f = bd_codec_field(&e, BD_F_STORE_OP_KEY);
		avro_value_set_bytes(&f, (void *)(o->klen ? o->key : ""), o->klen);
		f = bd_codec_field(&e, BD_F_STORE_OP_VALUE);
		avro_value_set_bytes(&f, (void *)(o->vlen ? o->value : ""), o->vlen);
	}
	return encode_value(c, BD_MSG_CHANGELOG, out);
}
