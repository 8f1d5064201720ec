/**
 * @file sbuf.h
 * @brief A growable text buffer for rendered documents (metrics, JSON,
 *        HTML), with escaping for each of those formats.
 *
 * Every function that renders a string given to it writes valid UTF-8
 * whatever the string holds: a byte that is not part of a valid character
 * becomes U+FFFD (utf8.h), so one bad id can never make a whole document
 * undecodable.
 * Out of memory is sticky: every append after a failed one does nothing
 * and bd_sbuf_failed() says so, so a renderer checks once at the end
 * instead of after every line.
 *
 * @locality any thread; one buffer belongs to one thread at a time.
 */
#ifndef BUDGETD_SBUF_H
#define BUDGETD_SBUF_H

#include <stddef.h>

#include "budgetd/base/common.h"

typedef struct bd_sbuf_s {
	char *s; /**< NUL-terminated when len > 0 (may be NULL when empty) */
	size_t len, cap;
	int oom;
} bd_sbuf_t;

#define BD_SBUF_INIT {NULL, 0, 0, 0}

void bd_sbuf_printf(bd_sbuf_t *b, const char *fmt, ...) BD_PRINTF(2, 3);
void bd_sbuf_cat(bd_sbuf_t *b, const char *s);
/** @p s as a JSON string, quotes included (", \\ and control characters
 *  escaped). */
void bd_sbuf_json_str(bd_sbuf_t *b, const char *s);
/** A JSON number; non-finite values become null. */
void bd_sbuf_json_num(bd_sbuf_t *b, double v);
/** A JSON member "k": v (v a string / a number as bd_sbuf_json_num),
 *  after a comma when @p comma; @p k is written as is (a literal). */
void bd_sbuf_json_kv_str(bd_sbuf_t *b, const char *k, const char *v, int comma);
void bd_sbuf_json_kv_num(bd_sbuf_t *b, const char *k, double v, int comma);
/** @p s escaped for a Prometheus label value (\\, \", \n). */
void bd_sbuf_prom_label(bd_sbuf_t *b, const char *s);
/** A Prometheus sample value (NaN, +Inf and -Inf spelled as it wants). */
void bd_sbuf_prom_num(bd_sbuf_t *b, double v);
/** @p s escaped for HTML text and attribute values (control characters
 *  other than white space become U+FFFD too). */
void bd_sbuf_html(bd_sbuf_t *b, const char *s);
/** @p s as plain text (only the U+FFFD replacement). */
void bd_sbuf_text(bd_sbuf_t *b, const char *s);
/** @p s as a table cell @p width characters wide (code points, not bytes:
 *  a UTF-8 id lines up with an ASCII one), cut after @p width characters,
 *  padded with spaces on the right (@p left) or the left. */
void bd_sbuf_cell(bd_sbuf_t *b, const char *s, size_t width, int left);
/** 1 when an append ran out of memory. */
int bd_sbuf_failed(const bd_sbuf_t *b);
/** Hands the text to the caller (free() it); the buffer is empty after. */
char *bd_sbuf_take(bd_sbuf_t *b, size_t *len);
void bd_sbuf_free(bd_sbuf_t *b);

#endif
