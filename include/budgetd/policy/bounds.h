/**
 * @file bounds.h
 * @brief What one outcome may plausibly report for its campaign, and how
 *        much of its value counts in the statistics.
 *
 * Hard bounds: an outcome beyond one is dead-lettered as `implausible`
 * (nothing of it is counted: not its cost in spend, not its value):
 *  - value <= max_value: the campaign's own (UPSERT_CAMPAIGN max_value),
 *    else outcome.max.value;
 *  - cost <= max_cost: the campaign's own, else outcome.max.cost.factor x
 *    the largest nominal cost of its treatments (0 when they all cost 0:
 *    then only cost 0 is plausible), at most BD_OUTCOME_BOUND_MAX;
 *  - orders <= outcome.max.orders;
 *  - historical samples: propensity >= BD_BOUNDS_MIN_PROPENSITY.
 * Bounded so, every sum the statistics keep (of value, value^2, value /
 * propensity, ...) stays finite over any number of outcomes.
 *
 * Soft cap (winsorising): in the cell statistics behind the estimates
 * (and the sample log they are rebuilt from) a value counts at most
 * winsor_value: the campaign's own, else outcome.winsor.value.factor x the
 * largest nominal cost, never above max_value (no cap below max_value when
 * the factor is 0 or every treatment costs 0).  So one outcome moves a
 * cell's mean by at most winsor_value x its weight share, however large it
 * claims to be.  Cost is not winsorised: the estimates of cost must agree
 * with the spend they forecast, and spend counts every accepted cost whole.
 *
 * @locality any thread; pure.
 */
#ifndef BUDGETD_BOUNDS_H
#define BUDGETD_BOUNDS_H

#include <stddef.h>
#include <stdint.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/base/common.h"
#include "budgetd/base/config.h"

/** Historical samples with a smaller logged propensity are implausible:
 *  1 / propensity would outweigh a billion other samples. */
#define BD_BOUNDS_MIN_PROPENSITY 1e-9

typedef struct bd_bounds_s {
	double max_value, max_cost, winsor_value;
	int32_t max_orders;
	/* where the bounds come from, for the dead letter's detail (formatted
	 * only then: the bounds are taken for every outcome) */
	int own_value, own_cost; /**< the campaign's own; -1: no campaign */
	double cost_factor, largest_nominal;
} bd_bounds_t;

/** What violated a bound (bd_bounds_check). */
typedef enum bd_bounds_fail {
	BD_BOUNDS_OK = 0,
	BD_BOUNDS_VALUE,
	BD_BOUNDS_COST,
	BD_BOUNDS_ORDERS,
	BD_BOUNDS_PROPENSITY,
} bd_bounds_fail_t;

/** The bounds of campaign @p c under @p cfg's defaults.  @p c NULL: no
 *  campaign to derive from; only outcome.max.value and
 *  BD_OUTCOME_BOUND_MAX apply. */
void bd_bounds_of(const bd_campaign_t *c, const bd_config_t *cfg, bd_bounds_t *b);

/**
 * Checks one outcome against @p b (@p propensity: a historical sample's
 * logged propensity, NAN for a live outcome).  @returns BD_BOUNDS_OK, or
 * what failed first (value, cost, orders, propensity) with a sentence for
 * the dead letter in @p errstr.
 */
bd_bounds_fail_t bd_bounds_check(const bd_bounds_t *b, const char *campaign, int32_t orders,
				 double value, double cost, double propensity, char *errstr,
				 size_t errstr_size);

/** The value an outcome of @p value counts as in the statistics. */
static inline double bd_bounds_winsor(const bd_bounds_t *b, double value)
{
	return value > b->winsor_value ? b->winsor_value : value;
}

#endif
