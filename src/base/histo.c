#include "budgetd/base/histo.h"

#include <math.h>

const double bd_histo_bounds[BD_HISTO_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
						  0.05,	 0.1,	 0.25,	0.5,  1,
						  2.5,	 5,	 10,	30};

void bd_histo_observe(bd_histo_t *h, double seconds)
{
	int i = 0;
	if (!(seconds >= 0)) /* clock steps, NaN */
		seconds = 0;
	/* a producer's clock decades off, +Inf: counted in +Inf, and capped so
	 * that llround() stays in range and the sum can never wrap */
	if (seconds > BD_HISTO_MAX_S)
		seconds = BD_HISTO_MAX_S;
	while (i < BD_HISTO_BUCKETS && seconds > bd_histo_bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)llround(seconds * 1e6),
				  memory_order_relaxed);
}

void bd_histo_add_to(const bd_histo_t *h, bd_histo_snap_t *snap)
{
	for (int i = 0; i <= BD_HISTO_BUCKETS; i++)
		snap->bucket[i] += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
	snap->sum_s += (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
}

void bd_histo_render(const bd_histo_snap_t *s, const char *name, const char *labels,
		     bd_sbuf_t *out)
{
	uint64_t cum = 0;
	const char *sep = labels && *labels ? "," : "";
	labels = labels ? labels : "";
	for (int i = 0; i <= BD_HISTO_BUCKETS; i++) {
		cum += s->bucket[i];
		if (i < BD_HISTO_BUCKETS)
			bd_sbuf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
				       bd_histo_bounds[i], (unsigned long long)cum);
		else
			bd_sbuf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
				       (unsigned long long)cum);
	}
	bd_sbuf_printf(out, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels,
		       *labels ? "}" : "", s->sum_s);
	bd_sbuf_printf(out, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
		       *labels ? "}" : "", (unsigned long long)cum);
}
