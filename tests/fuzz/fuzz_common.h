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

#include "budgetd/messages.h"

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

/* Reads every byte of a decoded string, so ASan checks it is in bounds
 * and NUL-terminated; the sum keeps the compiler from dropping the loop. */
static inline size_t fuzz_touch_str(const char *s)
{
	size_t n = 0;
	while (s && s[n])
		n++;
	return n;
}

#endif
