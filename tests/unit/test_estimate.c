/* estimate.c: maturity, inverse-propensity weights, shrinkage, the traffic
 * profile and the pending cost. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/policy/estimate.h"
#include "budgetd/state/stats.h"

#define DAY 20000 /* day number */
#define H0 ((int64_t)DAY * 24)

static bd_estimate_params_t params_at(double hour_of_day)
{
	int64_t now = (int64_t)((DAY * 86400.0 + hour_of_day * 3600) * 1000);
	return (bd_estimate_params_t){
		.now_ms = now,
		.mature_before_hour = (now - 7200000) / 3600000,
		.today_first_hour = H0,
		.sec_of_day = hour_of_day * 3600,
		.shrinkage = 0,
		.min_matured = 10,
		.tail_s = 7200,
	};
}

/* n decisions with propensity p, each with value v and cost c. */
static void cell(double x[BD_STAT__COUNT], double n, double p, double v, double c)
{
	double o[BD_STAT__COUNT], e[BD_STAT__COUNT];
	memset(x, 0, sizeof(double) * BD_STAT__COUNT);
	bd_stats_exposure_vector(e, p);
	bd_stats_outcome_vector(o, v, c, v > 0, p, 0);
	for (int i = 0; i < BD_STAT__COUNT; i++)
		x[i] = n * (e[i] + o[i]);
}

/* One cluster, two treatments at noon: matured hours (value 10 and cost 1
 * per decision under treatment 1), and the last hour's decisions whose
 * outcomes mostly have not come (value 0 so far: they must not drag the
 * mean down). */
static void maturity_cells(bd_estimate_t *e, const bd_estimate_params_t *p)
{
	double x[BD_STAT__COUNT];
	assert_int_equal(bd_estimate_init(e, 1, 2), 0);
	cell(x, 100, 0.5, 10, 1);
	bd_estimate_add_cell(e, p, 0, 1, H0 + 8, x, BD_STAT__COUNT);
	cell(x, 100, 0.5, 0, 0);
	bd_estimate_add_cell(e, p, 0, 0, H0 + 8, x, BD_STAT__COUNT);
	cell(x, 100, 0.5, 0, 0);
	bd_estimate_add_cell(e, p, 0, 1, H0 + 11, x, BD_STAT__COUNT);
}

static void test_maturity(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	(void)state;
	maturity_cells(&e, &p);
	bd_estimate_finish(&e, &p);
	assert_false(e.immature);
	assert_true(fabs(e.r[1] - 10) < 1e-12 && fabs(e.c[1] - 1) < 1e-12);
	assert_true(e.matured == 200);
	/* today's unmatured decisions still owe their expected cost */
	assert_true(fabs(e.pending_cost - 100 * 1.0) < 1e-9);
	/* with a delay distribution (all cost within 10 minutes), only the
	 * part not arrived yet at the decisions' ages is still to come: ages
	 * 7.5, 22.5, 37.5, 52.5 minutes have 0.75, 1, 1, 1 of it in */
	double dl[BD_DELAY_BUCKETS] = {50};
	bd_estimate_add_delay(&e, dl, BD_DELAY_BUCKETS);
	assert_true(bd_estimate_arrived(&e, 300) == 0.5 && bd_estimate_arrived(&e, 3600) == 1);
	bd_estimate_finish(&e, &p);
	/* (Benktander: (1 - F) x (realised 0 + expected 100 x (1 - F))) */
	assert_true(fabs(e.pending_cost - (1 - 0.9375) * (0 + 100 * 1.0 * (1 - 0.9375))) < 1e-9);
	bd_estimate_free(&e);
}

/* The outcome clock (clock.h): decisions made after the latest outcome
 * that came in have nothing of their cost arrived, whatever the delay
 * distribution says of their event time (a backlog decided in one burst;
 * an outcome stream behind the requests). */
static void test_pending_outcome_clock(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double dl[BD_DELAY_BUCKETS] = {50};
	const double arrived_at_now = (1 - 0.9375) * (0 + 100 * 1.0 * (1 - 0.9375));
	(void)state;
	maturity_cells(&e, &p);
	bd_estimate_add_delay(&e, dl, BD_DELAY_BUCKETS); /* all within 10 minutes */
	/* outcomes in up to 11:00: the 11 o'clock hour owes all its cost */
	p.arrived_ms = p.now_ms - 3600000;
	bd_estimate_finish(&e, &p);
	if (fabs(e.pending_cost - 100) > 1e-9)
		fail_msg("pending with outcomes in up to 11:00: %.4f, want 100", e.pending_cost);
	/* up to 11:30: the first half of the hour's decisions are 0-30
	 * minutes old at the outcome clock, the second half not yet made */
	p.arrived_ms = p.now_ms - 1800000;
	bd_estimate_finish(&e, &p);
	assert_true(e.pending_cost > arrived_at_now + 1 && e.pending_cost < 100 - 1);
	/* caught up (or no outcome clock, or one ahead of now): as before */
	for (int i = 0; i < 3; i++) {
		p.arrived_ms = i == 0 ? p.now_ms : i == 1 ? 0 : p.now_ms + 3600000;
		bd_estimate_finish(&e, &p);
		assert_true(fabs(e.pending_cost - arrived_at_now) < 1e-9);
	}
	bd_estimate_free(&e);
}

/* Today's totals by treatment (the campaign's business gauges): today's
 * hours only, neither yesterday's nor historical samples (hour 0), and
 * unweighted (propensities and recency do not enter). */
static void test_day_totals(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	(void)state;
	p.halflife_h = 24;
	assert_int_equal(bd_estimate_init(&e, 2, 2), 0);
	cell(x, 100, 0.25, 10, 2); /* today, matured */
	bd_estimate_add_cell(&e, &p, 0, 1, H0 + 3, x, BD_STAT__COUNT);
	cell(x, 50, 0.5, 4, 1); /* today, young, another cluster */
	bd_estimate_add_cell(&e, &p, 1, 1, H0 + 11, x, BD_STAT__COUNT);
	cell(x, 70, 0.5, 0, 0);
	bd_estimate_add_cell(&e, &p, 1, 0, H0 + 11, x, BD_STAT__COUNT);
	cell(x, 999, 0.5, 5, 5); /* yesterday */
	bd_estimate_add_cell(&e, &p, 0, 1, H0 - 2, x, BD_STAT__COUNT);
	cell(x, 999, 0.5, 5, 5); /* a historical sample */
	bd_estimate_add_cell(&e, &p, 0, 1, 0, x, BD_STAT__COUNT);
	const double *t1 = e.today_by_t + BD_DAY__COUNT, *t0 = e.today_by_t;
	assert_true(t1[BD_DAY_DECISIONS] == 150 && t1[BD_DAY_OUTCOMES] == 150);
	assert_true(t1[BD_DAY_ORDERS] == 150);
	assert_true(t1[BD_DAY_VALUE] == 100 * 10 + 50 * 4 && t1[BD_DAY_COST] == 100 * 2 + 50);
	assert_true(t0[BD_DAY_DECISIONS] == 70 && t0[BD_DAY_ORDERS] == 0 && t0[BD_DAY_VALUE] == 0);
	bd_estimate_free(&e);
}

/* The pending cost of a young hour whose decisions cost more than the
 * matured hours said (a first day: cost per decision learned on the
 * night's users, the lunch hour's cost more): the hour's own arrivals
 * count, so the error is (1 - F)^2 of the prior's, not (1 - F). */
static void test_pending_credits_arrivals(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	cell(x, 100, 1, 0, 1); /* matured: cost 1 per decision */
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 8, x, BD_STAT__COUNT);
	/* past days behind the delay vector: a million decisions, so that
	 * today's young ones hardly censor it (test_delay_censoring) */
	cell(x, 1e6, 1, 0, 1);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 - 16, x, BD_STAT__COUNT);
	/* the last hour: 1000 decisions that will cost 1.5 each; at their
	 * ages (7.5 to 52.5 minutes, cost arriving evenly over an hour) half
	 * of it, 750, is in */
	cell(x, 1000, 1, 0, 0.75);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 11, x, BD_STAT__COUNT);
	double dl[BD_DELAY_BUCKETS] = {10, 10, 10, 10, 10, 10};
	bd_estimate_add_delay(&e, dl, BD_DELAY_BUCKETS);
	bd_estimate_finish(&e, &p);
	const double truth = 750, bf = 1000 * 1.0 * 0.5;
	/* Benktander: 0.5 x (750 + 500) = 625 (to 0.1%: the young
	 * thousand's censoring of the delay vector) */
	if (fabs(e.pending_cost - 625) > 0.6)
		fail_msg("pending %.2f: want 625 (truth %.0f, Bornhuetter-Ferguson %.0f)",
			 e.pending_cost, truth, bf);
	assert_true(fabs(e.pending_cost - truth) < fabs(bf - truth));
	bd_estimate_free(&e);
}

/* Delays exponential with a mean of an hour: 3% of the cost comes more than
 * 3.5 h after its decision, past the delay vector's open last bucket
 * (2 h 50 min on) and past solve.maturity.s (2 h).  The open bucket's cost
 * arrives on the tail the buckets before it decay on, so the arrived share
 * at 5 h is the exponential's (not 1), and a matured hour of today (8:00,
 * at noon) still owes its share of cost, Benktander's (1 - F) of it. */
static void test_delay_tail(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	const double M = 3600, W = BD_DELAY_BUCKET_S;
	double x[BD_STAT__COUNT], dl[BD_DELAY_BUCKETS];
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	/* days ago: a million decisions costing 1 each, all arrived */
	cell(x, 1e6, 1, 0, 1);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 - 100, x, BD_STAT__COUNT);
	for (int i = 0; i < BD_DELAY_BUCKETS; i++)
		dl[i] = 1e6 * (exp(-i * W / M) - (i < BD_DELAY_BUCKETS - 1 ? exp(-(i + 1) * W / M) : 0));
	bd_estimate_add_delay(&e, dl, BD_DELAY_BUCKETS);
	/* 8:00-9:00 today: 1000 decisions, what came of their cost by noon */
	double want_f = 0;
	for (int q = 0; q < 4; q++)
		want_f += (1 - exp(-(4 - (q + 0.5) / 4) * 3600 / M)) / 4;
	cell(x, 1000, 1, 0, want_f);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 8, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	if (fabs(e.delay_tail - exp(-W / M)) > 1e-9)
		fail_msg("tail decay %.6f per bucket: want %.6f", e.delay_tail, exp(-W / M));
	double f5 = bd_estimate_arrived(&e, 5 * 3600);
	if (fabs(f5 - (1 - exp(-5 * 3600 / M))) > 1e-4)
		fail_msg("arrived at 5 h %.5f: want %.5f", f5, 1 - exp(-5 * 3600 / M));
	double want = 1000 * (1 - want_f);
	if (fabs(e.pending_cost - want) > 0.01 * want)
		fail_msg("pending cost of a matured hour %.2f: want %.2f", e.pending_cost, want);
	bd_estimate_free(&e);
}

/* Today's request rate counts today's unmatured hours only: at 12:30
 * (maturity 2 h: hours from 10:00 unmatured) 600 decisions at 10:00, 900 at
 * 11:00 and 300 at 12:00 over the 2.5 h since 10:00 are 0.2 a second; the
 * matured 9:00 hour and yesterday's 22:00 hour do not count. */
static void test_recent_rate(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12.5);
	double x[BD_STAT__COUNT];
	const double n[] = {5000, 4000, 600, 900, 300};
	const int64_t h[] = {H0 - 2, H0 + 9, H0 + 10, H0 + 11, H0 + 12};
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 2, 2), 0);
	for (int i = 0; i < 5; i++) {
		/* split over two clusters and two treatments */
		cell(x, n[i] / 4, 0.5, 1, 1);
		for (int c = 0; c < 4; c++)
			bd_estimate_add_cell(&e, &p, c / 2, c % 2, h[i], x, BD_STAT__COUNT);
	}
	bd_estimate_finish(&e, &p);
	if (fabs(e.recent_rate - 1800.0 / 9000) > 1e-9)
		fail_msg("today's recent rate %.6f a second: want %.6f", e.recent_rate, 0.2);
	bd_estimate_free(&e);
}

/* A first day at noon: decisions spread evenly over the last two hours,
 * each costing 1, its cost arriving evenly over the hour after it.  The
 * workers' delay vector holds only what arrived: a delay of d can only be
 * seen on decisions at least d old, so the long delays are under-counted
 * (by 1 - d / 2 h).  Corrected, the arrived share at 30 minutes is the
 * truth, 0.5, not the censored 0.583. */
static void test_delay_censoring(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT], dl[BD_DELAY_BUCKETS] = {0};
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	cell(x, 1000, 1, 0, 0);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 10, x, BD_STAT__COUNT);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 11, x, BD_STAT__COUNT);
	for (int i = 0; i < 6; i++)
		dl[i] = 2000.0 / 6 * (1 - (i + 0.5) / 12);
	bd_estimate_add_delay(&e, dl, BD_DELAY_BUCKETS);
	double censored = bd_estimate_arrived(&e, 1800);
	assert_true(fabs(censored - 2.625 / 4.5) < 1e-9);
	bd_estimate_finish(&e, &p);
	double f = bd_estimate_arrived(&e, 1800);
	if (fabs(f - 0.5) > 1e-9)
		fail_msg("arrived share at 30 minutes %.4f: want 0.5 (censored %.4f)", f, censored);
	/* finishing again gives the same (the raw vector is kept) */
	bd_estimate_finish(&e, &p);
	assert_true(fabs(bd_estimate_arrived(&e, 1800) - 0.5) < 1e-9);
	/* a bucket seen on almost no decision is not blown up past 1 / 0.2 */
	memset(dl, 0, sizeof(dl));
	dl[11] = 1; /* 115 minutes: 1/24 of the decisions are that old */
	bd_estimate_add_delay(&e, dl, BD_DELAY_BUCKETS);
	bd_estimate_finish(&e, &p);
	assert_true(fabs(e.delay_adj[11] - 1 / 0.2) < 1e-9);
	bd_estimate_free(&e);
}

/* A cell of 270 decisions at propensity 0.2 (a uniform warm-up) costing 0
 * and 20 at 0.004 (an exploration slice) costing 1: its cost's standard
 * error is that of Kish's effective size, 290 / deff with deff = m sum w^2
 * / (sum w)^2 = 9.04, not of 290 decisions. */
static void test_se_effective_size(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	cell(x, 270, 0.2, 0, 0);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 6, x, BD_STAT__COUNT);
	cell(x, 20, 0.004, 0, 1);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 7, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	double w = 270 / 0.2 + 20 / 0.004, w2 = 270 / 0.04 + 20 / 0.000016;
	double deff = 290 * w2 / (w * w), q = 20.0 / 290, var = q * (1 - q);
	double want = sqrt(var * deff / 290);
	if (fabs(e.c_se[0] - want) > 1e-9)
		fail_msg("cost se %.5f: want %.5f (deff %.2f; on 290 decisions %.5f)", e.c_se[0],
			 want, deff, sqrt(var / 290));
	bd_estimate_free(&e);
}

static void test_ipw_and_shrinkage(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT], y[BD_STAT__COUNT];
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 2, 1), 0);
	/* cluster 0: one sub-population logged with p = 0.9 (value 1), another
	 * with p = 0.1 (value 5): equal true weight, so the mean is 3 */
	cell(x, 90, 0.9, 1, 0);
	cell(y, 10, 0.1, 5, 0);
	for (int i = 0; i < BD_STAT__COUNT; i++)
		x[i] += y[i];
	bd_estimate_add_cell(&e, &p, 0, 0, 0, x, BD_STAT__COUNT); /* historical */
	/* cluster 1: 5 decisions, value 0 */
	cell(x, 5, 1, 0, 0);
	bd_estimate_add_cell(&e, &p, 1, 0, H0 + 1, x, BD_STAT__COUNT);
	p.shrinkage = 0;
	bd_estimate_finish(&e, &p);
	assert_true(fabs(e.r[0] - 3) < 1e-12);
	assert_true(e.r[1] == 0);
	/* with shrinkage the small cluster moves toward the treatment mean */
	p.shrinkage = 5;
	bd_estimate_finish(&e, &p);
	assert_true(e.r[1] > 0.5 && e.r[1] < e.r[0]);
	assert_true(e.r_se[0] > 0 && e.r_se[1] > 0);
	/* conversion: every decision of cluster 0 converted (value > 0) */
	assert_true(e.conv[0] > 0.99 && e.conv_se[0] >= 0 && e.conv_se[0] < 0.01);
	assert_true(e.conv[1] > 0 && e.conv[1] < e.conv[0] && e.conv_se[1] > 0.01);
	bd_estimate_free(&e);
}

static void test_recency(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	cell(x, 100, 1, 10, 0); /* two days ago: value 10 */
	bd_estimate_add_cell(&e, &p, 0, 0, H0 - 48 + 8, x, BD_STAT__COUNT);
	cell(x, 100, 1, 4, 0); /* this morning: value 4 */
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 8, x, BD_STAT__COUNT);
	cell(x, 100, 1, 7, 0); /* historical: never fades */
	bd_estimate_add_cell(&e, &p, 0, 0, 0, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	assert_true(fabs(e.r[0] - 7) < 1e-9); /* no decay: the plain mean */
	bd_estimate_free(&e);

	p.halflife_h = 24;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	cell(x, 100, 1, 10, 0);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 - 48 + 8, x, BD_STAT__COUNT);
	cell(x, 100, 1, 4, 0);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 8, x, BD_STAT__COUNT);
	cell(x, 100, 1, 7, 0);
	bd_estimate_add_cell(&e, &p, 0, 0, 0, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	/* ages 52 h and 4 h: weights 2^-52/24 and 2^-4/24; historical 1 */
	double w1 = exp2(-52.0 / 24), w2 = exp2(-4.0 / 24);
	double want = (w1 * 10 + w2 * 4 + 7) / (w1 + w2 + 1);
	assert_true(fabs(e.r[0] - want) < 1e-9);
	assert_true(e.r[0] < 7);
	bd_estimate_free(&e);
}

static void test_warmup_uses_joined_outcomes(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(1); /* nothing matured yet */
	double x[BD_STAT__COUNT];
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	cell(x, 50, 1, 4, 2);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 0, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	assert_true(e.immature);
	assert_true(fabs(e.r[0] - 4) < 1e-12 && fabs(e.c[0] - 2) < 1e-12);
	bd_estimate_free(&e);
}

static void test_profile(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 2, 1), 0);
	/* three past days: cluster 0 only in the evening (18-21h), cluster 1
	 * only in the morning (6-9h), 1000 decisions a day each */
	for (int d = 1; d <= 3; d++)
		for (int h = 0; h < 4; h++) {
			cell(x, 250, 1, 0, 0);
			bd_estimate_add_cell(&e, &p, 0, 0, H0 - 24 * d + 18 + h, x, BD_STAT__COUNT);
			bd_estimate_add_cell(&e, &p, 1, 0, H0 - 24 * d + 6 + h, x, BD_STAT__COUNT);
		}
	/* today so far (noon): cluster 1's morning happened */
	for (int h = 0; h < 4; h++) {
		cell(x, 250, 1, 0, 0);
		bd_estimate_add_cell(&e, &p, 1, 0, H0 + 6 + h, x, BD_STAT__COUNT);
	}
	bd_estimate_finish(&e, &p);
	assert_true(e.past_days == 3);
	assert_true(e.today_total == 1000);
	/* the rest of the day is cluster 0's evening */
	assert_true(e.share[0] > 0.85);
	assert_true(e.n_rem > 800 && e.n_rem < 1200);
	/* the profiles learned the hours */
	assert_true(e.profile[0 * 24 + 19] > 0.15 && e.profile[0 * 24 + 7] < 0.05);
	assert_true(e.profile[1 * 24 + 7] > 0.15 && e.profile[1 * 24 + 19] < 0.05);
	/* the tail: the evening peak is not in the last 2 hours; the whole
	 * rest of the day is */
	assert_true(e.n_tail < 0.1 * e.n_rem);
	p.tail_s = 86400;
	bd_estimate_finish(&e, &p);
	assert_true(fabs(e.n_tail - e.n_rem) < 1e-6 * e.n_rem);
	bd_estimate_free(&e);
}

/* n decisions with propensity p of which a share f is worth v (the rest 0). */
static void mixed(double x[BD_STAT__COUNT], double n, double p, double f, double v)
{
	double y[BD_STAT__COUNT];
	cell(x, n * f, p, v, 0);
	cell(y, n * (1 - f), p, 0, 0);
	for (int i = 0; i < BD_STAT__COUNT; i++)
		x[i] += y[i];
}

/* Four clusters of n decisions a treatment: 10% convert (value 10) under
 * control, f[k] under the coupon. */
static void four_clusters(bd_estimate_t *e, const bd_estimate_params_t *p, double n,
			  const double f[4])
{
	double x[BD_STAT__COUNT];
	assert_int_equal(bd_estimate_init(e, 4, 2), 0);
	for (int k = 0; k < 4; k++) {
		mixed(x, n, 0.5, 0.10, 10);
		bd_estimate_add_cell(e, p, k, 0, H0 + 8, x, BD_STAT__COUNT);
		mixed(x, n, 0.5, f[k], 10);
		bd_estimate_add_cell(e, p, k, 1, H0 + 8, x, BD_STAT__COUNT);
	}
	bd_estimate_finish(e, p);
}

/* Uplifts shrink toward the pooled uplift by how much the clusters are
 * seen to differ: not at all told apart -> every cluster gets the pooled
 * uplift (a pooled plan); clearly different -> their own. */
static void test_uplift_shrinkage(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	(void)state;
	p.shrink_uplift = 1;
	/* four clusters, conversion 10% under control, 10-11.5% under the
	 * coupon, 200 decisions each: the differences are noise */
	const double noisy[4] = {0.100, 0.115, 0.105, 0.110};
	four_clusters(&e, &p, 200, noisy);
	double pooled = (0.100 + 0.115 + 0.105 + 0.110) / 4 * 10 - 1;
	for (int k = 0; k < 4; k++)
		if (fabs(e.r[k * 2 + 1] - e.r[k * 2] - pooled) > 1e-9)
			fail_msg("cluster %d: uplift %.4f, pooled %.4f", k,
				 e.r[k * 2 + 1] - e.r[k * 2], pooled);
	bd_estimate_free(&e);

	/* conversion 10% under control, 10/20/30/40% under the coupon over
	 * 20 000 decisions each: the clusters keep (nearly) their own */
	const double apart[4] = {0.10, 0.20, 0.30, 0.40};
	four_clusters(&e, &p, 20000, apart);
	for (int k = 0; k < 4; k++) {
		double u = e.r[k * 2 + 1] - e.r[k * 2];
		if (fabs(u - (double)k) > 0.01)
			fail_msg("cluster %d: uplift %.4f, its own %d", k, u, k);
		assert_true(e.r_se[k * 2 + 1] > 0);
	}
	/* switched off: the level shrinkage alone (none here) keeps the raw
	 * uplifts of the noisy case */
	bd_estimate_free(&e);
	p.shrink_uplift = 0;
	four_clusters(&e, &p, 200, noisy);
	assert_true(fabs(e.r[1 * 2 + 1] - e.r[1 * 2] - 0.15) < 1e-9);
	bd_estimate_free(&e);
}

/* n decisions of which a share f is worth v and costs c (the rest 0). */
static void mixedc(double x[BD_STAT__COUNT], double n, double f, double v, double c)
{
	double y[BD_STAT__COUNT];
	cell(x, n * f, 0.5, v, c);
	cell(y, n * (1 - f), 0.5, 0, 0);
	for (int i = 0; i < BD_STAT__COUNT; i++)
		x[i] += y[i];
}

/* solve.concave: pooled uplifts that are convex in cost (the bigger coupon
 * buys more per unit of cost) are fitted to a line, the cheaper step kept
 * (a hair) more efficient; an uplift below a cheaper one's is raised to it
 * (non-decreasing). */
static void test_concave_uplift(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	(void)state;
	p.shrink_uplift = 1;
	p.concave = 1;
	/* control: value 1; coupon A: 1.5 for cost 0.15 (3.3 per unit of
	 * cost); coupon B: 4 for cost 0.8 (3.85 per unit beyond A) */
	const double f[3] = {0.10, 0.15, 0.40}, c[3] = {0, 1, 2};
	assert_int_equal(bd_estimate_init(&e, 1, 3), 0);
	for (int t = 0; t < 3; t++) {
		mixedc(x, 20000, f[t], 10, c[t]);
		bd_estimate_add_cell(&e, &p, 0, t, H0 + 8, x, BD_STAT__COUNT);
	}
	bd_estimate_finish(&e, &p);
	double ua = e.r[1] - e.r[0], ub = e.r[2] - e.r[0];
	double ea = ua / e.c[1], eb = (ub - ua) / (e.c[2] - e.c[1]);
	if (!(eb < ea && eb > ea * (1 - 1e-6)))
		fail_msg("efficiencies %.6f then %.6f: want one line, the cheaper a hair above", ea,
			 eb);
	assert_true(ea > 3.3 && ea < 3.85);
	bd_estimate_free(&e);

	/* coupon B worth less than A (value 0.5 for cost 0.2): raised to A */
	const double f2[3] = {0.10, 0.15, 0.05}, c2[3] = {0, 1, 4};
	assert_int_equal(bd_estimate_init(&e, 1, 3), 0);
	for (int t = 0; t < 3; t++) {
		mixedc(x, 20000, f2[t], 10, c2[t]);
		bd_estimate_add_cell(&e, &p, 0, t, H0 + 8, x, BD_STAT__COUNT);
	}
	bd_estimate_finish(&e, &p);
	assert_true(fabs(e.r[1] - e.r[0] - 0.5) < 1e-9);
	assert_true(fabs(e.r[2] - e.r[1]) < 1e-9);
	bd_estimate_free(&e);
}

/* A first day (no past day behind the profile) whose traffic rises: the
 * flat prior forecasts the rest of the day from the day's average rate;
 * when the recent rate kept up forecasts more, the pacing forecast leans
 * on it, except on the day's last (uncorrectable) stretch.
 * With a past day the forecast is the profile's. */
static void test_first_day_pace_requests(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	for (int h = 0; h < 10; h++) { /* a quiet night and morning */
		cell(x, 10, 1, 0, 0);
		bd_estimate_add_cell(&e, &p, 0, 0, H0 + h, x, BD_STAT__COUNT);
	}
	for (int h = 10; h < 12; h++) { /* the last two hours: 300 each */
		cell(x, 300, 1, 0, 0);
		bd_estimate_add_cell(&e, &p, 0, 0, H0 + h, x, BD_STAT__COUNT);
	}
	bd_estimate_finish(&e, &p);
	assert_true(e.past_days == 0);
	/* flat prior: 700 so far in half the day -> ~700 more */
	assert_true(e.n_rem > 650 && e.n_rem < 750);
	/* 600 in the last two hours kept up for 12 hours: 3600; the flat
	 * forecast on twice the tail (its last 2 hours are 1/6 of the rest) */
	double tail = 2 * e.n_tail / e.n_rem;
	assert_true(fabs(tail - 2.0 / 6) < 1e-9);
	double n = bd_estimate_pace_requests(&e), want = pow(e.n_rem, tail) * pow(3600, 1 - tail);
	if (fabs(n - want) > 1e-6 * want)
		fail_msg("pace requests %.1f, want %.1f", n, want);
	/* a falling day keeps the flat forecast (the larger) */
	bd_estimate_free(&e);
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	cell(x, 600, 1, 0, 0);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 5, x, BD_STAT__COUNT);
	cell(x, 10, 1, 0, 0);
	bd_estimate_add_cell(&e, &p, 0, 0, H0 + 11, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	assert_true(fabs(bd_estimate_pace_requests(&e) - e.n_rem) < 1e-9);
	bd_estimate_free(&e);
	/* with a past day the profile's forecast stands */
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	for (int h = 0; h < 24; h++) {
		cell(x, 100, 1, 0, 0);
		bd_estimate_add_cell(&e, &p, 0, 0, H0 - 24 + h, x, BD_STAT__COUNT);
	}
	for (int h = 10; h < 12; h++) {
		cell(x, 300, 1, 0, 0);
		bd_estimate_add_cell(&e, &p, 0, 0, H0 + h, x, BD_STAT__COUNT);
	}
	bd_estimate_finish(&e, &p);
	assert_true(e.past_days == 1);
	assert_true(fabs(bd_estimate_pace_requests(&e) - e.n_rem) < 1e-9);
	/* requests already waiting (a backlog after a stall) are a floor:
	 * near the day's end the forecast is a handful */
	e.waiting = 50 * e.n_rem;
	assert_true(fabs(bd_estimate_pace_requests(&e) - e.waiting) < 1e-9);
	bd_estimate_free(&e);
}

/* Statistics with a non-finite sum (as a store written before the outcome
 * bounds may hold) give estimates the check refuses, saying which. */
static void test_check(void **state)
{
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	char why[200] = "";
	(void)state;
	assert_int_equal(bd_estimate_init(&e, 2, 2), 0);
	cell(x, 100, 0.5, 10, 1);
	bd_estimate_add_cell(&e, &p, 0, 1, H0 + 8, x, BD_STAT__COUNT);
	bd_estimate_add_cell(&e, &p, 1, 1, H0 + 8, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	assert_int_equal(bd_estimate_check(&e, why, sizeof(why)), 0);
	cell(x, 1, 0.5, 1e308, 1); /* value / propensity overflows */
	bd_estimate_add_cell(&e, &p, 1, 1, H0 + 8, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	assert_int_equal(bd_estimate_check(&e, why, sizeof(why)), BD_EINVAL);
	/* (cluster 0 too: its mean is shrunk toward the treatment's) */
	assert_non_null(strstr(why, "estimate: value per request of cluster 0 treatment 1 is "));
	bd_estimate_free(&e);

	assert_int_equal(bd_estimate_init(&e, 2, 2), 0);
	cell(x, 100, 0.5, 10, 1);
	bd_estimate_add_cell(&e, &p, 0, 1, H0 + 8, x, BD_STAT__COUNT);
	bd_estimate_finish(&e, &p);
	e.pending_cost = NAN;
	assert_int_equal(bd_estimate_check(&e, why, sizeof(why)), BD_EINVAL);
	assert_string_equal(why, "estimate: pending cost is nan");
	bd_estimate_free(&e);
}

/* solve.order.value.prior: orders per request times a value per order
 * pooled within the cluster.  Treatment 1's orders are worth what
 * treatment 0's are, but one whale basket (2 020 instead of 20) doubles
 * its plain mean's increment; pooled, the increment is what the extra
 * orders are worth. */
static void add_orders(bd_estimate_t *e, const bd_estimate_params_t *p, int t, double n_none,
		       double n_order, double v, double n_whale)
{
	double x[BD_STAT__COUNT];
	cell(x, n_none, 0.5, 0, 0);
	bd_estimate_add_cell(e, p, 0, t, H0 + 8, x, BD_STAT__COUNT);
	cell(x, n_order, 0.5, v, 0);
	bd_estimate_add_cell(e, p, 0, t, H0 + 8, x, BD_STAT__COUNT);
	if (n_whale > 0) {
		cell(x, n_whale, 0.5, 2020, 0);
		bd_estimate_add_cell(e, p, 0, t, H0 + 8, x, BD_STAT__COUNT);
	}
}

static void test_order_value_pool(void **state)
{
	const double prior[3] = {0, 150, 1e9};
	/* plain means 2 and 5; fully pooled: 28 per order (7 000 / 250) times
	 * 0.1 and 0.15 orders; half pooled (150 orders of prior, 150 of
	 * treatment 1's own): its own 33.33 per order and 28, halved */
	const double want[3][2] = {{2, 5}, {0.1 * (0.4 * 20 + 0.6 * 28), 0.15 * (5000.0 / 300 + 14)},
				   {2.8, 4.2}};
	(void)state;
	for (int i = 0; i < 3; i++) {
		bd_estimate_t e;
		bd_estimate_params_t p = params_at(12);
		p.order_value_prior = prior[i];
		assert_int_equal(bd_estimate_init(&e, 1, 2), 0);
		add_orders(&e, &p, 0, 900, 100, 20, 0);
		add_orders(&e, &p, 1, 850, 149, 20, 1);
		bd_estimate_finish(&e, &p);
		for (int t = 0; t < 2; t++) {
			if (fabs(e.r[t] - want[i][t]) > 1e-6)
				fail_msg("prior %g, treatment %d: value per request %.6f, want %.6f",
					 prior[i], t, e.r[t], want[i][t]);
		}
		/* the raw means behind the plan's confidence interval stay plain */
		assert_true(fabs(e.rr[1] - 5) < 1e-9);
		bd_estimate_free(&e);
	}
}

/* Today's cost calibration: yesterday's 20 000 decisions cost 1 each, today's
 * matured morning (4 000 decisions, 6-10h, at noon) 0.6 each.  The cell's
 * estimate (0.93) says 3 733 should have arrived where 2 400 did: the costs
 * are scaled by about 0.64, the pending cost with them.  Off: untouched.  A
 * first day (no yesterday) only raises costs; a handful of decisions moves
 * the calibration only part of the way. */
static double calibrated(double yesterday, double today_n, double today_c, double sd, double *c)
{
	/* < 0: as a log of -yesterday decisions (hour 0: evidence, no traffic) */
	int64_t yh = yesterday < 0 ? 0 : H0 - 16;
	yesterday = fabs(yesterday);
	bd_estimate_t e;
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT], dl[BD_DELAY_BUCKETS] = {10, 10, 10, 10, 10, 10};
	p.cost_calibrate = sd;
	assert_int_equal(bd_estimate_init(&e, 1, 1), 0);
	if (yesterday > 0) {
		cell(x, yesterday, 1, 0, 1);
		bd_estimate_add_cell(&e, &p, 0, 0, yh, x, BD_STAT__COUNT);
	}
	cell(x, today_n / 4, 1, 0, today_c);
	for (int h = 6; h < 10; h++)
		bd_estimate_add_cell(&e, &p, 0, 0, H0 + h, x, BD_STAT__COUNT);
	bd_estimate_add_delay(&e, dl, BD_DELAY_BUCKETS);
	bd_estimate_finish(&e, &p);
	double cal = e.cost_cal;
	*c = e.c[0];
	bd_estimate_free(&e);
	return cal;
}

static void test_cost_calibration(void **state)
{
	double c0, c;
	(void)state;
	/* off */
	assert_true(calibrated(20000, 4000, 0.6, 0, &c0) == 1);
	/* on: 2 400 arrived of 4 000 x c0 expected */
	double want = 2400 / (4000 * c0), cal = calibrated(20000, 4000, 0.6, 0.2, &c);
	if (!(fabs(cal - want) < 0.02))
		fail_msg("calibration %.4f: want %.4f (2400 / (4000 x %.4f))", cal, want, c0);
	assert_true(fabs(c - cal * c0) < 1e-9);
	/* costs higher today: raised */
	assert_true(calibrated(20000, 4000, 1.5, 0.2, &c) > 1.2);
	/* a handful of decisions: part of the way only */
	double few = calibrated(20000, 8, 0.2, 0.2, &c);
	assert_true(few < 1 && few > 2.0 * 0.2 / 1.0 + 0.05 && few > 0.5);
	/* a first day (a log behind its cells, no traffic yet) only raises
	 * its costs */
	assert_true(calibrated(-20000, 4000, 0.6, 0.2, &c) == 1);
	assert_true(calibrated(-20000, 4000, 1.5, 0.2, &c) > 1.2);
}

/* A first day's traffic profile from its log's hours of day: 2 400 logged
 * decisions at 18-21h (hours -19 to -22), 100 live requests today at 8-11h,
 * at noon.  The log says most of the day is still to come: the forecast of
 * the rest of the day is several times the flat prior's.  A past day of
 * live traffic, or a log too small, leaves the log's hours out; the hours
 * are UTC and move with the campaign's time zone. */
static double log_forecast(double log_n, int past_day, int32_t tz, bd_estimate_t *out)
{
	bd_estimate_params_t p = params_at(12);
	double x[BD_STAT__COUNT];
	p.tz_offset_s = tz;
	assert_int_equal(bd_estimate_init(out, 1, 1), 0);
	cell(x, log_n / 4, 1, 0, 0);
	for (int h = 18; h < 22; h++)
		bd_estimate_add_cell(out, &p, 0, 0, bd_stats_log_hour((int64_t)h * 3600000 + 60000), x,
				     BD_STAT__COUNT);
	cell(x, 25, 1, 0, 0);
	for (int h = 8; h < 12; h++)
		bd_estimate_add_cell(out, &p, 0, 0, H0 + h, x, BD_STAT__COUNT);
	if (past_day)
		bd_estimate_add_cell(out, &p, 0, 0, H0 - 24 + 10, x, BD_STAT__COUNT);
	bd_estimate_finish(out, &p);
	return out->n_rem;
}

static void test_log_profile(void **state)
{
	bd_estimate_t e;
	(void)state;
	double flat = log_forecast(0, 0, 0, &e);
	assert_false(e.log_profile);
	bd_estimate_free(&e);
	double logged = log_forecast(2400, 0, 0, &e);
	assert_true(e.log_profile && e.past_days == 0);
	/* the log's evening carries most of the profile */
	double eve = e.profile[18] + e.profile[19] + e.profile[20] + e.profile[21];
	if (!(eve > 0.7 && logged > 3 * flat))
		fail_msg("evening share %.3f, forecast %.1f (flat prior %.1f)", eve, logged, flat);
	bd_estimate_free(&e);
	/* the campaign an hour east of UTC: the log's hours are 19-22h local */
	log_forecast(2400, 0, 3600, &e);
	assert_true(e.profile[22] > 0.15 && e.profile[18] < 0.05);
	bd_estimate_free(&e);
	/* too small a log: the flat prior */
	assert_true(log_forecast(100, 0, 0, &e) == flat && !e.log_profile);
	bd_estimate_free(&e);
	/* a past day: its own profile, not the log's */
	log_forecast(2400, 1, 0, &e);
	assert_true(!e.log_profile && e.past_days >= 1 && e.profile[19] < 0.1);
	bd_estimate_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maturity),
		cmocka_unit_test(test_pending_outcome_clock),
		cmocka_unit_test(test_ipw_and_shrinkage),
		cmocka_unit_test(test_se_effective_size),
		cmocka_unit_test(test_recency),
		cmocka_unit_test(test_warmup_uses_joined_outcomes),
		cmocka_unit_test(test_profile),
		cmocka_unit_test(test_uplift_shrinkage),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_pending_credits_arrivals),
		cmocka_unit_test(test_delay_censoring),
		cmocka_unit_test(test_delay_tail),
		cmocka_unit_test(test_recent_rate),
		cmocka_unit_test(test_concave_uplift),
		cmocka_unit_test(test_first_day_pace_requests),
		cmocka_unit_test(test_order_value_pool),
		cmocka_unit_test(test_day_totals),
		cmocka_unit_test(test_cost_calibration),
		cmocka_unit_test(test_log_profile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
