/* utf8.c (strict UTF-8) and the renderers of sbuf.c that must never write
 * anything else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/base/sbuf.h"
#include "budgetd/base/utf8.h"

typedef struct {
	const char *s;
	size_t n, bad; /* bad: offset of the first bad byte, n = valid */
} utf8_case_t;

#define OK(lit) {lit, sizeof(lit) - 1, sizeof(lit) - 1}
#define BAD(lit, at) {lit, sizeof(lit) - 1, at}

/* RFC 3629 section 4 and the boundaries of its table */
static const utf8_case_t cases[] = {
	OK(""), OK("abc"), OK("\x7f"),
	OK("\xc2\x80"), OK("\xdf\xbf"),                 /* U+0080, U+07FF */
	OK("\xe0\xa0\x80"), OK("\xef\xbf\xbf"),         /* U+0800, U+FFFF */
	OK("\xed\x9f\xbf"), OK("\xee\x80\x80"),         /* U+D7FF, U+E000 */
	OK("\xf0\x90\x80\x80"), OK("\xf4\x8f\xbf\xbf"), /* U+10000, U+10FFFF */
	OK("r\xc3\xa9q-\xe2\x82\xac"),                  /* "réq-€" */
	BAD("\xff", 0), BAD("\xfe", 0), BAD("r\xff\xfe", 1),
	BAD("\x80", 0), BAD("a\xbf", 1),                /* lone continuation */
	BAD("\xc0\x80", 0), BAD("\xc1\xbf", 0),         /* overlong 2-byte */
	BAD("\xe0\x80\x80", 0), BAD("\xe0\x9f\xbf", 0), /* overlong 3-byte */
	BAD("\xf0\x80\x80\x80", 0), BAD("\xf0\x8f\xbf\xbf", 0), /* overlong 4 */
	BAD("\xed\xa0\x80", 0), BAD("\xed\xbf\xbf", 0), /* surrogates */
	BAD("\xf4\x90\x80\x80", 0), BAD("\xf5\x80\x80\x80", 0), /* > U+10FFFF */
	BAD("ab\xc3", 2), BAD("\xe2\x82", 0), BAD("\xf0\x90\x80", 0), /* cut */
	BAD("\xc3(", 0), BAD("n\xe9x", 1),             /* no continuation */
	BAD("\xe2\x82\xac\xe2(\xac", 3),
};

static void test_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t bad = 999;
		bool ok = bd_utf8_valid(cases[i].s, cases[i].n, &bad);
		if (cases[i].bad == cases[i].n) {
			assert_true(ok);
		} else {
			assert_false(ok);
			assert_int_equal(bad, cases[i].bad);
		}
	}
}

static void test_char(void **state)
{
	uint32_t cp = 0;
	(void)state;
	assert_int_equal(bd_utf8_char("\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(bd_utf8_char("\xf4\x8f\xbf\xbf", 4, &cp), 4);
	assert_int_equal(cp, 0x10ffff);
	assert_int_equal(bd_utf8_char("\xe2\x82\xac", 2, &cp), 0); /* n too short */
	assert_int_equal(bd_utf8_char("", 0, &cp), 0);
}

/* Every code point round-trips through an encoder written here, and every
 * 1- and 2-byte string is judged as a direct reading of RFC 3629 would. */
static size_t encode_cp(uint32_t c, uint8_t *o)
{
	if (c < 0x80) {
		o[0] = (uint8_t)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (uint8_t)(0xc0 | c >> 6);
		o[1] = (uint8_t)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (uint8_t)(0xe0 | c >> 12);
		o[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		o[2] = (uint8_t)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (uint8_t)(0xf0 | c >> 18);
	o[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
	o[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
	o[3] = (uint8_t)(0x80 | (c & 0x3f));
	return 4;
}

static void test_every_code_point(void **state)
{
	uint8_t b[4];
	(void)state;
	for (uint32_t c = 0; c <= 0x10ffff; c++) {
		size_t n = encode_cp(c, b);
		uint32_t back = 0;
		size_t l = bd_utf8_char(b, n, &back);
		if (c >= 0xd800 && c <= 0xdfff) {
			assert_int_equal(l, 0); /* surrogates are not characters */
		} else {
			assert_int_equal(l, n);
			assert_int_equal(back, c);
		}
	}
	/* two bytes: valid exactly when both are ASCII or they are one
	 * 2-byte character C2..DF 80..BF */
	for (unsigned x = 0; x < 256; x++)
		for (unsigned y = 0; y < 256; y++) {
			uint8_t s[2] = {(uint8_t)x, (uint8_t)y};
			bool want = (x < 0x80 && y < 0x80) ||
				    (x >= 0xc2 && x <= 0xdf && y >= 0x80 && y <= 0xbf);
			assert_int_equal(bd_utf8_valid(s, 2, NULL), want);
		}
}

static void test_cut_and_copy(void **state)
{
	char buf[8];
	(void)state;
	/* "aé€" = 61 c3a9 e282ac: cuts only between characters */
	const char *s = "a\xc3\xa9\xe2\x82\xac";
	assert_int_equal(bd_utf8_cut(s, 6, 6), 6);
	assert_int_equal(bd_utf8_cut(s, 6, 5), 3);
	assert_int_equal(bd_utf8_cut(s, 6, 2), 1);
	assert_int_equal(bd_utf8_cut(s, 6, 0), 0);
	assert_int_equal(bd_utf8_copy(buf, 5, s), 3);
	assert_string_equal(buf, "a\xc3\xa9");
	assert_int_equal(bd_utf8_copy(buf, sizeof(buf), s), 6);
	assert_string_equal(buf, s);
	/* a byte that is not UTF-8 counts as one */
	assert_int_equal(bd_utf8_cut("\xff\xff", 2, 1), 1);
}

static void test_quote(void **state)
{
	char q[16], big[BD_UTF8_QUOTE_ID];
	char id[200];
	(void)state;
	assert_string_equal(bd_utf8_quote(q, sizeof(q), "camp-1"), "camp-1");
	assert_string_equal(bd_utf8_quote(q, sizeof(q), "r\xff\xfe"), "r\\xff\\xfe");
	assert_string_equal(bd_utf8_quote(q, sizeof(q), "a\nb\x7f"), "a\\x0ab\\x7f");
	assert_string_equal(bd_utf8_quote(q, sizeof(q), "\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
	/* exactly fits: no "..." */
	assert_string_equal(bd_utf8_quote(q, sizeof(q), "0123456789abcde"), "0123456789abcde");
	/* too long: cut on a character boundary, "..." appended */
	assert_string_equal(bd_utf8_quote(q, sizeof(q), "0123456789abcdef"), "0123456789ab...");
	assert_string_equal(bd_utf8_quote(q, sizeof(q), "0123456789a\xe2\x82\xac\xe2\x82\xac"),
			    "0123456789a...");
	assert_string_equal(bd_utf8_quote(q, sizeof(q), "01234567\xff\xff"), "01234567\\xff...");
	/* the dead letters' use: any id, cut or not, quotes as valid UTF-8 */
	for (size_t i = 0; i + 1 < sizeof(id); i++)
		id[i] = (char)(i % 3 == 0 ? 0xe2 : i % 3 == 1 ? 0x82 : 0xac);
	id[sizeof(id) - 1] = '\0';
	bd_utf8_quote(big, sizeof(big), id);
	assert_true(bd_utf8_valid(big, strlen(big), NULL));
	assert_true(strlen(big) < sizeof(big));
	assert_non_null(strstr(big, "..."));
	for (size_t i = 0; i + 1 < sizeof(id); i++)
		id[i] = (char)(0x80 + i % 128); /* nothing but bad bytes */
	bd_utf8_quote(big, sizeof(big), id);
	assert_true(bd_utf8_valid(big, strlen(big), NULL));
}

/* the renderers: whatever they are given, their output is UTF-8 */
static void test_sbuf_renders_utf8(void **state)
{
	static const char *inputs[] = {
		"plain", "quote\" back\\slash", "line\nfeed\ttab\r\x01\x7f",
		"r\xff\xfe", "\xed\xa0\x80", "\xf4\x90\x80\x80", "cut\xe2\x82", "\xc0\x80",
		"\xe2\x82\xac ok", "<b>&'x'</b>",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		bd_sbuf_t b = BD_SBUF_INIT;
		bd_sbuf_json_str(&b, inputs[i]);
		bd_sbuf_prom_label(&b, inputs[i]);
		bd_sbuf_html(&b, inputs[i]);
		bd_sbuf_text(&b, inputs[i]);
		bd_sbuf_cell(&b, inputs[i], 4, 1);
		bd_sbuf_cell(&b, inputs[i], 3, 0);
		assert_false(bd_sbuf_failed(&b));
		assert_true(bd_utf8_valid(b.s, b.len, NULL));
		bd_sbuf_free(&b);
	}
}

static char *render(void (*f)(bd_sbuf_t *, const char *), const char *s)
{
	bd_sbuf_t b = BD_SBUF_INIT;
	f(&b, s);
	return bd_sbuf_take(&b, NULL);
}

static void expect(void (*f)(bd_sbuf_t *, const char *), const char *in, const char *want)
{
	char *got = render(f, in);
	assert_string_equal(got, want);
	free(got);
}

static void test_sbuf_escapes(void **state)
{
	(void)state;
	expect(bd_sbuf_json_str, "a\"b\\c\nd\x01", "\"a\\\"b\\\\c\\u000ad\\u0001\"");
	expect(bd_sbuf_json_str, "r\xff\xc3\xa9", "\"r\xef\xbf\xbd\xc3\xa9\"");
	expect(bd_sbuf_prom_label, "a\"b\\c\nd", "a\\\"b\\\\c\\nd");
	expect(bd_sbuf_prom_label, "x\xed\xa0\x80", "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect(bd_sbuf_html, "<a href='x'>&\"</a>", "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
	expect(bd_sbuf_html, "a\x01\tb\xff", "a\xef\xbf\xbd\tb\xef\xbf\xbd");
	expect(bd_sbuf_text, "\xe2\x82\xac\xe2\x82", "\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd");
	bd_sbuf_t b = BD_SBUF_INIT;
	bd_sbuf_cell(&b, "\xc3\xa9t\xc3\xa9-long", 4, 1); /* "été-long" cut to 4 characters */
	bd_sbuf_cat(&b, "|");
	bd_sbuf_cell(&b, "ab", 4, 0);
	assert_string_equal(b.s, "\xc3\xa9t\xc3\xa9-|  ab");
	bd_sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_char),
		cmocka_unit_test(test_every_code_point),
		cmocka_unit_test(test_cut_and_copy),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_sbuf_renders_utf8),
		cmocka_unit_test(test_sbuf_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
