/**
 * @file utf8.h
 * @brief Strict UTF-8 (RFC 3629): validation, and cutting or quoting text
 *        without ever producing a byte sequence that is not UTF-8.
 *
 * Strict means: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF, no lead byte without its continuation bytes.  Every
 * string budgetd reads from a message is checked (wire.c), and everything
 * it writes that may quote input (dead-letter details, JSON, Prometheus
 * labels, HTML, text tables) goes through these functions, so every output
 * decodes.
 *
 * @locality any thread; pure functions.
 */
#ifndef BUDGETD_UTF8_H
#define BUDGETD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * The character at @p s (@p n bytes available).
 * @returns its length in bytes (1..4) with the code point in @p cp (may be
 *          NULL), or 0 when the bytes at @p s do not start a valid
 *          character (or @p n is 0).
 */
size_t bd_utf8_char(const void *s, size_t n, uint32_t *cp);

/**
 * Whether @p n bytes at @p s are valid UTF-8.  When not, @p bad (may be
 * NULL) gets the offset of the first byte that does not start a valid
 * character.
 */
bool bd_utf8_valid(const void *s, size_t n, size_t *bad);

/**
 * The length of the longest prefix of @p s (@p n bytes) that is at most
 * @p max bytes long and ends on a character boundary (a byte that is not
 * part of a valid character counts as one).
 */
size_t bd_utf8_cut(const char *s, size_t n, size_t max);

/**
 * Copies @p src into @p dst (@p size bytes, NUL-terminated), cut on a
 * character boundary when it does not fit.  @returns the bytes copied.
 */
size_t bd_utf8_copy(char *dst, size_t size, const char *src);

/**
 * Writes @p s into @p dst (@p size bytes, at least 8) for quoting in a
 * human-readable message: valid characters as they are, except control
 * characters, and bytes that are not UTF-8, which become \\xNN; cut on a
 * character boundary with "..." when it does not fit.  The result is
 * always valid UTF-8 (and printable ASCII if @p s is ASCII).
 * @returns @p dst, so that it can be an argument of printf.
 */
const char *bd_utf8_quote(char *dst, size_t size, const char *s);

/** Room for bd_utf8_quote() of an id in a dead-letter detail: ids longer
 *  than about 60 bytes are cut. */
#define BD_UTF8_QUOTE_ID 64

#endif
