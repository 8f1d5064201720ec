/*
 * budgetd-train: the learning pipeline offline, on a sample file written by
 * `budgetd-sim offline` (or any CSV of the same columns):
 *
 *   representation network -> h(x) -> k-means -> distilled classifier
 *
 * and, when the file comes from the simulator (-p knobs equal to the ones
 * that wrote it), the evidence of issue 3: how well each clustering groups
 * users with the same TRUE treatment effects (within-cluster variance of
 * every user's true incremental value and cost per treatment), for clusters
 * on h(x), on the raw features, and at random, at the same K.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/learn/distill.h"
#include "budgetd/learn/kmeans.h"
#include "budgetd/learn/represent.h"
#include "budgetd/lab/simworld.h"
#include "budgetd/policy/solver.h"

typedef struct samples_s {
	int n, dim, J, cap;
	int *user, *treatment;
	double *prop, *conv, *value, *cost;
	float *x;
} samples_t;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void samples_free(samples_t *s)
{
	free(s->user);
	free(s->treatment);
	free(s->prop);
	free(s->conv);
	free(s->value);
	free(s->cost);
	free(s->x);
}

static int grow(samples_t *s)
{
	int cap = s->cap ? 2 * s->cap : 4096;
	void *p[7] = {realloc(s->user, sizeof(int) * (size_t)cap),
		      realloc(s->treatment, sizeof(int) * (size_t)cap),
		      realloc(s->prop, sizeof(double) * (size_t)cap),
		      realloc(s->conv, sizeof(double) * (size_t)cap),
		      realloc(s->value, sizeof(double) * (size_t)cap),
		      realloc(s->cost, sizeof(double) * (size_t)cap),
		      realloc(s->x, sizeof(float) * (size_t)cap * (size_t)s->dim)};
	/* realloc keeps the old block on failure: store what succeeded */
	if (p[0]) s->user = p[0];
	if (p[1]) s->treatment = p[1];
	if (p[2]) s->prop = p[2];
	if (p[3]) s->conv = p[3];
	if (p[4]) s->value = p[4];
	if (p[5]) s->cost = p[5];
	if (p[6]) s->x = p[6];
	for (int i = 0; i < 7; i++)
		if (!p[i])
			return -ENOMEM;
	s->cap = cap;
	return 0;
}

/* CSV: user_id,segment,treatment,propensity,converted,orders,value,cost,f0.. */
static int read_samples(const char *path, samples_t *s, char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, rc = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (getline(&line, &cap, f) < 0 || strncmp(line, "user_id,segment,treatment,", 26)) {
		snprintf(err, errlen, "%s:1: not a sample file (header user_id,segment,treatment,...)",
			 path);
		rc = -1;
		goto out;
	}
	lineno = 1;
	s->dim = 0;
	for (char *p = strstr(line, ",f0"); p; p = strstr(p + 1, ",f"))
		s->dim++;
	if (s->dim < 1) {
		snprintf(err, errlen, "%s:1: no feature columns", path);
		rc = -1;
		goto out;
	}
	while (getline(&line, &cap, f) > 0) {
		char *p = line, *end;
		double v[8];
		lineno++;
		if (s->n == s->cap && grow(s)) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
			goto out;
		}
		for (int c = 0; c < 8; c++) {
			v[c] = strtod(p, &end);
			if (end == p || *end != ',') {
				snprintf(err, errlen, "%s:%d: column %d is not a number", path,
					 lineno, c + 1);
				rc = -1;
				goto out;
			}
			p = end + 1;
		}
		for (int j = 0; j < s->dim; j++) {
			s->x[(size_t)s->n * s->dim + j] = strtof(p, &end);
			if (end == p) {
				snprintf(err, errlen, "%s:%d: feature %d missing", path, lineno, j);
				rc = -1;
				goto out;
			}
			p = *end == ',' ? end + 1 : end;
		}
		s->user[s->n] = (int)v[0];
		s->treatment[s->n] = (int)v[2];
		s->prop[s->n] = v[3];
		s->conv[s->n] = v[4];
		s->value[s->n] = v[6];
		s->cost[s->n] = v[7];
		if (s->treatment[s->n] + 1 > s->J)
			s->J = s->treatment[s->n] + 1;
		if (!(v[3] > 0 && v[3] <= 1)) {
			snprintf(err, errlen, "%s:%d: propensity %g outside (0, 1]", path, lineno, v[3]);
			rc = -1;
			goto out;
		}
		s->n++;
	}
out:
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* Within-cluster variance of the true incremental value and cost of each
 * treatment over control, summed over treatments, over the total variance:
 * the share of the effect heterogeneity a clustering leaves unexplained. */
static double unexplained(const bd_sim_world_t *w, const int *user, int n, const int *label,
			  int k)
{
	int J = bd_sim_n_treatments(w);
	double within = 0, total = 0;
	double *sum = calloc((size_t)k * 2 * J, sizeof(double)), *cnt = calloc((size_t)k, sizeof(double));
	double gsum[2 * 16] = {0};
	for (int i = 0; i < n; i++) {
		cnt[label[i]]++;
		for (int t = 1; t < J; t++) {
			double dv = bd_sim_user_ev(w, user[i], t) - bd_sim_user_ev(w, user[i], 0);
			double dc = bd_sim_user_ec(w, user[i], t) - bd_sim_user_ec(w, user[i], 0);
			sum[((size_t)label[i] * J + t) * 2] += dv;
			sum[((size_t)label[i] * J + t) * 2 + 1] += dc;
			gsum[t * 2] += dv;
			gsum[t * 2 + 1] += dc;
		}
	}
	for (int i = 0; i < n; i++)
		for (int t = 1; t < J; t++) {
			double dv = bd_sim_user_ev(w, user[i], t) - bd_sim_user_ev(w, user[i], 0);
			double dc = bd_sim_user_ec(w, user[i], t) - bd_sim_user_ec(w, user[i], 0);
			double mv = sum[((size_t)label[i] * J + t) * 2] / cnt[label[i]];
			double mc = sum[((size_t)label[i] * J + t) * 2 + 1] / cnt[label[i]];
			/* cost and value in one unit: the value per unit of cost
			 * matters to the solver, so weigh them alike */
			within += (dv - mv) * (dv - mv) + (dc - mc) * (dc - mc);
			total += (dv - gsum[t * 2] / n) * (dv - gsum[t * 2] / n) +
				 (dc - gsum[t * 2 + 1] / n) * (dc - gsum[t * 2 + 1] / n);
		}
	free(sum);
	free(cnt);
	return total > 0 ? within / total : 0;
}

/* Budgets of the decision ceiling: fractions of the spend at which the
 * per-user oracle's value peaks. */
static const double ceiling_fracs[] = {0.25, 0.5, 0.75};
#define N_CEILING (int)(sizeof(ceiling_fracs) / sizeof(ceiling_fracs[0]))

/* The decision ceiling of a clustering: the share of the per-user oracle's
 * incremental value (over everyone on control) that the best per-cluster
 * plan reaches at the same budget when every cluster's TRUE mean value and
 * cost per treatment are known.  It weighs effects as the solver does: a
 * clustering loses only where it pools users whose best treatment at the
 * budget's price differs, and the loss is what that costs in value.
 * Estimation noise is left out: this is what the clusters allow, not what
 * a model estimates.  @p out gets N_CEILING shares; returns 0 or -1. */
static int ceiling(const bd_sim_world_t *w, const int *user, int n, const int *label, int k,
		   double *out)
{
	int J = bd_sim_n_treatments(w), rc = -1;
	double *share = calloc((size_t)k, sizeof(double));
	double *r = calloc((size_t)k * J, sizeof(double)), *c = calloc((size_t)k * J, sizeof(double));
	bd_solver_curve_t *cv = NULL;
	double v0 = 0, vmax, smax;
	if (!share || !r || !c)
		goto out;
	for (int i = 0; i < n; i++) {
		share[label[i]] += 1.0 / n;
		v0 += bd_sim_user_ev(w, user[i], 0);
		for (int t = 0; t < J; t++) {
			r[(size_t)label[i] * J + t] += bd_sim_user_ev(w, user[i], t);
			c[(size_t)label[i] * J + t] += bd_sim_user_ec(w, user[i], t);
		}
	}
	for (int g = 0; g < k; g++)
		for (int t = 0; t < J; t++) { /* cluster means, per request overall */
			double m = share[g] > 0 ? 1.0 / (share[g] * n) : 0;
			r[(size_t)g * J + t] *= m;
			c[(size_t)g * J + t] *= m;
		}
	bd_solver_problem_t p = {.k = k, .j = J, .share = share, .r = r, .c = c};
	if (bd_solver_curve_new(&p, &cv) ||
	    bd_sim_oracle(w, user, n, HUGE_VAL, &vmax, &smax, NULL))
		goto out;
	for (int b = 0; b < N_CEILING; b++) {
		double budget = ceiling_fracs[b] * smax, vo;
		if (bd_sim_oracle(w, user, n, budget, &vo, NULL, NULL))
			goto out;
		double vk = bd_solver_curve_value(cv, budget / n, NULL) * n;
		out[b] = vo > v0 ? (vk - v0) / (vo - v0) : 0;
	}
	rc = 0;
out:
	bd_solver_curve_free(cv);
	free(share);
	free(r);
	free(c);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: budgetd-train --samples FILE [--k K] [--epochs N] [--hidden H]\n"
		   "                     [--rep-dim D] [--student-hidden H] [--seed S]\n"
		   "                     [--evidence] [--world NAME] [-p KEY=VALUE ...]\n"
		   "  --evidence   compare clusterings on the simulator's true effects\n"
		   "               (--world and -p knobs must equal those that wrote FILE)\n");
}

/* The command line. */
typedef struct train_opts_s {
	const char *path, *world, *kv[64];
	int k, evidence, n_kv;
	bd_rep_params_t rp;
	bd_distill_params_t dp;
	bd_sim_params_t wp;
} train_opts_t;

static const struct option train_options[] = {
	{"samples", required_argument, NULL, 's'}, {"k", required_argument, NULL, 'k'},
	{"epochs", required_argument, NULL, 'e'}, {"hidden", required_argument, NULL, 'H'},
	{"rep-dim", required_argument, NULL, 'r'},
	{"student-hidden", required_argument, NULL, 'S'},
	{"seed", required_argument, NULL, 'z'}, {"evidence", no_argument, NULL, 'E'},
	{"world", required_argument, NULL, 'W'},
	{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
};

/* The options into @p t: 0, 1 after --help, or -1 (the usage printed, or
 * said why). */
static int opts_parse(int argc, char **argv, train_opts_t *t)
{
	char err[512];
	int c;
	t->k = 8;
	bd_rep_params_default(&t->rp);
	bd_distill_params_default(&t->dp);
	while ((c = getopt_long(argc, argv, "p:h", train_options, NULL)) != -1) {
		switch (c) {
		case 's': t->path = optarg; break;
		case 'k': t->k = atoi(optarg); break;
		case 'e': t->rp.epochs = atoi(optarg); break;
		case 'H': t->rp.hidden = atoi(optarg); break;
		case 'r': t->rp.rep_dim = atoi(optarg); break;
		case 'S': t->dp.hidden = atoi(optarg); break;
		case 'z': t->rp.seed = t->dp.seed = strtoull(optarg, NULL, 10); break;
		case 'E': t->evidence = 1; break;
		case 'p':
			if (t->n_kv == (int)BD_ARRAY_SIZE(t->kv)) {
				fprintf(stderr, "budgetd-train: too many -p options\n");
				return -1;
			}
			t->kv[t->n_kv++] = optarg;
			break;
		case 'W': t->world = optarg; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (!t->path || t->k < 2 || t->k > 512 || t->rp.epochs < 1 || t->rp.hidden < 1 ||
	    t->rp.rep_dim < 1 || t->dp.hidden < 0) {
		usage(stderr);
		return -1;
	}
	if (bd_sim_params_from_args(&t->wp, t->world, t->kv, t->n_kv, err, sizeof(err)) ||
	    bd_sim_params_validate(&t->wp, err, sizeof(err))) {
		fprintf(stderr, "budgetd-train: %s\n", err);
		return -1;
	}
	return 0;
}

/* The pipeline's products on the samples: the representation, h(x) and
 * its k-means labels, the distilled student and its cost per user. */
typedef struct fit_s {
	samples_t s;
	bd_rep_t *rep;
	double *h;
	bd_kmeans_params_t kp;
	bd_kmeans_result_t km;
	int *label;
	bd_cluster_model_t *student;
	bd_distill_metrics_t dm;
	double ns; /* student inference, per user */
} fit_t;

static void fit_free(fit_t *f)
{
	bd_rep_free(f->rep);
	bd_kmeans_result_free(&f->km);
	bd_cluster_model_unref(f->student);
	free(f->h);
	free(f->label);
	samples_free(&f->s);
}

/* The representation network trained on the samples, and h(x) of each. */
static int fit_representation(fit_t *f, const train_opts_t *t)
{
	const samples_t *s = &f->s;
	bd_rep_data_t d = {s->n, s->dim, s->J, s->x, s->treatment, s->prop, s->conv, s->value,
			   s->cost};
	bd_rep_metrics_t rm;
	if (bd_rep_train(&d, &t->rp, &f->rep, &rm)) {
		fprintf(stderr, "budgetd-train: training failed\n");
		return -1;
	}
	printf("representation   %d epochs in %.1f s; held-out loss: conversion %.4f, value %.4f, "
	       "cost %.4f\n", rm.epochs, rm.seconds, rm.holdout_conv, rm.holdout_value,
	       rm.holdout_cost);
	f->h = malloc(sizeof(double) * (size_t)s->n * (size_t)t->rp.rep_dim);
	f->label = malloc(sizeof(int) * (size_t)s->n);
	if (!f->h || !f->label || bd_rep_embed(f->rep, s->x, s->n, f->h))
		return -1;
	return 0;
}

/* K clusters of h(x), each sample labelled with its own. */
static int fit_clusters(fit_t *f, const train_opts_t *t)
{
	const int n = f->s.n, k = t->k;
	double tk = now(), inertia = 0;
	bd_kmeans_params_default(&f->kp);
	f->kp.k = k;
	f->kp.seed = t->rp.seed;
	if (bd_kmeans_fit(f->h, n, t->rp.rep_dim, &f->kp, &f->km) ||
	    bd_kmeans_assign_all(&f->km, f->h, n, f->label, &inertia) < 0) {
		fprintf(stderr, "budgetd-train: k-means failed\n");
		return -1;
	}
	printf("clusters         K=%d on h(x) in %.1f s: inertia %.4g, sizes", k, now() - tk,
	       f->km.inertia);
	for (int i = 0; i < k; i++)
		printf(" %d", f->km.sizes[i]);
	printf("\n");
	return 0;
}

/* The student distilled from the clusters on the raw features, and its
 * inference cost per user on the hot path's function. */
static int fit_student(fit_t *f, const train_opts_t *t)
{
	const samples_t *s = &f->s;
	if (bd_distill_train(s->x, s->n, s->dim, f->label, t->k, f->rep->mean, f->rep->scale,
			     &t->dp, &f->student, &f->dm)) {
		fprintf(stderr, "budgetd-train: distillation failed\n");
		return -1;
	}
	double ti = now();
	volatile int sink = 0;
	int reps = s->n < 200000 ? 200000 / s->n + 1 : 1;
	for (int r = 0; r < reps; r++)
		for (int i = 0; i < s->n; i++)
			sink += bd_cluster_assign(f->student, s->x + (size_t)i * s->dim);
	f->ns = (now() - ti) * 1e9 / ((double)reps * s->n);
	printf("student          %s (%d hidden): agreement with the teacher %.4f held out, "
	       "%.4f on training rows; %d epochs in %.1f s; %.0f ns per user\n",
	       f->student->kind, t->dp.hidden, f->dm.agreement, f->dm.train_agreement,
	       f->dm.epochs, f->dm.seconds, f->ns);
	return 0;
}

/* The clusterings compared, in the order their ceilings are printed. */
enum { C_H, C_PRED, C_RAW, C_STUDENT, C_RAND, C_SEG, C__N };

/* Each clustering's share of the true-effect variance left within its
 * clusters (-1: not made) and its decision ceilings (NAN: not made). */
typedef struct evidence_s {
	double u[C__N];
	double ceil_[C__N][N_CEILING];
} evidence_t;

/* Scores the clustering @p label as @p c. */
static void evidence_score(evidence_t *e, int c, const bd_sim_world_t *w, const samples_t *s,
			   const int *label, int k)
{
	e->u[c] = unexplained(w, s->user, s->n, label, k);
	(void)ceiling(w, s->user, s->n, label, k, e->ceil_[c]);
}

/* The simulator's world of the -p knobs, checked against the sample file. */
static int evidence_world(const train_opts_t *t, const samples_t *s, bd_sim_world_t **w)
{
	if (bd_sim_world_new(&t->wp, w)) {
		fprintf(stderr, "budgetd-train: cannot build the world\n");
		return -1;
	}
	for (int i = 0; i < s->n; i++)
		if (s->user[i] < 0 || s->user[i] >= bd_sim_n_users(*w) ||
		    bd_sim_n_treatments(*w) != s->J) {
			fprintf(stderr, "budgetd-train: the -p knobs do not match the sample "
					"file (user %d, %d treatments)\n", s->user[i], s->J);
			return -1;
		}
	return 0;
}

/* For comparison: clusters of the predicted response vectors (conversion,
 * value, cost of every treatment). */
static void evidence_predicted(evidence_t *e, const fit_t *f, const bd_sim_world_t *w, int k)
{
	const samples_t *s = &f->s;
	int J = s->J, m = 3 * J;
	double *pr = malloc(sizeof(double) * (size_t)s->n * (size_t)m);
	bd_kmeans_result_t pk = {0};
	int *pl = malloc(sizeof(int) * (size_t)s->n);
	if (pr && pl) {
		for (int i = 0; i < s->n; i++) {
			double *row = pr + (size_t)i * m;
			if (bd_rep_predict(f->rep, s->x + (size_t)i * s->dim, row, row + J,
					   row + 2 * J))
				break;
			for (int j = 0; j < J; j++) /* value per order scale */
				row[j] *= f->rep->value_scale * 10;
		}
		if (bd_kmeans_fit(pr, s->n, m, &f->kp, &pk) == 0 &&
		    bd_kmeans_assign_all(&pk, pr, s->n, pl, NULL) == 0)
			evidence_score(e, C_PRED, w, s, pl, k);
	}
	bd_kmeans_result_free(&pk);
	free(pr);
	free(pl);
}

/* Clusters of the standardised raw features, then the student's, random
 * and the true segments, all labelled in @p lab. */
static int evidence_others(evidence_t *e, const fit_t *f, const bd_sim_world_t *w, int k)
{
	const samples_t *s = &f->s;
	double *xn = malloc(sizeof(double) * (size_t)s->n * (size_t)s->dim), inertia = 0;
	int *lab = malloc(sizeof(int) * (size_t)s->n), rc = -1;
	bd_kmeans_result_t raw = {0};
	if (!xn || !lab)
		goto out;
	for (int i = 0; i < s->n; i++)
		for (int j = 0; j < s->dim; j++)
			xn[(size_t)i * s->dim + j] = ((double)s->x[(size_t)i * s->dim + j] -
						      f->rep->mean[j]) / f->rep->scale[j];
	if (bd_kmeans_fit(xn, s->n, s->dim, &f->kp, &raw) == 0 &&
	    bd_kmeans_assign_all(&raw, xn, s->n, lab, &inertia) >= 0)
		evidence_score(e, C_RAW, w, s, lab, k);
	for (int i = 0; i < s->n; i++)
		lab[i] = bd_cluster_assign(f->student, s->x + (size_t)i * s->dim);
	evidence_score(e, C_STUDENT, w, s, lab, k);
	uint64_t r = 99;
	for (int i = 0; i < s->n; i++)
		lab[i] = (int)(bd_sim_rng_next(&r) % (uint64_t)k);
	evidence_score(e, C_RAND, w, s, lab, k);
	for (int i = 0; i < s->n; i++)
		lab[i] = bd_sim_user_segment(w, s->user[i]) % k;
	evidence_score(e, C_SEG, w, s, lab, k);
	rc = 0;
out:
	bd_kmeans_result_free(&raw);
	free(xn);
	free(lab);
	return rc;
}

/* The evidence's two tables and its train: line. */
static void evidence_print(const evidence_t *e, const fit_t *f, const bd_sim_world_t *w, int k)
{
	static const char *const cname[C__N] = {"h(x) k-means", "predicted k-means",
						 "raw-feature k-means", "student (x)",
						 "random", "true segments"};
	double cmean[C__N];
	printf("evidence         share of the true-effect variance left within clusters "
	       "(lower is better), K=%d:\n", k);
	printf("  h(x) k-means      %.4f\n  student (x)       %.4f\n  raw-feature k-means %.4f\n"
	       "  random            %.4f\n  true segments     %.4f (reference, %d segments)\n",
	       e->u[C_H], e->u[C_STUDENT], e->u[C_RAW], e->u[C_RAND], e->u[C_SEG],
	       bd_sim_n_segments(w));
	printf("decision ceiling share of the per-user oracle's incremental value that the "
	       "best plan per cluster reaches with true cluster means (higher is better), "
	       "at %.2f/%.2f/%.2f of the oracle's value-maximising spend:\n",
	       ceiling_fracs[0], ceiling_fracs[1], ceiling_fracs[2]);
	for (int a = 0; a < C__N; a++) {
		cmean[a] = 0;
		for (int b = 0; b < N_CEILING; b++)
			cmean[a] += e->ceil_[a][b] / N_CEILING;
		printf("  %-20s %.4f %.4f %.4f  mean %.4f\n", cname[a], e->ceil_[a][0],
		       e->ceil_[a][1], e->ceil_[a][2], cmean[a]);
	}
	printf("train: rows=%d k=%d agreement=%.4f ns_per_user=%.0f unexplained_h=%.4f "
	       "unexplained_pred=%.4f unexplained_raw=%.4f unexplained_random=%.4f "
	       "ceiling_h=%.4f ceiling_pred=%.4f ceiling_raw=%.4f ceiling_random=%.4f "
	       "ceiling_student=%.4f\n",
	       f->s.n, k, f->dm.agreement, f->ns, e->u[C_H], e->u[C_PRED], e->u[C_RAW],
	       e->u[C_RAND], cmean[C_H], cmean[C_PRED], cmean[C_RAW], cmean[C_RAND],
	       cmean[C_STUDENT]);
}

/* The evidence of issue 3 on the simulator's true effects: how well each
 * clustering groups users with the same treatment effects. */
static int evidence(const train_opts_t *t, const fit_t *f)
{
	bd_sim_world_t *w = NULL;
	evidence_t e;
	int rc = -1;
	for (int a = 0; a < C__N; a++) {
		e.u[a] = -1;
		for (int b = 0; b < N_CEILING; b++)
			e.ceil_[a][b] = NAN;
	}
	if (evidence_world(t, &f->s, &w))
		goto out;
	evidence_score(&e, C_H, w, &f->s, f->label, t->k);
	evidence_predicted(&e, f, w, t->k);
	printf("  predicted-response k-means %.4f\n", e.u[C_PRED]);
	if (evidence_others(&e, f, w, t->k))
		goto out;
	evidence_print(&e, f, w, t->k);
	rc = 0;
out:
	bd_sim_world_free(w);
	return rc;
}

int main(int argc, char **argv)
{
	train_opts_t t = {0};
	fit_t f = {0};
	char err[512];
	int rc = 1, parsed = opts_parse(argc, argv, &t);

	if (parsed)
		return parsed > 0 ? 0 : 2;
	double t0 = now();
	if (read_samples(t.path, &f.s, err, sizeof(err))) {
		fprintf(stderr, "budgetd-train: %s\n", err);
		samples_free(&f.s); /* what was read before the error */
		return 1;
	}
	printf("samples          %d rows, %d features, %d treatments (read in %.1f s)\n", f.s.n,
	       f.s.dim, f.s.J, now() - t0);
	if (fit_representation(&f, &t) || fit_clusters(&f, &t) || fit_student(&f, &t) ||
	    (t.evidence && evidence(&t, &f)))
		goto out;
	rc = 0;
out:
	fit_free(&f);
	return rc;
}
