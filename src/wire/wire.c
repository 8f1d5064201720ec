/*
 * Wire framings and schema fingerprints.
 *
 * The Parsing Canonical Form follows the Avro 1.11 specification
 * ("Transforming into Parsing Canonical Form"): primitives as bare names;
 * named types by full name, defined once and referenced by full name after;
 * only the attributes name, type, fields, symbols, items, values, size, in
 * that order; no doc, aliases, defaults or logical types; no white space.
 */
#include "budgetd/wire/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/utf8.h"

#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

static uint64_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
	for (int i = 0; i < 256; i++) {
		uint64_t fp = (uint64_t)i;
		for (int j = 0; j < 8; j++)
			fp = (fp >> 1) ^ (CRC64_EMPTY & (0 - (fp & 1)));
		crc_table[i] = fp;
	}
	crc_ready = 1;
}

uint64_t bd_wire_crc64(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t fp = CRC64_EMPTY;
	/* The table is the same for every caller; racing initialisers write
	 * identical values, so no lock is needed. */
	if (!crc_ready)
		crc_init();
	for (size_t i = 0; i < len; i++)
		fp = (fp >> 8) ^ crc_table[(fp ^ p[i]) & 0xff];
	return fp;
}

/* ---- canonical form -------------------------------------------------------- */

typedef struct out_s {
	char *s;
	size_t len, cap;
	int err;
	char **named; /* full names already defined */
	size_t n_named, cap_named;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
	if (o->err)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *p = realloc(o->s, cap);
		if (!p) {
			o->err = -ENOMEM;
			return;
		}
		o->s = p;
		o->cap = cap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void puts_(out_t *o, const char *s)
{
	put(o, s, strlen(s));
}

/* A JSON string literal. */
static void put_json(out_t *o, const char *s)
{
	put(o, "\"", 1);
	for (; *s; s++) {
		char esc[8];
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(o, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			puts_(o, esc);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
	put(o, "\"", 1);
}

/* The full name: name if it has a dot, else namespace.name. */
static int full_name(avro_schema_t s, char *buf, size_t size)
{
	const char *name = avro_schema_name(s), *ns = avro_schema_namespace(s);
	if (!name)
		return BD_EINVAL;
	if (strchr(name, '.') || !ns || !*ns)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%s.%s", ns, name);
	return 0;
}

/* @returns 1 if @name was defined before, else records it and returns 0. */
static int seen(out_t *o, const char *name)
{
	for (size_t i = 0; i < o->n_named; i++)
		if (strcmp(o->named[i], name) == 0)
			return 1;
	if (o->n_named == o->cap_named) {
		size_t cap = o->cap_named ? 2 * o->cap_named : 8;
		char **p = realloc(o->named, cap * sizeof(*p));
		if (!p) {
			o->err = -ENOMEM;
			return 0;
		}
		o->named = p;
		o->cap_named = cap;
	}
	if (!(o->named[o->n_named] = strdup(name))) {
		o->err = -ENOMEM;
		return 0;
	}
	o->n_named++;
	return 0;
}

static void emit(out_t *o, avro_schema_t s)
{
	char name[1024], num[32];

	if (o->err)
		return;
	switch (avro_typeof(s)) {
	case AVRO_STRING: puts_(o, "\"string\""); return;
	case AVRO_BYTES: puts_(o, "\"bytes\""); return;
	case AVRO_INT32: puts_(o, "\"int\""); return;
	case AVRO_INT64: puts_(o, "\"long\""); return;
	case AVRO_FLOAT: puts_(o, "\"float\""); return;
	case AVRO_DOUBLE: puts_(o, "\"double\""); return;
	case AVRO_BOOLEAN: puts_(o, "\"boolean\""); return;
	case AVRO_NULL: puts_(o, "\"null\""); return;
	case AVRO_LINK:
		/* a reference to a named type defined earlier */
		if (full_name(avro_schema_link_target(s), name, sizeof(name)) != 0) {
			o->err = BD_EINVAL;
			return;
		}
		put_json(o, name);
		return;
	case AVRO_RECORD:
	case AVRO_ENUM:
	case AVRO_FIXED:
		if (full_name(s, name, sizeof(name)) != 0) {
			o->err = BD_EINVAL;
			return;
		}
		if (seen(o, name)) {
			put_json(o, name);
			return;
		}
		puts_(o, "{\"name\":");
		put_json(o, name);
		if (is_avro_record(s)) {
			puts_(o, ",\"type\":\"record\",\"fields\":[");
			for (size_t i = 0; i < avro_schema_record_size(s); i++) {
				if (i)
					puts_(o, ",");
				puts_(o, "{\"name\":");
				put_json(o, avro_schema_record_field_name(s, (int)i));
				puts_(o, ",\"type\":");
				emit(o, avro_schema_record_field_get_by_index(s, (int)i));
				puts_(o, "}");
			}
			puts_(o, "]}");
		} else if (is_avro_enum(s)) {
			puts_(o, ",\"type\":\"enum\",\"symbols\":[");
			for (int i = 0; i < avro_schema_enum_number_of_symbols(s); i++) {
				if (i)
					puts_(o, ",");
				put_json(o, avro_schema_enum_get(s, i));
			}
			puts_(o, "]}");
		} else {
			snprintf(num, sizeof(num), "%lld",
				 (long long)avro_schema_fixed_size(s));
			puts_(o, ",\"type\":\"fixed\",\"size\":");
			puts_(o, num);
			puts_(o, "}");
		}
		return;
	case AVRO_ARRAY:
		puts_(o, "{\"type\":\"array\",\"items\":");
		emit(o, avro_schema_array_items(s));
		puts_(o, "}");
		return;
	case AVRO_MAP:
		puts_(o, "{\"type\":\"map\",\"values\":");
		emit(o, avro_schema_map_values(s));
		puts_(o, "}");
		return;
	case AVRO_UNION:
		puts_(o, "[");
		for (size_t i = 0; i < avro_schema_union_size(s); i++) {
			if (i)
				puts_(o, ",");
			emit(o, avro_schema_union_branch(s, (int)i));
		}
		puts_(o, "]");
		return;
	default:
		o->err = BD_EINVAL;
	}
}

int bd_wire_canonical_form(avro_schema_t schema, char **out)
{
	out_t o = {0};
	emit(&o, schema);
	for (size_t i = 0; i < o.n_named; i++)
		free(o.named[i]);
	free(o.named);
	if (o.err || !o.s) {
		free(o.s);
		return o.err ? o.err : BD_EINVAL;
	}
	*out = o.s;
	return 0;
}

int bd_wire_fingerprint(avro_schema_t schema, uint64_t *fp)
{
	char *pcf = NULL;
	int err = bd_wire_canonical_form(schema, &pcf);
	if (err)
		return err;
	*fp = bd_wire_crc64(pcf, strlen(pcf));
	free(pcf);
	return 0;
}

/* ---- framing ------------------------------------------------------------------ */

int bd_wire_header_parse(const void *buf, size_t len, bd_wire_header_t *h,
			 char *errstr, size_t errstr_size)
{
	const uint8_t *p = buf;

	if (len >= 1 && p[0] == 0x00) {
		if (len < 5) {
			snprintf(errstr, errstr_size,
				 "message of %zu bytes is shorter than the 5-byte "
				 "Confluent header", len);
			return BD_EWIRE;
		}
		h->format = BD_WIRE_CONFLUENT;
		h->schema_id = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
			       (uint32_t)p[3] << 8 | p[4];
		h->fingerprint = 0;
		h->body_offset = 5;
		return 0;
	}
	if (len >= 2 && p[0] == 0xC3 && p[1] == 0x01) {
		if (len < 10) {
			snprintf(errstr, errstr_size,
				 "message of %zu bytes is shorter than the 10-byte "
				 "single-object header", len);
			return BD_EWIRE;
		}
		h->format = BD_WIRE_SINGLE_OBJECT;
		h->schema_id = 0;
		h->fingerprint = 0;
		for (int i = 9; i >= 2; i--)
			h->fingerprint = h->fingerprint << 8 | p[i];
		h->body_offset = 10;
		return 0;
	}
	if (len == 0)
		snprintf(errstr, errstr_size,
			 "empty message is shorter than any header");
	else if (p[0] == 0xC3)
		snprintf(errstr, errstr_size,
			 "wrong magic bytes 0xc3 0x%02x (single-object needs 0xc3 0x01)",
			 len > 1 ? p[1] : 0);
	else
		snprintf(errstr, errstr_size,
			 "wrong magic byte 0x%02x (expected 0x00 Confluent or "
			 "0xc3 0x01 single-object)", p[0]);
	return BD_EWIRE;
}

size_t bd_wire_header_write(bd_wire_format_t format, uint32_t schema_id,
			    uint64_t fingerprint, uint8_t *out)
{
	if (format == BD_WIRE_CONFLUENT) {
		out[0] = 0x00;
		out[1] = (uint8_t)(schema_id >> 24);
		out[2] = (uint8_t)(schema_id >> 16);
		out[3] = (uint8_t)(schema_id >> 8);
		out[4] = (uint8_t)schema_id;
		return 5;
	}
	out[0] = 0xC3;
	out[1] = 0x01;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(fingerprint >> (8 * i));
	return 10;
}

/* ---- body check ------------------------------------------------------------ */

/*
 * Avro C 1.11.1 (Debian 12) trusts the lengths it reads: a negative or huge
 * string length becomes a malloc of that size (a message can make the
 * daemon map gigabytes it then leaks), and a body that fails half-way
 * leaks what was read so far (map keys, the map itself).  So every body is
 * walked here first against the schema, allocating nothing, and
 * avro_value_read only ever sees bytes that decode exactly.
 */
typedef struct walk_s {
	const uint8_t *p, *end;
	const char *why;
	/* where the walk is: the top-level field, the innermost field, and
	 * whether a map key or value is being read (for the encoding error) */
	const char *top, *leaf;
	int depth, in_map; /* in_map: 1 key, 2 value */
	/* the first string that is not UTF-8 (the walk goes on: a structural
	 * error anywhere is reported first) */
	int bad_text;
	const char *bad_top, *bad_leaf;
	int bad_in_map;
	size_t bad_at;
	uint8_t bad_byte;
} walk_t;

static int walk_long(walk_t *w, int64_t *out)
{
	uint64_t v = 0;
	/* at most 10 bytes, as Avro C's read_long */
	for (int i = 0; i < 10; i++) {
		if (w->p == w->end) {
			w->why = "truncated";
			return BD_EDECODE;
		}
		uint8_t b = *w->p++;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
			return 0;
		}
	}
	w->why = "varint longer than 10 bytes";
	return BD_EDECODE;
}

static int walk_skip(walk_t *w, int64_t n)
{
	if (n < 0 || n > w->end - w->p) {
		w->why = n < 0 ? "negative length" : "truncated";
		return BD_EDECODE;
	}
	w->p += n;
	return 0;
}

/* A string of @p n bytes at the cursor: checked to be UTF-8, then skipped. */
static int walk_text(walk_t *w, int64_t n)
{
	size_t bad;
	if (n >= 0 && n <= w->end - w->p && !w->bad_text &&
	    !bd_utf8_valid(w->p, (size_t)n, &bad)) {
		w->bad_text = 1;
		w->bad_top = w->top;
		w->bad_leaf = w->leaf;
		w->bad_in_map = w->in_map;
		w->bad_at = bad;
		w->bad_byte = w->p[bad];
	}
	return walk_skip(w, n);
}

static int walk(walk_t *w, avro_schema_t s)
{
	int64_t n;
	int err;

	switch (avro_typeof(s)) {
	case AVRO_NULL: return 0;
	case AVRO_BOOLEAN: return walk_skip(w, 1);
	case AVRO_FLOAT: return walk_skip(w, 4);
	case AVRO_DOUBLE: return walk_skip(w, 8);
	case AVRO_INT64: return walk_long(w, &n);
	case AVRO_INT32:
		if ((err = walk_long(w, &n)))
			return err;
		if (n < INT32_MIN || n > INT32_MAX) {
			w->why = "int out of range";
			return BD_EDECODE;
		}
		return 0;
	case AVRO_STRING:
		if ((err = walk_long(w, &n)))
			return err;
		return walk_text(w, n);
	case AVRO_BYTES:
		if ((err = walk_long(w, &n)))
			return err;
		return walk_skip(w, n);
	case AVRO_FIXED: return walk_skip(w, avro_schema_fixed_size(s));
	case AVRO_ENUM:
		if ((err = walk_long(w, &n)))
			return err;
		if (n < 0 || n >= avro_schema_enum_number_of_symbols(s)) {
			w->why = "enum symbol out of range";
			return BD_EDECODE;
		}
		return 0;
	case AVRO_UNION:
		if ((err = walk_long(w, &n)))
			return err;
		if (n < 0 || (uint64_t)n >= avro_schema_union_size(s)) {
			w->why = "union branch out of range";
			return BD_EDECODE;
		}
		return walk(w, avro_schema_union_branch(s, (int)n));
	case AVRO_RECORD: {
		const char *top = w->top, *leaf = w->leaf;
		w->depth++;
		for (size_t i = 0; i < avro_schema_record_size(s); i++) {
			w->leaf = avro_schema_record_field_name(s, (int)i);
			if (w->depth == 1)
				w->top = w->leaf;
			if ((err = walk(w, avro_schema_record_field_get_by_index(s, (int)i))))
				return err;
		}
		w->depth--;
		w->top = top;
		w->leaf = leaf;
		return 0;
	}
	case AVRO_ARRAY:
	case AVRO_MAP:
		for (;;) {
			if ((err = walk_long(w, &n)))
				return err;
			if (n == 0)
				return 0;
			if (n < 0) {
				int64_t size;
				if (n == INT64_MIN) {
					w->why = "block count out of range";
					return BD_EDECODE;
				}
				n = -n; /* followed by the block's size in bytes */
				if ((err = walk_long(w, &size)))
					return err;
				if (size < 0) {
					w->why = "negative block size";
					return BD_EDECODE;
				}
			}
			/* every item of budgetd's schemas takes at least one
			 * byte: a count beyond the bytes left is a lie, and
			 * would otherwise loop for as long as it claims */
			if (n > w->end - w->p) {
				w->why = "block count beyond the message";
				return BD_EDECODE;
			}
			for (int64_t i = 0; i < n; i++) {
				if (avro_typeof(s) == AVRO_MAP) {
					int64_t key_len;
					int in_map = w->in_map;
					w->in_map = 1;
					if ((err = walk_long(w, &key_len)) ||
					    (err = walk_text(w, key_len)))
						return err;
					w->in_map = 2;
					if ((err = walk(w, avro_schema_map_values(s))))
						return err;
					w->in_map = in_map;
				} else if ((err = walk(w, avro_schema_array_items(s)))) {
					return err;
				}
			}
		}
	case AVRO_LINK: return walk(w, avro_schema_link_target(s));
	default:
		w->why = "unsupported schema type";
		return BD_EDECODE;
	}
}

int bd_wire_body_check(avro_schema_t schema, const void *buf, size_t len,
		       char *why, size_t why_size)
{
	walk_t w = {.p = buf, .end = (const uint8_t *)buf + len};
	int err = walk(&w, schema);

	if (!err && w.p != w.end) {
		w.why = "trailing bytes after the Avro body";
		err = BD_EDECODE;
	}
	if (err) {
		snprintf(why, why_size, "%s", w.why);
		return err;
	}
	if (w.bad_text) {
		/* "treatments.name", "context (a key)", "request_id" */
		const char *leaf = w.bad_leaf != w.bad_top ? w.bad_leaf : NULL;
		snprintf(why, why_size, "%s%s%s%s is not valid UTF-8 (byte 0x%02x at offset %zu)",
			 w.bad_top ? w.bad_top : "string", leaf ? "." : "", leaf ? leaf : "",
			 w.bad_in_map == 1 ? " (a key)" : w.bad_in_map == 2 ? " (a value)" : "",
			 w.bad_byte, w.bad_at);
		return BD_EENCODING;
	}
	return 0;
}
