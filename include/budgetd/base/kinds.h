/**
 * @file kinds.h
 * @brief The names of the wire contract that need no Avro: the message
 *        kinds (one per schema in schemas/), the two framings, and the
 *        largest outcome bound.
 *
 * Split out of messages.h and wire.h so that code that only names a kind or
 * a framing (the topic, schema-id and output-format settings in config.h,
 * the broker's topic list, the metrics' topic labels) does not pull in the
 * Avro codec and <avro.h>.  The kinds are in the order of the schema files
 * in Makefile.am's SCHEMA_FILES and of the per-kind settings; never reorder
 * them.
 *
 * @locality any thread; pure functions.
 */
#ifndef BUDGETD_KINDS_H
#define BUDGETD_KINDS_H

typedef enum bd_msg_kind {
	BD_MSG_FEATURE = 0,
	BD_MSG_OUTCOME,
	BD_MSG_CONTROL,
	BD_MSG_DECISION,
	BD_MSG_PLAN,
	BD_MSG_MODEL,
	BD_MSG_DEADLETTER,
	BD_MSG_CHANGELOG, /**< state operations of worker batches (changelog.h) */
	BD_MSG__COUNT
} bd_msg_kind_t;

/** Schema file name of @p kind ("feature_event", ...); "unknown" out of range. */
const char *bd_msg_kind_name(bd_msg_kind_t kind);

/** The framing of a message on Kafka (wire.h reads and writes them). */
typedef enum bd_wire_format {
	BD_WIRE_CONFLUENT = 0,
	BD_WIRE_SINGLE_OBJECT = 1,
} bd_wire_format_t;

/** No bound on an outcome's value or cost may exceed this: below it, sums
 *  of squares over any number of outcomes stay finite (bounds.h). */
#define BD_OUTCOME_BOUND_MAX 1e15

#endif
