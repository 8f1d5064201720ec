/**
 * @file counters.h
 * @brief The workers' counters as a plain value: what bd_worker_counters()
 *        reads, what the daemon sums and logs, and what report.h renders.
 *
 * Apart from worker.h so that the code that only reads or shows counters
 * (report.h, the daemon's log line) needs neither the worker nor its
 * health, snapshot and store headers.
 *
 * @locality any thread; a value type and pure functions.
 */
#ifndef BUDGETD_COUNTERS_H
#define BUDGETD_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "budgetd/wire/messages.h" /* BD_DEAD__COUNT; no Avro (kinds.h) */

/** A worker's counters (bd_worker_counters() reads them from the worker's
 *  relaxed atomics).  dead_letters is the sum of dead[], one counter per reason (bd_dead_reason_t);
 *  winsorized counts outcomes whose value the statistics capped (bounds.h).
 *  input_resets and input_skipped are by input (0 features, 1 outcomes):
 *  offset resets (the broker no longer had the offset to read next) and
 *  the offsets they skipped. */
typedef struct bd_worker_counters_s {
	uint64_t features, outcomes, historical, decisions, republished,
		dead_letters, batches, duplicates, winsorized;
	uint64_t dead[BD_DEAD__COUNT];
	uint64_t input_resets[2], input_skipped[2];
	/* changelog.enabled: records produced to topic.changelog, their
	 * bytes, and records lost (not produced, or not delivered) */
	uint64_t clog_records, clog_bytes, clog_failures;
} bd_worker_counters_t;

/** Adds @p c to @p sum, counter by counter (several workers, the control
 *  consumer's dead letters, workers already joined). */
void bd_worker_counters_add(bd_worker_counters_t *sum, const bd_worker_counters_t *c);
/**
 * Formats @p c on one line, "features=.. outcomes=.. ...; dead letters:
 * wire=.. schema=.. ... total=..", every reason always present (zeros too)
 * so that a reader need not know which reasons exist.
 * @returns the length snprintf would have written.
 */
int bd_worker_counters_format(const bd_worker_counters_t *c, char *buf, size_t size);

#endif
