/* sbuf.c: the escaping behind /metrics, the JSON API and the status page.
 * Each renderer is checked byte for byte: a quote that is not escaped
 * breaks a document, a byte that is not UTF-8 makes it undecodable, and a
 * control character is refused by JSON and HTML parsers.  test_utf8.c
 * checks that every renderer writes UTF-8; this file checks what they
 * write. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/base/sbuf.h"
#include "budgetd/base/utf8.h"

/* realloc fails on demand (linked with -Wl,--wrap=realloc): the sticky
 * out-of-memory contract is tested against a real failed allocation. */
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static int fail_realloc;
void *__wrap_realloc(void *p, size_t n)
{
	return fail_realloc ? NULL : __real_realloc(p, n);
}

typedef void (*render_fn)(bd_sbuf_t *, const char *);

typedef struct {
	render_fn fn;
	const char *name, *in, *want;
} case_t;

#define R(fn, in, want) {fn, #fn, in, want}
#define FFFD "\xef\xbf\xbd"

static const case_t cases[] = {
	/* JSON: quote, backslash, every control character as \u00XX (none
	 * of the short forms, one spelling for all), DEL too; "/" and
	 * non-ASCII characters as they are */
	R(bd_sbuf_json_str, "", "\"\""),
	R(bd_sbuf_json_str, "say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\""),
	R(bd_sbuf_json_str, "\t\n\r\b\f", "\"\\u0009\\u000a\\u000d\\u0008\\u000c\""),
	R(bd_sbuf_json_str, "\x1f\x7f", "\"\\u001f\\u007f\""),
	R(bd_sbuf_json_str, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x9f",
	  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x9f\""),
	/* invalid UTF-8: one U+FFFD per byte that starts no character */
	R(bd_sbuf_json_str, "r\xff\xfe", "\"r" FFFD FFFD "\""),
	R(bd_sbuf_json_str, "\xc0\xaf", "\"" FFFD FFFD "\""),         /* overlong "/" */
	R(bd_sbuf_json_str, "\xed\xa0\x80", "\"" FFFD FFFD FFFD "\""), /* surrogate */
	R(bd_sbuf_json_str, "end\xe2\x82", "\"end" FFFD FFFD "\""),   /* cut at the end */
	R(bd_sbuf_json_str, "\xe2\"", "\"" FFFD "\\\"\""), /* a quote is never swallowed */
	R(bd_sbuf_json_str, "\xc3\\", "\"" FFFD "\\\\\""),
	/* Prometheus label values: only \, " and line feed are escaped */
	R(bd_sbuf_prom_label, "a\\b\"c\nd", "a\\\\b\\\"c\\nd"),
	R(bd_sbuf_prom_label, "tab\tcr\r", "tab\tcr\r"),
	R(bd_sbuf_prom_label, "t\xf5\x80\x80\x80", "t" FFFD FFFD FFFD FFFD),
	R(bd_sbuf_prom_label, "\xe2\"", FFFD "\\\""),
	/* HTML: the five characters that can end text or an attribute */
	R(bd_sbuf_html, "<script>alert('x')</script>",
	  "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
	R(bd_sbuf_html, "a=\"1\" & b", "a=&quot;1&quot; &amp; b"),
	R(bd_sbuf_html, "&amp;", "&amp;amp;"), /* escaped again, not trusted */
	/* control characters: white space kept, the rest (DEL too) U+FFFD,
	 * never a character reference (&#1; is a parse error as well) */
	R(bd_sbuf_html, "\t\n\r", "\t\n\r"),
	R(bd_sbuf_html, "\x01\x08\x0b\x0c\x1b\x7f", FFFD FFFD FFFD FFFD FFFD FFFD),
	R(bd_sbuf_html, "\xe2<", FFFD "&lt;"), /* a cut character hides no "<" */
	R(bd_sbuf_html, "\xf0\x9f\x8e\x9f", "\xf0\x9f\x8e\x9f"),
	/* text: nothing escaped, only the replacement */
	R(bd_sbuf_text, "<&\"\\\n\x01>", "<&\"\\\n\x01>"),
	R(bd_sbuf_text, "\xc3(", FFFD "("),
};

static void test_escapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bd_sbuf_t b = BD_SBUF_INIT;
		cases[i].fn(&b, cases[i].in);
		size_t len = 0;
		char *got = bd_sbuf_take(&b, &len);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: %s(\"%s\") wrote \"%s\", expected \"%s\"", i,
				 cases[i].name, cases[i].in, got, cases[i].want);
		assert_int_equal(len, strlen(cases[i].want));
		free(got);
	}
}

/* Every byte value after every byte value: JSON output holds no raw
 * control character and every quote inside is escaped; HTML output holds
 * none of < > & " ' raw nor a control character other than white space;
 * both are UTF-8. */
static void test_every_byte_pair(void **state)
{
	(void)state;
	for (unsigned x = 1; x < 256; x++)
		for (unsigned y = 1; y < 256; y++) {
			const char in[3] = {(char)x, (char)y, 0};
			bd_sbuf_t j = BD_SBUF_INIT, h = BD_SBUF_INIT;
			bd_sbuf_json_str(&j, in);
			bd_sbuf_html(&h, in);
			assert_true(bd_utf8_valid(j.s, j.len, NULL));
			assert_true(bd_utf8_valid(h.s, h.len, NULL));
			assert_true(j.len >= 2 && j.s[0] == '"' && j.s[j.len - 1] == '"');
			for (size_t i = 1; i + 1 < j.len; i++) {
				unsigned char c = (unsigned char)j.s[i];
				assert_true(c >= 0x20 && c != 0x7f);
				if (c == '\\')
					i++; /* the escaped character */
				else
					assert_true(c != '"');
			}
			for (size_t i = 0; i < h.len; i++) {
				unsigned char c = (unsigned char)h.s[i];
				assert_null(strchr("<>\"'", c));
				assert_true(c >= 0x20 || c == '\t' || c == '\n' || c == '\r');
				assert_true(c != 0x7f);
			}
			bd_sbuf_free(&j);
			bd_sbuf_free(&h);
		}
}

static void test_numbers(void **state)
{
	bd_sbuf_t b = BD_SBUF_INIT;
	(void)state;
	bd_sbuf_json_num(&b, 0.1);
	bd_sbuf_cat(&b, " ");
	bd_sbuf_json_num(&b, -2.5e-300);
	bd_sbuf_cat(&b, " ");
	bd_sbuf_json_num(&b, NAN);
	bd_sbuf_cat(&b, " ");
	bd_sbuf_json_num(&b, INFINITY);
	bd_sbuf_cat(&b, " ");
	bd_sbuf_json_num(&b, -INFINITY);
	/* %.17g: read back, the same double */
	assert_string_equal(b.s, "0.10000000000000001 -2.5e-300 null null null");
	assert_true(strtod(b.s, NULL) == 0.1);
	bd_sbuf_free(&b);
	bd_sbuf_prom_num(&b, NAN);
	bd_sbuf_cat(&b, " ");
	bd_sbuf_prom_num(&b, INFINITY);
	bd_sbuf_cat(&b, " ");
	bd_sbuf_prom_num(&b, -INFINITY);
	bd_sbuf_cat(&b, " ");
	bd_sbuf_prom_num(&b, 42);
	assert_string_equal(b.s, "NaN +Inf -Inf 42");
	bd_sbuf_free(&b);
}

static void test_cells(void **state)
{
	bd_sbuf_t b = BD_SBUF_INIT;
	(void)state;
	bd_sbuf_cell(&b, "ab", 5, 1);
	bd_sbuf_cat(&b, "|");
	bd_sbuf_cell(&b, "ab", 5, 0);
	bd_sbuf_cat(&b, "|");
	bd_sbuf_cell(&b, "abcdefgh", 5, 1); /* cut, no padding */
	bd_sbuf_cat(&b, "|");
	/* "€€" is 6 bytes but 2 characters: padded to 5 characters; cut
	 * after 2 characters of "€€€" */
	bd_sbuf_cell(&b, "\xe2\x82\xac\xe2\x82\xac", 5, 1);
	bd_sbuf_cat(&b, "|");
	bd_sbuf_cell(&b, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 2, 1);
	bd_sbuf_cat(&b, "|");
	/* a bad byte becomes U+FFFD (one character) before the cut */
	bd_sbuf_cell(&b, "\xff\xff", 4, 0);
	bd_sbuf_cat(&b, "|");
	bd_sbuf_cell(&b, "", 2, 1);
	assert_string_equal(b.s, "ab   |   ab|abcde|\xe2\x82\xac\xe2\x82\xac   |"
				 "\xe2\x82\xac\xe2\x82\xac|  " FFFD FFFD "|  ");
	bd_sbuf_free(&b);
}

static void test_growth_and_take(void **state)
{
	bd_sbuf_t b = BD_SBUF_INIT;
	char big[1000];
	size_t len = 99;
	(void)state;
	/* empty: take hands out "", not NULL */
	char *s = bd_sbuf_take(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	/* printf longer than its 256-byte first try, then many small appends */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	bd_sbuf_printf(&b, "<%s>", big);
	for (int i = 0; i < 5000; i++)
		bd_sbuf_printf(&b, "%d,", i % 10);
	assert_int_equal(b.len, 1001 + 10000);
	assert_int_equal(strlen(b.s), b.len);
	assert_memory_equal(b.s + 1, big, sizeof(big) - 1);
	assert_string_equal(b.s + b.len - 4, "8,9,");
	s = bd_sbuf_take(&b, &len);
	assert_int_equal(len, 11001);
	assert_null(b.s);
	assert_int_equal(b.len, 0);
	free(s);
}

/* One failed allocation and the buffer stays failed: later appends that
 * would fit do nothing, so a half-rendered document is never served. */
static void test_out_of_memory_is_sticky(void **state)
{
	bd_sbuf_t b = BD_SBUF_INIT;
	char big[600];
	(void)state;
	bd_sbuf_cat(&b, "head ");
	assert_false(bd_sbuf_failed(&b));
	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fail_realloc = 1;
	bd_sbuf_cat(&b, big); /* needs more than the first 256 bytes */
	fail_realloc = 0;
	assert_true(bd_sbuf_failed(&b));
	bd_sbuf_cat(&b, "x");
	bd_sbuf_json_str(&b, "y");
	bd_sbuf_printf(&b, "%d", 7);
	assert_true(bd_sbuf_failed(&b));
	assert_int_equal(b.len, 5);
	assert_string_equal(b.s, "head ");
	/* a cell renders through its own buffer: its failure reaches b */
	bd_sbuf_t c = BD_SBUF_INIT;
	fail_realloc = 1;
	bd_sbuf_cell(&c, "abc", 3, 1);
	fail_realloc = 0;
	assert_true(bd_sbuf_failed(&c));
	bd_sbuf_free(&c);
	assert_false(bd_sbuf_failed(&c)); /* free resets */
	bd_sbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_every_byte_pair),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_cells),
		cmocka_unit_test(test_growth_and_take),
		cmocka_unit_test(test_out_of_memory_is_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
