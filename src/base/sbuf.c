#include "budgetd/base/sbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/utf8.h"

static int reserve(bd_sbuf_t *b, size_t extra)
{
	if (b->oom)
		return -1;
	if (b->len + extra + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->oom = 1;
		return -1;
	}
	b->s = s;
	b->cap = cap;
	return 0;
}

void bd_sbuf_printf(bd_sbuf_t *b, const char *fmt, ...)
{
	va_list ap;
	char small[256];
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) != 0)
		return;
	if ((size_t)n < sizeof(small)) {
		memcpy(b->s + b->len, small, (size_t)n + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

static void put(bd_sbuf_t *b, const char *s, size_t n)
{
	if (reserve(b, n) != 0)
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void bd_sbuf_cat(bd_sbuf_t *b, const char *s)
{
	put(b, s, strlen(s));
}

/* U+FFFD, what a byte that is not UTF-8 becomes in every rendering */
static const char replacement[] = "\xef\xbf\xbd";

/* The next character of @p s: its length, 1 for a byte that is not part
 * of a valid character (*bad set). */
static size_t next_char(const char *s, int *bad)
{
	size_t l = bd_utf8_char(s, strnlen(s, 4), NULL);
	*bad = l == 0;
	return l ? l : 1;
}

void bd_sbuf_json_str(bd_sbuf_t *b, const char *s)
{
	put(b, "\"", 1);
	while (*s) {
		unsigned char c = (unsigned char)*s;
		int bad;
		size_t l = next_char(s, &bad);
		if (bad) {
			put(b, replacement, 3);
		} else if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			put(b, e, 2);
		} else if (c < 0x20 || c == 0x7f) {
			bd_sbuf_printf(b, "\\u%04x", c);
		} else {
			put(b, s, l);
		}
		s += l;
	}
	put(b, "\"", 1);
}

void bd_sbuf_json_num(bd_sbuf_t *b, double v)
{
	if (isfinite(v))
		bd_sbuf_printf(b, "%.17g", v);
	else
		put(b, "null", 4);
}

void bd_sbuf_json_kv_str(bd_sbuf_t *b, const char *k, const char *v, int comma)
{
	bd_sbuf_printf(b, "%s\"%s\":", comma ? "," : "", k);
	bd_sbuf_json_str(b, v);
}

void bd_sbuf_json_kv_num(bd_sbuf_t *b, const char *k, double v, int comma)
{
	bd_sbuf_printf(b, "%s\"%s\":", comma ? "," : "", k);
	bd_sbuf_json_num(b, v);
}

void bd_sbuf_prom_label(bd_sbuf_t *b, const char *s)
{
	while (*s) {
		int bad;
		size_t l = next_char(s, &bad);
		if (bad)
			put(b, replacement, 3);
		else if (*s == '\\' || *s == '"')
			put(b, (const char[]){'\\', *s}, 2);
		else if (*s == '\n')
			put(b, "\\n", 2);
		else
			put(b, s, l);
		s += l;
	}
}

void bd_sbuf_prom_num(bd_sbuf_t *b, double v)
{
	if (isnan(v))
		put(b, "NaN", 3);
	else if (isinf(v))
		bd_sbuf_cat(b, v > 0 ? "+Inf" : "-Inf");
	else
		bd_sbuf_printf(b, "%.17g", v);
}

void bd_sbuf_html(bd_sbuf_t *b, const char *s)
{
	while (*s) {
		unsigned char c = (unsigned char)*s;
		int bad;
		size_t l = next_char(s, &bad);
		/* control characters other than white space are not allowed
		 * in HTML text, not even as character references */
		if (bad || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
			put(b, replacement, 3);
			s += l;
			continue;
		}
		switch (c) {
		case '&': bd_sbuf_cat(b, "&amp;"); break;
		case '<': bd_sbuf_cat(b, "&lt;"); break;
		case '>': bd_sbuf_cat(b, "&gt;"); break;
		case '"': bd_sbuf_cat(b, "&quot;"); break;
		case '\'': bd_sbuf_cat(b, "&#39;"); break;
		default: put(b, s, l);
		}
		s += l;
	}
}

void bd_sbuf_text(bd_sbuf_t *b, const char *s)
{
	while (*s) {
		int bad;
		size_t l = next_char(s, &bad);
		put(b, bad ? replacement : s, bad ? 3 : l);
		s += l;
	}
}

void bd_sbuf_cell(bd_sbuf_t *b, const char *s, size_t width, int left)
{
	bd_sbuf_t t = BD_SBUF_INIT;
	bd_sbuf_text(&t, s);
	/* bd_sbuf_text left only valid UTF-8: count characters, not bytes, so
	 * a row with "é" or "€" lines up with one without */
	size_t n = 0, chars = 0;
	for (size_t len; t.s && n < t.len && chars < width; n += len, chars++)
		if (!(len = bd_utf8_char(t.s + n, t.len - n, NULL)))
			len = 1;
	if (t.oom)
		b->oom = 1;
	for (size_t i = chars; !left && i < width; i++)
		put(b, " ", 1);
	if (n)
		put(b, t.s, n);
	for (size_t i = chars; left && i < width; i++)
		put(b, " ", 1);
	bd_sbuf_free(&t);
}

int bd_sbuf_failed(const bd_sbuf_t *b)
{
	return b->oom;
}

char *bd_sbuf_take(bd_sbuf_t *b, size_t *len)
{
	char *s = b->s;
	if (len)
		*len = b->len;
	if (!s && !b->oom)
		s = calloc(1, 1);
	b->s = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
	return s;
}

void bd_sbuf_free(bd_sbuf_t *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
