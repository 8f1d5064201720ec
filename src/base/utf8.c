#include "budgetd/base/utf8.h"

#include <stdio.h>
#include <string.h>

static bool cont(uint8_t b)
{
	return (b & 0xc0) == 0x80;
}

/* RFC 3629, section 4: the second byte's range depends on the lead byte
 * (that rules out overlongs, surrogates and code points above U+10FFFF). */
size_t bd_utf8_char(const void *s, size_t n, uint32_t *cp)
{
	const uint8_t *p = s;
	uint8_t lo = 0x80, hi = 0xbf;
	size_t len;
	uint32_t c;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		if (cp)
			*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (p[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (p[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* 80..c1 (continuation, overlong lead), f5..ff */
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	c = c << 6 | (p[1] & 0x3f);
	for (size_t i = 2; i < len; i++) {
		if (!cont(p[i]))
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (cp)
		*cp = c;
	return len;
}

bool bd_utf8_valid(const void *s, size_t n, size_t *bad)
{
	const uint8_t *p = s;
	size_t i = 0;

	while (i < n) {
		size_t l;
		if (p[i] < 0x80) { /* the common case, one byte at a time */
			i++;
			continue;
		}
		if ((l = bd_utf8_char(p + i, n - i, NULL)) == 0) {
			if (bad)
				*bad = i;
			return false;
		}
		i += l;
	}
	return true;
}

size_t bd_utf8_cut(const char *s, size_t n, size_t max)
{
	size_t i = 0;
	while (i < n) {
		size_t l = bd_utf8_char(s + i, n - i, NULL);
		if (l == 0)
			l = 1;
		if (i + l > max)
			break;
		i += l;
	}
	return i;
}

size_t bd_utf8_copy(char *dst, size_t size, const char *src)
{
	if (size == 0)
		return 0;
	size_t n = bd_utf8_cut(src, strlen(src), size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* One piece of a quotation: the character at s as it is, or \xNN for a
 * control character or a byte that is not UTF-8.  @returns the input
 * bytes it stands for. */
static size_t quote_piece(const char *s, size_t n, char piece[5], size_t *plen)
{
	uint32_t cp;
	size_t l = bd_utf8_char(s, n, &cp);
	if (l == 0 || cp < 0x20 || cp == 0x7f) {
		snprintf(piece, 5, "\\x%02x", (unsigned char)s[0]);
		*plen = 4;
		return 1;
	}
	memcpy(piece, s, l);
	*plen = l;
	return l;
}

const char *bd_utf8_quote(char *dst, size_t size, const char *s)
{
	const size_t n = strlen(s);
	size_t i = 0, o = 0, full = 0;
	char piece[5];
	size_t pl;

	/* the whole quotation's length decides whether "..." is needed */
	for (size_t j = 0; j < n;) {
		j += quote_piece(s + j, n - j, piece, &pl);
		full += pl;
	}
	const size_t room = full < size ? size - 1 : size - 4;
	while (i < n) {
		size_t used = quote_piece(s + i, n - i, piece, &pl);
		if (o + pl > room)
			break;
		memcpy(dst + o, piece, pl);
		o += pl;
		i += used;
	}
	if (i < n) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}
