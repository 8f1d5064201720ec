/**
 * @file status_html.h
 * @brief The status page (/status, /): src/status.html compiled into the
 *        binary by src/status_embed.sh.  One self-contained HTML document
 *        (inline CSS and JS, no external resources) that draws /api/status.
 */
#ifndef BUDGETD_STATUS_HTML_H
#define BUDGETD_STATUS_HTML_H

#include <stddef.h>

/** The page, NUL-terminated (the NUL is not counted in the length). */
extern const char bd_status_html[];
extern const size_t bd_status_html_len;

#endif
