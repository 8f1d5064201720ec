/* utf8.c and the renderers of sbuf.c on arbitrary bytes: the validator
 * agrees with an independent one (fuzz_common.h), and whatever goes in,
 * what they write is strict UTF-8 within its bounds. */
#include <string.h>

#include "budgetd/base/sbuf.h"
#include "budgetd/base/utf8.h"
#include "fuzz_common.h"

static void check_str(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max || !fuzz_utf8_ok((const uint8_t *)s, n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t bad = 0;
	bool ok = bd_utf8_valid(data, size, &bad);
	char *s, q[BD_UTF8_QUOTE_ID], small[8];
	bd_sbuf_t b = BD_SBUF_INIT;

	if (ok != (fuzz_utf8_ok(data, size) != 0))
		abort();
	/* the bytes before the first bad one are valid, and it is not */
	if (!ok && (bad >= size || !fuzz_utf8_ok(data, bad) ||
		    bd_utf8_char(data + bad, size - bad, NULL) != 0))
		abort();
	if (!(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0'; /* a C string: up to the first NUL */
	check_str(bd_utf8_quote(q, sizeof(q), s), sizeof(q) - 1);
	check_str(bd_utf8_quote(small, sizeof(small), s), sizeof(small) - 1);
	size_t max = size ? data[0] : 0, n = strlen(s);
	size_t cut = bd_utf8_cut(s, n, max);
	if (cut > max || cut > n || (fuzz_utf8_ok((const uint8_t *)s, n) &&
				     !fuzz_utf8_ok((const uint8_t *)s, cut)))
		abort();
	bd_utf8_copy(small, sizeof(small), s);
	if (fuzz_utf8_ok((const uint8_t *)s, n))
		check_str(small, sizeof(small) - 1);
	bd_sbuf_json_str(&b, s);
	bd_sbuf_prom_label(&b, s);
	bd_sbuf_html(&b, s);
	bd_sbuf_text(&b, s);
	bd_sbuf_cell(&b, s, max % 40, max & 1);
	if (!bd_sbuf_failed(&b) && b.s && !fuzz_utf8_ok((const uint8_t *)b.s, b.len))
		abort();
	bd_sbuf_free(&b);
	free(s);
	return 0;
}
