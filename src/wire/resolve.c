/*
 * Avro schema resolution as a transcoder (resolve.h).
 *
 * bd_resolve_new compiles a tree of nodes, one per (writer type, reader
 * type) pair met while matching the two schemas; bd_resolve_body runs it
 * over a writer's body, appending the reader's encoding to a buffer.  A
 * record reads every writer field's position first (writer order), then
 * writes the reader's fields in reader order: from their writer field, or
 * the reader's default, encoded once at compile time.
 *
 * Why not Avro C's resolved readers: they cannot fill defaults (1.11), and
 * the decoders need bytes in the reader's layout to walk anyway.
 */
#include "budgetd/wire/resolve.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/wire/wire.h"

/* Nesting limit of compiled schemas: deeper (a recursive schema) is refused
 * at compile time, so no body can recurse without bound. */
#define MAX_DEPTH 32

typedef enum {
	R_NULL,
	R_BOOL,
	R_VARINT,       /* int or long read as int or long: the same zigzag varint */
	R_VARINT_FLOAT, /* int or long read as float */
	R_VARINT_DOUBLE,
	R_FLOAT,
	R_FLOAT_DOUBLE,
	R_DOUBLE,
	R_BYTES, /* string or bytes, either way */
	R_FIXED,
	R_ENUM,
	R_ARRAY,
	R_MAP,
	R_RECORD,
	R_WUNION,  /* the writer's union: per branch, the reader's branch */
	R_TOUNION, /* a writer's non-union into a branch of the reader's union */
	R_FAIL,    /* a part of the writer's schema the reader cannot read */
} rop_t;

typedef struct rnode_s rnode_t;
struct rnode_s {
	rop_t op;
	int size;         /* R_FIXED: bytes */
	rnode_t *child;   /* R_ARRAY items, R_MAP values, R_TOUNION's branch */
	int index;        /* R_TOUNION: the reader's branch */
	/* R_RECORD: nw writer fields (their types, to skip them), nr reader
	 * fields, each from a writer field (from[j] >= 0, kids[j]) or a
	 * default (defaults[j]) */
	int nw, nr;
	avro_schema_t *wtypes;
	int *from;
	rnode_t **kids; /* R_RECORD: nr; R_WUNION: nw (NULL: R_FAIL kid) */
	bd_buf_t *defaults;
	/* R_ENUM: nw writer symbols -> reader index (-1: default_sym or fail);
	 * R_WUNION: nw writer branches -> reader branch index (-1: none written) */
	int *map;
	int default_sym;
	char *why; /* R_FAIL, and R_ENUM's symbol without a reader default */
};

struct bd_resolve_s {
	rnode_t *root;
	avro_schema_t writer;
	bool identity;
	char summary[128];
	int skipped, defaulted, promoted;
};

typedef struct compile_s {
	json_t *reader_json;
	bd_resolve_t *r;
	char *errstr;
	size_t errstr_size;
	char path[256]; /* the field being matched, for the reason */
} compile_t;

static BD_PRINTF(2, 3) int refuse(compile_t *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->path[0])
		snprintf(c->errstr, c->errstr_size, "field %s: %s", c->path, why);
	else
		snprintf(c->errstr, c->errstr_size, "%s", why);
	return BD_ESCHEMA;
}

/* ---- output ------------------------------------------------------------ */

static int put(bd_buf_t *b, const void *src, size_t n)
{
	if (bd_buf_reserve(b, b->len + n))
		return -ENOMEM;
	if (n)
		memcpy(b->data + b->len, src, n);
	b->len += n;
	return 0;
}

static int put_long(bd_buf_t *b, int64_t v)
{
	uint8_t tmp[10];
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;
	do {
		tmp[n] = (uint8_t)(z & 0x7f);
		z >>= 7;
		if (z)
			tmp[n] |= 0x80;
		n++;
	} while (z);
	return put(b, tmp, n);
}

static int put_float(bd_buf_t *b, float f)
{
	uint8_t tmp[4];
	uint32_t u;
	memcpy(&u, &f, 4);
	for (int i = 0; i < 4; i++)
		tmp[i] = (uint8_t)(u >> (8 * i));
	return put(b, tmp, 4);
}

static int put_double(bd_buf_t *b, double d)
{
	uint8_t tmp[8];
	uint64_t u;
	memcpy(&u, &d, 8);
	for (int i = 0; i < 8; i++)
		tmp[i] = (uint8_t)(u >> (8 * i));
	return put(b, tmp, 8);
}

/* ---- schema helpers ---------------------------------------------------- */

static avro_schema_t deref(avro_schema_t s)
{
	while (s && is_avro_link(s))
		s = avro_schema_link_target(s);
	return s;
}

static bool named(avro_type_t t)
{
	return t == AVRO_RECORD || t == AVRO_ENUM || t == AVRO_FIXED;
}

static const char *type_name(avro_schema_t s)
{
	switch (avro_typeof(s)) {
	case AVRO_NULL: return "null";
	case AVRO_BOOLEAN: return "boolean";
	case AVRO_INT32: return "int";
	case AVRO_INT64: return "long";
	case AVRO_FLOAT: return "float";
	case AVRO_DOUBLE: return "double";
	case AVRO_STRING: return "string";
	case AVRO_BYTES: return "bytes";
	case AVRO_ARRAY: return "array";
	case AVRO_MAP: return "map";
	case AVRO_UNION: return "union";
	default: return avro_schema_name(s) ? avro_schema_name(s) : "?";
	}
}

/* Whether a writer's @p w is read as the reader's @p r at this level:
 * @exact without a promotion.  Unions choose their branch with it. */
static bool matches(avro_schema_t w, avro_schema_t r, bool exact)
{
	avro_type_t tw = avro_typeof(w), tr = avro_typeof(r);
	if (tw == tr) {
		if (named(tw) && strcmp(avro_schema_name(w), avro_schema_name(r)) != 0)
			return false;
		return tw != AVRO_FIXED || avro_schema_fixed_size(w) == avro_schema_fixed_size(r);
	}
	if (exact)
		return false;
	switch (tw) {
	case AVRO_INT32: return tr == AVRO_INT64 || tr == AVRO_FLOAT || tr == AVRO_DOUBLE;
	case AVRO_INT64: return tr == AVRO_FLOAT || tr == AVRO_DOUBLE;
	case AVRO_FLOAT: return tr == AVRO_DOUBLE;
	case AVRO_STRING: return tr == AVRO_BYTES;
	case AVRO_BYTES: return tr == AVRO_STRING;
	default: return false;
	}
}

/* The reader schema's JSON object defining the named type @p name (its
 * short name), anywhere in @p j. */
static json_t *json_named(json_t *j, const char *name)
{
	if (json_is_array(j)) {
		size_t i;
		json_t *v;
		json_array_foreach(j, i, v)
		{
			json_t *f = json_named(v, name);
			if (f)
				return f;
		}
		return NULL;
	}
	if (!json_is_object(j))
		return NULL;
	const char *n = json_string_value(json_object_get(j, "name"));
	const char *t = json_string_value(json_object_get(j, "type"));
	if (n && t && (!strcmp(t, "record") || !strcmp(t, "error") || !strcmp(t, "enum"))) {
		const char *dot = strrchr(n, '.');
		if (!strcmp(dot ? dot + 1 : n, name))
			return j;
	}
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v)
	{
		if (json_is_object(v) || json_is_array(v)) {
			json_t *f = json_named(v, name);
			if (f)
				return f;
		}
	}
	return NULL;
}

/* The JSON object of field @p name of record @p rec_json. */
static json_t *json_field(json_t *rec_json, const char *name)
{
	json_t *fields = json_object_get(rec_json, "fields"), *f;
	size_t i;
	json_array_foreach(fields, i, f)
	{
		const char *n = json_string_value(json_object_get(f, "name"));
		if (n && !strcmp(n, name))
			return f;
	}
	return NULL;
}

/* Encodes the JSON default @p v as a value of @p s (a union's default is
 * of its first branch, as the specification says). */
static int encode_default(avro_schema_t s, json_t *v, bd_buf_t *b, int depth)
{
	s = deref(s);
	if (depth > MAX_DEPTH)
		return BD_ESCHEMA;
	switch (avro_typeof(s)) {
	case AVRO_NULL: return json_is_null(v) ? 0 : BD_ESCHEMA;
	case AVRO_BOOLEAN: {
		uint8_t x = json_is_true(v);
		return json_is_boolean(v) ? put(b, &x, 1) : BD_ESCHEMA;
	}
	case AVRO_INT32:
	case AVRO_INT64: return json_is_integer(v) ? put_long(b, json_integer_value(v)) : BD_ESCHEMA;
	case AVRO_FLOAT: return json_is_number(v) ? put_float(b, (float)json_number_value(v)) : BD_ESCHEMA;
	case AVRO_DOUBLE: return json_is_number(v) ? put_double(b, json_number_value(v)) : BD_ESCHEMA;
	case AVRO_STRING:
	case AVRO_BYTES: {
		/* bytes defaults are strings of code points 0-255; budgetd's own
		 * schemas have none, so only their ASCII form is taken */
		if (!json_is_string(v))
			return BD_ESCHEMA;
		size_t n = json_string_length(v);
		return put_long(b, (int64_t)n) ? -ENOMEM : put(b, json_string_value(v), n);
	}
	case AVRO_ENUM: {
		int i = json_is_string(v) ? avro_schema_enum_get_by_name(s, json_string_value(v)) : -1;
		return i < 0 ? BD_ESCHEMA : put_long(b, i);
	}
	case AVRO_FIXED:
		if (!json_is_string(v) || json_string_length(v) != (size_t)avro_schema_fixed_size(s))
			return BD_ESCHEMA;
		return put(b, json_string_value(v), json_string_length(v));
	case AVRO_UNION: {
		int err = put_long(b, 0);
		return err ? err : encode_default(avro_schema_union_branch(s, 0), v, b, depth + 1);
	}
	case AVRO_ARRAY: {
		size_t i, n = json_array_size(v);
		json_t *item;
		int err = 0;
		if (!json_is_array(v))
			return BD_ESCHEMA;
		if (n && (err = put_long(b, (int64_t)n)))
			return err;
		json_array_foreach(v, i, item) if ((err = encode_default(avro_schema_array_items(s), item, b,
									 depth + 1))) return err;
		return put_long(b, 0);
	}
	case AVRO_MAP: {
		const char *k;
		json_t *item;
		int err = 0;
		if (!json_is_object(v))
			return BD_ESCHEMA;
		if (json_object_size(v) && (err = put_long(b, (int64_t)json_object_size(v))))
			return err;
		json_object_foreach(v, k, item)
		{
			if ((err = put_long(b, (int64_t)strlen(k))) || (err = put(b, k, strlen(k))) ||
			    (err = encode_default(avro_schema_map_values(s), item, b, depth + 1)))
				return err;
		}
		return put_long(b, 0);
	}
	case AVRO_RECORD: {
		if (!json_is_object(v))
			return BD_ESCHEMA;
		for (size_t i = 0; i < avro_schema_record_size(s); i++) {
			const char *name = avro_schema_record_field_name(s, (int)i);
			json_t *fv = json_object_get(v, name);
			if (!fv)
				return BD_ESCHEMA;
			int err = encode_default(avro_schema_record_field_get_by_index(s, (int)i), fv, b,
						 depth + 1);
			if (err)
				return err;
		}
		return 0;
	}
	default: return BD_ESCHEMA;
	}
}

/* ---- compile ------------------------------------------------------------ */

static void node_free(rnode_t *n)
{
	if (!n)
		return;
	node_free(n->child);
	int nk = n->op == R_RECORD ? n->nr : n->op == R_WUNION ? n->nw : 0;
	for (int i = 0; i < nk; i++)
		node_free(n->kids[i]);
	if (n->defaults)
		for (int i = 0; i < n->nr; i++)
			bd_buf_free(&n->defaults[i]);
	free(n->kids);
	free(n->defaults);
	free(n->wtypes);
	free(n->from);
	free(n->map);
	free(n->why);
	free(n);
}

static rnode_t *node_new(rop_t op)
{
	rnode_t *n = calloc(1, sizeof(*n));
	if (n)
		n->op = op;
	return n;
}

static int compile(compile_t *c, avro_schema_t w, avro_schema_t r, int depth, rnode_t **out);

static int compile_record(compile_t *c, avro_schema_t w, avro_schema_t r, int depth,
			  rnode_t *n)
{
	json_t *rec_json = json_named(c->reader_json, avro_schema_name(r));
	size_t plen = strlen(c->path);
	int err = 0;

	n->nw = (int)avro_schema_record_size(w);
	n->nr = (int)avro_schema_record_size(r);
	n->wtypes = calloc((size_t)n->nw + 1, sizeof(*n->wtypes));
	n->from = calloc((size_t)n->nr + 1, sizeof(*n->from));
	n->kids = calloc((size_t)n->nr + 1, sizeof(*n->kids));
	n->defaults = calloc((size_t)n->nr + 1, sizeof(*n->defaults));
	bool *used = calloc((size_t)n->nw + 1, sizeof(*used));
	if (!n->wtypes || !n->from || !n->kids || !n->defaults || !used) {
		free(used);
		return -ENOMEM;
	}
	for (int i = 0; i < n->nw; i++)
		n->wtypes[i] = avro_schema_record_field_get_by_index(w, i);
	for (int j = 0; j < n->nr && !err; j++) {
		const char *name = avro_schema_record_field_name(r, j);
		json_t *fj = json_field(rec_json, name);
		int wi = avro_schema_record_field_get_index(w, name);
		json_t *aliases = json_object_get(fj, "aliases"), *a;
		size_t k;
		json_array_foreach(aliases, k, a) if (wi < 0 && json_is_string(a)) wi =
			avro_schema_record_field_get_index(w, json_string_value(a));
		snprintf(c->path + plen, sizeof(c->path) - plen, "%s%s", plen ? "." : "", name);
		n->from[j] = wi;
		if (wi >= 0) {
			used[wi] = true;
			err = compile(c, n->wtypes[wi], avro_schema_record_field_get_by_index(r, j),
				      depth + 1, &n->kids[j]);
		} else if (!fj || !json_object_get(fj, "default")) {
			err = refuse(c, "not written and has no default");
		} else if ((err = encode_default(avro_schema_record_field_get_by_index(r, j),
						 json_object_get(fj, "default"), &n->defaults[j], 0))) {
			err = err == -ENOMEM ? err : refuse(c, "its default does not match its type");
		} else {
			c->r->defaulted++;
		}
		c->path[plen] = '\0';
	}
	for (int i = 0; i < n->nw; i++)
		c->r->skipped += !used[i];
	free(used);
	return err;
}

static int compile_enum(compile_t *c, avro_schema_t w, avro_schema_t r, rnode_t *n)
{
	json_t *ej = json_named(c->reader_json, avro_schema_name(r));
	const char *def = json_string_value(json_object_get(ej, "default"));
	n->nw = avro_schema_enum_number_of_symbols(w);
	n->default_sym = def ? avro_schema_enum_get_by_name(r, def) : -1;
	if (!(n->map = calloc((size_t)n->nw + 1, sizeof(*n->map))))
		return -ENOMEM;
	for (int i = 0; i < n->nw; i++)
		n->map[i] = avro_schema_enum_get_by_name(r, avro_schema_enum_get(w, i));
	(void)c;
	return 0;
}

/* A writer's union: each branch read as the reader's type (or the first
 * of the reader's branches it matches, exactly before by promotion); a
 * branch that cannot be read fails only the bodies that use it. */
static int compile_wunion(compile_t *c, avro_schema_t w, avro_schema_t r, int depth, rnode_t *n)
{
	bool runion = avro_typeof(r) == AVRO_UNION;
	n->nw = (int)avro_schema_union_size(w);
	n->map = calloc((size_t)n->nw + 1, sizeof(*n->map));
	n->kids = calloc((size_t)n->nw + 1, sizeof(*n->kids));
	if (!n->map || !n->kids)
		return -ENOMEM;
	for (int i = 0; i < n->nw; i++) {
		avro_schema_t wb = deref(avro_schema_union_branch(w, i)), rb = r;
		n->map[i] = -1;
		if (runion) {
			int size = (int)avro_schema_union_size(r);
			for (int pass = 0; pass < 2 && n->map[i] < 0; pass++)
				for (int k = 0; k < size && n->map[i] < 0; k++)
					if (matches(wb, deref(avro_schema_union_branch(r, k)), pass == 0))
						n->map[i] = k;
			rb = n->map[i] >= 0 ? deref(avro_schema_union_branch(r, n->map[i])) : NULL;
		} else if (!matches(wb, r, false)) {
			rb = NULL;
		}
		int err = rb ? compile(c, wb, rb, depth + 1, &n->kids[i]) : BD_ESCHEMA;
		if (err == -ENOMEM)
			return err;
		if (err) {
			/* kept as a failure of the bodies that take this branch */
			rnode_t *f = node_new(R_FAIL);
			char why[400];
			snprintf(why, sizeof(why), "the writer's union branch %.60s%s%.255s cannot be read",
				 type_name(wb), c->path[0] ? " of field " : "", c->path);
			if (!f || !(f->why = strdup(why))) {
				free(f);
				return -ENOMEM;
			}
			n->kids[i] = f;
		}
	}
	return 0;
}

static int compile(compile_t *c, avro_schema_t w, avro_schema_t r, int depth, rnode_t **out)
{
	w = deref(w);
	r = deref(r);
	if (depth > MAX_DEPTH)
		return refuse(c, "nested deeper than %d levels (a recursive schema?)", MAX_DEPTH);
	avro_type_t tw = avro_typeof(w), tr = avro_typeof(r);
	rop_t op;
	int err = 0;

	if (tw == AVRO_UNION)
		op = R_WUNION;
	else if (tr == AVRO_UNION)
		op = R_TOUNION;
	else if (!matches(w, r, false))
		return refuse(c, "written as %s, read as %s", type_name(w), type_name(r));
	else if (tw == AVRO_INT32 || tw == AVRO_INT64)
		op = tr == AVRO_FLOAT ? R_VARINT_FLOAT : tr == AVRO_DOUBLE ? R_VARINT_DOUBLE : R_VARINT;
	else if (tw == AVRO_FLOAT)
		op = tr == AVRO_DOUBLE ? R_FLOAT_DOUBLE : R_FLOAT;
	else
		switch (tw) {
		case AVRO_NULL: op = R_NULL; break;
		case AVRO_BOOLEAN: op = R_BOOL; break;
		case AVRO_DOUBLE: op = R_DOUBLE; break;
		case AVRO_STRING:
		case AVRO_BYTES: op = R_BYTES; break;
		case AVRO_FIXED: op = R_FIXED; break;
		case AVRO_ENUM: op = R_ENUM; break;
		case AVRO_ARRAY: op = R_ARRAY; break;
		case AVRO_MAP: op = R_MAP; break;
		case AVRO_RECORD: op = R_RECORD; break;
		default: return refuse(c, "type %s is not read", type_name(w));
		}
	rnode_t *n = node_new(op);
	if (!n)
		return -ENOMEM;
	if (tw != tr && tw != AVRO_UNION && tr != AVRO_UNION)
		c->r->promoted++;
	switch (op) {
	case R_FIXED: n->size = (int)avro_schema_fixed_size(w); break;
	case R_ENUM: err = compile_enum(c, w, r, n); break;
	case R_ARRAY:
		err = compile(c, avro_schema_array_items(w), avro_schema_array_items(r), depth + 1,
			      &n->child);
		break;
	case R_MAP:
		err = compile(c, avro_schema_map_values(w), avro_schema_map_values(r), depth + 1,
			      &n->child);
		break;
	case R_RECORD: err = compile_record(c, w, r, depth, n); break;
	case R_WUNION: err = compile_wunion(c, w, r, depth, n); break;
	case R_TOUNION: {
		int size = (int)avro_schema_union_size(r);
		n->index = -1;
		for (int pass = 0; pass < 2 && n->index < 0; pass++)
			for (int k = 0; k < size && n->index < 0; k++)
				if (matches(w, deref(avro_schema_union_branch(r, k)), pass == 0))
					n->index = k;
		err = n->index < 0 ? refuse(c, "written as %s, which the reader's union lacks",
					    type_name(w))
				   : compile(c, w, avro_schema_union_branch(r, n->index), depth + 1,
					     &n->child);
		break;
	}
	default: break;
	}
	if (err) {
		node_free(n);
		return err;
	}
	*out = n;
	return 0;
}

/* A writer schema nested deeper than MAX_DEPTH (recursive) is refused
 * whole: the body walk would otherwise recurse as deep as a body asks,
 * through fields the reader skips. */
static bool too_deep(avro_schema_t s, int depth)
{
	s = deref(s);
	if (depth > MAX_DEPTH)
		return true;
	switch (avro_typeof(s)) {
	case AVRO_RECORD:
		for (size_t i = 0; i < avro_schema_record_size(s); i++)
			if (too_deep(avro_schema_record_field_get_by_index(s, (int)i), depth + 1))
				return true;
		return false;
	case AVRO_UNION:
		for (size_t i = 0; i < avro_schema_union_size(s); i++)
			if (too_deep(avro_schema_union_branch(s, (int)i), depth + 1))
				return true;
		return false;
	case AVRO_ARRAY: return too_deep(avro_schema_array_items(s), depth + 1);
	case AVRO_MAP: return too_deep(avro_schema_map_values(s), depth + 1);
	default: return false;
	}
}

static int same_form(avro_schema_t w, avro_schema_t r, bool *same)
{
	char *a = NULL, *b = NULL;
	int err = bd_wire_canonical_form(w, &a);
	if (!err)
		err = bd_wire_canonical_form(r, &b);
	*same = !err && strcmp(a, b) == 0;
	free(a);
	free(b);
	return err;
}

int bd_resolve_new(avro_schema_t writer, avro_schema_t reader, const char *reader_json,
		   bd_resolve_t **out, char *errstr, size_t errstr_size)
{
	compile_t c = {.errstr = errstr, .errstr_size = errstr_size};
	json_error_t jerr;
	int err = -ENOMEM;

	if (!(c.r = calloc(1, sizeof(*c.r))))
		goto fail;
	if (too_deep(writer, 0)) {
		err = refuse(&c, "the writer's schema is nested deeper than %d levels "
				 "(a recursive schema?)", MAX_DEPTH);
		goto fail;
	}
	if ((err = same_form(writer, reader, &c.r->identity)))
		goto fail;
	if (!(c.reader_json = json_loads(reader_json, 0, &jerr))) {
		snprintf(errstr, errstr_size, "reader schema: %s", jerr.text);
		err = BD_ESCHEMA;
		goto fail;
	}
	if ((err = compile(&c, writer, reader, 0, &c.r->root)))
		goto fail;
	json_decref(c.reader_json);
	c.r->writer = avro_schema_incref(writer);
	if (c.r->identity)
		snprintf(c.r->summary, sizeof(c.r->summary), "identical");
	else
		snprintf(c.r->summary, sizeof(c.r->summary),
			 "%d field(s) skipped, %d default(s) filled, %d promotion(s)", c.r->skipped,
			 c.r->defaulted, c.r->promoted);
	*out = c.r;
	return 0;
fail:
	if (err == -ENOMEM)
		snprintf(errstr, errstr_size, "out of memory");
	if (c.reader_json)
		json_decref(c.reader_json);
	bd_resolve_free(c.r);
	return err;
}

void bd_resolve_free(bd_resolve_t *r)
{
	if (!r)
		return;
	node_free(r->root);
	if (r->writer)
		avro_schema_decref(r->writer);
	free(r);
}

bool bd_resolve_identity(const bd_resolve_t *r)
{
	return r->identity;
}

const char *bd_resolve_summary(const bd_resolve_t *r)
{
	return r->summary;
}

/* ---- run ------------------------------------------------------------------ */

typedef struct run_s {
	const uint8_t *p, *end;
	bd_buf_t *out;
	const char *why;
	int fail; /* BD_EDECODE or BD_ESCHEMA */
} run_t;

static int stop(run_t *x, int err, const char *why)
{
	x->why = why;
	x->fail = err;
	return err;
}

static int get_long(run_t *x, int64_t *v)
{
	uint64_t u = 0;
	for (int i = 0; i < 10 && x->p < x->end; i++) {
		uint8_t b = *x->p++;
		u |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
			return 0;
		}
	}
	return stop(x, BD_EDECODE, "truncated varint");
}

static int take(run_t *x, int64_t n, const uint8_t **at)
{
	if (n < 0 || n > x->end - x->p)
		return stop(x, BD_EDECODE, "truncated");
	*at = x->p;
	x->p += n;
	return 0;
}

/* Skips one value of the writer's type @p s (a field the reader lacks). */
static int skip(run_t *x, avro_schema_t s)
{
	const uint8_t *at;
	int64_t n;
	int err;
	s = deref(s);
	switch (avro_typeof(s)) {
	case AVRO_NULL: return 0;
	case AVRO_BOOLEAN: return take(x, 1, &at);
	case AVRO_FLOAT: return take(x, 4, &at);
	case AVRO_DOUBLE: return take(x, 8, &at);
	case AVRO_INT32:
	case AVRO_INT64:
	case AVRO_ENUM: return get_long(x, &n);
	case AVRO_FIXED: return take(x, (int64_t)avro_schema_fixed_size(s), &at);
	case AVRO_STRING:
	case AVRO_BYTES: return (err = get_long(x, &n)) ? err : take(x, n, &at);
	case AVRO_UNION:
		if ((err = get_long(x, &n)))
			return err;
		if (n < 0 || (size_t)n >= avro_schema_union_size(s))
			return stop(x, BD_EDECODE, "union branch out of range");
		return skip(x, avro_schema_union_branch(s, (int)n));
	case AVRO_RECORD:
		for (size_t i = 0; i < avro_schema_record_size(s); i++)
			if ((err = skip(x, avro_schema_record_field_get_by_index(s, (int)i))))
				return err;
		return 0;
	case AVRO_ARRAY:
	case AVRO_MAP:
		for (;;) {
			if ((err = get_long(x, &n)))
				return err;
			if (n == 0)
				return 0;
			if (n < 0) {
				/* walked item by item, as bd_wire_body_check did:
				 * a block's size is not trusted */
				int64_t size;
				if (n == INT64_MIN)
					return stop(x, BD_EDECODE, "block count out of range");
				n = -n;
				if ((err = get_long(x, &size)))
					return err;
			}
			if (n > x->end - x->p)
				return stop(x, BD_EDECODE, "block count beyond the message");
			for (int64_t i = 0; i < n; i++) {
				int64_t klen;
				if (avro_typeof(s) == AVRO_MAP &&
				    ((err = get_long(x, &klen)) || (err = take(x, klen, &at))))
					return err;
				if ((err = skip(x, avro_typeof(s) == AVRO_MAP ? avro_schema_map_values(s)
									      : avro_schema_array_items(s))))
					return err;
			}
		}
	default: return stop(x, BD_EDECODE, "unsupported type");
	}
}

static int run(run_t *x, const rnode_t *n);

/* Arrays and maps: one block out per block in, counts positive. */
static int run_blocks(run_t *x, const rnode_t *n)
{
	int64_t count, size;
	const uint8_t *at;
	int err;
	for (;;) {
		if ((err = get_long(x, &count)))
			return err;
		if (count == 0)
			return put_long(x->out, 0);
		if (count < 0) {
			if (count == INT64_MIN)
				return stop(x, BD_EDECODE, "block count out of range");
			count = -count;
			if ((err = get_long(x, &size)))
				return err;
		}
		if (count > x->end - x->p)
			return stop(x, BD_EDECODE, "block count beyond the message");
		if ((err = put_long(x->out, count)))
			return err;
		for (int64_t i = 0; i < count; i++) {
			if (n->op == R_MAP) {
				int64_t klen;
				if ((err = get_long(x, &klen)) || (err = take(x, klen, &at)) ||
				    (err = put_long(x->out, klen)) || (err = put(x->out, at, (size_t)klen)))
					return err;
			}
			if ((err = run(x, n->child)))
				return err;
		}
	}
}

static int run_record(run_t *x, const rnode_t *n)
{
	/* where each writer field starts and ends */
	const uint8_t *stack[2 * 32], **pos = stack;
	int err = 0;
	if (n->nw > 32 && !(pos = malloc(2 * (size_t)n->nw * sizeof(*pos))))
		return -ENOMEM;
	for (int i = 0; i < n->nw && !err; i++) {
		pos[2 * i] = x->p;
		err = skip(x, n->wtypes[i]);
		pos[2 * i + 1] = x->p;
	}
	const uint8_t *after = x->p, *end = x->end;
	for (int j = 0; j < n->nr && !err; j++) {
		if (n->from[j] < 0) {
			err = put(x->out, n->defaults[j].data, n->defaults[j].len);
			continue;
		}
		x->p = pos[2 * n->from[j]];
		x->end = pos[2 * n->from[j] + 1];
		err = run(x, n->kids[j]);
		x->end = end;
	}
	x->p = after;
	if (pos != stack)
		free(pos);
	return err;
}

static int run(run_t *x, const rnode_t *n)
{
	const uint8_t *at;
	int64_t v;
	int err;
	switch (n->op) {
	case R_NULL: return 0;
	case R_BOOL: return (err = take(x, 1, &at)) ? err : put(x->out, at, 1);
	case R_VARINT: return (err = get_long(x, &v)) ? err : put_long(x->out, v);
	case R_VARINT_FLOAT: return (err = get_long(x, &v)) ? err : put_float(x->out, (float)v);
	case R_VARINT_DOUBLE: return (err = get_long(x, &v)) ? err : put_double(x->out, (double)v);
	case R_FLOAT: return (err = take(x, 4, &at)) ? err : put(x->out, at, 4);
	case R_DOUBLE: return (err = take(x, 8, &at)) ? err : put(x->out, at, 8);
	case R_FLOAT_DOUBLE: {
		float f;
		uint32_t u = 0;
		if ((err = take(x, 4, &at)))
			return err;
		for (int i = 0; i < 4; i++)
			u |= (uint32_t)at[i] << (8 * i);
		memcpy(&f, &u, 4);
		return put_double(x->out, (double)f);
	}
	case R_BYTES:
		if ((err = get_long(x, &v)) || (err = take(x, v, &at)) || (err = put_long(x->out, v)))
			return err;
		return put(x->out, at, (size_t)v);
	case R_FIXED: return (err = take(x, n->size, &at)) ? err : put(x->out, at, (size_t)n->size);
	case R_ENUM: {
		if ((err = get_long(x, &v)))
			return err;
		if (v < 0 || v >= n->nw)
			return stop(x, BD_EDECODE, "enum symbol out of range");
		int k = n->map[v] >= 0 ? n->map[v] : n->default_sym;
		return k < 0 ? stop(x, BD_ESCHEMA, "an enum symbol the reader's schema lacks")
			     : put_long(x->out, k);
	}
	case R_ARRAY:
	case R_MAP: return run_blocks(x, n);
	case R_RECORD: return run_record(x, n);
	case R_TOUNION: return (err = put_long(x->out, n->index)) ? err : run(x, n->child);
	case R_WUNION:
		if ((err = get_long(x, &v)))
			return err;
		if (v < 0 || v >= n->nw)
			return stop(x, BD_EDECODE, "union branch out of range");
		if (n->kids[v]->op == R_FAIL)
			return stop(x, BD_ESCHEMA, n->kids[v]->why);
		if (n->map[v] >= 0 && (err = put_long(x->out, n->map[v])))
			return err;
		return run(x, n->kids[v]);
	case R_FAIL: return stop(x, BD_ESCHEMA, n->why);
	}
	return stop(x, BD_EDECODE, "unknown node");
}

int bd_resolve_body(const bd_resolve_t *r, const void *body, size_t len, bd_buf_t *out,
		    char *errstr, size_t errstr_size)
{
	run_t x = {.p = body, .end = (const uint8_t *)body + len, .out = out};
	out->len = 0;
	int err = run(&x, r->root);
	if (!err && x.p != x.end)
		err = stop(&x, BD_EDECODE, "trailing bytes");
	if (err == -ENOMEM)
		snprintf(errstr, errstr_size, "out of memory");
	else if (err)
		snprintf(errstr, errstr_size, "%s", x.why ? x.why : "does not resolve");
	return err;
}
