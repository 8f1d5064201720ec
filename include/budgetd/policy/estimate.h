/**
 * @file estimate.h
 * @brief What the solver needs from the statistics: per cluster and
 *        treatment, value, cost and conversion per request with standard
 *        errors; per cluster, the traffic expected in the rest of the day.
 *
 * Means (per cluster, treatment, over matured decision hours only):
 *   r = sum(value / p) / sum(1 / p)      inverse-propensity (Hajek) weights,
 *                                        so exploration and policy traffic,
 *                                        and logged historical samples, mix
 *                                        without bias
 *   pooled order value (order_value_prior = m > 0): r = orders per
 *                                        request x value per order, that
 *                                        blended n / (n + m) (n: the
 *                                        cell's orders) with its cluster's
 *                                        over every treatment: the basket
 *                                        noise leaves the increments
 *   shrunk: (n r + m0 rbar_t) / (n + m0) toward the treatment's mean over
 *                                        all clusters, m0 = shrinkage
 *   uplifts (shrink_uplift): a cluster's uplift of treatment t over its
 *                                        control, u = r_t - r_0 (and the
 *                                        same for cost), moves toward the
 *                                        pooled uplift U by B = tau^2 /
 *                                        (tau^2 + v): v its sampling
 *                                        variance, tau^2 the variance of the
 *                                        clusters' true uplifts estimated
 *                                        from the data (moments).  While
 *                                        clusters cannot be told apart
 *                                        (tau^2 ~ 0) every cluster gets the
 *                                        pooled uplift: a pooled plan
 *   concave: the pooled uplifts are first fitted to a non-decreasing,
 *                                        concave function of the cost
 *                                        uplift (diminishing returns), so
 *                                        noise that makes a big coupon look
 *                                        more efficient than a small one
 *                                        does not move the plan to it
 *   recency: an hour's statistics weigh 2^(-age / half-life), so the means
 *                                        follow drifts between days (and the
 *                                        statistics rebuilt for a new model
 *                                        from older samples fade)
 * An hour is matured when it ended more than the attribution delay ago:
 * its decisions have all their outcomes, so late outcomes do not bias the
 * means low.  Until enough decisions have matured (warm-up), the means use
 * every joined outcome instead and say so (immature = 1).
 *
 * Traffic: a time-of-day profile per cluster from the decision hours of
 * past days (hour of day in the campaign's time zone), with a prior: the
 * pooled profile of all clusters, itself shrunk toward flat.  Today's
 * volume per cluster = (decisions so far + w * past daily mean) /
 * (profile share of the day elapsed + w), w = 0.25 day; the rest of the day
 * is that volume times the profile share still to come.
 *
 * @locality the main loop (pure; no I/O).
 */
#ifndef BUDGETD_ESTIMATE_H
#define BUDGETD_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/state/stats.h"

/** Clusters and treatments up to which uplifts shrink by empirical Bayes
 *  (beyond: the level shrinkage only). */
#define BD_ESTIMATE_MAX_EB 512

/** Unmatured hours tracked one by one (older ones count as the oldest). */
#define BD_ESTIMATE_YOUNG_HOURS 48

typedef struct bd_estimate_s {
	int k, j;
	/* accumulated by bd_estimate_add_cell */
	double *mat;        /**< k x j x BD_STAT__COUNT: matured hours */
	double *all;        /**< k x j x BD_STAT__COUNT: every hour */
	double *hist;       /**< k x 24: decisions of past days by hour of day */
	double hist_log[24]; /**< the campaign's log (historical samples) by
				  the hour of day they were decided at */
	int log_profile;    /**< a first day's profile is its log's hours */
	double *today;      /**< k: decisions today */
	double *today_by_t; /**< j x BD_DAY__COUNT (stats.h): today's totals by
			         treatment, unweighted, over the decisions of
			         today's hours and the outcomes joined to them */
	double *day_cells;  /**< k x j x 24 x 2: today's hours (from the
			         day's first), matured or not: decisions,
			         realised cost (the cost still to come) */
	double delay[BD_DELAY_BUCKETS]; /**< realised cost by outcome delay */
	double age_dec[BD_ESTIMATE_YOUNG_HOURS]; /**< decisions by hour of
				 age (0: the current hour, any day),
				 unweighted; older ones only in live_dec */
	double live_dec;    /**< decisions of every live hour, unweighted */
	int64_t first_hour; /**< earliest live hour seen */
	/* filled by bd_estimate_finish */
	double *r, *c, *conv, *r_se, *c_se, *conv_se, *c_var, *n; /**< k x j */
	double *rr, *rr_var; /**< k x j: raw (unshrunk) value per request and
				  the variance of that mean, for the plan's
				  uplift and its confidence interval */
	double *share;      /**< k: share of the rest of today's traffic */
	double *profile;    /**< k x 24 */
	double n_rem;       /**< requests expected in the rest of today */
	double matured;     /**< matured decisions used */
	double today_total; /**< decisions so far today */
	double day_elapsed; /**< profile share of today already past (pooled) */
	double past_days;   /**< days of traffic history behind the profile */
	double n_tail;      /**< of n_rem, requests in the day's last tail_s */
	int immature;       /**< 1: warm-up means over joined outcomes */
	double pending_cost; /**< expected cost still to come from today's
				  decisions */
	double pending_cost_err; /**< how much pending_cost grows when every
				  cell's cost is one standard error higher
				  (the budget guard's upper bound) */
	double delay_weight; /**< cost behind the delay distribution (0: none) */
	double cost_cal;     /**< today's cost calibration: every cell's cost
				  (and its error) was multiplied by it (1:
				  none) */
	double cal_realised, cal_expected; /**< its evidence: today's realised
				  cost, and the cells' estimates of the
				  share of it that should have arrived */
	double delay_adj[BD_DELAY_BUCKETS]; /**< the delay distribution
				 corrected for censoring (what
				 bd_estimate_arrived reads): a bucket's
				 cost over the share of decisions old
				 enough to have shown it */
	double delay_tail;  /**< the open last bucket's cost arrives on a
				 geometric tail, this share of it still to
				 come one bucket width later (0: within
				 one width) */
	double recent_rate; /**< requests per second today over the unmatured
				 hours (the latest solve.maturity.s or so) */
	double sec_left;    /**< seconds left in the campaign's day */
	double waiting;     /**< set by the caller: requests already waiting
				 to be decided (the features consumer's lag,
				 all campaigns), a floor under the pacing
				 forecast */
} bd_estimate_t;

typedef struct bd_estimate_params_s {
	int64_t now_ms;
	int64_t arrived_ms;         /**< outcomes are taken as arrived up to
					 this time (bd_clock_arrived: the
					 outcome clock, at most now_ms);
					 0: now_ms */
	int64_t mature_before_hour; /**< hours < this are matured */
	int64_t today_first_hour;   /**< first hour (epoch hours) of today */
	double sec_of_day;          /**< now, in the campaign's day */
	int32_t tz_offset_s;
	double shrinkage;           /**< m0, pseudo-decisions */
	double min_matured;         /**< matured decisions to leave warm-up */
	double tail_s;              /**< the day's last seconds whose outcomes
					 come after the day ends */
	double halflife_h;          /**< weight of a decision hour halves every
					 this many hours of age (0: no decay) */
	int shrink_uplift;          /**< empirical-Bayes uplift shrinkage */
	int concave;                /**< the pooled uplift is fitted non-
					 decreasing and concave in cost */
	double order_value_prior;   /**< orders of prior pulling a cell's
					 value per order toward its
					 cluster's (0: plain means) */
	double cost_calibrate;      /**< prior standard deviation of today's
					 cost calibration (0: none) */
} bd_estimate_params_t;

int bd_estimate_init(bd_estimate_t *e, int k, int j) BD_WUR;
void bd_estimate_free(bd_estimate_t *e);
/** Adds one cell vector (@p n doubles) of @p hour (0: historical). */
void bd_estimate_add_cell(bd_estimate_t *e, const bd_estimate_params_t *p, int cluster,
			  int treatment, int64_t hour, const double *x, int n);
/** Adds a delay vector (realised cost by delay bucket). */
void bd_estimate_add_delay(bd_estimate_t *e, const double *x, int n);
/** Share of cost arrived @p age_s after the decision (learned, corrected
 *  for censoring by bd_estimate_finish; 1 past the
 *  maturity); NAN without data. */
double bd_estimate_arrived(const bd_estimate_t *e, double age_s);
/** The requests expected in the rest of today for pacing, never fewer
 *  than e->waiting (a backlog decided at a budget per request meant for
 *  the day's last few requests would spend far past the budget): the
 *  forecast;
 *  on a day without a traffic profile (past_days < 1), when the recent
 *  rate kept up until the day ends (r) forecasts more, n_rem^h r^(1-h),
 *  h = min(1, 2 n_tail / n_rem): the flat prior under-forecasts a day
 *  whose traffic is still rising, and spend that runs behind is caught up
 *  while later solves can correct it, but not near the day's end. */
double bd_estimate_pace_requests(const bd_estimate_t *e);
/** Computes the means, errors, profile and traffic. */
void bd_estimate_finish(bd_estimate_t *e, const bd_estimate_params_t *p);
/** After bd_estimate_finish: 0 when every number the solver and the
 *  reports read is finite, else BD_EINVAL and which one in @p why. */
int bd_estimate_check(const bd_estimate_t *e, char *why, size_t why_size) BD_WUR;

#endif
