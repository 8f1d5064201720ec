/**
 * @file messages_int.h
 * @brief Internals shared by the codec's files.  Not part of the public API
 *        (include/budgetd/messages.h is).
 *
 *  - messages.c: the codec (its schemas, earlier layouts still read,
 *    buffers), action and dead-letter reason names;
 *  - messages_decode.c: framing checked, bodies decoded, every field
 *    checked (bd_decode_*);
 *  - messages_encode.c: bodies written and framed (bd_encode_*);
 *  - messages_direct.c: the hot path's kinds (a FeatureEvent and an
 *    OutcomeEvent read, a Decision written) without Avro C's generic
 *    values.
 *
 * @locality as messages.h: one codec per thread; a codec is never shared.
 */
#ifndef BUDGETD_MESSAGES_INT_H
#define BUDGETD_MESSAGES_INT_H

#include "budgetd/wire/messages.h"
#include "budgetd/wire/resolve.h"
#include "budgetd/wire/wire.h"

/* A writer schema met through the registry, resolved against a kind's
 * (messages_decode.c).  A failure is remembered too: for good when the
 * schemas are incompatible, until retry_at_ms when the registry did not
 * answer. */
typedef struct bd_codec_writer_s {
	uint32_t id;
	bd_msg_kind_t kind;
	avro_schema_t schema; /* NULL when it failed */
	bd_resolve_t *resolve;
	char why[200];
	int err;
	int64_t retry_at_ms;
} bd_codec_writer_t;

#define BD_CODEC_WRITERS 32
/* earlier layouts of the input schemas still read (messages.c) */
#define BD_OLD_LAYOUTS 3
#define BD_CODEC_FETCHES_PER_S 10

struct bd_codec_s {
	avro_schema_t schema[BD_MSG__COUNT];
	avro_value_iface_t *iface[BD_MSG__COUNT];
	avro_value_t value[BD_MSG__COUNT];
	uint64_t fingerprint[BD_MSG__COUNT];
	uint32_t schema_id[BD_MSG__COUNT];
	bd_wire_format_t out_format;
	/* earlier layouts still read, parallel to messages.c's old_layouts
	 * (older layouts) */
	avro_schema_t old_schema[BD_OLD_LAYOUTS];
	uint64_t old_fingerprint[BD_OLD_LAYOUTS];
	bool has_old[BD_MSG__COUNT]; /* the kind has earlier layouts */
	bd_buf_t padded; /* an earlier layout's body brought up to date */
	/* writer schemas from the registry, a ring (the oldest replaced) */
	const struct bd_registry_s *registry;
	bd_codec_writer_t writers[BD_CODEC_WRITERS];
	int n_writers, next_writer;
	/* registry requests in the current second: a stream of made-up ids
	 * must not turn every message into an HTTP request */
	int64_t fetch_second;
	int fetches;
	avro_reader_t reader;
	avro_writer_t writer;
	/* scratch for decoded arrays */
	float *fscratch;
	size_t fscratch_cap;
	double *dscratch;
	size_t dscratch_cap;
	/* the strings of the last FeatureEvent [0] and OutcomeEvent [1] read
	 * by messages_direct.c, NUL-terminated */
	char *tscratch[2];
	size_t tscratch_cap[2];
	/* a decoded changelog record's arrays */
	bd_clog_op_t *opscratch;
	size_t opscratch_cap;
	bd_clog_offset_t *offscratch;
	size_t offscratch_cap;
};

static inline avro_value_t bd_codec_field(avro_value_t *rec, size_t i)
{
	/* cannot fail: i is an index of the compiled-in schema; initialised
	 * because clang cannot see that */
	avro_value_t f = {NULL, NULL};
	avro_value_get_by_index(rec, i, &f, NULL);
	return f;
}

/* Copies the body @p body of @p len bytes, written with the earlier layout
 * of @p kind, into c->padded in the current layout.  (messages.c; the
 * decoder, for a body of an earlier layout) */
int bd_codec_old_layout_pad(bd_codec_t *c, int layout, const void *body, size_t len);
/** The earlier layout of @p kind with fingerprint @p fp, or -1. */
int bd_codec_old_layout_by_fingerprint(const bd_codec_t *c, bd_msg_kind_t kind, uint64_t fp);
/** The earlier layout of @p kind whose walk accepts @p body (a body that is
 *  not UTF-8 included), newest first, or -1. */
int bd_codec_old_layout_by_walk(const bd_codec_t *c, bd_msg_kind_t kind, const void *body,
				size_t len);

/* A FeatureEvent or an OutcomeEvent as its body holds it, before the
 * checks of messages_decode.c: size[i] is a string's length + 1, as Avro C
 * gives it (a NUL inside shows as strlen(s) != size - 1); n the count of
 * the whole features array, whose values are in features when n <=
 * BD_MAX_DIM.  Valid until the next read of the same kind. */
typedef struct bd_codec_feature_s {
	const char *request_id, *campaign_id, *user_id;
	size_t size[3];
	int64_t ts_ms;
	const float *features;
	size_t n;
} bd_codec_feature_t;

typedef struct bd_codec_outcome_s {
	const char *decision_id, *campaign_id, *user_id;
	size_t size[3];
	int64_t ts_ms, orders;
	double value, cost, propensity;
	bool has_features, has_treatment, has_propensity;
	int64_t treatment;
	const float *features;
	size_t n;
} bd_codec_outcome_t;

/** Whether the layouts messages_direct.c follows are the compiled-in
 *  schemas' (bd_codec_new refuses to start when not). */
int bd_codec_direct_check(const bd_codec_t *c, char *errstr, size_t errstr_size);
/** Reads a body already walked against the kind's current schema
 *  (bd_wire_body_check). */
int bd_codec_direct_feature(bd_codec_t *c, const char *body, size_t len,
			    bd_codec_feature_t *f, char *errstr, size_t errstr_size);
int bd_codec_direct_outcome(bd_codec_t *c, const char *body, size_t len,
			    bd_codec_outcome_t *o, char *errstr, size_t errstr_size);
/** Writes @p d framed as c->out_format, the bytes avro_value_write gives. */
int bd_codec_direct_decision(bd_codec_t *c, const bd_decision_t *d, bd_buf_t *out);

#endif
