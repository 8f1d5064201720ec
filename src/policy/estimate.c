/**
 * @file estimate.c
 * @brief Means, standard errors and traffic forecasts from cell statistics.
 */
#include "budgetd/policy/estimate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS BD_STAT__COUNT
#define PRIOR_PROFILE 200.0 /* pseudo-decisions of a cluster's profile prior */
#define PRIOR_FLAT 240.0    /* pseudo-decisions of the pooled profile's flat prior */
#define LOG_PROFILE_MIN 240.0 /* a log's samples that make a first day's profile */
#define PAST_WEIGHT 0.25    /* days: weight of the past daily mean in today's volume */

int bd_estimate_init(bd_estimate_t *e, int k, int j)
{
	size_t kj = (size_t)k * (size_t)j;
	memset(e, 0, sizeof(*e));
	e->k = k;
	e->j = j;
	e->first_hour = INT64_MAX;
	e->mat = calloc(kj * NS, sizeof(double));
	e->all = calloc(kj * NS, sizeof(double));
	e->hist = calloc((size_t)k * 24, sizeof(double));
	e->today = calloc((size_t)k, sizeof(double));
	e->today_by_t = calloc((size_t)j * BD_DAY__COUNT, sizeof(double));
	e->day_cells = calloc(kj * 24 * 2, sizeof(double));
	e->r = calloc(kj, sizeof(double));
	e->c = calloc(kj, sizeof(double));
	e->conv = calloc(kj, sizeof(double));
	e->r_se = calloc(kj, sizeof(double));
	e->c_se = calloc(kj, sizeof(double));
	e->conv_se = calloc(kj, sizeof(double));
	e->c_var = calloc(kj, sizeof(double));
	e->n = calloc(kj, sizeof(double));
	e->rr = calloc(kj, sizeof(double));
	e->rr_var = calloc(kj, sizeof(double));
	e->share = calloc((size_t)k, sizeof(double));
	e->profile = calloc((size_t)k * 24, sizeof(double));
	if (!e->mat || !e->all || !e->hist || !e->today || !e->today_by_t ||
	    !e->day_cells || !e->r || !e->c || !e->conv ||
	    !e->r_se || !e->c_se || !e->conv_se || !e->c_var || !e->n || !e->rr || !e->rr_var || !e->share || !e->profile) {
		bd_estimate_free(e);
		return -ENOMEM;
	}
	return 0;
}

void bd_estimate_free(bd_estimate_t *e)
{
	free(e->mat);
	free(e->all);
	free(e->hist);
	free(e->today);
	free(e->today_by_t);
	free(e->day_cells);
	free(e->r);
	free(e->c);
	free(e->conv);
	free(e->r_se);
	free(e->c_se);
	free(e->conv_se);
	free(e->c_var);
	free(e->n);
	free(e->rr);
	free(e->rr_var);
	free(e->share);
	free(e->profile);
	memset(e, 0, sizeof(*e));
}

static int hour_of_day(int64_t hour, int32_t tz_offset_s)
{
	int64_t h = (hour * 3600 + tz_offset_s) / 3600 % 24;
	return (int)(h < 0 ? h + 24 : h);
}

void bd_estimate_add_cell(bd_estimate_t *e, const bd_estimate_params_t *p, int cluster,
			  int treatment, int64_t hour, const double *x, int n)
{
	if (cluster < 0 || cluster >= e->k || treatment < 0 || treatment >= e->j)
		return;
	size_t o = ((size_t)cluster * e->j + treatment) * NS;
	if (n > NS)
		n = NS;
	/* recency weight of the hour (historical samples: the oldest kind) */
	double w = 1;
	if (p->halflife_h > 0 && hour > 0) { /* historical samples do not fade */
		double age_h = (double)p->now_ms / 3600000.0 - (double)(hour > 0 ? hour : 0);
		w = age_h > 0 ? exp2(-age_h / p->halflife_h) : 1;
	}
	for (int i = 0; i < n; i++)
		e->all[o + i] += w * x[i];
	if (hour < p->mature_before_hour)
		for (int i = 0; i < n; i++)
			e->mat[o + i] += w * x[i];
	if (hour < 0 && hour >= -24) /* a log's sample: its hour of day (UTC) */
		e->hist_log[hour_of_day(-hour - 1, p->tz_offset_s)] += x[BD_STAT_DECISIONS];
	if (hour <= 0)
		return; /* historical samples are not traffic */
	double dec = x[BD_STAT_DECISIONS];
	/* by age, unweighted: the delay distribution's censoring */
	e->live_dec += dec;
	int64_t age_h = p->now_ms / 3600000 - hour; /* (a future hour: the current one) */
	if (age_h < BD_ESTIMATE_YOUNG_HOURS)
		e->age_dec[age_h > 0 ? age_h : 0] += dec;
	if (hour >= p->today_first_hour) {
		double *d = e->today_by_t + (size_t)treatment * BD_DAY__COUNT;
		e->today[cluster] += dec;
		d[BD_DAY_DECISIONS] += dec;
		/* (a shorter vector: an older record's statistics) */
		d[BD_DAY_OUTCOMES] += n > BD_STAT_OUTCOMES ? x[BD_STAT_OUTCOMES] : 0;
		d[BD_DAY_ORDERS] += n > BD_STAT_ORDERS ? x[BD_STAT_ORDERS] : 0;
		d[BD_DAY_VALUE] += n > BD_STAT_VALUE ? x[BD_STAT_VALUE] : 0;
		d[BD_DAY_COST] += n > BD_STAT_COST ? x[BD_STAT_COST] : 0;
	} else
		e->hist[(size_t)cluster * 24 + hour_of_day(hour, p->tz_offset_s)] += dec;
	if (hour >= p->today_first_hour) {
		int64_t h = hour - p->today_first_hour < 24 ? hour - p->today_first_hour : 23;
		double *q = e->day_cells + (((size_t)cluster * e->j + treatment) * 24 + (size_t)h) * 2;
		q[0] += dec;
		q[1] += x[BD_STAT_COST];
	}
	if (hour < e->first_hour)
		e->first_hour = hour;
}

/* Means of one cell source: per-decision (matured) or per-outcome (warm-up). */
/* @p v2, @p c2: the variances of value and cost per decision */
static void cell_means(const double *x, int matured, double *r, double *c, double *cv,
		       double *n, double *v2, double *c2)
{
	double dec = matured ? x[BD_STAT_DECISIONS] : x[BD_STAT_OUTCOMES];
	double w = matured ? x[BD_STAT_DW] : x[BD_STAT_W];
	*n = dec;
	if (w > 0) {
		*r = x[BD_STAT_WVALUE] / w;
		*c = x[BD_STAT_WCOST] / w;
	} else {
		*r = *c = 0;
	}
	*cv = dec > 0 ? x[BD_STAT_CONV] / dec : 0;
	/* spread around the unweighted mean (what the second moments are of) */
	double rm = dec > 0 ? x[BD_STAT_VALUE] / dec : 0, cm = dec > 0 ? x[BD_STAT_COST] / dec : 0;
	*v2 = dec > 0 ? fmax(x[BD_STAT_VALUE2] / dec - rm * rm, 0) : 0;
	*c2 = dec > 0 ? fmax(x[BD_STAT_COST2] / dec - cm * cm, 0) : 0;
}

/*
 * Value per request as orders per request times value per order, the value
 * per order pooled within the cluster (solve.order.value.prior = m): a
 * cell's own value per order V/O (inverse-propensity sums) weighs
 * n / (n + m), n its orders, and its cluster's over every treatment the
 * rest.  A coupon moves mostly how many users order; what an order is
 * worth is noisy (heavy-tailed baskets) but differs little between the
 * cluster's treatments, so pooling it removes the basket noise from the
 * cell's increments.  m = 0 leaves the plain mean.  @p x the cell,
 * @p vk, @p ok its cluster's value and order sums, @p r its plain mean
 * (replaced).
 */
static void order_value_pool(const double *x, double vk, double ok, int matured, double m,
			     double *r)
{
	const double w = matured ? x[BD_STAT_DW] : x[BD_STAT_W];
	const double o = x[BD_STAT_WORDERS], n = x[BD_STAT_ORDERS];
	if (m <= 0 || w <= 0 || o <= 0 || ok <= 0)
		return;
	double lam = n / (n + m);
	*r = o / w * (lam * x[BD_STAT_WVALUE] / o + (1 - lam) * vk / ok);
}

/* A cell's raw (unshrunk) mean and the variance of that mean. */
typedef struct raw_s {
	double r, c, vr, vc, n;
} raw_t;

static raw_t raw_of(const double *x, int matured)
{
	raw_t a;
	double cv, v2, c2;
	cell_means(x, matured, &a.r, &a.c, &cv, &a.n, &v2, &c2);
	a.vr = a.n > 0 ? v2 / a.n : INFINITY;
	a.vc = a.n > 0 ? c2 / a.n : INFINITY;
	return a;
}

/* Kish's effective sample size of a cell's @p n decisions: inverse-
 * propensity weights that differ (a first day's uniform warm-up at 1/0.2,
 * then an exploration slice at 1/0.004) make the mean as noisy as one of
 * n / deff, deff = m sum w^2 / (sum w)^2 over its m joined outcomes.  A
 * smooth-world first day's costly coupons, 270 warm-up and 20 explored
 * decisions each, counted 290 where they were worth 32: their standard
 * errors three times too small, the budget guard's bound on their cost
 * (+ guard.cost.sigmas of them) too tight, and 7 of 24 such days overspent
 * by more than 2% (bench/bd-day-bench; 3 with this). */
static double kish_n(const double *x, double n)
{
	double m = x[BD_STAT_OUTCOMES], w = x[BD_STAT_W], w2 = x[BD_STAT_W2];
	if (!(m > 1) || !(w > 0))
		return n;
	double deff = m * w2 / (w * w);
	return deff > 1 ? n / deff : n;
}

/* Empirical Bayes over clusters for one treatment's uplift over control:
 * @p u (k) raw uplifts, @p v (k) their sampling variances (INFINITY: no
 * data), @p U the pooled uplift.  Writes the shrinkage factors into @p b. */
static void eb_factors(int K, const double *u, const double *v, double U, double *b)
{
	double d2 = 0, vm = 0;
	int m = 0;
	for (int k = 0; k < K; k++)
		if (isfinite(v[k])) {
			d2 += (u[k] - U) * (u[k] - U);
			vm += v[k];
			m++;
		}
	/* method of moments: E[(u - U)^2] ~ tau^2 + v (U's own error is
	 * small next to a cluster's when K is not tiny) */
	double tau2 = m > 1 ? fmax(d2 / m - vm / m, 0) : 0;
	for (int k = 0; k < K; k++)
		b[k] = isfinite(v[k]) && tau2 + v[k] > 0 ? tau2 / (tau2 + v[k]) : 0;
}

/* Fits the pooled uplifts @p u (n treatments beyond control, at cost
 * uplifts @p c, variances @p v) to a non-decreasing concave function of
 * cost through control (0, 0): the slopes between neighbours in cost are
 * made non-increasing by pooling adjacent violators (weighted by their
 * precision), then at least 0.  Where the estimates are convex (a bigger
 * coupon buying more per unit of cost than a smaller one) the fit is a
 * line; its slopes then fall by 1e-9 per step so the cheaper step stays on
 * the solver's hull (the robust choice under diminishing returns). */
static void concave_fit(int n, const double *c, const double *v, double *u)
{
	int ord[BD_ESTIMATE_MAX_EB], blk[BD_ESTIMATE_MAX_EB], nb = 0;
	double s[BD_ESTIMATE_MAX_EB], w[BD_ESTIMATE_MAX_EB], dx[BD_ESTIMATE_MAX_EB];
	double bs[BD_ESTIMATE_MAX_EB], bw[BD_ESTIMATE_MAX_EB];
	for (int i = 0; i < n; i++)
		ord[i] = i;
	for (int i = 1; i < n; i++) /* insertion sort by cost (n is small) */
		for (int j = i; j > 0 && c[ord[j]] < c[ord[j - 1]]; j--) {
			int t = ord[j];
			ord[j] = ord[j - 1];
			ord[j - 1] = t;
		}
	double px = 0, py = 0, pv = 0;
	for (int i = 0; i < n; i++) {
		int t = ord[i];
		dx[i] = fmax(c[t] - px, 1e-12);
		s[i] = (u[t] - py) / dx[i];
		double vs = (isfinite(v[t]) ? v[t] : 1e300) + pv;
		w[i] = dx[i] * dx[i] / fmax(vs, 1e-300);
		px = c[t];
		py = u[t];
		pv = isfinite(v[t]) ? v[t] : 1e300;
		/* a new block, merged back while slopes rise */
		bs[nb] = s[i];
		bw[nb] = w[i];
		blk[nb++] = 1;
		while (nb > 1 && bs[nb - 2] < bs[nb - 1]) {
			double W = bw[nb - 2] + bw[nb - 1];
			bs[nb - 2] = W > 0 ? (bw[nb - 2] * bs[nb - 2] + bw[nb - 1] * bs[nb - 1]) / W
					   : (bs[nb - 2] + bs[nb - 1]) / 2;
			bw[nb - 2] = W;
			blk[nb - 2] += blk[nb - 1];
			nb--;
		}
	}
	double y = 0;
	for (int b = 0, i = 0; b < nb; b++)
		for (int m = 0; m < blk[b]; m++, i++) {
			double sl = fmax(bs[b], 0) * (1 - 1e-9 * m);
			y += sl * dx[i];
			u[ord[i]] = y;
		}
}

/* Replaces the treatments' shrunk levels (t > 0) by control's level plus
 * the cluster's uplift shrunk toward the pooled uplift (estimate.h). */
static void shrink_uplifts(bd_estimate_t *e, const raw_t *raw, const raw_t *pool, int concave)
{
	const int K = e->k, J = e->j;
	double u[2][BD_ESTIMATE_MAX_EB], v[2][BD_ESTIMATE_MAX_EB], b[2][BD_ESTIMATE_MAX_EB];
	double PU[BD_ESTIMATE_MAX_EB], PC[BD_ESTIMATE_MAX_EB], PV[BD_ESTIMATE_MAX_EB];
	if (K > BD_ESTIMATE_MAX_EB || J > BD_ESTIMATE_MAX_EB)
		return;
	for (int t = 1; t < J; t++) {
		PU[t - 1] = pool[t].r - pool[0].r;
		PC[t - 1] = pool[t].c - pool[0].c;
		PV[t - 1] = pool[t].vr + pool[0].vr;
	}
	if (concave && J > 1)
		concave_fit(J - 1, PC, PV, PU);
	for (int t = 1; t < J; t++) {
		/* the clusters' spread is measured around the raw pooled uplift;
		 * what is kept of it goes on the fitted one */
		double U[2] = {pool[t].r - pool[0].r, pool[t].c - pool[0].c};
		double F[2] = {PU[t - 1], PC[t - 1]};
		double vU[2] = {pool[t].vr + pool[0].vr, pool[t].vc + pool[0].vc};
		for (int k = 0; k < K; k++) {
			const raw_t *a = &raw[(size_t)k * J + t], *z = &raw[(size_t)k * J];
			u[0][k] = a->r - z->r;
			u[1][k] = a->c - z->c;
			v[0][k] = a->vr + z->vr;
			v[1][k] = a->vc + z->vc;
		}
		eb_factors(K, u[0], v[0], U[0], b[0]);
		eb_factors(K, u[1], v[1], U[1], b[1]);
		for (int k = 0; k < K; k++) {
			size_t i = (size_t)k * J + t, i0 = (size_t)k * J;
			double ur = F[0] + b[0][k] * (u[0][k] - U[0]);
			double uc = F[1] + b[1][k] * (u[1][k] - U[1]);
			/* posterior variance of the uplift: B v + (1 - B)^2 vU */
			double pr = b[0][k] * (isfinite(v[0][k]) ? v[0][k] : 0) +
				    (1 - b[0][k]) * (1 - b[0][k]) * (isfinite(vU[0]) ? vU[0] : 0);
			double pc = b[1][k] * (isfinite(v[1][k]) ? v[1][k] : 0) +
				    (1 - b[1][k]) * (1 - b[1][k]) * (isfinite(vU[1]) ? vU[1] : 0);
			e->r[i] = e->r[i0] + ur;
			e->c[i] = fmax(e->c[i0] + uc, 0);
			e->r_se[i] = sqrt(e->r_se[i0] * e->r_se[i0] + pr);
			e->c_se[i] = sqrt(e->c_se[i0] * e->c_se[i0] + pc);
		}
	}
}

static void finish_means(bd_estimate_t *e, const bd_estimate_params_t *p)
{
	const int K = e->k, J = e->j;
	double tot = 0;
	for (size_t i = 0; i < (size_t)K * J; i++)
		tot += e->mat[i * NS + BD_STAT_DECISIONS];
	e->matured = tot;
	e->immature = tot < p->min_matured;
	const double *src = e->immature ? e->all : e->mat;
	raw_t *raw = malloc(sizeof(raw_t) * (size_t)K * J);
	raw_t pool[BD_ESTIMATE_MAX_EB];
	/* per cluster: value and orders over every treatment, only when the
	 * pooling is on (off by default: no allocation on every solve) */
	double *vk = p->order_value_prior > 0 ? calloc((size_t)K * 2, sizeof(double)) : NULL;
	for (int k = 0; vk && k < K; k++)
		for (int t = 0; t < J; t++) {
			vk[2 * k] += src[((size_t)k * J + t) * NS + BD_STAT_WVALUE];
			vk[2 * k + 1] += src[((size_t)k * J + t) * NS + BD_STAT_WORDERS];
		}
	for (int t = 0; t < J; t++) {
		/* the treatment's mean over all clusters: the shrinkage target */
		double agg[NS] = {0};
		for (int k = 0; k < K; k++)
			for (int i = 0; i < NS; i++)
				agg[i] += src[((size_t)k * J + t) * NS + i];
		double r0, c0, cv0, n0, v20, c20;
		cell_means(agg, !e->immature, &r0, &c0, &cv0, &n0, &v20, &c20);
		if (t < BD_ESTIMATE_MAX_EB)
			pool[t] = raw_of(agg, !e->immature);
		double var_r0 = v20, var_c0 = c20;
		for (int k = 0; k < K; k++) {
			size_t i = (size_t)k * J + t;
			double r, c, cv, n, v2, c2, m0 = p->shrinkage;
			cell_means(src + i * NS, !e->immature, &r, &c, &cv, &n, &v2, &c2);
			if (vk)
				order_value_pool(src + i * NS, vk[2 * k], vk[2 * k + 1],
						 !e->immature, p->order_value_prior, &r);
			raw_t a = raw_of(src + i * NS, !e->immature);
			if (raw)
				raw[i] = a;
			e->rr[i] = a.r;
			e->rr_var[i] = a.vr;
			/* variances shrunk like the means: a handful of
			 * decisions says little about the spread */
			double var_r = (n * v2 + m0 * var_r0) / (n + m0 + 1e-300),
			       var_c = (n * c2 + m0 * var_c0) / (n + m0 + 1e-300);
			e->n[i] = n;
			e->r[i] = (n * r + m0 * r0) / (n + m0 + 1e-300);
			e->c[i] = (n * c + m0 * c0) / (n + m0 + 1e-300);
			e->conv[i] = (n * cv + m0 * cv0) / (n + m0 + 1e-300);
			/* the shrunk mean's error: the cell's own spread over
			 * its data (as many decisions as its weights are worth)
			 * plus the prior's pseudo-data */
			double ne = kish_n(src + i * NS, n);
			e->r_se[i] = sqrt(var_r / (ne + m0 + 1e-300));
			e->c_se[i] = sqrt(var_c / (ne + m0 + 1e-300));
			e->c_var[i] = var_c;
			e->conv_se[i] = sqrt(e->conv[i] * (1 - e->conv[i]) / (n + m0 + 1e-300));
		}
	}
	/* without memory or with too many treatments: the level shrinkage */
	if (p->shrink_uplift && raw && J <= BD_ESTIMATE_MAX_EB)
		shrink_uplifts(e, raw, pool, p->concave);
	free(raw);
	free(vk);
}

/* The share of the day's traffic between hours @p a and @p b (0..24). */
static double prof_share(const double *prof, double a, double b)
{
	double s = 0;
	for (int h = (int)a; h < 24 && h < b; h++) {
		double lo = fmax(a, h), hi = fmin(b, h + 1);
		if (hi > lo)
			s += prof[h] * (hi - lo);
	}
	return s;
}

static void finish_traffic(bd_estimate_t *e, const bd_estimate_params_t *p)
{
	const int K = e->k;
	double pooled[24], ptot = 0;
	for (int h = 0; h < 24; h++) {
		pooled[h] = 0;
		for (int k = 0; k < K; k++)
			pooled[h] += e->hist[(size_t)k * 24 + h];
		ptot += pooled[h];
	}
	double past_days = 0, ltot = 0;
	if (e->first_hour < p->today_first_hour)
		past_days = ceil((double)(p->today_first_hour - e->first_hour) / 24.0);
	e->past_days = past_days;
	for (int h = 0; h < 24; h++)
		ltot += e->hist_log[h];
	/* A first day: the hours its log was decided at, where it has one.
	 * The log is not traffic (how many requests today brings is still
	 * the day's own to say), but when in the day they come is what a
	 * first day's pacing lacks most: on 30 first days per world family
	 * of bench/bd-day-bench, the log's shape instead of the flat prior
	 * bought 0.955 -> 1.114 of uniform's increment on the smooth world,
	 * 1.063 -> 1.100 and 1.065 -> 1.107 on the others (docs/solving.md) */
	e->log_profile = past_days < 1 && ltot >= LOG_PROFILE_MIN;
	if (e->log_profile) {
		memcpy(pooled, e->hist_log, sizeof(pooled));
		ptot = ltot;
	}
	for (int h = 0; h < 24; h++)
		pooled[h] = (pooled[h] + PRIOR_FLAT / 24) / (ptot + PRIOR_FLAT);
	/* where in the day we are: hour of day now and its elapsed fraction */
	double hod = p->sec_of_day / 3600.0;
	int hnow = (int)hod;
	if (hnow > 23)
		hnow = 23;
	double part = hod - hnow;
	double n_rem = 0, elapsed_pooled = 0;
	for (int h = 0; h < hnow; h++)
		elapsed_pooled += pooled[h];
	elapsed_pooled += part * pooled[hnow];
	e->day_elapsed = elapsed_pooled;
	e->today_total = 0;
	e->n_tail = 0;
	for (int k = 0; k < K; k++) {
		double *prof = e->profile + (size_t)k * 24, tot = 0;
		for (int h = 0; h < 24; h++)
			tot += e->hist[(size_t)k * 24 + h];
		for (int h = 0; h < 24; h++)
			prof[h] = (e->hist[(size_t)k * 24 + h] + PRIOR_PROFILE * pooled[h]) /
				  (tot + PRIOR_PROFILE);
		double elapsed = part * prof[hnow];
		for (int h = 0; h < hnow; h++)
			elapsed += prof[h];
		double past_mean = past_days > 0 ? tot / past_days : 0;
		double w = past_days > 0 ? PAST_WEIGHT : 0;
		double volume = (e->today[k] + w * past_mean) / fmax(elapsed + w, 0.01);
		double rem = volume * (1 - elapsed);
		e->share[k] = rem > 0 ? rem : 0;
		double tail_from = fmax(hod, 24 - p->tail_s / 3600);
		e->n_tail += volume * prof_share(prof, tail_from, 24);
		n_rem += e->share[k];
		e->today_total += e->today[k];
	}
	for (int k = 0; k < K; k++)
		e->share[k] = n_rem > 0 ? e->share[k] / n_rem : 1.0 / K;
	e->n_rem = n_rem;
}

void bd_estimate_add_delay(bd_estimate_t *e, const double *x, int n)
{
	for (int i = 0; i < n && i < BD_DELAY_BUCKETS; i++) {
		e->delay[i] += x[i];
		e->delay_adj[i] = e->delay[i];
	}
}

/* The share of live decisions younger than @p age_s: the last hours'
 * decisions, each hour's spread evenly up to now. */
static double younger_share(const bd_estimate_t *e, const bd_estimate_params_t *p, double age_s)
{
	double now_s = (double)p->now_ms / 1000, young = 0;
	if (!(e->live_dec > 0))
		return 0;
	for (int a = 0; a < BD_ESTIMATE_YOUNG_HOURS; a++) {
		double start_s = (double)(p->now_ms / 3600000 - a) * 3600,
		       end_s = fmin(start_s + 3600, now_s);
		if (!(e->age_dec[a] > 0) || end_s <= start_s)
			continue;
		double from_s = fmax(start_s, now_s - age_s);
		if (end_s > from_s)
			young += e->age_dec[a] * (end_s - from_s) / (end_s - start_s);
	}
	return fmin(young / e->live_dec, 1);
}

/*
 * The delay distribution corrected for censoring.  The workers add an
 * outcome's cost to its delay bucket when it arrives, so a bucket of delay
 * a can only hold the cost of decisions at least a old: early on a first
 * day, when most decisions are minutes old, the long delays are missing
 * and the distribution looks short, the cost still to come looks small,
 * and the budget is overspent (a 10-second simulated first day, seed 4,
 * spent 152% of its budget: at one solve the daemon saw 8 of pending cost
 * where 40 was still to come).  Each bucket is divided by the share of
 * decisions old enough to show it (at the bucket's middle age), which
 * holds while delays do not depend on when the decision was made; the
 * share is floored at DELAY_MIN_SEEN so a bucket seen on a few old
 * decisions cannot dominate.  Delays longer than anything observable yet
 * stay unseen: the day's oldest decisions bound what can be learned.
 */
#define DELAY_MIN_SEEN 0.2

/*
 * The open last bucket holds every delay from its start on, and the tail
 * behind it can be long: lognormal delays of mean 1 h (log-sd 1.2) still
 * bring 7% of the cost after 2 h 50 min and 2% after 6 h.  Read as
 * "arrived within one more width", that cost was missed at every solve of
 * the evening, and a first day of such a world overspent by 2.2% on
 * average (bench/bd-day-bench, smooth world, 24 days; 0.07% with the true
 * cost still to come).  The tail goes on decaying as the buckets before it did: by the
 * ratio per width of the last three buckets before it to the three before
 * those (exact for exponential delays), at most DELAY_TAIL_MAX (a mean
 * left of 3.25 h), none where those buckets are empty.
 */
#define DELAY_TAIL_MAX 0.95
static double delay_tail(const double *adj)
{
	const int L = BD_DELAY_BUCKETS - 1;
	double a = adj[L - 6] + adj[L - 5] + adj[L - 4], b = adj[L - 3] + adj[L - 2] + adj[L - 1];
	if (!(a > 0) || !(b > 0))
		return 0;
	return fmin(cbrt(b / a), DELAY_TAIL_MAX);
}

/* The open bucket's delays spread over its tail, so the decisions old
 * enough to have shown them are fewer than at its start: the share seen,
 * averaged over eight quantiles of the tail. */
static double tail_seen(const bd_estimate_t *e, const bd_estimate_params_t *p, double rho)
{
	const double L = (BD_DELAY_BUCKETS - 1) * BD_DELAY_BUCKET_S;
	double seen = 0;
	for (int q = 0; q < 8; q++) {
		double t = rho > 0 ? BD_DELAY_BUCKET_S * log(1 - (q + 0.5) / 8) / log(rho)
				   : BD_DELAY_BUCKET_S * (q + 0.5) / 8;
		seen += (1 - younger_share(e, p, L + t)) / 8;
	}
	return seen;
}

static void finish_delay(bd_estimate_t *e, const bd_estimate_params_t *p)
{
	const int L = BD_DELAY_BUCKETS - 1;
	for (int i = 0; i < L; i++) {
		double seen = 1 - younger_share(e, p, (i + 0.5) * BD_DELAY_BUCKET_S);
		e->delay_adj[i] = e->delay[i] / fmax(seen, DELAY_MIN_SEEN);
	}
	e->delay_tail = delay_tail(e->delay_adj);
	e->delay_adj[L] = e->delay[L] / fmax(tail_seen(e, p, e->delay_tail), DELAY_MIN_SEEN);
}

double bd_estimate_arrived(const bd_estimate_t *e, double age_s)
{
	double tot = 0, got = 0;
	for (int i = 0; i < BD_DELAY_BUCKETS; i++)
		tot += e->delay_adj[i];
	if (!(tot > 0))
		return NAN;
	if (age_s <= 0)
		return 0;
	/* piecewise linear inside the buckets; the open last bucket on its
	 * tail (finish_delay), or by its start plus one width */
	for (int i = 0; i < BD_DELAY_BUCKETS; i++) {
		double lo = (double)i * BD_DELAY_BUCKET_S, f = (age_s - lo) / BD_DELAY_BUCKET_S;
		if (i == BD_DELAY_BUCKETS - 1 && e->delay_tail > 0)
			f = f > 0 ? 1 - pow(e->delay_tail, f) : 0;
		got += e->delay_adj[i] * (f >= 1 ? 1 : f > 0 ? f : 0);
	}
	return got / tot;
}

/* The cost still to come from today's hours.  Where the delay distribution
 * is known (Benktander, an iterated Bornhuetter-Ferguson): the share not
 * arrived yet at the hour's age, 1 - F, of the BF ultimate cost, realised +
 * expected cost (decisions x estimated cost per decision) x (1 - F).  Every
 * hour of the day, matured or not: a matured hour (older than
 * solve.maturity.s) is complete enough for the means, but its long delays
 * still bring cost (the tail of finish_delay).  Without a delay
 * distribution: the expected cost minus what came so far, over the
 * unmatured hours. */
/* The share of hour @p h's cost (of today) arrived by now: its decisions
 * spread over it (up to now), the mean of the arrived share over four
 * ages; NAN without delay data. */
static double hour_arrived(const bd_estimate_t *e, const bd_estimate_params_t *p, int h)
{
	double start_s = (double)(p->today_first_hour + h) * 3600, now_s = (double)p->now_ms / 1000,
	       end_s = fmin(start_s + 3600, now_s), arrived = 0;
	/* the delay distribution's age counted up to where the outcomes have
	 * come, not to now: decisions made after it (a backlog decided in one
	 * burst, outcomes held up behind the requests) have nothing arrived
	 * whatever their event time (clock.h, bd_clock_advance_outcome) */
	double upto_s = p->arrived_ms > 0 && p->arrived_ms < p->now_ms
				? (double)p->arrived_ms / 1000
				: now_s;
	for (int q = 0; q < 4; q++)
		arrived += bd_estimate_arrived(e, upto_s - (start_s + (end_s - start_s) * (q + 0.5) / 4));
	return arrived / 4;
}

/*
 * Today's cost calibration.  The cells' cost per decision comes from every
 * day the statistics hold, and the plan picks the cells whose estimates
 * suit it: on the simulator's warm days the true cost of the decisions a
 * plan made was 0.70-1.15 of what the plan expected, for a whole day at a
 * time, so the plan ran behind (or ahead) at every solve and the evening
 * could not catch up (bench/bd-day-bench --warm: days 9% short).  Today's
 * own realised cost says by how much: the ratio of the cost arrived so far
 * to what the cells' estimates say should have arrived by now (each hour's
 * decisions priced at their cells' cost, times the share of it arrived:
 * the Cape Cod method of insurance reserving), over today's matured hours
 * (older than solve.maturity.s).  Shrunk toward 1 by its
 * noise (the cells' per-decision cost variance over the arrived
 * decisions) against a prior standard deviation of cost_calibrate, and
 * kept within [1/2, 2].
 */
#define CAL_MIN 0.5
#define CAL_MAX 2.0
static void finish_calibrate(bd_estimate_t *e, const bd_estimate_params_t *p)
{
	const size_t KJ = (size_t)e->k * e->j;
	double real = 0, expd = 0, var = 0;
	e->cost_cal = 1;
	e->cal_realised = e->cal_expected = 0;
	if (!(p->cost_calibrate > 0))
		return;
	for (int h = 0; h < 24; h++) {
		/* matured hours only: a young hour's arrived share leans on the
		 * delay distribution's first minutes, and costs that came within
		 * seconds of their decisions read as decisions dearer than they
		 * are (it_budgetguard's first hour: the guard then charged every
		 * decision a third more and stopped the plan early) */
		if (p->today_first_hour + h >= p->mature_before_hour)
			continue;
		double prior = 0, pv = 0, rh = 0;
		for (size_t i = 0; i < KJ; i++) {
			const double *r = e->day_cells + (i * 24 + (size_t)h) * 2;
			prior += r[0] * e->c[i];
			pv += r[0] * (e->c_var[i] + e->c[i] * e->c[i]);
			rh += r[1];
		}
		if (!(prior > 0))
			continue;
		double f = hour_arrived(e, p, h);
		if (!isfinite(f))
			return; /* no delay data yet: nothing to compare with */
		real += rh;
		expd += prior * f;
		var += pv * f;
	}
	e->cal_realised = real;
	e->cal_expected = expd;
	if (!(expd > 0))
		return;
	/* the ratio's variance over the prior's: a normal-normal shrinkage */
	double rv = var / (expd * expd), s2 = p->cost_calibrate * p->cost_calibrate;
	double w = s2 / (s2 + rv), cal = 1 + w * (real / expd - 1);
	cal = fmin(fmax(cal, CAL_MIN), CAL_MAX);
	/* a day without a traffic profile only raises its costs: there the
	 * cells are today's own few decisions, and read lower (spending the
	 * morning faster) it bought 0.015 less of uniform's increment over
	 * 60 first days per world family, read higher 0.002-0.006 more */
	if (e->past_days < 1)
		cal = fmax(cal, 1);
	e->cost_cal = cal;
	for (size_t i = 0; i < KJ; i++) {
		e->c[i] *= cal;
		e->c_se[i] *= cal;
		e->c_var[i] *= cal * cal;
	}
}

static void finish_pending(bd_estimate_t *e, const bd_estimate_params_t *p)
{
	const size_t KJ = (size_t)e->k * e->j;
	double tot = 0;
	for (int i = 0; i < BD_DELAY_BUCKETS; i++)
		tot += e->delay[i];
	e->delay_weight = tot;
	e->pending_cost = 0;
	e->pending_cost_err = 0;
	for (int h = 0; h < 24; h++) {
		double prior = 0, real = 0, prior_se = 0;
		for (size_t i = 0; i < KJ; i++) {
			const double *r = e->day_cells + (i * 24 + (size_t)h) * 2;
			prior += r[0] * e->c[i];
			prior_se += r[0] * (isfinite(e->c_se[i]) ? e->c_se[i] : 0);
			real += r[1];
		}
		if (prior == 0 && real == 0)
			continue;
		double arrived = hour_arrived(e, p, h);
		/* Benktander: the Bornhuetter-Ferguson ultimate (realised +
		 * prior x (1 - F)) credits the hour's own arrivals with weight
		 * F, so a prior that is off (cost per decision learned on
		 * other hours' users, e.g. a first day's night) biases the
		 * pending cost by (1 - F)^2 of its error instead of (1 - F) */
		if (tot > 0 && isfinite(arrived)) {
			e->pending_cost += (1 - arrived) * (real + prior * (1 - arrived));
			e->pending_cost_err += (1 - arrived) * (1 - arrived) * prior_se;
		} else if (p->today_first_hour + h >= p->mature_before_hour) {
			e->pending_cost += prior - real;
			e->pending_cost_err += prior_se;
		}
	}
	/* summed before clamping: clamping each small cell or hour at zero
	 * would bias the sum up */
	if (e->pending_cost < 0)
		e->pending_cost = 0;
}

/* Today's request rate over the young hours: their decisions over the
 * time they cover up to now (from the day's start at the earliest). */
static void finish_rate(bd_estimate_t *e, const bd_estimate_params_t *p)
{
	const size_t KJ = (size_t)e->k * e->j;
	double dec = 0, now_s = (double)p->now_ms / 1000;
	double day_start_s = now_s - p->sec_of_day;
	double from_s = fmax((double)p->mature_before_hour * 3600, day_start_s);
	/* today's hours from the first unmatured one (day_cells keeps hours
	 * past the 24th in its last) */
	int64_t h0 = p->mature_before_hour - p->today_first_hour;
	if (h0 < 0)
		h0 = 0;
	for (size_t i = 0; i < KJ; i++)
		for (int64_t h = h0; h < 24; h++)
			dec += e->day_cells[(i * 24 + (size_t)h) * 2];
	/* at least a minute, so the day's first requests do not make a rate */
	e->recent_rate = dec / fmax(now_s - from_s, 60);
	e->sec_left = fmax(86400 - p->sec_of_day, 0);
}

double bd_estimate_pace_requests(const bd_estimate_t *e)
{
	double r = e->recent_rate * e->sec_left, w = e->waiting > 0 ? e->waiting : 0;
	if (e->past_days >= 1 || !(r > e->n_rem))
		return fmax(e->n_rem, w);
	/* the recent rate where later solves can still correct a forecast
	 * that was too high (spend that ran behind is caught up); the flat
	 * forecast on the day's last stretch, where spend that ran behind
	 * cannot be caught up: twice the uncorrectable tail (with the tail
	 * alone, first days of the demo's world landed 2.6% short on average,
	 * up to 6.8%; with twice, 1.3%) */
	double h = e->n_rem > 0 ? fmin(fmax(2 * e->n_tail / e->n_rem, 0), 1) : 1;
	return fmax(exp(h * log(e->n_rem) + (1 - h) * log(r)), w);
}

void bd_estimate_finish(bd_estimate_t *e, const bd_estimate_params_t *p)
{
	finish_means(e, p);
	finish_traffic(e, p);
	finish_delay(e, p);
	finish_calibrate(e, p);
	finish_pending(e, p);
	finish_rate(e, p);
}

/* The first non-finite of @p n numbers at @p v, or -1. */
static long first_bad(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return (long)i;
	return -1;
}

int bd_estimate_check(const bd_estimate_t *e, char *why, size_t why_size)
{
	const size_t KJ = (size_t)e->k * (size_t)e->j;
	const struct {
		const char *name;
		const double *v;
		size_t n;
	} cell[] = {
		{"value per request", e->r, KJ},	{"cost per request", e->c, KJ},
		{"conversion", e->conv, KJ},		{"value's standard error", e->r_se, KJ},
		{"cost's standard error", e->c_se, KJ}, {"conversion's standard error", e->conv_se, KJ},
		{"cost variance", e->c_var, KJ},	{"decisions", e->n, KJ},
	}, traffic[] = {
		{"traffic share of cluster", e->share, (size_t)e->k},
		{"traffic profile", e->profile, (size_t)e->k * 24},
		{"past traffic", e->hist, (size_t)e->k * 24},
	};
	const double scalar[] = {e->n_rem, e->n_tail, e->today_total, e->day_elapsed,
				 e->past_days, e->matured, e->pending_cost};
	static const char *const scalar_name[] = {"requests expected", "requests in the tail",
						  "decisions today", "share of the day elapsed",
						  "past days", "matured decisions",
						  "pending cost"};
	long b;
	for (size_t i = 0; i < BD_ARRAY_SIZE(cell); i++)
		if ((b = first_bad(cell[i].v, cell[i].n)) >= 0) {
			snprintf(why, why_size, "estimate: %s of cluster %ld treatment %ld is %g",
				 cell[i].name, b / e->j, b % e->j, cell[i].v[b]);
			return BD_EINVAL;
		}
	for (size_t i = 0; i < BD_ARRAY_SIZE(traffic); i++)
		if ((b = first_bad(traffic[i].v, traffic[i].n)) >= 0) {
			snprintf(why, why_size, "estimate: %s %ld is %g", traffic[i].name, b,
				 traffic[i].v[b]);
			return BD_EINVAL;
		}
	if ((b = first_bad(scalar, BD_ARRAY_SIZE(scalar))) >= 0) {
		snprintf(why, why_size, "estimate: %s is %g", scalar_name[b], scalar[b]);
		return BD_EINVAL;
	}
	return 0;
}
