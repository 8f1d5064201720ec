/**
 * @file bounds.c
 * @brief Plausible outcomes per campaign (see bounds.h).
 */
#include "budgetd/policy/bounds.h"

#include <math.h>
#include <stdio.h>

#include "budgetd/base/utf8.h"

static double largest_nominal(const bd_campaign_t *c)
{
	double m = 0;
	for (int j = 0; j < c->n_treatments; j++)
		m = fmax(m, c->nominal_cost[j]);
	return m;
}

void bd_bounds_of(const bd_campaign_t *c, const bd_config_t *cfg, bd_bounds_t *b)
{
	b->max_orders = cfg->outcome_max_orders;
	b->max_value = cfg->outcome_max_value;
	b->cost_factor = cfg->outcome_max_cost_factor;
	b->largest_nominal = 0;
	if (!c) {
		b->own_value = b->own_cost = -1;
		b->max_cost = BD_OUTCOME_BOUND_MAX;
		b->winsor_value = b->max_value;
		return;
	}
	double ref = b->largest_nominal = largest_nominal(c);
	if ((b->own_value = !isnan(c->max_value)))
		b->max_value = c->max_value;
	if ((b->own_cost = !isnan(c->max_cost)))
		b->max_cost = c->max_cost;
	else
		b->max_cost = fmin(cfg->outcome_max_cost_factor * ref, BD_OUTCOME_BOUND_MAX);
	/* the cap derives from the treatments' costs: value and cost are in
	 * the same currency, so the ratio holds in any of them */
	double w = b->max_value;
	if (!isnan(c->winsor_value))
		w = c->winsor_value;
	else if (cfg->outcome_winsor_value_factor > 0 && ref > 0)
		w = cfg->outcome_winsor_value_factor * ref;
	b->winsor_value = fmin(w, b->max_value);
}

bd_bounds_fail_t bd_bounds_check(const bd_bounds_t *b, const char *campaign, int32_t orders,
				 double value, double cost, double propensity, char *errstr,
				 size_t errstr_size)
{
	char from[96], q[BD_UTF8_QUOTE_ID];
	/* the campaign id may be an unknown one's, up to 1024 bytes: quoted
	 * so that the detail cannot cut a character */
	campaign = bd_utf8_quote(q, sizeof(q), campaign);
	if (!(value <= b->max_value)) {
		snprintf(errstr, errstr_size,
			 "value %g is above %g, the most campaign '%s' accepts (%s)", value,
			 b->max_value, campaign,
			 b->own_value > 0 ? "its max_value" : "outcome.max.value");
		return BD_BOUNDS_VALUE;
	}
	if (!(cost <= b->max_cost)) {
		if (b->own_cost > 0)
			snprintf(from, sizeof(from), "its max_cost");
		else if (b->own_cost < 0)
			snprintf(from, sizeof(from), "no campaign to derive it from");
		else
			snprintf(from, sizeof(from),
				 "outcome.max.cost.factor %g x its largest nominal cost %g",
				 b->cost_factor, b->largest_nominal);
		snprintf(errstr, errstr_size,
			 "cost %g is above %g, the most campaign '%s' accepts (%s): not counted "
			 "in spend",
			 cost, b->max_cost, campaign, from);
		return BD_BOUNDS_COST;
	}
	if (orders > b->max_orders) {
		snprintf(errstr, errstr_size, "orders %d is above outcome.max.orders %d", orders,
			 b->max_orders);
		return BD_BOUNDS_ORDERS;
	}
	if (propensity < BD_BOUNDS_MIN_PROPENSITY) {
		snprintf(errstr, errstr_size,
			 "propensity %g is below %g: its weight 1/propensity would swamp the "
			 "statistics",
			 propensity, BD_BOUNDS_MIN_PROPENSITY);
		return BD_BOUNDS_PROPENSITY;
	}
	return BD_BOUNDS_OK;
}
