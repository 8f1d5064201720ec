/*
 * simfamilies.c - the world families beside `default` (simworld.c).
 *
 * Each family is a different answer to "what does a platform's population
 * look like", so that a method tuned on one world can be checked on worlds
 * it was not tuned on (docs/simulator.md says the same in more words).
 * Both keep the published magnitudes: conversion a few percent, coupon
 * lifts of a few to tens of relative percent, costs paid on redemption,
 * strong heterogeneity, real noise.  The oracle, the outcome draws and the
 * samples are common (simworld.c); a family fills the segments, the
 * arrival profiles, the per-user features and the per-user truth, every
 * user from its own RNG stream (so a world is a prefix of a bigger one).
 *
 * SMOOTH: no segments in the response.  Five correlated latent traits per
 * user (standard normal): value v, frequency f, recency gap r (high = long
 * since the last order; corr(r, f) = -0.5), engagement g (corr(g, f) =
 * 0.4), price sensitivity k (corr(k, v) = -0.3), and for coupon c:
 *   logit pconv = a + B h(c),   h(c) = 1 - exp(-c / s)
 *   a = -3.45 + 0.5 f + 0.3 g - 0.5 softplus(r - 0.5) + sd N
 *   B = 1.3 S(2.5 (k - 0.6)) exp(-(r - 0.3)^2 / 2) exp(sd N)
 *       (price-sensitive, lapsing-but-not-gone users respond)
 *   s = 4 exp(0.45 v)            (richer users need bigger coupons)
 *   gmv = 38 exp(0.5 v + 0.1 f + sd N) (1 + 0.05 h(c))
 *   rho = S(0.62 + 0.9 k + 0.5 f + sd N)  (habitual buyers redeem too)
 * (every coefficient perturbed per world, sd = individual_sd).  The
 * observed features are raw, heavy-tailed transforms of the traits with
 * noise, followed by columns that carry nothing:
 *   f0 spend_90d = orders_90d x basket x exp(fn N)   (0 without orders)
 *   f1 orders_90d ~ Poisson(exp(0.9 + 0.7 f))
 *   f2 days_since_last_order = exp(2.3 + 0.8 r + fn N)
 *   f3 sessions_7d ~ Poisson(exp(1.2 + 0.8 g + 0.5 N))
 *   f4 coupon_use_share = S(-0.5 + 1.2 k + 3 fn N)
 *   f5 account_age_days = exp(5 + 0.3 f + 0.8 N)    (nearly irrelevant)
 *   f6.. irrelevant, cycling: symmetric Pareto (alpha 1.5, infinite
 *   variance) x 50; a uniform id in [0, 1e6); 100 exp(2 N); Bernoulli(0.3);
 *   1000 + 300 N; Poisson(3)
 * (fn = feature_noise).  The "segments" are equal-probability bands of k
 * (labels for diagnostics only; the response has no steps).  Traffic: an
 * evening peak (20:30, sd 1.8 h) with a morning bump and a late tail, each
 * band's weights perturbed and the more price-sensitive bands later.
 * Delays: lognormal, log-sd 1.2, mean mean_delay_s (default 3600 s).
 * Coupons {0, 2, 4, 7, 12}.
 *
 * SPARSE: sure things, lost causes and do-not-disturb users are most of the
 * population; a minority carries the uplift.  Six archetypes (relative
 * conversion lift at the top coupon 10, before perturbation):
 *   0 sure-things     28%  base 10%,  +3%   redeem .95, GMV 60 (costly)
 *   1 lost-causes     35%  base 0.6%, +5%   redeem .50, GMV 25
 *   2 do-not-disturb  12%  base 5%,   -20%  (coupons put them off)
 *   3 persuadables    10%  base 2.5%, +110% (already +40% at coupon 1)
 *   4 deal-seekers     8%  base 3%,   +120% (threshold near 6)
 *   5 loyal-upsell     7%  base 6%,   +13%, coupons also raise GMV (+15%)
 * The response is simworld's segment form (S(a + m lift)), with negative
 * lift coefficients allowed; a user's redemption offset is correlated with
 * its GMV offset (0.8), so costs follow value within a segment as well as
 * across them.  Features are counts, rates and flags whose rates depend on
 * the archetype and the user's latent offset e (which also drives the
 * response offsets, as in default), plus irrelevant columns:
 *   f0 app_opens_7d, f1 past_coupon_rate, f2 push_enabled, f3
 *   days_since_last_order, f4 orders_90d, f5 avg_basket (its GMV, noisy),
 *   f6 email_unsubscribed, f7 cart_abandons_30d, f8 city code 0..5, f9
 *   device 0..2, f10 account_age_days, f11.. N(0, 1).
 * Traffic: a flat daytime, a small evening peak, and four push bursts per
 * day (world-drawn times between 08:00 and 22:00, sd 6 min) whose weight
 * per archetype follows its push_enabled rate (do-not-disturb users barely
 * come in bursts).  Delays: with probability 0.7 exponential with mean
 * 0.25 M, else exponential with mean 2.75 M (M = mean_delay_s, default
 * 2700 s).  Coupons {0, 1, 2, 4, 7, 10}.
 */
#include "simworld_int.h"

#include <stdio.h>
#include <string.h>

#define STREAM_USER BD__SIM_STREAM_USER

static double softplus(double x)
{
	return x > 30 ? x : log1p(exp(x));
}

static double std_normal_cdf(double z)
{
	return 0.5 * erfc(-z / sqrt(2.0));
}

/* ---- smooth ---------------------------------------------------------- */

enum {
	SM_A0, SM_AF, SM_AG, SM_AR, SM_B0, SM_KC, SM_KS, SM_RMU, SM_RSD, SM_S0, SM_SV,
	SM_V0, SM_VV, SM_VF, SM_BV, SM_RHO0, SM_RK, SM_RF, SM__N
};

void bd__sim_smooth_params(bd_sim_params_t *p)
{
	static const double ladder[] = {0, 2, 4, 7, 12};
	p->n_segments = 8;
	bd__sim_params_ladder(p, ladder, (int)(sizeof(ladder) / sizeof(ladder[0])));
	p->mean_delay_s = 3600;
}

void bd__sim_smooth_build(bd_sim_world_t *w, uint64_t *r)
{
	/* nominal coefficients; positive ones perturbed x exp(0.1 N), the
	 * centres (KC, RMU) and logits (A0, RHO0) by + 0.15 N */
	static const double nom[SM__N] = {-3.45, 0.5, 0.3, 0.5, 1.3, 0.6, 2.5, 0.3, 1.0, 4.0, 0.45,
					  38, 0.5, 0.1, 0.05, 0.62, 0.9, 0.5};
	double *c = w->fam;
	for (int q = 0; q < SM__N; q++) {
		int additive = q == SM_A0 || q == SM_KC || q == SM_RMU || q == SM_RHO0;
		double z = bd_sim_rng_normal(r);
		c[q] = additive ? nom[q] + 0.15 * z : nom[q] * exp(0.1 * z);
	}
	for (int k = 0; k < w->S; k++) {
		struct bd__sim_segment *s = &w->seg[k];
		double frac = (k + 0.5) / w->S;
		/* floor, morning 08:30, evening 20:30, late 23:45; daytime */
		double a[3] = {0.10, 0.50, 0.10 * (0.5 + frac)}, mu[3], sd[3] = {0.8, 1.8, 0.7};
		double mu_h[3] = {8.5, 20.5, 23.75}, floor = 0.10, day = 0.20;
		snprintf(s->label, sizeof(s->label), "sensitivity-%d", k + 1);
		s->name = s->label;
		s->share = 1.0 / w->S;
		s->xo = 0.15;
		for (int q = 0; q < 3; q++) {
			a[q] *= exp(0.2 * bd_sim_rng_normal(r));
			mu[q] = (mu_h[q] + 0.3 * bd_sim_rng_normal(r)) / 24.0;
			sd[q] /= 24.0;
		}
		floor *= exp(0.2 * bd_sim_rng_normal(r));
		day *= exp(0.2 * bd_sim_rng_normal(r));
		bd__sim_profile_make(&s->prof, floor, 3, a, mu, sd, day, 15.0 / 24.0);
	}
	bd__sim_finish_shares(w);
}

/* Symmetric Pareto (alpha 1.5): infinite variance, like ratio fields. */
static double sym_pareto(uint64_t *r)
{
	double u = 1.0 - bd_sim_rng_uniform(r), m = pow(u, -1.0 / 1.5) - 1.0;
	return bd_sim_rng_uniform(r) < 0.5 ? -m : m;
}

/* A column that carries nothing about the user's response. */
static double irrelevant(int kind, uint64_t *r)
{
	switch (kind % 6) {
	case 0:
		return 50.0 * sym_pareto(r);
	case 1:
		return floor(bd_sim_rng_uniform(r) * 1e6);
	case 2:
		return 100.0 * exp(2.0 * bd_sim_rng_normal(r));
	case 3:
		return bd_sim_rng_uniform(r) < 0.3;
	case 4:
		return 1000.0 + 300.0 * bd_sim_rng_normal(r);
	default:
		return bd__sim_poisson(r, 3.0);
	}
}

struct smooth_traits {
	double v, f, rr, g, k;
};

static void smooth_features(bd_sim_world_t *w, int i, const struct smooth_traits *u,
			    uint64_t *r)
{
	const double *c = w->fam, fn = w->p.feature_noise;
	float *x = w->x + (size_t)i * (size_t)w->dim;
	double f[6];
	int orders = bd__sim_poisson(r, exp(0.9 + 0.7 * u->f));
	double basket = c[SM_V0] * exp(c[SM_VV] * u->v + c[SM_VF] * u->f);

	f[0] = orders * basket * exp(fn * bd_sim_rng_normal(r));
	f[1] = orders;
	f[2] = exp(2.3 + 0.8 * u->rr + fn * bd_sim_rng_normal(r));
	f[3] = bd__sim_poisson(r, exp(1.2 + 0.8 * u->g + 0.5 * bd_sim_rng_normal(r)));
	f[4] = bd__sim_sigm(-0.5 + 1.2 * u->k + 3.0 * fn * bd_sim_rng_normal(r));
	f[5] = exp(5.0 + 0.3 * u->f + 0.8 * bd_sim_rng_normal(r));
	for (int j = 0; j < w->dim; j++)
		x[j] = (float)(j < 6 ? f[j] : irrelevant(j - 6, r));
}

void bd__sim_smooth_user(bd_sim_world_t *w, int i)
{
	uint64_t r = bd_sim_rng_seed(w->p.seed, STREAM_USER + (uint64_t)i);
	const double *c = w->fam, sd = w->p.individual_sd;
	double z[5], n[4], a, B, scale, gmv0, rho, dr;
	struct smooth_traits u;
	int band;

	for (int q = 0; q < 5; q++)
		z[q] = bd_sim_rng_normal(&r);
	for (int q = 0; q < 4; q++)
		n[q] = bd_sim_rng_normal(&r);
	u.v = z[0];
	u.f = 0.4 * z[0] + sqrt(0.84) * z[1];
	u.rr = -0.5 * u.f + sqrt(0.75) * z[2];
	u.g = 0.4 * u.f + sqrt(0.84) * z[3];
	u.k = -0.3 * u.v + sqrt(0.91) * z[4];
	dr = (u.rr - c[SM_RMU]) / c[SM_RSD];
	a = c[SM_A0] + c[SM_AF] * u.f + c[SM_AG] * u.g - c[SM_AR] * softplus(u.rr - 0.5) + sd * n[0];
	B = c[SM_B0] * bd__sim_sigm(c[SM_KS] * (u.k - c[SM_KC])) * exp(-0.5 * dr * dr) *
	    exp(sd * n[1]);
	scale = c[SM_S0] * exp(c[SM_SV] * u.v);
	gmv0 = c[SM_V0] * exp(c[SM_VV] * u.v + c[SM_VF] * u.f + sd * n[2]);
	rho = bd__sim_sigm(c[SM_RHO0] + c[SM_RK] * u.k + c[SM_RF] * u.f + sd * n[3]);
	band = (int)(std_normal_cdf(u.k) * w->S);
	band = band < 0 ? 0 : band >= w->S ? w->S - 1 : band;
	w->useg[i] = (uint8_t)band;
	w->rho[i] = (float)rho;
	for (int t = 0; t < w->T; t++) {
		double h = 1.0 - exp(-w->p.coupon[t] / scale);
		double pc = bd__sim_sigm(a + B * h);
		size_t at = (size_t)i * (size_t)w->T + (size_t)t;
		w->pconv[at] = (float)fmin(fmax(pc, BD__SIM_PCONV_MIN), BD__SIM_PCONV_MAX);
		w->gmv[at] = (float)(gmv0 * (1.0 + c[SM_BV] * h));
	}
	smooth_features(w, i, &u, &r);
}

double bd__sim_smooth_delay(const bd_sim_world_t *w, uint64_t *r)
{
	const double s = 1.2;
	return exp(log(w->p.mean_delay_s) - 0.5 * s * s + s * bd_sim_rng_normal(r));
}

/* ---- sparse ---------------------------------------------------------- */

#define SP_N_ARCH 6
#define SP_N_BURSTS 4

enum { FP_OPENS, FP_COUPON_LOGIT, FP_PUSH, FP_RECENCY_D, FP_ORDERS, FP_UNSUB, FP_ABANDON, FP__N };

struct sp_archetype {
	const char *name;
	struct bd__sim_arch_response r; /* b's may be negative (do-not-disturb) */
	double f[FP__N];
};

static const struct sp_archetype sp_arch[SP_N_ARCH] = {
	{"sure-things", {.28, .100, .01, .03, 0, 0, .95, 60, .30}, {9, -0.85, .6, 5, 6, .05, .5}},
	{"lost-causes", {.35, .006, 0, .05, 0, 0, .50, 25, .05}, {1, -2.2, .3, 60, .3, .15, .3}},
	{"do-not-disturb", {.12, .050, -.05, -.30, 0, 0, .60, 40, .10}, {4, -2.9, .1, 12, 2.5, .6, .5}},
	{"persuadables", {.10, .025, .55, .30, 0, .02, .80, 35, .10}, {5, -0.6, .6, 20, 1.5, .1, 2.5}},
	{"deal-seekers", {.08, .030, .02, 0, .80, 0, .97, 28, .15}, {6, .85, .8, 15, 2, .05, 1.5}},
	{"loyal-upsell", {.07, .060, 0, .15, 0, .25, .70, 70, .20}, {8, -1.4, .5, 7, 5, .05, .8}},
};

void bd__sim_sparse_params(bd_sim_params_t *p)
{
	static const double ladder[] = {0, 1, 2, 4, 7, 10};
	p->n_segments = SP_N_ARCH;
	bd__sim_params_ladder(p, ladder, (int)(sizeof(ladder) / sizeof(ladder[0])));
	p->mean_delay_s = 2700;
}

/* A segment's arrival profile: flat daytime, a small evening peak and the
 * world's push bursts, weighted by how many of its users take pushes. */
static void sparse_profile(struct bd__sim_segment *s, const double *burst_mu, uint64_t *r)
{
	double a[1 + SP_N_BURSTS], mu[1 + SP_N_BURSTS], sd[1 + SP_N_BURSTS];
	double push = s->fpar[FP_PUSH];
	a[0] = 0.15 * exp(0.2 * bd_sim_rng_normal(r));
	mu[0] = (19.5 + 0.3 * bd_sim_rng_normal(r)) / 24.0;
	sd[0] = 1.5 / 24.0;
	for (int b = 0; b < SP_N_BURSTS; b++) {
		a[1 + b] = 0.6 * push / SP_N_BURSTS * exp(0.2 * bd_sim_rng_normal(r));
		mu[1 + b] = burst_mu[b];
		sd[1 + b] = 0.1 / 24.0;
	}
	bd__sim_profile_make(&s->prof, 0.20 * exp(0.2 * bd_sim_rng_normal(r)), 1 + SP_N_BURSTS, a, mu,
			     sd, 0.35 * exp(0.2 * bd_sim_rng_normal(r)), 14.0 / 24.0);
}

void bd__sim_sparse_build(bd_sim_world_t *w, uint64_t *r)
{
	double burst_mu[SP_N_BURSTS];
	for (int b = 0; b < SP_N_BURSTS; b++)
		burst_mu[b] = (8.0 + 14.0 * bd_sim_rng_uniform(r)) / 24.0;
	for (int k = 0; k < w->S; k++) {
		const struct sp_archetype *a = &sp_arch[k % SP_N_ARCH];
		struct bd__sim_segment *s = &w->seg[k];
		double sd = k < SP_N_ARCH ? 0.12 : 0.35;

		bd__sim_segment_draw(s, a->name, &a->r, sd, r);
		for (int q = 0; q < FP__N; q++)
			s->fpar[q] = a->f[q];
		for (int q = 0; q < FP__N; q++) {
			double z = sd * bd_sim_rng_normal(r);
			if (q == FP_COUPON_LOGIT)
				s->fpar[q] += z;
			else if (q == FP_PUSH || q == FP_UNSUB)
				s->fpar[q] = bd__sim_sigm(bd__sim_logit(s->fpar[q]) + z);
			else
				s->fpar[q] *= exp(z);
		}
		bd__sim_response_dirs(s, r);
		sparse_profile(s, burst_mu, r);
	}
	bd__sim_finish_shares(w);
}

static void sparse_features(bd_sim_world_t *w, int i, const struct bd__sim_segment *sg,
			    const double *e, double gmv, uint64_t *r)
{
	const double fn = w->p.feature_noise, *fp = sg->fpar;
	float *x = w->x + (size_t)i * (size_t)w->dim;
	double f[11];
	f[0] = bd__sim_poisson(r, fp[FP_OPENS] * exp(0.5 * e[0] + fn * bd_sim_rng_normal(r)));
	f[1] = bd__sim_sigm(fp[FP_COUPON_LOGIT] + 0.7 * e[1] + 2.0 * fn * bd_sim_rng_normal(r));
	f[2] = bd_sim_rng_uniform(r) < fp[FP_PUSH];
	f[3] = -fp[FP_RECENCY_D] * exp(0.4 * e[2]) * log(1.0 - bd_sim_rng_uniform(r));
	f[4] = bd__sim_poisson(r, fp[FP_ORDERS] * exp(0.4 * e[3]));
	f[5] = gmv * exp(fn * bd_sim_rng_normal(r));
	f[6] = bd_sim_rng_uniform(r) < fp[FP_UNSUB];
	f[7] = bd__sim_poisson(r, fp[FP_ABANDON] * exp(0.5 * e[1]));
	f[8] = floor(6.0 * bd_sim_rng_uniform(r));
	f[9] = floor(3.0 * bd_sim_rng_uniform(r));
	f[10] = exp(5.5 + 0.7 * bd_sim_rng_normal(r));
	for (int j = 0; j < w->dim; j++)
		x[j] = (float)(j < 11 ? f[j] : bd_sim_rng_normal(r));
}

void bd__sim_sparse_user(bd_sim_world_t *w, int i)
{
	uint64_t r = bd_sim_rng_seed(w->p.seed, STREAM_USER + (uint64_t)i);
	double e[BD__SIM_LAT_S], z[BD__SIM_N_RESP], sd = w->p.individual_sd, a, m, v, rho;
	int s = bd__sim_pick_segment(w, bd_sim_rng_uniform(&r));
	const struct bd__sim_segment *sg = &w->seg[s];

	for (int j = 0; j < BD__SIM_LAT_S; j++)
		e[j] = bd_sim_rng_normal(&r);
	bd__sim_response_z(sg, e, &r, z);
	z[3] = 0.8 * z[2] + 0.6 * z[3]; /* redemption follows GMV: cost ~ value */
	a = sg->logit_p0 + sd * z[0];
	m = exp(sd * z[1]);
	v = sg->gmv * exp(sd * z[2]);
	rho = bd__sim_sigm(sg->logit_rho + sd * z[3]);
	bd__sim_store_responses(w, i, s, a, m, v, rho);
	sparse_features(w, i, sg, e, v, &r);
}

double bd__sim_sparse_delay(const bd_sim_world_t *w, uint64_t *r)
{
	double M = w->p.mean_delay_s, u = bd_sim_rng_uniform(r);
	double mean = u < 0.7 ? 0.25 * M : 2.75 * M;
	return -mean * log(1.0 - bd_sim_rng_uniform(r));
}
