#include "budgetd/serve/counters.h"

#include <stdio.h>

void bd_worker_counters_add(bd_worker_counters_t *sum, const bd_worker_counters_t *c)
{
	sum->features += c->features;
	sum->outcomes += c->outcomes;
	sum->historical += c->historical;
	sum->decisions += c->decisions;
	sum->republished += c->republished;
	sum->dead_letters += c->dead_letters;
	sum->batches += c->batches;
	sum->duplicates += c->duplicates;
	sum->winsorized += c->winsorized;
	sum->clog_records += c->clog_records;
	sum->clog_bytes += c->clog_bytes;
	sum->clog_failures += c->clog_failures;
	for (int r = 0; r < BD_DEAD__COUNT; r++)
		sum->dead[r] += c->dead[r];
	for (int in = 0; in < 2; in++) {
		sum->input_resets[in] += c->input_resets[in];
		sum->input_skipped[in] += c->input_skipped[in];
	}
}

int bd_worker_counters_format(const bd_worker_counters_t *c, char *buf, size_t size)
{
	size_t n;
	int k = snprintf(buf, size,
			 "features=%llu outcomes=%llu historical=%llu decisions=%llu "
			 "republished=%llu duplicates=%llu batches=%llu; dead letters:",
			 (unsigned long long)c->features, (unsigned long long)c->outcomes,
			 (unsigned long long)c->historical, (unsigned long long)c->decisions,
			 (unsigned long long)c->republished, (unsigned long long)c->duplicates,
			 (unsigned long long)c->batches);
	for (int r = 0; r < BD_DEAD__COUNT && k >= 0; r++) {
		n = (size_t)k < size ? size - (size_t)k : 0;
		k += snprintf(n ? buf + k : NULL, n, " %s=%llu",
			      bd_dead_reason_name((bd_dead_reason_t)r),
			      (unsigned long long)c->dead[r]);
	}
	if (k >= 0) {
		n = (size_t)k < size ? size - (size_t)k : 0;
		k += snprintf(n ? buf + k : NULL, n, " total=%llu",
			      (unsigned long long)c->dead_letters);
	}
	return k;
}
