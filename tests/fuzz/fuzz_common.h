/*
 * Shared by the libFuzzer targets: one codec per process, created on first
 * use with budgetd's default Confluent schema ids (1..7, as in config.c), so
 * both framings reach the Avro body.  The daemon also keeps one codec per
 * thread for its whole life, so reusing it across inputs is the real path:
 * state left behind by a bad message would show up in the next one.
 */
#ifndef BUDGETD_FUZZ_COMMON_H
#define BUDGETD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "budgetd/wire/messages.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bd_codec_t *fuzz__codec;

static inline void fuzz__free_codec(void)
{
	bd_codec_free(fuzz__codec);
	fuzz__codec = NULL;
}

static inline bd_codec_t *fuzz_codec(void)
{
	if (!fuzz__codec) {
		uint32_t ids[BD_MSG__COUNT];
		char errstr[256];
		for (int k = 0; k < BD_MSG__COUNT; k++)
			ids[k] = (uint32_t)k + 1;
		if (bd_codec_new(ids, BD_WIRE_CONFLUENT, &fuzz__codec, errstr,
				 sizeof(errstr)) != 0)
			abort();
		/* freed at exit so that LeakSanitizer sees only per-input leaks */
		atexit(fuzz__free_codec);
	}
	return fuzz__codec;
}

/* Strict UTF-8 (RFC 3629), written apart from utf8.c as its oracle: decode
 * each sequence by its lead byte's bit pattern, then demand the shortest
 * form, no surrogate and nothing above U+10FFFF. */
static inline int fuzz_utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t c = p[i], min;
		size_t len;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, c &= 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, c &= 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, c &= 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Reads every byte of a decoded string, so ASan checks it is in bounds
 * and NUL-terminated, and aborts unless it is strict UTF-8: the decoders
 * promise that of every string they return (messages.h).  The sum keeps
 * the compiler from dropping the loop. */
static inline size_t fuzz_touch_str(const char *s)
{
	size_t n = 0;
	while (s && s[n])
		n++;
	if (s && !fuzz_utf8_ok((const uint8_t *)s, n))
		abort();
	return n;
}

#endif
