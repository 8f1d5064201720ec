/* bounds.c and the campaign fields behind it: the bounds derived from the
 * treatments' nominal costs and overridden per campaign, the check of one
 * outcome, the winsorised cell (one extreme outcome among many moves the
 * estimate by a bounded amount), and campaign records from before the
 * bounds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/policy/bounds.h"
#include "budgetd/policy/campaign.h"
#include "budgetd/base/config.h"
#include "budgetd/policy/estimate.h"
#include "budgetd/state/stats.h"

static bd_config_t cfg;
static char err[512];

/* A campaign of treatments costing 0, 2 and 5, created by a command. */
static void upsert(bd_campaigns_t *cs, bd_control_command_t *cmd)
{
	bd_campaign_t *changed;
	int effect;
	cmd->command_id = "c1";
	cmd->campaign_id = "camp";
	cmd->action = BD_ACTION_UPSERT_CAMPAIGN;
	assert_int_equal(bd_campaigns_apply(cs, cmd, 0.1, &effect, &changed, err, sizeof(err)), 0);
}

static bd_control_command_t create_cmd(void)
{
	return (bd_control_command_t){
		.has_treatments = true,
		.n_treatments = 3,
		.treatments = {{0, "control", 0}, {1, "coupon 2", 2}, {2, "coupon 5", 5}},
	};
}

static void test_defaults(void **state)
{
	bd_campaigns_t cs = {0};
	bd_control_command_t cmd = create_cmd();
	bd_bounds_t b;
	(void)state;
	upsert(&cs, &cmd);
	assert_true(isnan(cs.v[0].max_value) && isnan(cs.v[0].max_cost) &&
		    isnan(cs.v[0].winsor_value));
	bd_bounds_of(&cs.v[0], &cfg, &b);
	assert_true(b.max_value == 1e9);	  /* outcome.max.value */
	assert_true(b.max_cost == 50);	  /* 10 x the largest nominal cost */
	assert_true(b.winsor_value == 5000); /* 1000 x the largest nominal cost */
	assert_int_equal(b.max_orders, 1000);

	/* every treatment free: only cost 0 is plausible, and no value cap
	 * below the value bound (there is no cost to scale it by) */
	cs.v[0].nominal_cost[1] = cs.v[0].nominal_cost[2] = 0;
	bd_bounds_of(&cs.v[0], &cfg, &b);
	assert_true(b.max_cost == 0 && b.winsor_value == 1e9);
	assert_int_equal(bd_bounds_check(&b, "camp", 1, 3, 0, NAN, err, sizeof(err)), BD_BOUNDS_OK);
	assert_int_equal(bd_bounds_check(&b, "camp", 1, 3, 0.01, NAN, err, sizeof(err)),
			 BD_BOUNDS_COST);

	/* a nominal cost near DBL_MAX: the derived bound stays where sums of
	 * squares are finite */
	cs.v[0].nominal_cost[2] = 1e300;
	bd_bounds_of(&cs.v[0], &cfg, &b);
	assert_true(b.max_cost == BD_OUTCOME_BOUND_MAX && b.winsor_value == 1e9);

	/* the factors are settings */
	cs.v[0].nominal_cost[2] = 5;
	assert_int_equal(bd_config_set(&cfg, "outcome.max.cost.factor", "2", err, sizeof(err)), 0);
	assert_int_equal(bd_config_set(&cfg, "outcome.winsor.value.factor", "0", err, sizeof(err)),
			 0);
	bd_bounds_of(&cs.v[0], &cfg, &b);
	assert_true(b.max_cost == 10 && b.winsor_value == 1e9);
	assert_int_equal(bd_config_set(&cfg, "outcome.max.cost.factor", "10", err, sizeof(err)), 0);
	assert_int_equal(bd_config_set(&cfg, "outcome.winsor.value.factor", "1000", err,
				       sizeof(err)), 0);
	bd_campaigns_free(&cs);
}

static void test_per_campaign(void **state)
{
	bd_campaigns_t cs = {0};
	bd_control_command_t cmd = create_cmd();
	bd_bounds_t b;
	(void)state;
	cmd.has_max_value = cmd.has_max_cost = cmd.has_winsor_value = true;
	cmd.max_value = 100;
	cmd.max_cost = 7;
	cmd.winsor_value = 1e6; /* above max_value: max_value caps it */
	upsert(&cs, &cmd);
	bd_bounds_of(&cs.v[0], &cfg, &b);
	assert_true(b.max_value == 100 && b.max_cost == 7 && b.winsor_value == 100);

	/* an update without bounds keeps them; one with a bound sets it */
	bd_control_command_t upd = {.has_budget = true, .daily_budget = 5};
	upsert(&cs, &upd);
	bd_bounds_of(&cs.v[0], &cfg, &b);
	assert_true(b.max_value == 100 && b.max_cost == 7 && b.winsor_value == 100);
	upd = (bd_control_command_t){.has_winsor_value = true, .winsor_value = 40};
	upsert(&cs, &upd);
	bd_bounds_of(&cs.v[0], &cfg, &b);
	assert_true(b.max_value == 100 && b.max_cost == 7 && b.winsor_value == 40);

	/* the detail names where the bound comes from */
	assert_int_equal(bd_bounds_check(&b, "camp", 1, 101, 0, NAN, err, sizeof(err)),
			 BD_BOUNDS_VALUE);
	assert_string_equal(err, "value 101 is above 100, the most campaign 'camp' accepts "
				 "(its max_value)");
	assert_int_equal(bd_bounds_check(&b, "camp", 1, 100, 7.5, NAN, err, sizeof(err)),
			 BD_BOUNDS_COST);
	assert_string_equal(err, "cost 7.5 is above 7, the most campaign 'camp' accepts "
				 "(its max_cost): not counted in spend");
	bd_campaigns_free(&cs);
}

/* The bounds of a campaign of treatments costing 0, 2 and 5 without its
 * own. */
static void default_bounds(bd_bounds_t *b)
{
	bd_campaign_t c = {.n_treatments = 3, .nominal_cost = {0, 2, 5},
			   .max_value = NAN, .max_cost = NAN, .winsor_value = NAN};
	bd_bounds_of(&c, &cfg, b);
}

static void test_check(void **state)
{
	bd_bounds_t b;
	(void)state;
	default_bounds(&b);
	/* at the bounds: plausible */
	assert_int_equal(bd_bounds_check(&b, "c", 1000, 1e9, 50, NAN, err, sizeof(err)),
			 BD_BOUNDS_OK);
	assert_int_equal(bd_bounds_check(&b, "c", 0, 0, 0, 1e-9, err, sizeof(err)), BD_BOUNDS_OK);
	assert_int_equal(bd_bounds_check(&b, "c", 1, 1e308, 0, NAN, err, sizeof(err)),
			 BD_BOUNDS_VALUE);
	assert_string_equal(err, "value 1e+308 is above 1e+09, the most campaign 'c' accepts "
				 "(outcome.max.value)");
	assert_int_equal(bd_bounds_check(&b, "c", 1, 3, 1e308, NAN, err, sizeof(err)),
			 BD_BOUNDS_COST);
	assert_string_equal(err, "cost 1e+308 is above 50, the most campaign 'c' accepts "
				 "(outcome.max.cost.factor 10 x its largest nominal cost 5): not "
				 "counted in spend");
	assert_int_equal(bd_bounds_check(&b, "c", 1001, 3, 1, NAN, err, sizeof(err)),
			 BD_BOUNDS_ORDERS);
	assert_string_equal(err, "orders 1001 is above outcome.max.orders 1000");
	assert_int_equal(bd_bounds_check(&b, "c", 1, 3, 1, 1e-10, err, sizeof(err)),
			 BD_BOUNDS_PROPENSITY);
	/* NaN never passes (the decoder refuses it first, but still) */
	assert_int_equal(bd_bounds_check(&b, "c", 1, NAN, 1, NAN, err, sizeof(err)),
			 BD_BOUNDS_VALUE);
	assert_int_equal(bd_bounds_check(&b, "c", 1, 1, NAN, NAN, err, sizeof(err)),
			 BD_BOUNDS_COST);

	/* no campaign: only the arithmetic bounds */
	bd_bounds_of(NULL, &cfg, &b);
	assert_true(b.max_value == 1e9 && b.max_cost == BD_OUTCOME_BOUND_MAX &&
		    b.winsor_value == 1e9);
}

/* The estimate of value per request of one cell: n outcomes of value v
 * with propensity p, plus @p extra outcomes of value @p x (winsorised by
 * @p b when not NULL). */
static double cell_mean(int n, double v, double p, int extra, double x, const bd_bounds_t *b)
{
	bd_estimate_t e;
	bd_estimate_params_t ep = {.now_ms = 100 * 3600000LL, .mature_before_hour = 50,
				   .today_first_hour = 96, .sec_of_day = 4 * 3600.0,
				   .min_matured = 1};
	double x1[BD_STAT__COUNT], ex[BD_STAT__COUNT];
	assert_int_equal(bd_estimate_init(&e, 1, 2), 0);
	bd_stats_exposure_vector(ex, p);
	for (int i = 0; i < n + extra; i++) {
		double val = i < n ? v : b ? bd_bounds_winsor(b, x) : x;
		bd_stats_outcome_vector(x1, val, 1, 1, p, 0);
		for (int s = 0; s < BD_STAT__COUNT; s++)
			x1[s] += ex[s];
		bd_estimate_add_cell(&e, &ep, 0, 1, 10 + i % 24, x1, BD_STAT__COUNT);
	}
	bd_estimate_finish(&e, &ep);
	double r = e.r[1];
	bd_estimate_free(&e);
	return r;
}

static void test_winsorised_cell(void **state)
{
	bd_bounds_t b;
	(void)state;
	default_bounds(&b);
	const int n = 1000;
	const double base = cell_mean(n, 40, 0.25, 0, 0, NULL);
	assert_true(fabs(base - 40) < 1e-9);
	/* one outcome at the value bound among a thousand: it moves the mean
	 * by at most winsor_value x its weight share, 1/(n+1) here, however
	 * large it is; unwinsorised it would move it by a million */
	double moved = cell_mean(n, 40, 0.25, 1, 1e9, &b) - base;
	assert_true(moved > 0 && moved <= b.winsor_value / (n + 1) + 1e-9);
	assert_true(cell_mean(n, 40, 0.25, 1, 1e9, NULL) - base > 1e5);
	/* an honest outcome below the cap counts whole */
	assert_true(fabs(cell_mean(n, 40, 0.25, 1, 4000, &b) - cell_mean(n, 40, 0.25, 1, 4000,
									    NULL)) < 1e-9);
	assert_true(bd_bounds_winsor(&b, 4000) == 4000 && bd_bounds_winsor(&b, 6000) == 5000);
}

/* A record written before the bounds (version 1: the same fields without
 * them, i.e. a prefix of today's layout) still loads, bounds unset. */
static void test_record_v1(void **state)
{
	bd_campaigns_t cs = {0};
	bd_control_command_t cmd = create_cmd();
	bd_campaign_t back;
	uint8_t buf[sizeof(bd_campaign_t) + 8];
	(void)state;
	cmd.has_budget = true;
	cmd.daily_budget = 123;
	cmd.has_max_cost = true;
	cmd.max_cost = 9;
	upsert(&cs, &cmd);
	int len = bd_campaign_pack(&cs.v[0], buf, sizeof(buf));
	assert_int_equal(len, 1 + (int)sizeof(bd_campaign_t));
	assert_int_equal(bd_campaign_unpack(&back, buf, (size_t)len), 0);
	assert_true(back.max_cost == 9 && isnan(back.max_value) && back.daily_budget == 123);

	buf[0] = 1;
	assert_int_equal(bd_campaign_unpack(&back, buf, 1 + offsetof(bd_campaign_t, max_value)), 0);
	assert_string_equal(back.id, "camp");
	assert_true(back.daily_budget == 123 && back.n_treatments == 3 &&
		    back.nominal_cost[2] == 5);
	assert_string_equal(back.treatment_name[1], "coupon 2");
	assert_true(isnan(back.max_value) && isnan(back.max_cost) && isnan(back.winsor_value));
	/* neither version at the other's length */
	assert_int_equal(bd_campaign_unpack(&back, buf, (size_t)len), BD_EDECODE);
	buf[0] = 2;
	assert_int_equal(bd_campaign_unpack(&back, buf, 1 + offsetof(bd_campaign_t, max_value)),
			 BD_EDECODE);
	bd_campaigns_free(&cs);
}

static int setup(void **state)
{
	(void)state;
	return bd_config_init(&cfg);
}

static int teardown(void **state)
{
	(void)state;
	bd_config_free(&cfg);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_per_campaign),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_winsorised_cell),
		cmocka_unit_test(test_record_v1),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
