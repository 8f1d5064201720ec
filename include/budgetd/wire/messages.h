/**
 * @file messages.h
 * @brief Typed decode and encode of every message kind (the .avsc files in schemas/).
 *
 * A codec holds the parsed schemas, their fingerprints, the Confluent
 * schema ids of the configuration, and reusable Avro values.  Decoded
 * structs point into the codec's values and scratch buffers: they stay
 * valid until the next decode of the same kind on the same codec.
 *
 * @locality one codec per thread; a codec is never shared.
 */
#ifndef BUDGETD_MESSAGES_H
#define BUDGETD_MESSAGES_H

#include <stdbool.h>
#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/base/kinds.h"

#define BD_MAX_TREATMENTS 16
#define BD_MAX_DIM 4096

typedef struct bd_buf_s {
	uint8_t *data;
	size_t len, cap;
} bd_buf_t;

void bd_buf_free(bd_buf_t *b);

/** Makes room for @p need bytes in @p b (its contents kept).
 *  @returns 0 or -ENOMEM. */
int bd_buf_reserve(bd_buf_t *b, size_t need);

typedef struct bd_feature_event_s {
	const char *request_id, *campaign_id, *user_id;
	int64_t ts_ms;
	const float *features;
	int dim;
} bd_feature_event_t;

typedef struct bd_outcome_event_s {
	const char *decision_id, *campaign_id, *user_id;
	int64_t ts_ms;
	int32_t orders;
	double value, cost;
	bool has_features, has_treatment, has_propensity;
	const float *features;
	int dim;
	int32_t treatment;
	double propensity;
} bd_outcome_event_t;

typedef enum bd_action {
	BD_ACTION_UPSERT_CAMPAIGN = 0,
	BD_ACTION_SET_BUDGET,
	BD_ACTION_PAUSE,
	BD_ACTION_RESUME,
	BD_ACTION_RESOLVE,
	BD_ACTION_RETRAIN,
	BD_ACTION__COUNT
} bd_action_t;

const char *bd_action_name(bd_action_t a);

typedef struct bd_treatment_s {
	int32_t id;
	const char *name;
	double nominal_cost;
} bd_treatment_t;

/** Largest holdout share a campaign may set (policy/experiment.h). */
#define BD_HOLDOUT_MAX 0.5

typedef struct bd_control_command_s {
	const char *command_id, *campaign_id;
	int64_t ts_ms;
	bd_action_t action;
	bool has_budget, has_treatments, has_exploration, has_tz;
	double daily_budget;
	int n_treatments;
	bd_treatment_t treatments[BD_MAX_TREATMENTS];
	double exploration;
	int32_t timezone_offset_s;
	/* UPSERT_CAMPAIGN: the campaign's outcome bounds (bounds.h) */
	bool has_max_value, has_max_cost, has_winsor_value;
	double max_value, max_cost, winsor_value;
	bool has_holdout;
	double holdout; /**< 0 .. BD_HOLDOUT_MAX (experiment.h) */
	bool has_uniform_arm;
	double uniform_arm; /**< 0 .. BD_HOLDOUT_MAX (experiment.h) */
} bd_control_command_t;

typedef struct bd_decision_s {
	const char *decision_id, *request_id, *campaign_id, *user_id;
	int64_t ts_ms;
	int32_t treatment, cluster;
	double propensity;
	bool explored;
	int64_t plan_version, model_version;
	const char *reason;
	const char *arm; /**< the user's experiment arm, "" without one */
} bd_decision_t;

typedef struct bd_plan_msg_s {
	const char *campaign_id;
	int64_t plan_version, model_version, ts_ms;
	double daily_budget, remaining_budget, lambda, expected_spend,
		expected_value;
	const char *solver;
	int n_clusters, n_treatments;
	const double *traffic_share; /**< n_clusters */
	const double *probabilities; /**< n_clusters x n_treatments */
	int n_curve;
	const double *curve_budget, *curve_value;
	double exploration, spent, expected_requests, overspend_probability;
} bd_plan_msg_t;

/** One dense layer of a published model (weights rows x cols, row-major). */
typedef struct bd_model_layer_msg_s {
	int32_t rows, cols;
	const char *activation; /**< "relu" or "none" */
	const double *weights, *bias;
} bd_model_layer_msg_t;

typedef struct bd_model_msg_s {
	int64_t model_version, ts_ms;
	const char *kind;
	int32_t clusters, dim;
	const double *feature_mean, *feature_scale; /**< dim each */
	int n_layers;
	const bd_model_layer_msg_t *layers;
	double agreement;
	int n_metrics;
	const char *const *metric_names;
	const double *metric_values;
} bd_model_msg_t;

typedef struct bd_dead_letter_s {
	const char *topic;
	int32_t partition;
	int64_t offset, ts_ms;
	const char *reason, *detail;
	const void *key;
	size_t key_len;
	const void *payload;
	size_t payload_len;
} bd_dead_letter_t;

/** A ChangelogRecord (schemas/changelog.avsc): the store operations one
 *  worker batch wrote for one input partition.  The enums are the schema's
 *  symbols in their order; the state layer maps its column families to
 *  BD_CLOG_CF_* (state/changelog.h). */
typedef enum { BD_CLOG_BATCH = 0, BD_CLOG_MARKER, BD_CLOG_BASE, BD_CLOG_KIND__COUNT } bd_clog_kind_t;
typedef enum {
	BD_CLOG_CF_META = 0,
	BD_CLOG_CF_OFFSETS,
	BD_CLOG_CF_DECISIONS,
	BD_CLOG_CF_STATS,
	BD_CLOG_CF_SAMPLES,
	BD_CLOG_CF_OUTBOX,
	BD_CLOG_CF_PENDING,
	BD_CLOG_CF__COUNT
} bd_clog_cf_t;
typedef enum {
	BD_CLOG_PUT = 0,
	BD_CLOG_MERGE,  /**< value: little-endian doubles added element-wise */
	BD_CLOG_DELETE, /**< value: empty */
	BD_CLOG_DELETE_RANGE, /**< value: the end key (exclusive) */
	BD_CLOG_OP__COUNT
} bd_clog_op_kind_t;

typedef struct bd_clog_op_s {
	uint8_t cf; /**< bd_clog_cf_t */
	uint8_t op; /**< bd_clog_op_kind_t */
	const void *key, *value;
	size_t klen, vlen;
} bd_clog_op_t;

typedef struct bd_clog_offset_s {
	const char *topic;
	int64_t next; /**< the next offset to read */
} bd_clog_offset_t;

typedef struct bd_changelog_s {
	bd_clog_kind_t kind;
	int32_t partition;
	int64_t epoch;
	const char *instance;
	int64_t batch_seq;
	int32_t part, parts; /**< this record is part @p part of @p parts */
	int64_t ts_ms;
	size_t n_offsets;
	const bd_clog_offset_t *offsets;
	size_t n_ops;
	const bd_clog_op_t *ops;
} bd_changelog_t;

typedef struct bd_codec_s bd_codec_t;

/**
 * Creates a codec.
 * @param schema_ids Confluent schema id of each kind (input: accepted ids;
 *                   output: the id written).  0 means "not registered".
 * @param out_format framing used by the encoders.
 */
int bd_codec_new(const uint32_t schema_ids[BD_MSG__COUNT],
		 bd_wire_format_t out_format, bd_codec_t **out, char *errstr,
		 size_t errstr_size) BD_WUR;
void bd_codec_free(bd_codec_t *c);

struct bd_registry_s;

/**
 * Schema evolution through a Schema Registry: a Confluent-framed body whose
 * schema id is not its kind's own is read by fetching the writer's schema
 * from @p reg (once per id and codec) and resolving it against the kind's
 * schema (resolve.h); an incompatible writer schema, an id the registry
 * does not have, or a registry that does not answer fails the decode with
 * BD_ESCHEMA and the reason (a fetch that failed is tried again after 5 s;
 * at most 10 fetches a second per codec, the rest refused unasked).
 * Without a registry (the default) such a body is refused as before.
 * The registry must outlive the codec; bd_codec_new's ids stay the ids
 * written and the ids read without resolution.
 */
void bd_codec_set_registry(bd_codec_t *c, const struct bd_registry_s *reg);

/** Fingerprint (CRC-64-AVRO of the canonical form) of @p kind's schema. */
uint64_t bd_codec_fingerprint(const bd_codec_t *c, bd_msg_kind_t kind);

/*
 * Decoders: 0 on success; otherwise a negative code (BD_EWIRE, BD_ESCHEMA,
 * BD_EDECODE, BD_EENCODING, BD_EINVAL) with the reason in errstr.  They
 * check the framing, that the schema is the one of @p kind, that the body
 * decodes with no trailing bytes, that every string (map keys and values
 * included, fields budgetd does not read too) is strict UTF-8, and that
 * numbers are finite and in range.  So every string they return is valid
 * UTF-8.
 */
int bd_decode_feature(bd_codec_t *c, const void *buf, size_t len,
		      bd_feature_event_t *ev, char *errstr,
		      size_t errstr_size) BD_WUR;
int bd_decode_outcome(bd_codec_t *c, const void *buf, size_t len,
		      bd_outcome_event_t *ev, char *errstr,
		      size_t errstr_size) BD_WUR;
int bd_decode_control(bd_codec_t *c, const void *buf, size_t len,
		      bd_control_command_t *cmd, char *errstr,
		      size_t errstr_size) BD_WUR;
int bd_decode_decision(bd_codec_t *c, const void *buf, size_t len,
		       bd_decision_t *d, char *errstr,
		       size_t errstr_size) BD_WUR;
int bd_decode_plan(bd_codec_t *c, const void *buf, size_t len,
		   bd_plan_msg_t *p, char *errstr, size_t errstr_size) BD_WUR;
/** A ChangelogRecord: its enums in range, 0 <= part < parts, a partition
 *  >= 0; the keys and values are not looked into (the state layer does). */
int bd_decode_changelog(bd_codec_t *c, const void *buf, size_t len,
			bd_changelog_t *r, char *errstr, size_t errstr_size) BD_WUR;

/** Why an input message was dead-lettered: the DeadLetter's reason code
 *  (bd_dead_reason_name()) and the index of its counter. */
typedef enum {
	BD_DEAD_WIRE,             /**< framing: too short, unknown magic byte */
	BD_DEAD_SCHEMA,           /**< unknown schema id or fingerprint */
	BD_DEAD_DECODE,           /**< Avro body truncated or with trailing bytes */
	BD_DEAD_INVALID,          /**< decodes, but a value breaks a rule */
	BD_DEAD_UNKNOWN_CAMPAIGN, /**< no such campaign */
	BD_DEAD_UNKNOWN_DECISION, /**< outcome for no stored decision */
	BD_DEAD_DUPLICATE,        /**< second outcome for a decision */
	BD_DEAD_EXPIRED,          /**< outcome later than decision.retention.s */
	BD_DEAD_OVERSIZED,        /**< larger than input.max.bytes, not decoded */
	BD_DEAD_FUTURE,           /**< event time too far ahead of the clocks */
	BD_DEAD_IMPLAUSIBLE,      /**< a value or cost outside its campaign's bounds */
	BD_DEAD_ENCODING,         /**< a string that is not valid UTF-8 */
	BD_DEAD_CONFLICT,         /**< an id already bound to something else */
	BD_DEAD_STALE,            /**< a request dated on a day of its campaign that is over */
	BD_DEAD__COUNT
} bd_dead_reason_t;

/** A dead letter of reason BD_DEAD_OVERSIZED carries only this many first
 *  bytes of the payload and of the key: the whole may not fit in a Kafka
 *  message. */
#define BD_DEAD_OVERSIZED_KEEP 1024

/** How many of @p len bytes of an input's key or payload its dead letter
 *  of reason @p why carries: all, or BD_DEAD_OVERSIZED_KEEP for
 *  oversized (a key and a payload at most that long each). */
size_t bd_dead_keep(bd_dead_reason_t why, size_t len);

/**
 * Whether an input is too large to decode: its payload (@p len bytes) or
 * its key (@p key_len) longer than @p max_bytes (input.max.bytes).  If so,
 * the dead letter's detail is in @p errstr.
 */
bool bd_dead_oversized(size_t key_len, size_t len, int max_bytes, char *errstr,
		       size_t errstr_size);

/** The reason code, e.g. "unknown_campaign". */
const char *bd_dead_reason_name(bd_dead_reason_t r);
/** The dead-letter reason of a decoder's error (wire, schema, decode,
 *  encoding or invalid). */
bd_dead_reason_t bd_decode_dead_reason(int err);
/** bd_dead_reason_name(bd_decode_dead_reason(err)). */
const char *bd_decode_reason(int err);

struct bd_cluster_model_s;
/**
 * Decodes a ModelUpdate into a new cluster model (refcount 1, owned by the
 * caller; kind is one of "random-linear", "softmax", "mlp").
 */
int bd_decode_model(bd_codec_t *c, const void *buf, size_t len,
		    struct bd_cluster_model_s **out, char *errstr,
		    size_t errstr_size) BD_WUR;

/* Encoders: append the framed message to out->data (out->len = its size).
 * A string that is not UTF-8 is written with U+FFFD for its bad bytes, so
 * every message they write decodes. */
int bd_encode_feature(bd_codec_t *c, const bd_feature_event_t *ev,
		      bd_buf_t *out) BD_WUR;
int bd_encode_outcome(bd_codec_t *c, const bd_outcome_event_t *ev,
		      bd_buf_t *out) BD_WUR;
int bd_encode_control(bd_codec_t *c, const bd_control_command_t *cmd,
		      bd_buf_t *out) BD_WUR;
int bd_encode_decision(bd_codec_t *c, const bd_decision_t *d,
		       bd_buf_t *out) BD_WUR;
int bd_encode_plan(bd_codec_t *c, const bd_plan_msg_t *p,
		   bd_buf_t *out) BD_WUR;
int bd_encode_model(bd_codec_t *c, const bd_model_msg_t *m, bd_buf_t *out) BD_WUR;
int bd_encode_dead_letter(bd_codec_t *c, const bd_dead_letter_t *dl,
			  bd_buf_t *out) BD_WUR;
/** Writes @p r whole: its offsets and its ops r->ops[0 .. r->n_ops). */
int bd_encode_changelog(bd_codec_t *c, const bd_changelog_t *r, bd_buf_t *out) BD_WUR;

/**
 * Splitting a batch's operations into records that fit a Kafka message:
 * the end (exclusive) of the part that starts at op @p from of the @p n
 * ops, such that the record's Avro body (with a header of @p head_bytes:
 * its strings and offsets, see bd_changelog_head_bytes) stays within
 * @p max_bytes.  A part holds at least one op, so one op larger than
 * @p max_bytes makes a part of its own that is larger.
 */
size_t bd_changelog_part_end(const bd_clog_op_t *ops, size_t n, size_t from,
			     size_t head_bytes, size_t max_bytes);
/** An upper bound of the bytes of @p r's record without its ops (framing,
 *  fixed fields, instance, offsets). */
size_t bd_changelog_head_bytes(const bd_changelog_t *r);

#endif
