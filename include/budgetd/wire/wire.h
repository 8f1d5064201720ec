/**
 * @file wire.h
 * @brief Wire formats of Avro messages on Kafka, and schema fingerprints.
 *
 * Two framings are accepted on input and either can be written:
 *  - Confluent: 0x00, 4-byte big-endian schema id, Avro binary body.
 *  - Avro single-object encoding: 0xC3 0x01, 8-byte little-endian
 *    CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, body.
 *
 * libavro 1.11 has neither the canonical form nor the fingerprint, so both
 * are implemented here from the Avro specification.
 *
 * @locality any thread; no shared state.
 */
#ifndef BUDGETD_WIRE_H
#define BUDGETD_WIRE_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/base/kinds.h" /* bd_wire_format_t */

/** Bytes of the longest header (single-object). */
#define BD_WIRE_HEADER_MAX 10

typedef struct bd_wire_header_s {
	bd_wire_format_t format;
	uint32_t schema_id;   /**< Confluent only */
	uint64_t fingerprint; /**< single-object only */
	size_t body_offset;   /**< where the Avro body starts */
} bd_wire_header_t;

/** CRC-64-AVRO (the Rabin fingerprint of the Avro spec) of @p len bytes. */
uint64_t bd_wire_crc64(const void *buf, size_t len);

/**
 * Parsing Canonical Form of @p schema, as the Avro specification defines it.
 * @param out receives a malloc'd NUL-terminated string, owned by the caller.
 * @returns 0 or a negative error code.
 */
int bd_wire_canonical_form(avro_schema_t schema, char **out) BD_WUR;

/** CRC-64-AVRO of the canonical form of @p schema. */
int bd_wire_fingerprint(avro_schema_t schema, uint64_t *fp) BD_WUR;

/**
 * Reads the framing of @p buf.
 * @returns 0, or BD_EWIRE with a reason in @p errstr when the magic byte is
 *          wrong or the buffer is shorter than its header.
 */
int bd_wire_header_parse(const void *buf, size_t len, bd_wire_header_t *h,
			 char *errstr, size_t errstr_size) BD_WUR;

/**
 * Checks that @p len bytes are exactly one Avro binary value of @p schema
 * (lengths, counts, union branches and enum symbols in range, no trailing
 * bytes) without allocating; decoders call it before avro_value_read or
 * a direct read (messages_direct.c).
 * Every string, map keys included, must be strict UTF-8 (utf8.h).
 * @returns 0; BD_EDECODE with the reason in @p why; or, when the body is
 *          sound but a string is not UTF-8, BD_EENCODING with the field
 *          and the first bad byte in @p why ("treatments.name is not valid
 *          UTF-8 (byte 0xe9 at offset 1)", "context (a key) ...").
 */
int bd_wire_body_check(avro_schema_t schema, const void *buf, size_t len,
		       char *why, size_t why_size) BD_WUR;

/**
 * Writes the header of @p format into @p out (at least BD_WIRE_HEADER_MAX
 * bytes).  @returns the number of bytes written (5 or 10).
 */
size_t bd_wire_header_write(bd_wire_format_t format, uint32_t schema_id,
			    uint64_t fingerprint, uint8_t *out);

#endif
