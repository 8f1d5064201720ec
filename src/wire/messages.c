/*
 * Typed decode/encode over Avro C's generic values.
 *
 * Field access is by index, in the order of the .avsc files; the schemas are
 * compiled in (schemas_gen.c) so the indexes cannot drift from the schema the
 * binary uses.  Every decode ends with a semantic check (finite numbers,
 * ranges, non-empty ids) so that nothing downstream sees a NaN.
 */
#include "messages_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/wire/schemas.h"

static const char *action_names[BD_ACTION__COUNT] = {
	"UPSERT_CAMPAIGN", "SET_BUDGET", "PAUSE", "RESUME", "RESOLVE", "RETRAIN",
};

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
	/* newest first: a body is tried against them in this order */
	{BD_MSG_CONTROL, "control_command.v3", 1}, /* + uniform_arm */
	{BD_MSG_CONTROL, "control_command.v2", 2}, /* + holdout */
	{BD_MSG_CONTROL, "control_command.v1", 5}, /* + max_value, max_cost, winsor_value */
};

#define N_OLD_LAYOUTS (sizeof(old_layouts) / sizeof(old_layouts[0]))
_Static_assert(N_OLD_LAYOUTS <= BD_OLD_LAYOUTS, "BD_OLD_LAYOUTS holds every old layout");

int bd_codec_old_layout_by_fingerprint(const bd_codec_t *c, bd_msg_kind_t kind, uint64_t fp)
{
	for (size_t i = 0; i < N_OLD_LAYOUTS; i++)
		if (old_layouts[i].kind == kind && c->old_fingerprint[i] == fp)
			return (int)i;
	return -1;
}

int bd_codec_old_layout_by_walk(const bd_codec_t *c, bd_msg_kind_t kind, const void *body,
				size_t len)
{
	char why[160];
	for (size_t i = 0; i < N_OLD_LAYOUTS; i++) {
		if (old_layouts[i].kind != kind)
			continue;
		int err = bd_wire_body_check(c->old_schema[i], body, len, why, sizeof(why));
		if (err == 0 || err == BD_EENCODING)
			return (int)i;
	}
	return -1;
}

static int old_layouts_load(bd_codec_t *c, char *errstr, size_t errstr_size)
{
	for (size_t i = 0; i < N_OLD_LAYOUTS; i++) {
		const char *json = bd_schemas_get(old_layouts[i].name);
		if (!json || avro_schema_from_json_length(json, strlen(json),
							  &c->old_schema[i]) != 0) {
			snprintf(errstr, errstr_size, "schema %s: %s", old_layouts[i].name,
				 json ? avro_strerror() : "not compiled in");
			return BD_ESCHEMA;
		}
		c->has_old[old_layouts[i].kind] = true;
		int err = bd_wire_fingerprint(c->old_schema[i], &c->old_fingerprint[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Copies the body @p body of @p len bytes, written with the earlier layout
 * @p layout, into c->padded in the current layout. */
int bd_codec_old_layout_pad(bd_codec_t *c, int layout, const void *body, size_t len)
{
	int added = old_layouts[layout].added;
	int err = bd_buf_reserve(&c->padded, len + (size_t)added);
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

int bd_buf_reserve(bd_buf_t *b, size_t need)
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
	if ((err = old_layouts_load(c, errstr, errstr_size)) ||
	    (err = bd_codec_direct_check(c, errstr, errstr_size)))
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
	}
	for (int i = 0; i < BD_OLD_LAYOUTS; i++)
		if (c->old_schema[i])
			avro_schema_decref(c->old_schema[i]);
	bd_buf_free(&c->padded);
	for (int i = 0; i < c->n_writers; i++) {
		bd_resolve_free(c->writers[i].resolve);
		if (c->writers[i].schema)
			avro_schema_decref(c->writers[i].schema);
	}
	if (c->reader)
		avro_reader_free(c->reader);
	if (c->writer)
		avro_writer_free(c->writer);
	free(c->fscratch);
	free(c->tscratch[0]);
	free(c->tscratch[1]);
	free(c->dscratch);
	free(c->opscratch);
	free(c->offscratch);
	free(c);
}

void bd_codec_set_registry(bd_codec_t *c, const struct bd_registry_s *reg)
{
	c->registry = reg;
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
