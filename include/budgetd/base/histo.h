/**
 * @file histo.h
 * @brief A latency histogram with Prometheus' fixed buckets: one thread
 *        observes (relaxed atomics), any thread reads and merges.
 * @locality bd_histo_observe: the owning thread; the rest: any thread.
 */
#ifndef BUDGETD_HISTO_H
#define BUDGETD_HISTO_H

#include <stdatomic.h>
#include <stdint.h>

#include "budgetd/base/sbuf.h"

/** Upper bounds in seconds, +Inf implied after the last. */
#define BD_HISTO_BUCKETS 14
extern const double bd_histo_bounds[BD_HISTO_BUCKETS];
/** The longest duration bd_histo_observe() adds to the sum (about 31
 *  years); a longer one (+Inf too) counts in the +Inf bucket with this. */
#define BD_HISTO_MAX_S 1e9

typedef struct bd_histo_s {
	_Atomic uint64_t bucket[BD_HISTO_BUCKETS + 1]; /**< not cumulative */
	_Atomic uint64_t sum_us;
} bd_histo_t;

/** A plain copy for merging and rendering. */
typedef struct bd_histo_snap_s {
	uint64_t bucket[BD_HISTO_BUCKETS + 1];
	double sum_s;
} bd_histo_snap_t;

void bd_histo_observe(bd_histo_t *h, double seconds);
/** Adds @p h's counts to @p snap. */
void bd_histo_add_to(const bd_histo_t *h, bd_histo_snap_t *snap);
/** Renders @p name (with optional extra labels "k=\"v\"" or NULL) in the
 *  Prometheus text format: _bucket (cumulative), _sum, _count. */
void bd_histo_render(const bd_histo_snap_t *s, const char *name, const char *labels,
		     bd_sbuf_t *out);

#endif
