/**
 * @file simworld.h
 * @brief The world simulator's model: users, hidden segments, true responses
 *        to every treatment, realised outcomes, daily arrivals, the oracle.
 *
 * This is the ground truth every benchmark measures on.  A world is built
 * once from a bd_sim_params_t (deterministic for a seed) and is immutable
 * afterwards, so any number of threads may read it at once.  Randomness
 * that is drawn after creation (outcomes, arrivals, samples) comes from a
 * caller-owned 64-bit RNG state (bd_sim_rng_*), so the caller controls
 * reproducibility and thread-safety.
 *
 * The model is described at the top of src/simworld.c (the `default`
 * family) and src/simfamilies.c (`smooth`, `sparse`), and in
 * docs/simulator.md.  Treatment 0 is always "no coupon" (coupon value 0).
 *
 * Indices are not range-checked by the per-user accessors (they are on hot
 * paths); functions that take a list of users check it and return -EINVAL.
 *
 * @locality any thread; a world is read-only after bd_sim_world_new().
 */
#ifndef BUDGETD_SIMWORLD_H
#define BUDGETD_SIMWORLD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "budgetd/base/common.h"

/** Maximum number of treatments (incl. the control, treatment 0). */
#define BD_SIM_MAX_T 16
/** Maximum number of hidden segments. */
#define BD_SIM_MAX_SEGMENTS 64
/** Maximum number of users in one world. */
#define BD_SIM_MAX_USERS 50000000
/** Maximum observed feature dimension. */
#define BD_SIM_MAX_DIM 256

/**
 * World families: different response structures, feature distributions,
 * traffic and delays (docs/simulator.md).  Each family has its own defaults
 * for segments, coupons and mean_delay_s (bd_sim_params_family()).
 */
enum bd_sim_family {
	BD_SIM_WORLD_DEFAULT = 0, /**< eight segments, lunch/dinner traffic */
	BD_SIM_WORLD_SMOOTH = 1,  /**< raw heavy-tailed features, smooth response */
	BD_SIM_WORLD_SPARSE = 2,  /**< a minority carries the uplift, bursts */
	BD_SIM_WORLD__COUNT
};

/** The simulator's knobs; see docs/simulator.md for their meaning. */
typedef struct bd_sim_params_s {
	uint64_t seed;             /**< everything is a function of this */
	int n_users;               /**< users in the world (default 100000) */
	int n_segments;            /**< hidden segments (default 8) */
	int dim;                   /**< observed features per user (default 12) */
	int n_treatments;          /**< treatments incl. control (default 4) */
	double coupon[BD_SIM_MAX_T]; /**< coupon value per treatment, [0] = 0 */
	double label_noise;        /**< reported-outcome noise, 0..1 (default 0) */
	double feature_noise;      /**< observed-feature noise / signal sd (0.3) */
	double heavy_tail;         /**< Pareto share of order values, 0..1 (0) */
	double individual_sd;      /**< per-user spread around the segment (0.25) */
	double mean_delay_s;       /**< mean outcome delay in seconds (1800) */
	double day_seconds;        /**< length of a simulated day (86400) */
	double tail_shape;         /**< Pareto shape alpha of the tail (2.5) */
	int family;                /**< enum bd_sim_family (default 0) */
} bd_sim_params_t;

/** An immutable simulated world (opaque). */
typedef struct bd_sim_world_s bd_sim_world_t;

/** One realised (reported) outcome of showing treatment t to user i. */
typedef struct bd_sim_outcome_s {
	int converted;  /**< 1 if the user ordered, else 0 */
	int orders;     /**< orders placed (0 when not converted) */
	int redeemed;   /**< 1 if the coupon was used (then cost = coupon) */
	double value;   /**< GMV of the orders (0 when not converted) */
	double cost;    /**< redeemed coupon value (0 when not redeemed) */
	double delay_s; /**< seconds from the decision to the outcome event
			     (0 when not converted: no outcome event) */
} bd_sim_outcome_t;

/* ---- parameters ------------------------------------------------------ */

/**
 * Fills @p p with the defaults: seed 1, 100000 users, 8 segments, dim 12,
 * 4 treatments with coupons {0, 2, 4, 8}, feature_noise 0.3, label_noise 0,
 * heavy_tail 0, individual_sd 0.25, mean_delay_s 1800, day_seconds 86400,
 * tail_shape 2.5.
 */
void bd_sim_params_default(bd_sim_params_t *p);

/** @returns the name of @p family ("default", "smooth", "sparse"), or NULL. */
const char *bd_sim_family_name(int family);

/** @returns the family called @p name, or -EINVAL. */
int bd_sim_family_parse(const char *name);

/**
 * Makes @p p a world of @p family: sets p->family and the family's own
 * defaults for segments, treatments, coupons and mean_delay_s; every other
 * knob (seed, users, dim, the noise knobs, ...) is left as it is.
 * default: 8 segments, coupons {0, 2, 4, 8}, mean delay 1800 s;
 * smooth: 8 segments (bands of price sensitivity), coupons {0, 2, 4, 7, 12},
 * 3600 s; sparse: 6 segments, coupons {0, 1, 2, 4, 7, 10}, 2700 s.
 * @returns 0, or -EINVAL for an unknown family (@p p unchanged).
 */
int bd_sim_params_family(bd_sim_params_t *p, int family) BD_WUR;

/**
 * Sets one knob from its textual form.  Keys: world (a family name; as
 * bd_sim_params_family(), so it resets that family's knobs), seed, users,
 * segments, dim, treatments, coupons (comma list, also sets the treatment
 * count; the first must be 0), label_noise, feature_noise, heavy_tail,
 * individual_sd, mean_delay_s, day_seconds, tail_shape.  Setting
 * "treatments" to more than
 * before extends the coupon ladder by repeating its last step
 * (at least 1): {0, 2, 4, 8} becomes {0, 2, 4, 8, 12, 16, ...}.
 *
 * @param errstr  receives a message on error (may be NULL); caller-owned.
 * @returns 0, or -EINVAL (unknown key, unparsable or out-of-range value);
 *          @p p is unchanged on error.
 */
int bd_sim_params_set(bd_sim_params_t *p, const char *key, const char *value,
		      char *errstr, size_t errstr_size) BD_WUR;

/**
 * Applies @p n "KEY=VALUE" settings as the tools' -p options do: the
 * world= settings first (the last one wins), then the others in order, so
 * `-p coupons=0,5 -p world=sparse` keeps the coupons.  @p kv is not
 * modified.
 * @returns 0, or -EINVAL with the offending setting named in @p errstr;
 *          @p p is unchanged on error.
 */
int bd_sim_params_set_list(bd_sim_params_t *p, const char *const *kv, int n,
			   char *errstr, size_t errstr_size) BD_WUR;

/**
 * The tools' world from their options: the defaults, then the family
 * @p world (a name; NULL for default), then the -p settings @p kv as
 * bd_sim_params_set_list() applies them (so a -p world= wins over @p world).
 * @returns 0, or -EINVAL with a message in @p errstr.
 */
int bd_sim_params_from_args(bd_sim_params_t *p, const char *world, const char *const *kv, int n,
			    char *errstr, size_t errstr_size) BD_WUR;

/**
 * Checks every knob's range and their consistency.
 * @returns 0 or -EINVAL with a message in @p errstr (may be NULL).
 */
int bd_sim_params_validate(const bd_sim_params_t *p, char *errstr,
			   size_t errstr_size) BD_WUR;

/* ---- world ----------------------------------------------------------- */

/**
 * Builds a world: all per-user data (segment, observed features, true
 * responses) is computed here, deterministically from @p p.  The world
 * keeps its own copy of @p p.
 *
 * @param wp  receives the world on success; free it with bd_sim_world_free().
 * @returns 0, -EINVAL (bad parameters) or -ENOMEM.
 */
int bd_sim_world_new(const bd_sim_params_t *p, bd_sim_world_t **wp) BD_WUR;

/** Frees @p w and everything it owns (NULL is allowed). */
void bd_sim_world_free(bd_sim_world_t *w);

/** @returns the world's parameters (owned by the world). */
const bd_sim_params_t *bd_sim_world_params(const bd_sim_world_t *w);
/** @returns the number of users. */
int bd_sim_n_users(const bd_sim_world_t *w);
/** @returns the number of observed features per user. */
int bd_sim_dim(const bd_sim_world_t *w);
/** @returns the number of treatments (incl. the control). */
int bd_sim_n_treatments(const bd_sim_world_t *w);
/** @returns the number of hidden segments. */
int bd_sim_n_segments(const bd_sim_world_t *w);
/** @returns the coupon value of treatment @p t. */
double bd_sim_coupon(const bd_sim_world_t *w, int t);
/** @returns segment @p k's name (e.g. "sure-things"; owned by the world). */
const char *bd_sim_segment_name(const bd_sim_world_t *w, int k);
/** @returns segment @p k's population share (they sum to 1). */
double bd_sim_segment_share(const bd_sim_world_t *w, int k);

/* ---- per-user truth -------------------------------------------------- */

/** @returns user @p i's hidden segment, 0..n_segments-1. */
int bd_sim_user_segment(const bd_sim_world_t *w, int i);
/**
 * @returns user @p i's dim OBSERVED features (feature noise included, fixed
 *          per user); owned by the world, valid until bd_sim_world_free().
 */
const float *bd_sim_user_features(const bd_sim_world_t *w, int i);
/** @returns the true conversion probability of user @p i under treatment @p t. */
double bd_sim_user_pconv(const bd_sim_world_t *w, int i, int t);
/** @returns the true mean GMV of a conversion of user @p i under @p t. */
double bd_sim_user_order_value(const bd_sim_world_t *w, int i, int t);
/** @returns the probability that a converting user @p i uses the coupon. */
double bd_sim_user_redeem(const bd_sim_world_t *w, int i);
/** @returns the true expected value (GMV) = pconv * order value. */
double bd_sim_user_ev(const bd_sim_world_t *w, int i, int t);
/** @returns the true expected cost = pconv * redeem * coupon[t] (0 for t = 0). */
double bd_sim_user_ec(const bd_sim_world_t *w, int i, int t);

/**
 * Draws one reported outcome of treatment @p t shown to user @p i, using
 * and advancing the caller's RNG state @p rng.  E[converted] = pconv,
 * E[value] = ev, E[cost] = ec at every noise setting (the noise knobs are
 * mean-preserving).  @p o is caller-owned.
 */
void bd_sim_outcome(const bd_sim_world_t *w, int i, int t, uint64_t *rng,
		    bd_sim_outcome_t *o);

/**
 * Draws the delay in seconds from a decision to its outcome event, from the
 * world's delay distribution (its mean is mean_delay_s; 0 when that is 0):
 * exponential (default), lognormal with log-sd 1.2 (smooth), or a mixture of
 * a fast and a slow exponential (sparse).  bd_sim_outcome() uses it for
 * conversions; callers use it for the outcome events of non-conversions.
 */
double bd_sim_delay(const bd_sim_world_t *w, uint64_t *rng);

/* ---- random numbers (splitmix64: hash.h's bd_hash_next) ------------------ */

/** @returns the next 64 random bits and advances @p s. */
uint64_t bd_sim_rng_next(uint64_t *s);
/** @returns a uniform double in [0, 1). */
double bd_sim_rng_uniform(uint64_t *s);
/** @returns a standard normal draw (Box-Muller). */
double bd_sim_rng_normal(uint64_t *s);
/** @returns an RNG state for stream @p stream of @p seed (independent streams). */
uint64_t bd_sim_rng_seed(uint64_t seed, uint64_t stream);

/* ---- arrivals -------------------------------------------------------- */

/**
 * The reference time-of-day arrival density (food delivery: low at night,
 * lunch and dinner peaks); integrates to 1 over [0, 1).  @p day_frac is
 * wrapped into [0, 1).
 */
double bd_sim_traffic_profile(double day_frac);
/** Segment @p k's own arrival density over [0, 1) (integrates to 1). */
double bd_sim_segment_profile(const bd_sim_world_t *w, int k, double day_frac);
/** The world's arrival density: the share-weighted mix of segment profiles. */
double bd_sim_world_profile(const bd_sim_world_t *w, double day_frac);

/**
 * Draws one day of @p n_events arrivals: each picks a user uniformly at
 * random (with replacement, so users may arrive several times) and a time
 * from that user's segment profile.  Output is sorted by time.
 *
 * @param times_s  caller-owned, n_events seconds in [0, day_seconds), ascending.
 * @param users    caller-owned, n_events user indices.
 * @returns 0, -EINVAL or -ENOMEM.
 */
int bd_sim_day_arrivals(const bd_sim_world_t *w, int n_events, uint64_t *rng,
			double *times_s, int *users) BD_WUR;

/* ---- oracle ---------------------------------------------------------- */

/**
 * The best expected total value reachable for the arrivals @p users at
 * expected spend <= @p budget, knowing every true ev/ec: the LP relaxation
 * of the multiple-choice knapsack (per arrival the upper convex hull of
 * (ec, ev) over treatments; one arrival may be split at the margin).  Each
 * list entry is one opportunity (repeats count again).  Solved by bisection
 * on lambda, O(1) extra memory.
 *
 * @param users       n user indices, or NULL for users 0..n-1.
 * @param value       receives the LP value (may be NULL).
 * @param spend       receives its expected spend, <= budget (may be NULL).
 * @param lambda_out  receives the dual price: the pure assignment
 *                    bd_sim_oracle_assign(lambda_out) spends <= budget;
 *                    0 when the budget is not binding (may be NULL).
 * @returns 0 or -EINVAL.
 */
int bd_sim_oracle(const bd_sim_world_t *w, const int *users, int n,
		  double budget, double *value, double *spend,
		  double *lambda_out) BD_WUR;

/**
 * The pure allocation at dual price @p lambda: each listed user gets
 * argmax_t ev - lambda * ec (ties to the cheaper treatment).
 *
 * @param treatments  caller-owned, receives n treatments (may be NULL).
 * @param value,spend receive the expected totals (may be NULL).
 * @returns 0 or -EINVAL.
 */
int bd_sim_oracle_assign(const bd_sim_world_t *w, const int *users, int n,
			 double lambda, int *treatments, double *value,
			 double *spend) BD_WUR;

/**
 * The exact LP oracle for many budgets at once (the budget/value curve):
 * sorts the hull edges of all arrivals once, O(n T) memory.
 *
 * @param budgets  m budgets, any order.
 * @param values,spends,lambdas  caller-owned arrays of m (any may be NULL).
 * @returns 0, -EINVAL or -ENOMEM.
 */
int bd_sim_oracle_curve(const bd_sim_world_t *w, const int *users, int n,
			const double *budgets, int m, double *values,
			double *spends, double *lambdas) BD_WUR;

/**
 * Expected value and spend of the uniform random allocation (every arrival
 * gets each treatment with probability 1/T): sums of the per-user means.
 * @returns 0 or -EINVAL.
 */
int bd_sim_uniform_value(const bd_sim_world_t *w, const int *users, int n,
			 double *value, double *spend) BD_WUR;

/**
 * Expected value of the all-control allocation (nobody gets a coupon; its
 * spend is 0): the base every incremental value is measured from.
 * @returns 0 or -EINVAL.
 */
int bd_sim_control_value(const bd_sim_world_t *w, const int *users, int n,
			 double *value) BD_WUR;

/**
 * Expected value of the uniform allocation scaled to spend @p spend: the
 * control for everyone, and a uniformly random treatment for the share
 * min(1, spend / S_u) of arrivals (S_u the uniform allocation's spend), so
 * value = V_0 + min(1, spend / S_u) (V_u - V_0).  Past S_u it stays at the
 * uniform allocation's value (it cannot spend more).  This is "uniform at
 * the same spend" in every report.
 * @returns 0 or -EINVAL (also for a negative or NaN @p spend).
 */
int bd_sim_uniform_value_at(const bd_sim_world_t *w, const int *users, int n, double spend,
			    double *value) BD_WUR;

/**
 * Expected value and spend of a given pure allocation (@p treatments[k]
 * for arrival k).  @returns 0 or -EINVAL.
 */
int bd_sim_policy_value(const bd_sim_world_t *w, const int *users, int n,
			const int *treatments, double *value,
			double *spend) BD_WUR;

/* ---- offline samples ------------------------------------------------- */

/** Sample logging policies for bd_sim_write_samples(). */
enum bd_sim_policy {
	BD_SIM_POLICY_RCT = 0,    /**< uniform treatment, propensity 1/T */
	BD_SIM_POLICY_BIASED = 1, /**< softmax favouring big coupons for
				       high-value-looking users, + explore */
};

/**
 * The biased logging policy's treatment probabilities for user @p i:
 * p_t = explore / T + (1 - explore) softmax_t(1.5 score_i (2 c_t / c_max - 1)),
 * where score_i (standardised) is a "prior model" of log ev_i0 that depends
 * on the observed features only (ridge on fixed random tanh features of x,
 * fitted at world creation on the first 20000 users).  See docs/simulator.md.
 *
 * @param probs  caller-owned, receives n_treatments probabilities (sum 1).
 */
void bd_sim_logging_probs(const bd_sim_world_t *w, int i, double explore,
			  double *probs);

/**
 * Writes @p n logged samples as CSV with the header
 * user_id,segment,treatment,propensity,converted,orders,value,cost,f0..f{dim-1}.
 * Users are drawn uniformly with replacement; @p policy is a
 * bd_sim_policy; @p explore in [0, 1] only matters for the biased policy.
 * The segment column is ground truth for diagnostics only.
 *
 * @returns 0, -EINVAL or -EIO.
 */
int bd_sim_write_samples(const bd_sim_world_t *w, FILE *f, int n, int policy,
			 double explore, uint64_t *rng) BD_WUR;

#endif
