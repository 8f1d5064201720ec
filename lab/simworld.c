/*
 * simworld.c - the world simulator's model (ground truth for benchmarks).
 *
 * THE MODEL (docs/simulator.md says the same in more words)
 * ---------------------------------------------------------
 * Everything is a deterministic function of params.seed.  World-level draws
 * come from RNG stream 1, the feature-standardisation pilot from stream 2,
 * and user i's data from its own stream 2^40 + i, so a world of N users is
 * a prefix of a world of M > N users with the same seed and knobs (only the
 * logging policy's score, fitted on the first min(N, 20000) users, differs).
 *
 * Segments.  Segment k takes archetype k mod 8 (table `archetypes` below;
 * lifts are relative, at the default coupons {2, 4, 8}, before perturbation):
 *   0 sure-things            base 9%,  +2..4%: coupons mostly just cost
 *   1 persuadables           base 3%,  +30..40% already at small coupons
 *   2 big-coupon-responders  base 2%,  +3% / +10% / +65%: threshold near 6
 *   3 lost-causes            base 0.8%, +2..7% (20% of users)
 *   4 coupon-hunters         base 5%,  +12..23%, redeem 0.97, GMV 22
 *   5 high-gmv               base 6%,  +3..9%, redeem 0.45, GMV 85
 *   6 steady-responders      base 4%,  +10% / +20% / +35% (roughly linear)
 *   7 basket-builders        base 4%,  +8..20%, coupons also raise GMV (+12%)
 * with each parameter perturbed per segment (log-normal sd 0.12 on the first
 * pass through the table, 0.35 on later passes so that repeats differ).
 * Shares are the archetype shares times exp(0.2 N), renormalised.
 *
 * Responses.  For coupon value c (currency units, like GMV) three lift shapes
 *   g_fast(c) = 1 - exp(-c / 1.5)                 saturates at small coupons
 *   g_slow(c) = 1 - exp(-c / 10)                  roughly linear up to ~8
 *   g_thr(c)  = (S(c - 6) - S(-6)) / (1 - S(-6))  threshold at 6 (S logistic)
 * and for user i in segment s, treatment t:
 *   pconv_it = clamp(S(a_i + m_i (bf_s g_fast + bs_s g_slow + bt_s g_thr)),
 *                    1e-6, 0.95)
 *   a_i   = logit(p0_s) + sd z_a        (sd = individual_sd)
 *   m_i   = exp(sd z_m)                 (per-user lift multiplier)
 *   gmv_it = V_s exp(sd z_v) exp(bv_s g_slow(c_t))   mean GMV of a conversion
 *   rho_i = S(logit(rho_s) + sd z_r)    redemption probability
 *   ev_it = pconv_it gmv_it;  ec_it = pconv_it rho_i c_t  (0 for c_t = 0)
 * pconv is non-decreasing in c.  The z's are standard normal and correlate
 * with the user's latent offset e_i (below): z = sqrt(0.7) w_s.e_i +
 * sqrt(0.3) xi, w_s a random unit vector per segment and response, so the
 * features carry information about the response beyond the segment.
 *
 * Features.  Latent u_i (7 dims) = [centre_s + 0.6 e_i  (4 dims, e_i ~ N(0,I)),
 * nuisance (3 dims): one of 6 "cities" (2-dim centres N(0, 2.5^2), spread
 * 0.35) and one N(0, 1.2^2) dim].  The nuisance dims do not affect
 * responses.  Observed x = offset_j + scale_j (std_j(W2 tanh(W1 u + b1)) +
 * feature_noise N(0,1)) with a fixed random 24-unit tanh layer, std_j the
 * standardisation measured on a 4096-user pilot, scale_j = exp(0.7 N) and
 * offset_j = 3 N.  The nuisance carries much of the raw feature geometry,
 * so k-means on raw or standardised features recovers the segments poorly
 * (purity ~0.3-0.4 for 8 segments) although the features do carry them
 * (15-NN accuracy ~0.8): a model that learns the responses can find them.
 *
 * Outcomes (bd_sim_outcome).  True conversion ~ Bernoulli(pconv).  A
 * conversion has 1 + Poisson(xo_s) orders; each order's GMV has mean
 * gmv_it / (1 + xo_s) and is lognormal (log-sd 0.5) or, with probability
 * heavy_tail, Pareto(alpha = tail_shape, x_m = mean (alpha - 1) / alpha):
 * the mean is the same either way.  The coupon is redeemed with probability
 * rho_i (cost = c_t, once per conversion).  Delay ~ Exponential(mean_delay_s).
 * Label noise L = label_noise (reported != true, mean-preserving): a true
 * conversion is reported as none with q10 = min(L, (1 - p) / p); a
 * non-conversion is reported as a fresh conversion record with
 * q01 = q10 p / (1 - p); the reported GMV is multiplied by
 * exp(L N - L^2 / 2).  Hence E[reported] = truth for conversion, GMV, cost.
 *
 * Arrivals.  Reference profile over the day fraction x:
 *   f(x) = (fl + sum_k a_k WN(x; mu_k, sd_k) + ad (1 + cos 2 pi (x - 15/24))/2)
 *          / (fl + sum a_k + ad / 2)
 * WN a wrapped normal; peaks at lunch 12:00, dinner 18:45, late 22:30.
 * Each segment has its own weights and peak shifts.  A day of arrivals draws
 * users uniformly with replacement and times from their segment's profile.
 *
 * Oracle.  LP relaxation of the multiple-choice knapsack over the listed
 * arrivals: max sum ev s.t. sum ec <= B, per arrival a convex combination
 * of treatments.  Bisection on lambda of argmax_t ev - lambda ec, then the
 * convex combination of the two bracketing pure allocations that spends B
 * exactly; or (curve) the sorted upper-hull edges of every arrival.
 *
 * Logging policy (samples, policy 1).  score_i = standardised ridge fit of
 * log ev_i0 on 64 fixed random tanh features of the standardised observed
 * features (fitted on the first min(n, 20000) users; correlation with
 * log ev_i0 about 0.5), so it depends on x only;
 * p_t = explore / T + (1 - explore) softmax_t(1.5 score_i (2 c_t / c_max - 1)).
 * Samples draw users uniformly with replacement.
 */
#include "simworld_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/hash.h"

#define LAT_S BD__SIM_LAT_S
#define LAT_N 3		 /* nuisance latent dims */
#define LAT BD__SIM_LAT
#define HID BD__SIM_HID
#define N_CITIES BD__SIM_N_CITIES
#define N_ARCH 8
#define N_RESP BD__SIM_N_RESP
#define N_PEAKS 3	 /* the default family's profile: lunch, dinner, late */
#define PILOT_N 4096
#define SCORE_FIT_N 20000
#define WITHIN_SD 0.6	 /* user spread around the segment centre */
#define CENTRE_SD 1.5
#define CITY_SD 2.5
#define CITY_SPREAD 0.35
#define NUIS_SD 1.2
#define RESP_R2 0.7	 /* share of response offset variance from e_i */
#define ORDER_LOG_SD 0.5
#define PCONV_MAX BD__SIM_PCONV_MAX
#define PCONV_MIN BD__SIM_PCONV_MIN
#define LOG_GAMMA 1.5	 /* logging policy strength */
#define SCORE_M BD__SIM_SCORE_M
#define MAX_COUPON 1e6
#define MAX_DAY_S (30.0 * 86400.0)

#define STREAM_WORLD BD__SIM_STREAM_WORLD
#define STREAM_PILOT BD__SIM_STREAM_PILOT
#define STREAM_USER BD__SIM_STREAM_USER

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

struct archetype {
	const char *name;
	struct bd__sim_arch_response r;
	/* profile: floor, lunch, dinner, late, daytime (weights) */
	double pf, pl, pd, pn, pday;
};

static const struct archetype archetypes[N_ARCH] = {
	{"sure-things", {.12, .090, .02, .06, 0, 0, .90, 35, .30}, .05, .45, .35, .03, .25},
	{"persuadables", {.12, .030, .35, 0, 0, .02, .70, 30, .10}, .06, .34, .42, .06, .30},
	{"big-coupon-responders", {.10, .020, .03, 0, .55, .03, .80, 40, .10}, .05, .25, .50, .08, .25},
	{"lost-causes", {.20, .008, 0, .12, 0, 0, .60, 25, .05}, .20, .20, .25, .05, .50},
	{"coupon-hunters", {.12, .050, .10, .20, 0, 0, .97, 22, .20}, .08, .20, .30, .18, .40},
	{"high-gmv", {.08, .060, 0, .15, 0, 0, .45, 85, .15}, .04, .25, .55, .06, .20},
	{"steady-responders", {.13, .040, 0, .55, 0, .03, .75, 45, .15}, .06, .34, .42, .06, .30},
	{"basket-builders", {.13, .040, .08, .20, 0, .20, .60, 55, .20}, .05, .38, .45, .04, .28},
};

/* The reference profile's weights and the peak centres / widths (hours). */
static const double ref_w[5] = {.06, .34, .42, .06, .30};
static const double peak_mu_h[N_PEAKS] = {12.0, 18.75, 22.5};
static const double peak_sd_h[N_PEAKS] = {0.9, 1.2, 1.0};
#define DAY_PEAK_FRAC (15.0 / 24.0)

/* ---- RNG ------------------------------------------------------------- */
/* splitmix64 is hash.c's (bd_hash_next, bd_hash_mix, bd_hash_unit): one
 * implementation, so the simulator's streams and the training draws are
 * the same generator.  The worlds of a seed are fixed by it: never change it. */

uint64_t bd_sim_rng_next(uint64_t *s)
{
	return bd_hash_next(s);
}

double bd_sim_rng_uniform(uint64_t *s)
{
	return bd_hash_unit(bd_hash_next(s));
}

double bd_sim_rng_normal(uint64_t *s)
{
	double u1 = 1.0 - bd_sim_rng_uniform(s); /* (0, 1] */
	double u2 = bd_sim_rng_uniform(s);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t bd_sim_rng_seed(uint64_t seed, uint64_t stream)
{
	uint64_t s = bd_hash_mix(seed + 0x9e3779b97f4a7c15ULL * (stream + 1));
	return bd_hash_mix(s ^ (stream * 0xd1b54a32d192ed03ULL + 0x2545f4914f6cdd1dULL));
}

int bd__sim_poisson(uint64_t *s, double lam)
{
	double l = exp(-lam), p = 1.0;
	int k = 0;
	if (lam <= 0)
		return 0;
	for (;;) {
		p *= bd_sim_rng_uniform(s);
		if (p <= l || k > 1000)
			return k;
		k++;
	}
}

#define sigm bd__sim_sigm
#define logit bd__sim_logit

/* ---- parameters ------------------------------------------------------ */

void bd_sim_params_default(bd_sim_params_t *p)
{
	static const double ladder[] = {0, 2, 4, 8};
	memset(p, 0, sizeof(*p));
	p->seed = 1;
	p->n_users = 100000;
	p->n_segments = 8;
	p->dim = 12;
	p->n_treatments = 4;
	for (size_t t = 0; t < BD_ARRAY_SIZE(ladder); t++)
		p->coupon[t] = ladder[t];
	p->label_noise = 0;
	p->feature_noise = 0.3;
	p->heavy_tail = 0;
	p->individual_sd = 0.25;
	p->mean_delay_s = 1800;
	p->day_seconds = 86400;
	p->tail_shape = 2.5;
	p->family = BD_SIM_WORLD_DEFAULT;
}

static const char *const family_names[BD_SIM_WORLD__COUNT] = {"default", "smooth", "sparse"};

const char *bd_sim_family_name(int family)
{
	return family >= 0 && family < BD_SIM_WORLD__COUNT ? family_names[family] : NULL;
}

int bd_sim_family_parse(const char *name)
{
	for (int f = 0; name && f < BD_SIM_WORLD__COUNT; f++)
		if (strcmp(name, family_names[f]) == 0)
			return f;
	return -EINVAL;
}

static void set_ladder(bd_sim_params_t *p, const double *c, int n)
{
	memset(p->coupon, 0, sizeof(p->coupon));
	memcpy(p->coupon, c, sizeof(double) * (size_t)n);
	p->n_treatments = n;
}

int bd_sim_params_family(bd_sim_params_t *p, int family)
{
	static const double ladder[] = {0, 2, 4, 8};
	if (!p || !bd_sim_family_name(family))
		return -EINVAL;
	p->family = family;
	switch (family) {
	case BD_SIM_WORLD_SMOOTH:
		bd__sim_smooth_params(p);
		break;
	case BD_SIM_WORLD_SPARSE:
		bd__sim_sparse_params(p);
		break;
	default:
		p->n_segments = 8;
		set_ladder(p, ladder, (int)BD_ARRAY_SIZE(ladder));
		p->mean_delay_s = 1800;
	}
	return 0;
}

void bd__sim_params_ladder(bd_sim_params_t *p, const double *c, int n)
{
	set_ladder(p, c, n);
}

BD_PRINTF(3, 4)
static int seterr(char *errstr, size_t size, const char *fmt, ...)
{
	va_list ap;
	if (errstr && size > 0) {
		va_start(ap, fmt);
		vsnprintf(errstr, size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_double(const char *key, const char *v, double lo, double hi,
			double *out, char *errstr, size_t size)
{
	char *end;
	double d;
	errno = 0;
	d = strtod(v, &end);
	if (end == v || *end != '\0' || errno == ERANGE || !isfinite(d))
		return seterr(errstr, size, "%s: '%s' is not a finite number", key, v);
	if (d < lo || d > hi)
		return seterr(errstr, size, "%s: %g is out of range [%g, %g]", key, d, lo, hi);
	*out = d;
	return 0;
}

static int parse_int(const char *key, const char *v, long lo, long hi, int *out,
		     char *errstr, size_t size)
{
	char *end;
	long l;
	errno = 0;
	l = strtol(v, &end, 10);
	if (end == v || *end != '\0' || errno == ERANGE)
		return seterr(errstr, size, "%s: '%s' is not an integer", key, v);
	if (l < lo || l > hi)
		return seterr(errstr, size, "%s: %ld is out of range [%ld, %ld]", key, l, lo, hi);
	*out = (int)l;
	return 0;
}

static int parse_coupons(const char *v, bd_sim_params_t *p, char *errstr, size_t size)
{
	double c[BD_SIM_MAX_T];
	int n = 0;
	const char *s = v;
	for (;;) {
		char *end;
		double d;
		if (n == BD_SIM_MAX_T)
			return seterr(errstr, size, "coupons: more than %d values in '%s'",
				      BD_SIM_MAX_T, v);
		errno = 0;
		d = strtod(s, &end);
		if (end == s || errno == ERANGE || !isfinite(d) || (*end != ',' && *end != '\0'))
			return seterr(errstr, size,
				      "coupons: '%s' is not a comma-separated list of numbers", v);
		if (d < 0 || d > MAX_COUPON)
			return seterr(errstr, size, "coupons: value %g is out of range [0, %g]",
				      d, MAX_COUPON);
		c[n++] = d;
		if (*end == '\0')
			break;
		s = end + 1;
	}
	if (n < 2)
		return seterr(errstr, size, "coupons: need at least 2 values (control and one coupon), got %d", n);
	if (c[0] != 0)
		return seterr(errstr, size, "coupons: the first value is the control and must be 0, got %g", c[0]);
	memcpy(p->coupon, c, sizeof(double) * (size_t)n);
	for (int t = n; t < BD_SIM_MAX_T; t++)
		p->coupon[t] = 0;
	p->n_treatments = n;
	return 0;
}

int bd_sim_params_set(bd_sim_params_t *p, const char *key, const char *value,
		      char *errstr, size_t errstr_size)
{
	char *e = errstr;
	size_t es = errstr_size;
	bd_sim_params_t q = *p;
	int rc;

	if (!key || !value)
		return seterr(e, es, "missing key or value");
	if (strcmp(key, "world") == 0) {
		int f = bd_sim_family_parse(value);
		if (f < 0)
			return seterr(e, es, "world: unknown family '%s' (known: default, smooth, sparse)",
				      value);
		rc = bd_sim_params_family(&q, f);
	} else if (strcmp(key, "seed") == 0) {
		char *end;
		unsigned long long u;
		errno = 0;
		if (value[0] == '-' || value[0] == '\0' || (u = strtoull(value, &end, 0), errno != 0) ||
		    *end != '\0')
			return seterr(e, es, "seed: '%s' is not an unsigned 64-bit integer", value);
		q.seed = (uint64_t)u;
		rc = 0;
	} else if (strcmp(key, "users") == 0) {
		rc = parse_int(key, value, 1, BD_SIM_MAX_USERS, &q.n_users, e, es);
	} else if (strcmp(key, "segments") == 0) {
		rc = parse_int(key, value, 1, BD_SIM_MAX_SEGMENTS, &q.n_segments, e, es);
	} else if (strcmp(key, "dim") == 0) {
		rc = parse_int(key, value, 1, BD_SIM_MAX_DIM, &q.dim, e, es);
	} else if (strcmp(key, "treatments") == 0) {
		rc = parse_int(key, value, 2, BD_SIM_MAX_T, &q.n_treatments, e, es);
		if (rc == 0) {
			/* extend the ladder by repeating its last step (at least 1) */
			for (int t = p->n_treatments < 1 ? 1 : p->n_treatments; t < q.n_treatments; t++) {
				double step = q.coupon[t - 1] - (t > 1 ? q.coupon[t - 2] : 0);
				q.coupon[t] = fmin(q.coupon[t - 1] + (step >= 1 ? step : 1), MAX_COUPON);
			}
			for (int t = q.n_treatments; t < BD_SIM_MAX_T; t++)
				q.coupon[t] = 0;
		}
	} else if (strcmp(key, "coupons") == 0) {
		rc = parse_coupons(value, &q, e, es);
	} else if (strcmp(key, "label_noise") == 0) {
		rc = parse_double(key, value, 0, 1, &q.label_noise, e, es);
	} else if (strcmp(key, "feature_noise") == 0) {
		rc = parse_double(key, value, 0, 10, &q.feature_noise, e, es);
	} else if (strcmp(key, "heavy_tail") == 0) {
		rc = parse_double(key, value, 0, 1, &q.heavy_tail, e, es);
	} else if (strcmp(key, "individual_sd") == 0) {
		rc = parse_double(key, value, 0, 2, &q.individual_sd, e, es);
	} else if (strcmp(key, "mean_delay_s") == 0) {
		rc = parse_double(key, value, 0, MAX_DAY_S, &q.mean_delay_s, e, es);
	} else if (strcmp(key, "day_seconds") == 0) {
		rc = parse_double(key, value, 1, MAX_DAY_S, &q.day_seconds, e, es);
	} else if (strcmp(key, "tail_shape") == 0) {
		rc = parse_double(key, value, 1.5, 10, &q.tail_shape, e, es);
	} else {
		return seterr(e, es,
			      "unknown simulator knob '%s' (known: world, seed, users, segments, dim, "
			      "treatments, coupons, label_noise, feature_noise, heavy_tail, "
			      "individual_sd, mean_delay_s, day_seconds, tail_shape)",
			      key);
	}
	if (rc == 0)
		*p = q;
	return rc;
}

int bd_sim_params_set_list(bd_sim_params_t *p, const char *const *kv, int n, char *errstr,
			   size_t errstr_size)
{
	bd_sim_params_t q;
	if (!p || n < 0 || (n > 0 && !kv))
		return seterr(errstr, errstr_size, "no settings");
	q = *p;
	/* pass 0: world= (it resets its family's knobs), pass 1: the rest */
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < n; k++) {
			char key[64];
			const char *eq = kv[k] ? strchr(kv[k], '=') : NULL;
			size_t kl = eq ? (size_t)(eq - kv[k]) : 0;
			int rc;
			if (!eq || kl == 0 || kl >= sizeof(key))
				return seterr(errstr, errstr_size, "'%s': expected KEY=VALUE",
					      kv[k] ? kv[k] : "(null)");
			memcpy(key, kv[k], kl);
			key[kl] = '\0';
			if ((strcmp(key, "world") == 0) != (pass == 0))
				continue;
			if ((rc = bd_sim_params_set(&q, key, eq + 1, errstr, errstr_size)))
				return rc;
		}
	*p = q;
	return 0;
}

int bd_sim_params_from_args(bd_sim_params_t *p, const char *world, const char *const *kv, int n,
			    char *errstr, size_t errstr_size)
{
	bd_sim_params_t q;
	if (!p)
		return seterr(errstr, errstr_size, "no parameters");
	bd_sim_params_default(&q);
	if (world && bd_sim_params_set(&q, "world", world, errstr, errstr_size))
		return -EINVAL;
	if (bd_sim_params_set_list(&q, kv, n, errstr, errstr_size))
		return -EINVAL;
	*p = q;
	return 0;
}

static int range_d(const char *key, double v, double lo, double hi, char *e, size_t es)
{
	if (!(v >= lo && v <= hi))
		return seterr(e, es, "%s: %g is out of range [%g, %g]", key, v, lo, hi);
	return 0;
}

static int range_i(const char *key, int v, int lo, int hi, char *e, size_t es)
{
	if (v < lo || v > hi)
		return seterr(e, es, "%s: %d is out of range [%d, %d]", key, v, lo, hi);
	return 0;
}

int bd_sim_params_validate(const bd_sim_params_t *p, char *e, size_t es)
{
	int rc;
	if (!p)
		return seterr(e, es, "no parameters");
	if (!bd_sim_family_name(p->family))
		return seterr(e, es, "world: family %d is unknown", p->family);
	if ((rc = range_i("users", p->n_users, 1, BD_SIM_MAX_USERS, e, es)) ||
	    (rc = range_i("segments", p->n_segments, 1, BD_SIM_MAX_SEGMENTS, e, es)) ||
	    (rc = range_i("dim", p->dim, 1, BD_SIM_MAX_DIM, e, es)) ||
	    (rc = range_i("treatments", p->n_treatments, 2, BD_SIM_MAX_T, e, es)) ||
	    (rc = range_d("label_noise", p->label_noise, 0, 1, e, es)) ||
	    (rc = range_d("feature_noise", p->feature_noise, 0, 10, e, es)) ||
	    (rc = range_d("heavy_tail", p->heavy_tail, 0, 1, e, es)) ||
	    (rc = range_d("individual_sd", p->individual_sd, 0, 2, e, es)) ||
	    (rc = range_d("mean_delay_s", p->mean_delay_s, 0, MAX_DAY_S, e, es)) ||
	    (rc = range_d("day_seconds", p->day_seconds, 1, MAX_DAY_S, e, es)) ||
	    (rc = range_d("tail_shape", p->tail_shape, 1.5, 10, e, es)))
		return rc;
	if (p->coupon[0] != 0)
		return seterr(e, es, "coupons: the control (treatment 0) must have coupon 0, got %g",
			      p->coupon[0]);
	for (int t = 1; t < p->n_treatments; t++) {
		char k[32];
		snprintf(k, sizeof(k), "coupon[%d]", t);
		if ((rc = range_d(k, p->coupon[t], 0, MAX_COUPON, e, es)))
			return rc;
	}
	return 0;
}

/* ---- profiles -------------------------------------------------------- */

static double wrap01(double x)
{
	x -= floor(x);
	return x >= 1.0 ? 0.0 : x;
}

static double wnorm(double x, double mu, double sd)
{
	double s = 0;
	for (int k = -1; k <= 1; k++) {
		double z = (x + k - mu) / sd;
		s += exp(-0.5 * z * z);
	}
	return s / (sd * sqrt(2.0 * M_PI));
}

void bd__sim_profile_make(struct bd__sim_profile *pr, double floor, int n_peaks, const double *a,
			  const double *mu, const double *sd, double day, double day_mu)
{
	memset(pr, 0, sizeof(*pr));
	if (n_peaks > BD__SIM_MAX_PEAKS)
		n_peaks = BD__SIM_MAX_PEAKS;
	pr->floor = floor;
	pr->norm = floor + 0.5 * day;
	pr->n_peaks = n_peaks;
	for (int k = 0; k < n_peaks; k++) {
		pr->a[k] = a[k];
		pr->mu[k] = wrap01(mu[k]);
		pr->sd[k] = sd[k];
		pr->norm += a[k];
	}
	pr->day = day;
	pr->day_mu = day_mu;
}

/* The default family's profile: weights (floor, lunch, dinner, late,
 * daytime) and peak shifts in hours. */
static void profile_init(struct bd__sim_profile *pr, const double wts[5], const double shift_h[N_PEAKS])
{
	double mu[N_PEAKS], sd[N_PEAKS];
	for (int k = 0; k < N_PEAKS; k++) {
		mu[k] = (peak_mu_h[k] + shift_h[k]) / 24.0;
		sd[k] = peak_sd_h[k] / 24.0;
	}
	bd__sim_profile_make(pr, wts[0], N_PEAKS, wts + 1, mu, sd, wts[4], DAY_PEAK_FRAC);
}

static double profile_eval(const struct bd__sim_profile *pr, double x)
{
	double f = pr->floor;
	x = wrap01(x);
	for (int k = 0; k < pr->n_peaks; k++)
		f += pr->a[k] * wnorm(x, pr->mu[k], pr->sd[k]);
	f += pr->day * 0.5 * (1.0 + cos(2.0 * M_PI * (x - pr->day_mu)));
	return f / pr->norm;
}

static double profile_sample(const struct bd__sim_profile *pr, uint64_t *r)
{
	double u = bd_sim_rng_uniform(r) * pr->norm;
	if (u < pr->floor)
		return bd_sim_rng_uniform(r);
	u -= pr->floor;
	for (int k = 0; k < pr->n_peaks; k++) {
		if (u < pr->a[k])
			return wrap01(pr->mu[k] + pr->sd[k] * bd_sim_rng_normal(r));
		u -= pr->a[k];
	}
	for (;;) { /* density prop. to 1 + cos(2 pi y) on [-1/2, 1/2) */
		double y = bd_sim_rng_uniform(r) - 0.5;
		if (bd_sim_rng_uniform(r) * 2.0 < 1.0 + cos(2.0 * M_PI * y))
			return wrap01(pr->day_mu + y);
	}
}

double bd_sim_traffic_profile(double day_frac)
{
	static const double zero[N_PEAKS] = {0, 0, 0};
	struct bd__sim_profile pr;
	profile_init(&pr, ref_w, zero);
	return profile_eval(&pr, day_frac);
}

double bd_sim_segment_profile(const bd_sim_world_t *w, int k, double day_frac)
{
	return profile_eval(&w->seg[k].prof, day_frac);
}

double bd_sim_world_profile(const bd_sim_world_t *w, double day_frac)
{
	double f = 0;
	for (int k = 0; k < w->S; k++)
		f += w->seg[k].share * profile_eval(&w->seg[k].prof, day_frac);
	return f;
}

/* ---- world construction ---------------------------------------------- */

void bd__sim_segment_draw(struct bd__sim_segment *s, const char *name,
			  const struct bd__sim_arch_response *a, double sd, uint64_t *r)
{
	double p0 = fmin(a->p0 * exp(sd * bd_sim_rng_normal(r)), 0.5);

	s->name = name;
	s->share = a->share * exp(0.2 * bd_sim_rng_normal(r));
	s->logit_p0 = logit(p0);
	s->b_fast = a->b_fast * exp(sd * bd_sim_rng_normal(r));
	s->b_slow = a->b_slow * exp(sd * bd_sim_rng_normal(r));
	s->b_thr = a->b_thr * exp(sd * bd_sim_rng_normal(r));
	s->b_val = a->b_val * exp(sd * bd_sim_rng_normal(r));
	s->logit_rho = logit(a->rho) + sd * bd_sim_rng_normal(r);
	s->gmv = a->gmv * exp(0.7 * sd * bd_sim_rng_normal(r));
	s->xo = a->xo * exp(sd * bd_sim_rng_normal(r));
}

void bd__sim_response_dirs(struct bd__sim_segment *s, uint64_t *r)
{
	for (int q = 0; q < N_RESP; q++) {
		double nn = 0;
		for (int j = 0; j < LAT_S; j++) {
			s->wdir[q][j] = bd_sim_rng_normal(r);
			nn += s->wdir[q][j] * s->wdir[q][j];
		}
		nn = sqrt(nn);
		for (int j = 0; j < LAT_S; j++)
			s->wdir[q][j] /= nn > 0 ? nn : 1;
	}
}

void bd__sim_response_z(const struct bd__sim_segment *sg, const double e[BD__SIM_LAT_S],
			uint64_t *r, double z[BD__SIM_N_RESP])
{
	for (int q = 0; q < N_RESP; q++) {
		double d = 0;
		for (int j = 0; j < LAT_S; j++)
			d += sg->wdir[q][j] * e[j];
		z[q] = sqrt(RESP_R2) * d + sqrt(1.0 - RESP_R2) * bd_sim_rng_normal(r);
	}
}

static void make_segments(bd_sim_world_t *w, uint64_t *r)
{
	for (int k = 0; k < w->S; k++) {
		const struct archetype *a = &archetypes[k % N_ARCH];
		struct bd__sim_segment *s = &w->seg[k];
		double sd = k < N_ARCH ? 0.12 : 0.35;
		double wts[5] = {a->pf, a->pl, a->pd, a->pn, a->pday}, shift[N_PEAKS];

		bd__sim_segment_draw(s, a->name, &a->r, sd, r);
		for (int j = 0; j < LAT_S; j++)
			s->centre[j] = CENTRE_SD * bd_sim_rng_normal(r);
		bd__sim_response_dirs(s, r);
		for (int q = 0; q < 5; q++)
			wts[q] *= exp(0.2 * bd_sim_rng_normal(r));
		for (int q = 0; q < N_PEAKS; q++)
			shift[q] = 0.3 * bd_sim_rng_normal(r);
		profile_init(&s->prof, wts, shift);
	}
	bd__sim_finish_shares(w);
}

void bd__sim_finish_shares(bd_sim_world_t *w)
{
	double tot = 0;
	for (int k = 0; k < w->S; k++)
		tot += w->seg[k].share;
	for (int k = 0; k < w->S; k++) {
		w->seg[k].share /= tot;
		w->cum_share[k] = (k ? w->cum_share[k - 1] : 0) + w->seg[k].share;
	}
	w->cum_share[w->S - 1] = 1.0;
}

static void make_feature_map(bd_sim_world_t *w, uint64_t *r)
{
	for (int c = 0; c < N_CITIES; c++)
		for (int j = 0; j < 2; j++)
			w->city[c][j] = CITY_SD * bd_sim_rng_normal(r);
	for (int h = 0; h < HID; h++) {
		for (int j = 0; j < LAT; j++)
			w->W1[h][j] = bd_sim_rng_normal(r) * (j < LAT_S ? 0.5 : 0.6);
		w->b1[h] = 0.5 * bd_sim_rng_normal(r);
	}
	for (int j = 0; j < w->dim; j++) {
		for (int h = 0; h < HID; h++)
			w->W2[(size_t)j * HID + (size_t)h] = bd_sim_rng_normal(r);
		w->fscale[j] = exp(0.7 * bd_sim_rng_normal(r));
		w->foff[j] = 3.0 * bd_sim_rng_normal(r);
	}
}

int bd__sim_pick_segment(const bd_sim_world_t *w, double u)
{
	int lo = 0, hi = w->S - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (u < w->cum_share[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Draws a user's segment, within-segment offset e and latent u. */
static int draw_latent(const bd_sim_world_t *w, uint64_t *r, double e[LAT_S], double u[LAT])
{
	int s = bd__sim_pick_segment(w, bd_sim_rng_uniform(r));
	int c;
	for (int j = 0; j < LAT_S; j++) {
		e[j] = bd_sim_rng_normal(r);
		u[j] = w->seg[s].centre[j] + WITHIN_SD * e[j];
	}
	c = (int)(bd_sim_rng_uniform(r) * N_CITIES);
	if (c >= N_CITIES)
		c = N_CITIES - 1;
	u[LAT_S] = w->city[c][0] + CITY_SPREAD * bd_sim_rng_normal(r);
	u[LAT_S + 1] = w->city[c][1] + CITY_SPREAD * bd_sim_rng_normal(r);
	u[LAT_S + 2] = NUIS_SD * bd_sim_rng_normal(r);
	return s;
}

/* The noiseless non-linear map, before standardisation. */
static void raw_map(const bd_sim_world_t *w, const double u[LAT], double *out)
{
	double h[HID];
	for (int k = 0; k < HID; k++) {
		double z = w->b1[k];
		for (int j = 0; j < LAT; j++)
			z += w->W1[k][j] * u[j];
		h[k] = tanh(z);
	}
	for (int j = 0; j < w->dim; j++) {
		const double *row = w->W2 + (size_t)j * HID;
		double z = 0;
		for (int k = 0; k < HID; k++)
			z += row[k] * h[k];
		out[j] = z;
	}
}

static void pilot_standardise(bd_sim_world_t *w)
{
	uint64_t r = bd_sim_rng_seed(w->p.seed, STREAM_PILOT);
	double e[LAT_S], u[LAT], *out = w->fsd; /* fsd used as scratch first */
	double *s1 = calloc((size_t)w->dim * 2, sizeof(double));
	double *s2;
	if (!s1) { /* tiny allocation; fall back to identity */
		for (int j = 0; j < w->dim; j++) {
			w->fmean[j] = 0;
			w->fsd[j] = 1;
		}
		return;
	}
	s2 = s1 + w->dim;
	for (int i = 0; i < PILOT_N; i++) {
		(void)draw_latent(w, &r, e, u);
		raw_map(w, u, out);
		for (int j = 0; j < w->dim; j++) {
			s1[j] += out[j];
			s2[j] += out[j] * out[j];
		}
	}
	for (int j = 0; j < w->dim; j++) {
		double m = s1[j] / PILOT_N, v = s2[j] / PILOT_N - m * m;
		w->fmean[j] = m;
		w->fsd[j] = v > 1e-12 ? sqrt(v) : 1.0;
	}
	free(s1);
}

static double lift_shape(const struct bd__sim_segment *s, const bd_sim_world_t *w, int t)
{
	return s->b_fast * w->g_fast[t] + s->b_slow * w->g_slow[t] + s->b_thr * w->g_thr[t];
}

void bd__sim_store_responses(bd_sim_world_t *w, int i, int s, double a, double m, double v,
			     double rho)
{
	const struct bd__sim_segment *sg = &w->seg[s];
	w->useg[i] = (uint8_t)s;
	w->rho[i] = (float)rho;
	for (int t = 0; t < w->T; t++) {
		double pc = sigm(a + m * lift_shape(sg, w, t));
		pc = fmin(fmax(pc, PCONV_MIN), PCONV_MAX);
		w->pconv[(size_t)i * (size_t)w->T + (size_t)t] = (float)pc;
		w->gmv[(size_t)i * (size_t)w->T + (size_t)t] = (float)(v * exp(sg->b_val * w->g_slow[t]));
	}
}

static void make_user(bd_sim_world_t *w, int i, double *tmp)
{
	uint64_t r = bd_sim_rng_seed(w->p.seed, STREAM_USER + (uint64_t)i);
	double e[LAT_S], u[LAT], z[N_RESP];
	double sd = w->p.individual_sd, a, m, v, rho;
	int s = draw_latent(w, &r, e, u);
	const struct bd__sim_segment *sg = &w->seg[s];
	float *x = w->x + (size_t)i * (size_t)w->dim;

	bd__sim_response_z(sg, e, &r, z);
	a = sg->logit_p0 + sd * z[0];
	m = exp(sd * z[1]);
	v = sg->gmv * exp(sd * z[2]);
	rho = sigm(sg->logit_rho + sd * z[3]);
	bd__sim_store_responses(w, i, s, a, m, v, rho);
	raw_map(w, u, tmp);
	for (int j = 0; j < w->dim; j++) {
		double std = (tmp[j] - w->fmean[j]) / w->fsd[j];
		double nz = w->p.feature_noise > 0 ? w->p.feature_noise * bd_sim_rng_normal(&r) : 0;
		x[j] = (float)(w->foff[j] + w->fscale[j] * (std + nz));
	}
}

/* Solves the SPD system A b = y (n x n, row-major) by Cholesky, in place. */
static int cholesky_solve(double *A, double *y, int n)
{
	for (int j = 0; j < n; j++) {
		double d = A[j * n + j];
		for (int k = 0; k < j; k++)
			d -= A[j * n + k] * A[j * n + k];
		if (d <= 0)
			return -1;
		d = sqrt(d);
		A[j * n + j] = d;
		for (int i = j + 1; i < n; i++) {
			double s = A[i * n + j];
			for (int k = 0; k < j; k++)
				s -= A[i * n + k] * A[j * n + k];
			A[i * n + j] = s / d;
		}
	}
	for (int i = 0; i < n; i++) {
		double s = y[i];
		for (int k = 0; k < i; k++)
			s -= A[i * n + k] * y[k];
		y[i] = s / A[i * n + i];
	}
	for (int i = n - 1; i >= 0; i--) {
		double s = y[i];
		for (int k = i + 1; k < n; k++)
			s -= A[k * n + i] * y[k];
		y[i] = s / A[i * n + i];
	}
	return 0;
}

static void score_features(const bd_sim_world_t *w, int i, double *phi)
{
	const float *x = w->x + (size_t)i * (size_t)w->dim;
	for (int k = 0; k < SCORE_M; k++) {
		const double *a = w->sproj + (size_t)k * (size_t)w->dim;
		double z = w->sbias[k];
		for (int j = 0; j < w->dim; j++)
			z += a[j] * ((double)x[j] - w->smu[j]) / w->ssd[j];
		phi[k] = tanh(z);
	}
}

static double raw_score(const bd_sim_world_t *w, int i)
{
	double phi[SCORE_M], s = 0;
	score_features(w, i, phi);
	for (int k = 0; k < SCORE_M; k++)
		s += w->sbeta[k] * phi[k];
	return s;
}

/*
 * The logging policy's "prior model": ridge regression of log ev_i0 on
 * SCORE_M fixed random tanh features of the standardised observed features,
 * fitted on the first SCORE_FIT_N users.  A function of x only.
 */
static int fit_logging_score(bd_sim_world_t *w, uint64_t *r)
{
	int d = w->dim, m = w->n < SCORE_FIT_N ? w->n : SCORE_FIT_N;
	double *A = calloc((size_t)SCORE_M * SCORE_M, sizeof(double));
	double phi[SCORE_M], pm[SCORE_M] = {0}, ymean = 0, s1 = 0, s2 = 0;

	if (!A)
		return -ENOMEM;
	for (int j = 0; j < d; j++) {
		double a1 = 0, a2 = 0;
		for (int i = 0; i < m; i++) {
			double v = w->x[(size_t)i * (size_t)d + (size_t)j];
			a1 += v;
			a2 += v * v;
		}
		w->smu[j] = a1 / m;
		a2 = a2 / m - w->smu[j] * w->smu[j];
		w->ssd[j] = a2 > 1e-12 ? sqrt(a2) : 1.0;
	}
	for (int k = 0; k < SCORE_M; k++) {
		for (int j = 0; j < d; j++)
			w->sproj[(size_t)k * (size_t)d + (size_t)j] = bd_sim_rng_normal(r) * 1.5 / sqrt(d);
		w->sbias[k] = bd_sim_rng_normal(r);
		w->sbeta[k] = 0;
	}
	/* centred normal equations (the intercept drops out) */
	for (int i = 0; i < m; i++) {
		score_features(w, i, phi);
		ymean += log(bd_sim_user_ev(w, i, 0));
		for (int k = 0; k < SCORE_M; k++)
			pm[k] += phi[k];
	}
	ymean /= m;
	for (int k = 0; k < SCORE_M; k++)
		pm[k] /= m;
	for (int i = 0; i < m; i++) {
		double y = log(bd_sim_user_ev(w, i, 0)) - ymean;
		score_features(w, i, phi);
		for (int k = 0; k < SCORE_M; k++) {
			phi[k] -= pm[k];
			w->sbeta[k] += phi[k] * y;
			for (int l = 0; l <= k; l++)
				A[k * SCORE_M + l] += phi[k] * phi[l];
		}
	}
	for (int k = 0; k < SCORE_M; k++) {
		A[k * SCORE_M + k] += 1e-3 * m + 1e-9;
		for (int l = 0; l < k; l++)
			A[l * SCORE_M + k] = A[k * SCORE_M + l];
	}
	if (cholesky_solve(A, w->sbeta, SCORE_M) != 0)
		for (int k = 0; k < SCORE_M; k++)
			w->sbeta[k] = 0;
	free(A);
	for (int i = 0; i < m; i++) {
		double s = raw_score(w, i);
		s1 += s;
		s2 += s * s;
	}
	w->score_mean = s1 / m;
	s2 = s2 / m - w->score_mean * w->score_mean;
	w->score_sd = s2 > 1e-12 ? sqrt(s2) : 1.0;
	return 0;
}

int bd_sim_world_new(const bd_sim_params_t *p, bd_sim_world_t **wp)
{
	bd_sim_world_t *w;
	uint64_t r;
	double *tmp;
	size_t n, d, T;
	int rc;

	if (!wp)
		return -EINVAL;
	*wp = NULL;
	if (bd_sim_params_validate(p, NULL, 0) != 0)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->p = *p;
	w->n = p->n_users;
	w->dim = p->dim;
	w->T = p->n_treatments;
	w->S = p->n_segments;
	n = (size_t)w->n;
	d = (size_t)w->dim;
	T = (size_t)w->T;
	w->W2 = calloc(d * HID, sizeof(double));
	w->fmean = calloc(d * 6, sizeof(double));
	w->sproj = calloc(d * SCORE_M, sizeof(double));
	w->useg = malloc(n);
	w->x = malloc(n * d * sizeof(float));
	w->pconv = malloc(n * T * sizeof(float));
	w->gmv = malloc(n * T * sizeof(float));
	w->rho = malloc(n * sizeof(float));
	tmp = malloc(d * sizeof(double));
	if (!w->W2 || !w->fmean || !w->sproj || !w->useg || !w->x || !w->pconv || !w->gmv || !w->rho || !tmp) {
		free(tmp);
		bd_sim_world_free(w);
		return -ENOMEM;
	}
	w->fsd = w->fmean + d;
	w->fscale = w->fmean + 2 * d;
	w->foff = w->fmean + 3 * d;
	w->smu = w->fmean + 4 * d;
	w->ssd = w->fmean + 5 * d;
	for (int t = 0; t < w->T; t++) {
		double c = p->coupon[t];
		double s0 = sigm(-6.0);
		w->g_fast[t] = 1.0 - exp(-c / 1.5);
		w->g_slow[t] = 1.0 - exp(-c / 10.0);
		w->g_thr[t] = (sigm(c - 6.0) - s0) / (1.0 - s0);
	}
	r = bd_sim_rng_seed(p->seed, STREAM_WORLD);
	switch (p->family) {
	case BD_SIM_WORLD_SMOOTH:
		bd__sim_smooth_build(w, &r);
		for (int i = 0; i < w->n; i++)
			bd__sim_smooth_user(w, i);
		break;
	case BD_SIM_WORLD_SPARSE:
		bd__sim_sparse_build(w, &r);
		for (int i = 0; i < w->n; i++)
			bd__sim_sparse_user(w, i);
		break;
	default:
		make_segments(w, &r);
		make_feature_map(w, &r);
		pilot_standardise(w);
		for (int i = 0; i < w->n; i++)
			make_user(w, i, tmp);
	}
	free(tmp);
	rc = fit_logging_score(w, &r);
	if (rc != 0) {
		bd_sim_world_free(w);
		return rc;
	}
	*wp = w;
	return 0;
}

void bd_sim_world_free(bd_sim_world_t *w)
{
	if (!w)
		return;
	free(w->W2);
	free(w->fmean);
	free(w->sproj);
	free(w->useg);
	free(w->x);
	free(w->pconv);
	free(w->gmv);
	free(w->rho);
	free(w);
}

const bd_sim_params_t *bd_sim_world_params(const bd_sim_world_t *w)
{
	return &w->p;
}

int bd_sim_n_users(const bd_sim_world_t *w)
{
	return w->n;
}

int bd_sim_dim(const bd_sim_world_t *w)
{
	return w->dim;
}

int bd_sim_n_treatments(const bd_sim_world_t *w)
{
	return w->T;
}

int bd_sim_n_segments(const bd_sim_world_t *w)
{
	return w->S;
}

double bd_sim_coupon(const bd_sim_world_t *w, int t)
{
	return w->p.coupon[t];
}

const char *bd_sim_segment_name(const bd_sim_world_t *w, int k)
{
	return w->seg[k].name;
}

double bd_sim_segment_share(const bd_sim_world_t *w, int k)
{
	return w->seg[k].share;
}

/* ---- per-user truth -------------------------------------------------- */

int bd_sim_user_segment(const bd_sim_world_t *w, int i)
{
	return w->useg[i];
}

const float *bd_sim_user_features(const bd_sim_world_t *w, int i)
{
	return w->x + (size_t)i * (size_t)w->dim;
}

double bd_sim_user_pconv(const bd_sim_world_t *w, int i, int t)
{
	return w->pconv[(size_t)i * (size_t)w->T + (size_t)t];
}

double bd_sim_user_order_value(const bd_sim_world_t *w, int i, int t)
{
	return w->gmv[(size_t)i * (size_t)w->T + (size_t)t];
}

double bd_sim_user_redeem(const bd_sim_world_t *w, int i)
{
	return w->rho[i];
}

double bd_sim_user_ev(const bd_sim_world_t *w, int i, int t)
{
	size_t k = (size_t)i * (size_t)w->T + (size_t)t;
	return (double)w->pconv[k] * (double)w->gmv[k];
}

double bd_sim_user_ec(const bd_sim_world_t *w, int i, int t)
{
	size_t k = (size_t)i * (size_t)w->T + (size_t)t;
	return (double)w->pconv[k] * (double)w->rho[i] * w->p.coupon[t];
}

static double draw_order_value(const bd_sim_world_t *w, double mean, uint64_t *r)
{
	if (w->p.heavy_tail > 0 && bd_sim_rng_uniform(r) < w->p.heavy_tail) {
		double a = w->p.tail_shape, xm = mean * (a - 1.0) / a;
		return xm * pow(1.0 - bd_sim_rng_uniform(r), -1.0 / a);
	}
	return mean * exp(ORDER_LOG_SD * bd_sim_rng_normal(r) - 0.5 * ORDER_LOG_SD * ORDER_LOG_SD);
}

void bd_sim_outcome(const bd_sim_world_t *w, int i, int t, uint64_t *rng, bd_sim_outcome_t *o)
{
	double p = bd_sim_user_pconv(w, i, t), L = w->p.label_noise;
	const struct bd__sim_segment *sg = &w->seg[w->useg[i]];
	int conv = bd_sim_rng_uniform(rng) < p;

	memset(o, 0, sizeof(*o));
	if (L > 0) {
		double q10 = fmin(L, (1.0 - p) / p), q01 = q10 * p / (1.0 - p);
		double u = bd_sim_rng_uniform(rng);
		if (conv && u < q10)
			conv = 0;
		else if (!conv && u < q01)
			conv = 1;
	}
	if (!conv)
		return;
	o->converted = 1;
	o->orders = 1 + bd__sim_poisson(rng, sg->xo);
	{
		double mean = bd_sim_user_order_value(w, i, t) / (1.0 + sg->xo);
		for (int k = 0; k < o->orders; k++)
			o->value += draw_order_value(w, mean, rng);
	}
	if (L > 0)
		o->value *= exp(L * bd_sim_rng_normal(rng) - 0.5 * L * L);
	if (w->p.coupon[t] > 0 && bd_sim_rng_uniform(rng) < bd_sim_user_redeem(w, i)) {
		o->redeemed = 1;
		o->cost = w->p.coupon[t];
	}
	o->delay_s = bd_sim_delay(w, rng);
}

double bd_sim_delay(const bd_sim_world_t *w, uint64_t *rng)
{
	if (!(w->p.mean_delay_s > 0))
		return 0;
	switch (w->p.family) {
	case BD_SIM_WORLD_SMOOTH:
		return bd__sim_smooth_delay(w, rng);
	case BD_SIM_WORLD_SPARSE:
		return bd__sim_sparse_delay(w, rng);
	default:
		return -w->p.mean_delay_s * log(1.0 - bd_sim_rng_uniform(rng));
	}
}

/* ---- arrivals -------------------------------------------------------- */

struct arrival {
	double t;
	int u;
};

static int arrival_cmp(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (x->u > y->u) - (x->u < y->u);
}

int bd_sim_day_arrivals(const bd_sim_world_t *w, int n_events, uint64_t *rng, double *times_s,
			int *users)
{
	struct arrival *a;
	double day = w->p.day_seconds;
	if (n_events < 0 || !rng || (n_events > 0 && (!times_s || !users)))
		return -EINVAL;
	if (n_events == 0)
		return 0;
	a = malloc((size_t)n_events * sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (int k = 0; k < n_events; k++) {
		int i = (int)(bd_sim_rng_uniform(rng) * w->n);
		if (i >= w->n)
			i = w->n - 1;
		a[k].u = i;
		a[k].t = profile_sample(&w->seg[w->useg[i]].prof, rng) * day;
		if (a[k].t >= day)
			a[k].t = nextafter(day, 0);
	}
	qsort(a, (size_t)n_events, sizeof(*a), arrival_cmp);
	for (int k = 0; k < n_events; k++) {
		times_s[k] = a[k].t;
		users[k] = a[k].u;
	}
	free(a);
	return 0;
}

/* ---- oracle ---------------------------------------------------------- */

static int check_users(const bd_sim_world_t *w, const int *users, int n)
{
	if (!w || n < 0 || (!users && n > w->n))
		return -EINVAL;
	if (users)
		for (int k = 0; k < n; k++)
			if (users[k] < 0 || users[k] >= w->n)
				return -EINVAL;
	return 0;
}

static inline int user_at(const int *users, int k)
{
	return users ? users[k] : k;
}

/* Pure allocation at lambda; returns the totals. */
static void eval_lambda(const bd_sim_world_t *w, const int *users, int n, double lambda,
			int *tr, double *V, double *Sp)
{
	double vs = 0, cs = 0;
	for (int k = 0; k < n; k++) {
		int i = user_at(users, k), bt = 0;
		double bv = bd_sim_user_ev(w, i, 0), bc = bd_sim_user_ec(w, i, 0);
		double bs = bv - lambda * bc;
		for (int t = 1; t < w->T; t++) {
			double v = bd_sim_user_ev(w, i, t), c = bd_sim_user_ec(w, i, t);
			double s = v - lambda * c;
			if (s > bs || (s == bs && c < bc)) {
				bs = s;
				bv = v;
				bc = c;
				bt = t;
			}
		}
		if (tr)
			tr[k] = bt;
		vs += bv;
		cs += bc;
	}
	*V = vs;
	*Sp = cs;
}

int bd_sim_oracle_assign(const bd_sim_world_t *w, const int *users, int n, double lambda,
			 int *treatments, double *value, double *spend)
{
	double V, S;
	if (check_users(w, users, n) != 0 || !(lambda >= 0) || isinf(lambda))
		return -EINVAL;
	eval_lambda(w, users, n, lambda, treatments, &V, &S);
	if (value)
		*value = V;
	if (spend)
		*spend = S;
	return 0;
}

int bd_sim_oracle(const bd_sim_world_t *w, const int *users, int n, double budget, double *value,
		  double *spend, double *lambda_out)
{
	double V0, S0, Va, Sa, Vb, Sb, lo = 0, hi = 0, theta, V, S;

	if (check_users(w, users, n) != 0 || !(budget >= 0))
		return -EINVAL;
	eval_lambda(w, users, n, 0.0, NULL, &V0, &S0);
	if (S0 <= budget) {
		if (value)
			*value = V0;
		if (spend)
			*spend = S0;
		if (lambda_out)
			*lambda_out = 0;
		return 0;
	}
	/* the steepest first hull edge: above it nothing but the control */
	for (int k = 0; k < n; k++) {
		int i = user_at(users, k);
		double v0 = bd_sim_user_ev(w, i, 0);
		for (int t = 1; t < w->T; t++) {
			double c = bd_sim_user_ec(w, i, t);
			if (c > 0)
				hi = fmax(hi, (bd_sim_user_ev(w, i, t) - v0) / c);
		}
	}
	hi = hi * (1.0 + 1e-12) + 1e-300;
	eval_lambda(w, users, n, hi, NULL, &Va, &Sa);
	for (int it = 0; Sa > budget && it < 64; it++) { /* paranoia */
		hi *= 2;
		eval_lambda(w, users, n, hi, NULL, &Va, &Sa);
	}
	Vb = V0;
	Sb = S0;
	for (int it = 0; it < 200 && hi - lo > 1e-15 * hi; it++) {
		double mid = 0.5 * (lo + hi), Vm, Sm;
		eval_lambda(w, users, n, mid, NULL, &Vm, &Sm);
		if (Sm > budget) {
			lo = mid;
			Vb = Vm;
			Sb = Sm;
		} else {
			hi = mid;
			Va = Vm;
			Sa = Sm;
		}
	}
	theta = Sb > Sa ? (budget - Sa) / (Sb - Sa) : 0.0;
	theta = fmin(fmax(theta, 0.0), 1.0);
	V = Va + theta * (Vb - Va);
	S = fmin(Sa + theta * (Sb - Sa), budget);
	if (value)
		*value = V;
	if (spend)
		*spend = S;
	if (lambda_out)
		*lambda_out = hi;
	return 0;
}

struct edge {
	double slope, c, v; /* after the prefix pass c, v are cumulative */
};

static int edge_cmp(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;
	if (x->slope != y->slope)
		return x->slope > y->slope ? -1 : 1;
	return (x->c > y->c) - (x->c < y->c);
}

int bd_sim_oracle_curve(const bd_sim_world_t *w, const int *users, int n, const double *budgets,
			int m, double *values, double *spends, double *lambdas)
{
	struct edge *E;
	size_t ne = 0;
	double base = 0;

	if (check_users(w, users, n) != 0 || m < 0 || (m > 0 && !budgets))
		return -EINVAL;
	for (int q = 0; q < m; q++)
		if (!(budgets[q] >= 0))
			return -EINVAL;
	E = malloc(((size_t)n * (size_t)(w->T - 1) + 1) * sizeof(*E));
	if (!E)
		return -ENOMEM;
	for (int k = 0; k < n; k++) {
		int i = user_at(users, k);
		double cv[BD_SIM_MAX_T], cc[BD_SIM_MAX_T], c0 = INFINITY, v0 = -INFINITY;
		for (int t = 0; t < w->T; t++) {
			cv[t] = bd_sim_user_ev(w, i, t);
			cc[t] = bd_sim_user_ec(w, i, t);
			if (cc[t] < c0 || (cc[t] == c0 && cv[t] > v0)) {
				c0 = cc[t];
				v0 = cv[t];
			}
		}
		base += v0;
		for (;;) { /* gift-wrap the upper hull from the cheapest point */
			int bt = -1;
			double bs = 0;
			for (int t = 0; t < w->T; t++) {
				double s;
				if (!(cc[t] > c0 && cv[t] > v0))
					continue;
				s = (cv[t] - v0) / (cc[t] - c0);
				if (bt < 0 || s > bs || (s == bs && cc[t] > cc[bt])) {
					bt = t;
					bs = s;
				}
			}
			if (bt < 0)
				break;
			E[ne].slope = bs;
			E[ne].c = cc[bt] - c0;
			E[ne].v = cv[bt] - v0;
			ne++;
			c0 = cc[bt];
			v0 = cv[bt];
		}
	}
	qsort(E, ne, sizeof(*E), edge_cmp);
	for (size_t k = 1; k < ne; k++) {
		E[k].c += E[k - 1].c;
		E[k].v += E[k - 1].v;
	}
	for (int q = 0; q < m; q++) {
		double b = budgets[q], V, S, lam;
		size_t lo = 0, hi = ne;
		/* first edge whose cumulative cost exceeds the budget */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (E[mid].c > b)
				hi = mid;
			else
				lo = mid + 1;
		}
		if (lo == ne) {
			V = base + (ne ? E[ne - 1].v : 0);
			S = ne ? E[ne - 1].c : 0;
			lam = 0;
		} else {
			double cprev = lo ? E[lo - 1].c : 0, vprev = lo ? E[lo - 1].v : 0;
			V = base + vprev + (b - cprev) * E[lo].slope;
			S = b;
			lam = E[lo].slope;
		}
		if (values)
			values[q] = V;
		if (spends)
			spends[q] = S;
		if (lambdas)
			lambdas[q] = lam;
	}
	free(E);
	return 0;
}

int bd_sim_uniform_value(const bd_sim_world_t *w, const int *users, int n, double *value,
			 double *spend)
{
	double V = 0, S = 0;
	if (check_users(w, users, n) != 0)
		return -EINVAL;
	for (int k = 0; k < n; k++) {
		int i = user_at(users, k);
		for (int t = 0; t < w->T; t++) {
			V += bd_sim_user_ev(w, i, t);
			S += bd_sim_user_ec(w, i, t);
		}
	}
	if (value)
		*value = V / w->T;
	if (spend)
		*spend = S / w->T;
	return 0;
}

int bd_sim_control_value(const bd_sim_world_t *w, const int *users, int n, double *value)
{
	double V = 0;
	if (check_users(w, users, n) != 0)
		return -EINVAL;
	for (int k = 0; k < n; k++)
		V += bd_sim_user_ev(w, user_at(users, k), 0);
	if (value)
		*value = V;
	return 0;
}

int bd_sim_uniform_value_at(const bd_sim_world_t *w, const int *users, int n, double spend,
			    double *value)
{
	double V0, Vu, Su;
	if (!(spend >= 0) || bd_sim_control_value(w, users, n, &V0) != 0 ||
	    bd_sim_uniform_value(w, users, n, &Vu, &Su) != 0)
		return -EINVAL;
	if (value)
		*value = V0 + (Su > 0 ? fmin(1.0, spend / Su) : 0.0) * (Vu - V0);
	return 0;
}

int bd_sim_policy_value(const bd_sim_world_t *w, const int *users, int n, const int *treatments,
			double *value, double *spend)
{
	double V = 0, S = 0;
	if (check_users(w, users, n) != 0 || (n > 0 && !treatments))
		return -EINVAL;
	for (int k = 0; k < n; k++) {
		int i = user_at(users, k), t = treatments[k];
		if (t < 0 || t >= w->T)
			return -EINVAL;
		V += bd_sim_user_ev(w, i, t);
		S += bd_sim_user_ec(w, i, t);
	}
	if (value)
		*value = V;
	if (spend)
		*spend = S;
	return 0;
}

/* ---- samples --------------------------------------------------------- */

void bd_sim_logging_probs(const bd_sim_world_t *w, int i, double explore, double *probs)
{
	double score = (raw_score(w, i) - w->score_mean) / w->score_sd, cmax = 0, z = 0, mx = -INFINITY;
	double lg[BD_SIM_MAX_T];
	explore = fmin(fmax(explore, 0.0), 1.0);
	for (int t = 0; t < w->T; t++)
		cmax = fmax(cmax, w->p.coupon[t]);
	for (int t = 0; t < w->T; t++) {
		double share = cmax > 0 ? w->p.coupon[t] / cmax : 0;
		lg[t] = LOG_GAMMA * score * (2.0 * share - 1.0);
		mx = fmax(mx, lg[t]);
	}
	for (int t = 0; t < w->T; t++) {
		lg[t] = exp(lg[t] - mx);
		z += lg[t];
	}
	for (int t = 0; t < w->T; t++)
		probs[t] = explore / w->T + (1.0 - explore) * lg[t] / z;
}

int bd_sim_write_samples(const bd_sim_world_t *w, FILE *f, int n, int policy, double explore,
			 uint64_t *rng)
{
	if (!w || !f || !rng || n < 0 || (policy != BD_SIM_POLICY_RCT && policy != BD_SIM_POLICY_BIASED) ||
	    !(explore >= 0 && explore <= 1))
		return -EINVAL;
	fputs("user_id,segment,treatment,propensity,converted,orders,value,cost", f);
	for (int j = 0; j < w->dim; j++)
		fprintf(f, ",f%d", j);
	fputc('\n', f);
	for (int k = 0; k < n; k++) {
		int i = (int)(bd_sim_rng_uniform(rng) * w->n), t;
		double prop, probs[BD_SIM_MAX_T];
		const float *x;
		bd_sim_outcome_t o;

		if (i >= w->n)
			i = w->n - 1;
		if (policy == BD_SIM_POLICY_RCT) {
			t = (int)(bd_sim_rng_uniform(rng) * w->T);
			if (t >= w->T)
				t = w->T - 1;
			prop = 1.0 / w->T;
		} else {
			double u = bd_sim_rng_uniform(rng), acc = 0;
			bd_sim_logging_probs(w, i, explore, probs);
			t = w->T - 1;
			for (int q = 0; q < w->T; q++) {
				acc += probs[q];
				if (u < acc) {
					t = q;
					break;
				}
			}
			prop = probs[t];
		}
		bd_sim_outcome(w, i, t, rng, &o);
		fprintf(f, "%d,%d,%d,%.17g,%d,%d,%.9g,%.9g", i, (int)w->useg[i], t, prop, o.converted,
			o.orders, o.value, o.cost);
		x = bd_sim_user_features(w, i);
		for (int j = 0; j < w->dim; j++)
			fprintf(f, ",%.7g", (double)x[j]);
		if (fputc('\n', f) == EOF)
			return -EIO;
	}
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}
