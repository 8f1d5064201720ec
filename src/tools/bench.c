/*
 * budgetd-bench: the offline comparison of issue 5 on the simulator, where
 * the truth is known.
 *
 *   budgetd-bench [--train N] [--test N] [--obs N] [--epochs E] [--k K]
 *                 [--csv FILE] [-p KEY=VALUE ...]   (simulator knobs, e.g. seed=2)
 *
 * An RCT training set, an observational set logged by the simulator's
 * biased policy (bd_sim_logging_probs, exploration --obs-explore) and an
 * RCT test set (users drawn with replacement, realised outcomes) from one
 * world; every method is trained on the RCT training set (Bi-DFCL also on
 * the observational set) and evaluated on the test set at budgets of
 * 10, 30, 50, 70 and 90% of what maximising true value spends:
 *   EOM     the IPW value per capita of the method's policy on the test RCT
 *           (metrics.h), normalised to TSM-SL's at the same budget;
 *   AUCC    of the method's predicted incremental ROI, mean over the coupons;
 *   v/orc   the policy's TRUE expected value over the oracle's at the budget;
 *   s/b     its TRUE expected spend over the budget.
 * Methods built: random (control/uniform mixture), TSM-SL (S-learner,
 * per-user Lagrangian), DFCL-PL (TSM-SL fine-tuned with the decision loss;
 * dfcl_mer: the same at tau 0.01; dfcl_ifd: the finite-difference dual
 * decision gradient),
 * hrc (budgetd: representation, k-means, cluster-level LP; one cluster may
 * be split), hrc_int (the exact integer cluster plan), oracle (true
 * responses), e2e (TSM-SL fine-tuned with the perturbation-estimated
 * goal), bidfcl (Bi-DFCL: target on the observational set, teacher = the
 * TSM-SL model, bridge trained by the implicit hypergradient of the
 * decision loss on the RCT set; bidfcl.h).  Ends with one line:
 *   seeds: random=X tsm_sl=1.000 hrc=X hrc_int=X dfcl=X e2e=X bidfcl=X oracle=X
 *          inc_METHOD=X ... incu_METHOD=X ...
 * (EOM at the middle budget, normalised to TSM-SL; then for every method
 * the mean over the budgets of its true increment over all-control as a
 * share of the oracle's increment at its own true spend (inc_), and as a
 * ratio to uniform's increment at that spend (incu_)).  --world NAME picks
 * the world family (docs/simulator.md).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/baselines.h"
#include "budgetd/bidfcl.h"
#include "budgetd/kmeans.h"
#include "budgetd/metrics.h"
#include "budgetd/represent.h"
#include "budgetd/simworld.h"
#include "budgetd/solver.h"

#define NB 5
static const double FRAC[NB] = {0.1, 0.3, 0.5, 0.7, 0.9};

enum {
	M_RANDOM, M_TSM, M_DFCL, M_DFCL_MER, M_DFCL_IFD, M_E2E, M_BIDFCL, M_HRC, M_HRC_INT,
	M_ORACLE, M__COUNT
};
static const char *NAME[M__COUNT] = {"random", "tsm_sl", "dfcl", "dfcl_mer", "dfcl_ifd",
				     "e2e", "bidfcl", "hrc", "hrc_int", "oracle"};

typedef struct set_s {
	int n, dim, j;
	int *user, *t;
	double *p, *conv, *value, *cost;
	float *x;
} set_t;

typedef struct row_s {
	double eom[NB], eom_cost[NB], eom_h[NB], vo[NB], sb[NB], aucc;
	double tv[NB], tc[NB]; /* true expected value and spend (totals) */
	double io[NB], iu[NB]; /* increment over all-control / oracle's, / uniform's */
} row_t;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_free(set_t *s)
{
	free(s->user);
	free(s->t);
	free(s->p);
	free(s->conv);
	free(s->value);
	free(s->cost);
	free(s->x);
}

/* A set of @p n samples drawn from stream @p stream: an RCT when
 * @p explore < 0, else logged by the biased policy with that exploration
 * (propensities kept as 1: Bi-DFCL treats it as plain observational data). */
static int set_make(const bd_sim_world_t *w, int n, uint64_t seed, uint64_t stream,
		    double explore, set_t *s)
{
	const int dim = bd_sim_dim(w), J = bd_sim_n_treatments(w), U = bd_sim_n_users(w);
	uint64_t rng = bd_sim_rng_seed(seed, stream);
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->dim = dim;
	s->j = J;
	s->user = malloc(sizeof(int) * (size_t)n);
	s->t = malloc(sizeof(int) * (size_t)n);
	s->p = malloc(sizeof(double) * (size_t)n);
	s->conv = malloc(sizeof(double) * (size_t)n);
	s->value = malloc(sizeof(double) * (size_t)n);
	s->cost = malloc(sizeof(double) * (size_t)n);
	s->x = malloc(sizeof(float) * (size_t)n * (size_t)dim);
	if (!s->user || !s->t || !s->p || !s->conv || !s->value || !s->cost || !s->x)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		bd_sim_outcome_t o;
		int u = (int)(bd_sim_rng_uniform(&rng) * U);
		int t = (int)(bd_sim_rng_uniform(&rng) * J);
		if (explore >= 0) {
			double lp[64], q = bd_sim_rng_uniform(&rng), acc = 0;
			bd_sim_logging_probs(w, u, explore, lp);
			for (t = 0; t < J - 1; t++)
				if (q < (acc += lp[t]))
					break;
		}
		bd_sim_outcome(w, u, t, &rng, &o);
		s->user[i] = u;
		s->t[i] = t;
		s->p[i] = explore >= 0 ? 1 : 1.0 / J;
		s->conv[i] = o.converted;
		s->value[i] = o.value;
		s->cost[i] = o.cost;
		memcpy(s->x + (size_t)i * dim, bd_sim_user_features(w, u), sizeof(float) * (size_t)dim);
	}
	return 0;
}

/* IPW value and cost per capita of a stochastic policy pi (n x j) on the
 * test RCT: 1/n sum_i pi(t_i | i) y_i / p_i; @p vh (may be NULL) the Hajek
 * (self-normalised) value, sum w_i y_i / sum w_i. */
static void eom_stochastic(const set_t *s, const double *pi, double *v, double *c, double *vh)
{
	double rv = 0, rc = 0, sw = 0;
	for (int i = 0; i < s->n; i++) {
		double w = pi[(size_t)i * s->j + s->t[i]] / s->p[i];
		rv += w * s->value[i];
		rc += w * s->cost[i];
		sw += w;
	}
	*v = rv / s->n;
	*c = rc / s->n;
	if (vh)
		*vh = sw > 0 ? rv / sw : 0;
}

/* True expected value and spend of a stochastic policy (totals). */
static void truth_stochastic(const bd_sim_world_t *w, const set_t *s, const double *pi,
			     double *v, double *c)
{
	double tv = 0, tc = 0;
	for (int i = 0; i < s->n; i++)
		for (int t = 0; t < s->j; t++) {
			double q = pi[(size_t)i * s->j + t];
			if (q > 0) {
				tv += q * bd_sim_user_ev(w, s->user[i], t);
				tc += q * bd_sim_user_ec(w, s->user[i], t);
			}
		}
	*v = tv;
	*c = tc;
}

/* A method with per-user predictions: EOM by the metric's own bisection;
 * the truth of the deterministic policy at that lambda; AUCC. */
static int eval_predictions(const bd_sim_world_t *w, const set_t *s, const double *rh,
			    const double *ch, const double *budget, const double *orc, row_t *row,
			    double *pi)
{
	bd_rct_t d = {s->n, s->j, s->t, s->p, s->value, s->cost, rh, ch};
	int err;
	for (int b = 0; b < NB; b++) {
		bd_eom_t e;
		if ((err = bd_metrics_eom(&d, budget[b], 0, &e)))
			return err;
		row->eom[b] = e.value;
		row->eom_cost[b] = e.cost;
		/* Hajek: the self-normalised value of the same policy (the IPW
		 * lambda, so both price the same allocation) */
		bd_eom_t eh;
		if ((err = bd_metrics_eom_at(&d, e.lambda, 1, &eh)))
			return err;
		row->eom_h[b] = eh.value;
		memset(pi, 0, sizeof(double) * (size_t)s->n * s->j);
		for (int i = 0; i < s->n; i++) {
			int z = 0;
			double best = rh[(size_t)i * s->j] - e.lambda * ch[(size_t)i * s->j];
			for (int t = 1; t < s->j; t++) {
				double sc = rh[(size_t)i * s->j + t] - e.lambda * ch[(size_t)i * s->j + t];
				if (sc > best) {
					best = sc;
					z = t;
				}
			}
			pi[(size_t)i * s->j + z] = 1;
		}
		truth_stochastic(w, s, pi, &row->tv[b], &row->tc[b]);
		row->vo[b] = row->tv[b] / orc[b];
		row->sb[b] = row->tc[b] / (budget[b] * s->n);
	}
	double a = 0;
	int na = 0;
	for (int t = 1; t < s->j; t++) {
		double x;
		if (bd_metrics_aucc(&d, t, 100, &x) == 0) {
			a += x;
			na++;
		}
	}
	row->aucc = na ? a / na : NAN;
	return 0;
}

/*
 * The fair comparison: each method's true value over all-control (nobody
 * gets a coupon), as a share of the oracle's increment at the method's own
 * true spend, and as a ratio to uniform's increment at that spend (random
 * coupons for the share of users the spend buys).
 */
static int increments(const bd_sim_world_t *w, const set_t *s, row_t *row)
{
	double spend[M__COUNT * NB], ov[M__COUNT * NB], v0;
	int err;
	for (int m = 0; m < M__COUNT; m++)
		for (int b = 0; b < NB; b++)
			spend[m * NB + b] = fmax(0, row[m].tc[b]);
	if ((err = bd_sim_control_value(w, s->user, s->n, &v0)) ||
	    (err = bd_sim_oracle_curve(w, s->user, s->n, spend, M__COUNT * NB, ov, NULL, NULL)))
		return err;
	for (int m = 0; m < M__COUNT; m++)
		for (int b = 0; b < NB; b++) {
			double uv, inc = row[m].tv[b] - v0;
			if ((err = bd_sim_uniform_value_at(w, s->user, s->n, spend[m * NB + b], &uv)))
				return err;
			row[m].io[b] = ov[m * NB + b] > v0 ? inc / (ov[m * NB + b] - v0) : NAN;
			row[m].iu[b] = uv > v0 ? inc / (uv - v0) : NAN;
		}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: budgetd-bench [--train N] [--test N] [--obs N] [--obs-explore E]\n"
		   "                     [--epochs E] [--k K] [--csv FILE]\n"
		   "                     [--dfcl-tau T] [--dfcl-alpha A] [--dfcl-lr L] [--dfcl-epochs E]\n"
		   "                     [--dfcl-ifd-delta D] [--rep-dim D]\n"
		   "                     [--bidfcl-outer N] [--bidfcl-cg N] [--bidfcl-lr L]\n"
		   "                     [--bidfcl-bridge-lr L] [--bidfcl-full-hessian] [--bidfcl-damping MU]\n"
		   "                     [--world default|smooth|sparse] [-p KEY=VALUE ...]   (simulator)\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"train", required_argument, NULL, 'n'}, {"test", required_argument, NULL, 'm'},
		{"epochs", required_argument, NULL, 'e'}, {"k", required_argument, NULL, 'k'},
		{"csv", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
		{"dfcl-tau", required_argument, NULL, 'T'}, {"dfcl-alpha", required_argument, NULL, 'A'},
		{"dfcl-lr", required_argument, NULL, 'L'}, {"dfcl-epochs", required_argument, NULL, 'E'},
		{"obs", required_argument, NULL, 'o'}, {"obs-explore", required_argument, NULL, 'x'},
		{"bidfcl-outer", required_argument, NULL, 'O'}, {"bidfcl-cg", required_argument, NULL, 'C'},
		{"bidfcl-lr", required_argument, NULL, 'l'},
		{"bidfcl-bridge-lr", required_argument, NULL, 'b'},
		{"bidfcl-full-hessian", no_argument, NULL, 'F'},
		{"bidfcl-damping", required_argument, NULL, 'D'},
		{"dfcl-ifd-delta", required_argument, NULL, 'I'},
		{"rep-dim", required_argument, NULL, 'R'},
		{"world", required_argument, NULL, 'W'},
		{NULL, 0, NULL, 0},
	};
	int n_train = 100000, n_test = 100000, n_obs = 200000, epochs = 10, K = 8, c, rc = 1;
	double obs_explore = 0.1;
	int rep_dim = 0; /* 0: bd_rep_params_default's */
	bd_dfcl_params_t dfp;
	bd_dfcl_params_default(&dfp);
	bd_bidfcl_params_t bip;
	bd_bidfcl_params_default(&bip);
	const char *csv = NULL, *world = NULL, *kv[64];
	int n_kv = 0;
	char err[256];
	bd_sim_params_t wp;
	bd_sim_world_t *w = NULL;
	set_t tr = {0}, te = {0}, ob = {0};
	double *rh = NULL, *ch = NULL, *pi = NULL, *h = NULL;
	int *lab = NULL, *lab_te = NULL;
	bd_tsm_t *tsm = NULL;
	bd_rep_t *rep = NULL;
	bd_kmeans_result_t km = {0};
	row_t row[M__COUNT] = {0};
	const char *step = "allocation";

	while ((c = getopt_long(argc, argv, "p:h", lo, NULL)) != -1) {
		switch (c) {
		case 'n': n_train = atoi(optarg); break;
		case 'm': n_test = atoi(optarg); break;
		case 'e': epochs = atoi(optarg); break;
		case 'k': K = atoi(optarg); break;
		case 'c': csv = optarg; break;
		case 'T': dfp.tau = atof(optarg); break;
		case 'A': dfp.alpha = atof(optarg); break;
		case 'L': dfp.lr = atof(optarg); break;
		case 'E': dfp.epochs = atoi(optarg); break;
		case 'o': n_obs = atoi(optarg); break;
		case 'x': obs_explore = atof(optarg); break;
		case 'O': bip.outer = atoi(optarg); break;
		case 'C': bip.cg_iters = atoi(optarg); break;
		case 'l': bip.lr = atof(optarg); break;
		case 'b': bip.bridge_lr = atof(optarg); break;
		case 'F': bip.full_hessian = 1; break;
		case 'D': bip.damping = atof(optarg); break;
		case 'I': dfp.delta_min = atof(optarg); break;
		case 'R': rep_dim = atoi(optarg); break;
		case 'p':
			if (n_kv == (int)BD_ARRAY_SIZE(kv)) {
				fprintf(stderr, "budgetd-bench: too many -p options\n");
				return 2;
			}
			kv[n_kv++] = optarg;
			break;
		case 'W': world = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (n_train < 1000 || n_test < 1000 || epochs < 1 || K < 2 || K > 512 || optind < argc ||
	    !(dfp.tau > 0) || dfp.epochs < 1 || !(dfp.lr > 0) || dfp.alpha < 0 || n_obs < 1000 ||
	    !(obs_explore >= 0 && obs_explore <= 1) || bip.outer < 0 || bip.cg_iters < 1 ||
	    !(bip.lr > 0) || !(bip.bridge_lr > 0) || !(bip.damping >= 0) || !(dfp.delta_min > 0) ||
	    rep_dim < 0 || rep_dim > 64) {
		usage(stderr);
		return 2;
	}
	if (bd_sim_params_from_args(&wp, world, kv, n_kv, err, sizeof(err)) ||
	    bd_sim_params_validate(&wp, err, sizeof(err))) {
		fprintf(stderr, "budgetd-bench: %s\n", err);
		return 2;
	}
	double t0 = now();
	if (bd_sim_world_new(&wp, &w) || set_make(w, n_train, wp.seed, 101, -1, &tr) ||
	    set_make(w, n_test, wp.seed, 202, -1, &te) ||
	    set_make(w, n_obs, wp.seed, 303, obs_explore, &ob)) {
		fprintf(stderr, "budgetd-bench: cannot build the world or the data\n");
		goto out;
	}
	const int J = te.j, N = te.n;
	if (!(rh = malloc(sizeof(double) * (size_t)N * J)) ||
	    !(ch = malloc(sizeof(double) * (size_t)N * J)) ||
	    !(pi = malloc(sizeof(double) * (size_t)N * J)))
		goto out;

	/* the budget grid: shares of what maximising true value spends */
	step = "oracle budgets";
	double maxv, maxs, budget[NB], orc[NB];
	if (bd_sim_oracle_assign(w, te.user, N, 0, NULL, &maxv, &maxs))
		goto out;
	for (int b = 0; b < NB; b++) {
		budget[b] = FRAC[b] * maxs / N;
		if (bd_sim_oracle(w, te.user, N, budget[b] * N, &orc[b], NULL, NULL))
			goto out;
	}
	printf("# world %s, seed %llu, %d users, %d treatments; train %d, test %d RCT samples, "
	       "%d observational (biased policy, exploration %g); value-maximising spend %.4f "
	       "per capita\n",
	       bd_sim_family_name(wp.family), (unsigned long long)wp.seed, bd_sim_n_users(w), J,
	       n_train, N, n_obs, obs_explore,
	       maxs / N);

	/* oracle: the true responses as predictions */
	for (int i = 0; i < N; i++)
		for (int t = 0; t < J; t++) {
			rh[(size_t)i * J + t] = bd_sim_user_ev(w, te.user[i], t);
			ch[(size_t)i * J + t] = bd_sim_user_ec(w, te.user[i], t);
		}
	step = "oracle";
	if (eval_predictions(w, &te, rh, ch, budget, orc, &row[M_ORACLE], pi))
		goto out;

	/* random: control, and a uniform coupon for the share the budget buys */
	step = "random";
	{
		double uv, us, cv = 0;
		if (bd_sim_uniform_value(w, te.user, N, &uv, &us))
			goto out;
		for (int i = 0; i < N; i++)
			cv += bd_sim_user_ev(w, te.user[i], 0);
		for (int b = 0; b < NB; b++) {
			double a = fmin(1, budget[b] * N / us);
			for (int i = 0; i < N; i++)
				for (int t = 0; t < J; t++)
					pi[(size_t)i * J + t] = a / J + (t == 0 ? 1 - a : 0);
			eom_stochastic(&te, pi, &row[M_RANDOM].eom[b], &row[M_RANDOM].eom_cost[b],
				       &row[M_RANDOM].eom_h[b]);
			row_t *rr = &row[M_RANDOM];
			truth_stochastic(w, &te, pi, &rr->tv[b], &rr->tc[b]);
			rr->vo[b] = rr->tv[b] / orc[b];
			rr->sb[b] = rr->tc[b] / (budget[b] * N);
		}
		row[M_RANDOM].aucc = 0.5; /* a random ranking, by definition */
	}

	/* TSM-SL */
	step = "TSM-SL";
	double t1 = now();
	bd_tsm_params_t tp;
	bd_tsm_params_default(&tp);
	tp.epochs = epochs;
	tp.seed = wp.seed;
	bd_tsm_data_t td = {tr.n, tr.dim, tr.j, tr.x, tr.t, tr.p, tr.value, tr.cost};
	if (bd_tsm_train(&td, &tp, &tsm) || bd_tsm_predict(tsm, te.x, N, rh, ch) ||
	    eval_predictions(w, &te, rh, ch, budget, orc, &row[M_TSM], pi))
		goto out;
	double t_tsm = now() - t1;

	/* the end-to-end method: a fresh TSM-SL warm start (same seed, so the
	 * same network as above), fine-tuned with the perturbation gradient */
	step = "end-to-end";
	t1 = now();
	bd_tsm_t *e2e = NULL;
	bd_e2e_params_t ep;
	bd_e2e_params_default(&ep);
	ep.seed = wp.seed;
	if (bd_tsm_train(&td, &tp, &e2e) || bd_e2e_finetune(e2e, &td, &ep) ||
	    bd_tsm_predict(e2e, te.x, N, rh, ch) ||
	    eval_predictions(w, &te, rh, ch, budget, orc, &row[M_E2E], pi)) {
		bd_tsm_free(e2e);
		goto out;
	}
	bd_tsm_free(e2e);
	double t_e2e = now() - t1;

	/* Bi-DFCL: the TSM-SL model (before DFCL changes it) is the teacher */
	step = "Bi-DFCL";
	t1 = now();
	bd_tsm_t *bi = NULL;
	bd_bidfcl_stats_t bst;
	bd_tsm_data_t od = {ob.n, ob.dim, ob.j, ob.x, ob.t, ob.p, ob.value, ob.cost};
	bip.seed = wp.seed;
	if (bd_bidfcl_train(&od, &td, tsm, &tp, &bip, &bi, &bst) ||
	    bd_tsm_predict(bi, te.x, N, rh, ch) ||
	    eval_predictions(w, &te, rh, ch, budget, orc, &row[M_BIDFCL], pi)) {
		bd_tsm_free(bi);
		goto out;
	}
	bd_tsm_free(bi);
	double t_bi = now() - t1;

	/* DFCL-MER (tau 0.01) and DFCL-IFD, each on a copy of the warm start */
	double t_var[2];
	for (int v = 0; v < 2; v++) {
		bd_tsm_t *cp = NULL;
		bd_dfcl_params_t vp = dfp;
		step = v ? "DFCL-IFD" : "DFCL-MER";
		t1 = now();
		if (v)
			vp.ifd = 1;
		else
			vp.tau = 0.01;
		vp.seed = wp.seed;
		if (bd_tsm_clone(tsm, &cp) || bd_dfcl_finetune(cp, &td, &vp) ||
		    bd_tsm_predict(cp, te.x, N, rh, ch) ||
		    eval_predictions(w, &te, rh, ch, budget, orc,
				     &row[v ? M_DFCL_IFD : M_DFCL_MER], pi)) {
			bd_tsm_free(cp);
			goto out;
		}
		bd_tsm_free(cp);
		t_var[v] = now() - t1;
	}

	/* DFCL-PL: the TSM-SL model fine-tuned with the decision loss */
	step = "DFCL";
	t1 = now();
	dfp.seed = wp.seed;
	if (bd_dfcl_finetune(tsm, &td, &dfp) || bd_tsm_predict(tsm, te.x, N, rh, ch) ||
	    eval_predictions(w, &te, rh, ch, budget, orc, &row[M_DFCL], pi))
		goto out;
	double t_dfcl = now() - t1;

	/* budgetd: representation -> k-means -> cluster-level estimates and plans */
	step = "hrc";
	t1 = now();
	bd_rep_params_t rp;
	bd_rep_params_default(&rp);
	rp.epochs = epochs;
	rp.seed = wp.seed;
	if (rep_dim > 0)
		rp.rep_dim = rep_dim;
	bd_rep_metrics_t rm;
	bd_rep_data_t rd = {tr.n, tr.dim, tr.j, tr.x, tr.t, tr.p, tr.conv, tr.value, tr.cost};
	if (bd_rep_train(&rd, &rp, &rep, &rm))
		goto out;
	size_t hn = (size_t)(tr.n > N ? tr.n : N) * (size_t)rp.rep_dim;
	if (!(h = malloc(sizeof(double) * hn)) || !(lab = malloc(sizeof(int) * (size_t)tr.n)) ||
	    !(lab_te = malloc(sizeof(int) * (size_t)N)))
		goto out;
	bd_kmeans_params_t kp;
	bd_kmeans_params_default(&kp);
	kp.k = K;
	kp.seed = wp.seed;
	if (bd_rep_embed(rep, tr.x, tr.n, h) || bd_kmeans_fit(h, tr.n, rp.rep_dim, &kp, &km) ||
	    bd_kmeans_assign_all(&km, h, tr.n, lab, NULL) || bd_rep_embed(rep, te.x, N, h) ||
	    bd_kmeans_assign_all(&km, h, N, lab_te, NULL))
		goto out;
	double share[512] = {0}, cr[512 * 16] = {0}, cc[512 * 16] = {0}, cn[512 * 16] = {0};
	for (int i = 0; i < tr.n; i++) {
		share[lab[i]] += 1.0 / tr.n;
		cr[lab[i] * J + tr.t[i]] += tr.value[i];
		cc[lab[i] * J + tr.t[i]] += tr.cost[i];
		cn[lab[i] * J + tr.t[i]] += 1;
	}
	for (int i = 0; i < K * J; i++) {
		cr[i] = cn[i] > 0 ? cr[i] / cn[i] : 0;
		cc[i] = cn[i] > 0 ? cc[i] / cn[i] : 0;
	}
	double t_hrc = now() - t1;
	bd_solver_problem_t sp = {K, J, share, cr, cc};
	double prob[512 * 16];
	int arm[512];
	for (int b = 0; b < NB; b++) {
		bd_solver_result_t res;
		bd_solver_int_stats_t ist;
		for (int v = 0; v < 2; v++) {
			int m = v ? M_HRC_INT : M_HRC;
			if (v == 0 ? bd_solver_lp(&sp, budget[b], prob, &res)
				   : bd_solver_integer(&sp, budget[b], 0, arm, &res, &ist))
				goto out;
			for (int i = 0; i < N; i++)
				for (int t = 0; t < J; t++)
					pi[(size_t)i * J + t] = v ? (t == arm[lab_te[i]])
								  : prob[lab_te[i] * J + t];
			eom_stochastic(&te, pi, &row[m].eom[b], &row[m].eom_cost[b], &row[m].eom_h[b]);
			truth_stochastic(w, &te, pi, &row[m].tv[b], &row[m].tc[b]);
			row[m].vo[b] = row[m].tv[b] / orc[b];
			row[m].sb[b] = row[m].tc[b] / (budget[b] * N);
		}
	}
	/* AUCC of the cluster-level predictions */
	for (int i = 0; i < N; i++)
		for (int t = 0; t < J; t++) {
			rh[(size_t)i * J + t] = cr[lab_te[i] * J + t];
			ch[(size_t)i * J + t] = cc[lab_te[i] * J + t];
		}
	{
		bd_rct_t d = {N, J, te.t, te.p, te.value, te.cost, rh, ch};
		double a = 0;
		int na = 0;
		for (int t = 1; t < J; t++) {
			double x;
			if (bd_metrics_aucc(&d, t, 100, &x) == 0) {
				a += x;
				na++;
			}
		}
		row[M_HRC].aucc = row[M_HRC_INT].aucc = na ? a / na : NAN;
	}

	step = "increments";
	if (increments(w, &te, row))
		goto out;

	/* the table: EOM normalised to TSM-SL at each budget */
	FILE *cf = csv ? fopen(csv, "w") : NULL;
	if (csv && !cf) {
		fprintf(stderr, "budgetd-bench: --csv %s: %s\n", csv, strerror(errno));
		goto out;
	}
	if (cf)
		fprintf(cf, "method,budget_share,budget,eom,eom_norm,eom_cost,value_over_oracle,"
			    "spend_over_budget,aucc,eom_hajek,eom_hajek_norm,true_value,true_spend,"
			    "increment_over_oracle,increment_over_uniform\n");
	printf("# EOM normalised to TSM-SL at budgets of 10/30/50/70/90%% of the value-maximising "
	       "spend; EOMh: the mean over the budgets of the Hajek (self-normalised) EOM\n");
	printf("%-8s %6s %6s %6s %6s %6s %7s %7s %6s %7s %7s\n", "method", "10%", "30%", "50%",
	       "70%", "90%", "EOM", "EOMh", "AUCC", "v/orc50", "s/b50");
	for (int m = 0; m < M__COUNT; m++) {
		double mean = 0, mean_h = 0;
		printf("%-8s", NAME[m]);
		for (int b = 0; b < NB; b++) {
			double x = row[m].eom[b] / row[M_TSM].eom[b];
			double xh = row[m].eom_h[b] / row[M_TSM].eom_h[b];
			mean += x / NB;
			mean_h += xh / NB;
			printf(" %6.3f", x);
			if (cf)
				fprintf(cf, "%s,%.2f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,"
					"%.4f,%.4f,%.6f,%.6f\n",
					NAME[m], FRAC[b], budget[b], row[m].eom[b], x,
					row[m].eom_cost[b], row[m].vo[b], row[m].sb[b], row[m].aucc,
					row[m].eom_h[b], xh, row[m].tv[b], row[m].tc[b], row[m].io[b],
					row[m].iu[b]);
		}
		printf(" %7.3f %7.3f %6.3f %7.3f %7.3f\n", mean, mean_h, row[m].aucc, row[m].vo[2],
		       row[m].sb[2]);
	}
	if (cf)
		fclose(cf);
	/* the fair comparison, per budget */
	double inc_mean[M__COUNT], incu_mean[M__COUNT];
	printf("# incremental value over all-control (TRUE): share of the oracle's increment at "
	       "the method's own true spend (i/orc), and i/uni50 its ratio to uniform's increment "
	       "at that spend at the middle budget; mean over the budgets\n");
	printf("%-8s %6s %6s %6s %6s %6s %7s %7s %7s\n", "method", "i/o10", "i/o30", "i/o50",
	       "i/o70", "i/o90", "i/orc", "i/uni50", "i/uni");
	for (int m = 0; m < M__COUNT; m++) {
		inc_mean[m] = incu_mean[m] = 0;
		printf("%-8s", NAME[m]);
		for (int b = 0; b < NB; b++) {
			inc_mean[m] += row[m].io[b] / NB;
			incu_mean[m] += row[m].iu[b] / NB;
			printf(" %6.3f", row[m].io[b]);
		}
		printf(" %7.3f %7.3f %7.3f\n", inc_mean[m], row[m].iu[2], incu_mean[m]);
	}
	printf("# Bi-DFCL: %d upper steps, %d CG iterations (%d stopped on negative curvature), "
	       "mean relative CG residual %.3f, mean gates value %.3f cost %.3f "
	       "(1: the teacher's labels)\n",
	       bst.upper_steps, bst.cg_iters, bst.negative_curvature, bst.cg_rel_resid,
	       bst.gate_value, bst.gate_cost);
	printf("# training: TSM-SL %.1f s, end-to-end (warm start + fine-tuning) %.1f s, DFCL "
	       "fine-tuning PL %.1f s, MER %.1f s, IFD %.1f s, Bi-DFCL %.1f s (obs warm start "
	       "%.1f s, bi-level %.1f s), representation + k-means %.1f s; total %.1f s\n",
	       t_tsm, t_e2e, t_dfcl, t_var[0], t_var[1], t_bi, bst.seconds_warm,
	       bst.seconds_bilevel, t_hrc, now() - t0);
	printf("seeds: random=%.3f tsm_sl=1.000 hrc=%.3f hrc_int=%.3f dfcl=%.3f e2e=%.3f bidfcl=%.3f "
	       "oracle=%.3f",
	       row[M_RANDOM].eom[2] / row[M_TSM].eom[2], row[M_HRC].eom[2] / row[M_TSM].eom[2],
	       row[M_HRC_INT].eom[2] / row[M_TSM].eom[2], row[M_DFCL].eom[2] / row[M_TSM].eom[2],
	       row[M_E2E].eom[2] / row[M_TSM].eom[2], row[M_BIDFCL].eom[2] / row[M_TSM].eom[2],
	       row[M_ORACLE].eom[2] / row[M_TSM].eom[2]);
	/* the increments, means over the budgets: of the oracle's (inc_), x uniform's (incu_) */
	for (int m = 0; m < M__COUNT; m++)
		printf(" inc_%s=%.3f", NAME[m], inc_mean[m]);
	for (int m = 0; m < M__COUNT; m++)
		printf(" incu_%s=%.3f", NAME[m], incu_mean[m]);
	printf("\n");
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "budgetd-bench: %s failed\n", step);
	set_free(&tr);
	set_free(&te);
	set_free(&ob);
	free(rh);
	free(ch);
	free(pi);
	free(h);
	free(lab);
	free(lab_te);
	bd_tsm_free(tsm);
	bd_rep_free(rep);
	bd_kmeans_result_free(&km);
	bd_sim_world_free(w);
	return rc;
}
