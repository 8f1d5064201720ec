/**
 * @file resolve.h
 * @brief Avro schema resolution: a body written with one schema (the
 *        writer's) rewritten, byte for byte, as the body the reader's
 *        schema would have written for the same data.
 *
 * Avro C 1.11 resolves a writer schema against a reader schema only
 * partly: it cannot fill a reader field's default (its schema type drops
 * defaults).  The decoders need a body in the reader's layout anyway (they
 * walk it before Avro C reads it, wire.h), so resolution here is a
 * transcoder compiled once per (writer, reader) pair, following the Avro
 * specification's "Schema Resolution":
 *  - record fields matched by name (or a reader field's alias); writer
 *    fields the reader lacks are skipped; reader fields the writer lacks
 *    take their default (from the reader schema's JSON), and a reader field
 *    with neither makes the pair incompatible;
 *  - promotions int -> long, float, double; long -> float, double;
 *    float -> double; string <-> bytes;
 *  - enums by symbol (a writer symbol the reader lacks takes the reader
 *    enum's default, or fails that message); unions branch by branch
 *    (a writer branch the reader cannot read fails only the messages that
 *    use it); records, enums and fixed by unqualified name.
 *
 * Ownership: a bd_resolve_t owns its compiled program; it keeps no
 * reference to the schemas it was compiled from.
 * @locality immutable after bd_resolve_new: any thread may use one.
 */
#ifndef BUDGETD_RESOLVE_H
#define BUDGETD_RESOLVE_H

#include <avro.h>
#include <stdbool.h>
#include <stddef.h>

#include "budgetd/base/common.h"
#include "budgetd/wire/messages.h" /* bd_buf_t */

typedef struct bd_resolve_s bd_resolve_t;

/**
 * Compiles the resolution of @p writer against @p reader, whose JSON text
 * @p reader_json supplies the defaults and aliases that Avro C's schema
 * does not keep.
 * @returns 0; BD_ESCHEMA when the pair is incompatible, with the first
 *          reason in @p errstr ("field ts_ms: written as string, read as
 *          long"; "field user_id is not written and has no default"); or
 *          -ENOMEM.
 */
int bd_resolve_new(avro_schema_t writer, avro_schema_t reader, const char *reader_json,
		   bd_resolve_t **out, char *errstr, size_t errstr_size) BD_WUR;

void bd_resolve_free(bd_resolve_t *r);

/** True when the writer's schema has the reader's Parsing Canonical Form:
 *  bodies are already in the reader's layout and need no rewriting. */
bool bd_resolve_identity(const bd_resolve_t *r);

/** One line on what the resolution does, for the log: "identical",
 *  "2 fields skipped, 1 default filled, 1 promotion". */
const char *bd_resolve_summary(const bd_resolve_t *r);

/**
 * Rewrites @p body (@p len bytes, written with the writer's schema and
 * already walked against it: bd_wire_body_check) into @p out, replacing
 * its contents.
 * @returns 0; or BD_ESCHEMA when this body uses a part of the writer's
 *          schema the reader cannot read (a union branch, an enum symbol),
 *          BD_EDECODE when it does not walk, with the reason in @p errstr;
 *          or -ENOMEM.
 */
int bd_resolve_body(const bd_resolve_t *r, const void *body, size_t len, bd_buf_t *out,
		    char *errstr, size_t errstr_size) BD_WUR;

#endif
