/*
 * budgetd-bench: the offline comparison of issue 5 on the simulator, where
 * the truth is known.
 *
 *   budgetd-bench [--train N] [--test N] [--obs N] [--epochs E]
 *                 [--k K | --k-list K1,K2,...] [--methods NAME,...]
 *                 [--csv FILE] [-p KEY=VALUE ...]   (simulator knobs, e.g. seed=2)
 *
 * An RCT training set, an observational set logged by the simulator's
 * biased policy (bd_sim_logging_probs, exploration --obs-explore) and an
 * RCT test set (users drawn with replacement, realised outcomes) from one
 * world; every method is trained on the RCT training set (Bi-DFCL also on
 * the observational set) and evaluated on the test set at budgets of
 * 10, 30, 50, 70 and 90% of what maximising true value spends:
 *   EOM     the IPW value per capita of the method's policy on the test RCT
 *           (evaluate.h), normalised to TSM-SL's at the same budget;
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
 *
 * --methods runs the named methods only (most of a run's time is the DFCL
 * family, end-to-end and Bi-DFCL); random, tsm_sl and oracle always run
 * (TSM-SL normalises the EOM, the references frame the increments), hrc
 * and hrc_int together. Methods not run have no row, no CSV line and no
 * key in the seeds: line. --k-list evaluates hrc and hrc_int at each K
 * on one representation (rows hrc_kK, hrc_int_kK; one K keeps the plain
 * names), to choose K on decision value.  hrc_w (only when named; it runs
 * hrc): per-user scores within the clusters, each user's value and cost of
 * a treatment = the cluster's cell + --within-beta (0.5) x the network's
 * prediction for the user less its mean over the cluster's users, decided
 * per user at the metric's lambda (as TSM-SL): the cells set the level,
 * the network only ranks users inside a cluster.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/lab/baselines.h"
#include "budgetd/lab/bidfcl.h"
#include "budgetd/learn/kmeans.h"
#include "budgetd/lab/evaluate.h"
#include "budgetd/learn/represent.h"
#include "budgetd/lab/simworld.h"
#include "budgetd/policy/solver.h"

#define NB 5
static const double FRAC[NB] = {0.1, 0.3, 0.5, 0.7, 0.9};

enum {
	M_RANDOM, M_TSM, M_DFCL, M_DFCL_MER, M_DFCL_IFD, M_E2E, M_BIDFCL, M_HRC, M_HRC_INT,
	M_HRC_W, M_ORACLE, M__COUNT
};
static const char *NAME[M__COUNT] = {"random", "tsm_sl", "dfcl", "dfcl_mer", "dfcl_ifd",
				     "e2e", "bidfcl", "hrc", "hrc_int", "hrc_w", "oracle"};
/* the methods with a row per K (hrc[][] below, in this order) */
static int per_k_index(int m)
{
	return m == M_HRC ? 0 : m == M_HRC_INT ? 1 : m == M_HRC_W ? 2 : -1;
}

/* the cluster method's K values: hrc and hrc_int get a row per K */
#define MAX_K 16
/* the cluster tables live on the stack: K clusters x at most 16 treatments */
#define MAX_CLUSTERS 512
#define MAX_J BD_SIM_MAX_T
#define MAX_ROWS (M__COUNT - 3 + 3 * MAX_K)

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

/* How hrc estimates its cells (--cells). */
enum { CELLS_MEAN = 0, CELLS_DR, CELLS_TRUE };

/* What the command line asks for, checked. */
typedef struct opts_s {
	int n_train, n_test, n_obs, epochs, rep_dim; /* rep_dim 0: bd_rep_params_default's */
	double obs_explore;
	int k[MAX_K], n_k;  /* the cluster counts of hrc, in the order given */
	unsigned methods;   /* bit 1u << M_x: method x runs */
	int cells;          /* --cells: CELLS_MEAN, CELLS_DR or CELLS_TRUE */
	double within_beta; /* hrc_w: the weight of the within-cluster deviations */
	bd_dfcl_params_t dfp;
	bd_bidfcl_params_t bip;
	const char *csv;
	bd_sim_params_t wp;
} opts_t;

/* One run: the world, its data sets and every method's results. */
typedef struct bench_s {
	const opts_t *o;
	bd_sim_world_t *w;
	set_t tr, te, ob;      /* RCT training, RCT test, observational */
	bd_tsm_data_t td;      /* the RCT training set as the models read it */
	bd_tsm_params_t tp;    /* TSM-SL's; every warm start uses them */
	bd_tsm_t *tsm;         /* TSM-SL: Bi-DFCL's teacher, then DFCL-PL's model */
	double *rh, *ch, *pi;  /* test N x J predictions and policy, reused by each method */
	double budget[NB];     /* per capita */
	double orc[NB];        /* the oracle's true value at each budget (total) */
	double maxs;           /* what maximising true value spends (total) */
	row_t row[M__COUNT];   /* hrc and hrc_int are in hrc[] */
	row_t hrc[MAX_K][3];   /* per K: the LP plan, the integer plan, hrc_w */
	double secs[M__COUNT]; /* training time; M_HRC: representation + k-means */
	bd_bidfcl_stats_t bst;
	const char *step;      /* what is running, named when it fails */
	double t0;
} bench_t;

/* A row of the output: a method, or hrc / hrc_int at one K. */
typedef struct out_s {
	int m;
	char name[24];
	row_t *r;
} out_t;

static int ran(const opts_t *o, int m)
{
	return (o->methods >> m) & 1u;
}

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

/* The truth of the policy in b->pi at budget @p k: its true value and
 * spend, over the oracle's value and over the budget. */
static void truth_row(const bench_t *b, int k, row_t *row)
{
	truth_stochastic(b->w, &b->te, b->pi, &row->tv[k], &row->tc[k]);
	row->vo[k] = row->tv[k] / b->orc[k];
	row->sb[k] = row->tc[k] / (b->budget[k] * b->te.n);
}

/* A stochastic policy (b->pi) at budget @p k: its EOM on the test RCT, the
 * exact expectation of its randomisation, and its truth. */
static void eval_policy(const bench_t *b, int k, row_t *row)
{
	eom_stochastic(&b->te, b->pi, &row->eom[k], &row->eom_cost[k], &row->eom_h[k]);
	truth_row(b, k, row);
}

/* The test RCT with the predictions in b->rh, b->ch. */
static bd_rct_t test_rct(const bench_t *b)
{
	const set_t *s = &b->te;
	return (bd_rct_t){s->n, s->j, s->t, s->p, s->value, s->cost, b->rh, b->ch};
}

/* AUCC of the predicted incremental ROI, mean over the coupons (NAN when
 * none can be measured). */
static double aucc_mean(const bd_rct_t *d)
{
	double a = 0;
	int na = 0;
	for (int t = 1; t < d->j; t++) {
		double x;
		if (bd_eval_aucc(d, t, 100, &x) == 0) {
			a += x;
			na++;
		}
	}
	return na ? a / na : NAN;
}

/* A method with per-user predictions (b->rh, b->ch): EOM by the metric's
 * own bisection; the truth of the deterministic policy at that lambda;
 * AUCC. */
static int eval_predictions(const bench_t *b, row_t *row)
{
	const bd_rct_t d = test_rct(b);
	const int J = d.j;
	int err;
	for (int k = 0; k < NB; k++) {
		bd_eom_t e, eh;
		if ((err = bd_eval_eom(&d, b->budget[k], 0, &e)))
			return err;
		row->eom[k] = e.value;
		row->eom_cost[k] = e.cost;
		/* Hajek: the self-normalised value of the same policy (the IPW
		 * lambda, so both price the same allocation) */
		if ((err = bd_eval_eom_at(&d, e.lambda, 1, &eh)))
			return err;
		row->eom_h[k] = eh.value;
		memset(b->pi, 0, sizeof(double) * (size_t)d.n * J);
		for (int i = 0; i < d.n; i++) {
			const double *r = b->rh + (size_t)i * J, *c = b->ch + (size_t)i * J;
			int z = 0;
			double best = r[0] - e.lambda * c[0];
			for (int t = 1; t < J; t++) {
				double sc = r[t] - e.lambda * c[t];
				if (sc > best) {
					best = sc;
					z = t;
				}
			}
			b->pi[(size_t)i * J + z] = 1;
		}
		truth_row(b, k, row);
	}
	row->aucc = aucc_mean(&d);
	return 0;
}

/* A trained model's predictions on the test set, evaluated. */
static int eval_model(const bench_t *b, bd_tsm_t *model, row_t *row)
{
	int err = bd_tsm_predict(model, b->te.x, b->te.n, b->rh, b->ch);
	return err ? err : eval_predictions(b, row);
}

/*
 * The fair comparison: each method's true value over all-control (nobody
 * gets a coupon), as a share of the oracle's increment at the method's own
 * true spend, and as a ratio to uniform's increment at that spend (random
 * coupons for the share of users the spend buys).
 */
static int increments(const bench_t *b, const out_t *out, int n)
{
	const set_t *s = &b->te;
	double spend[MAX_ROWS * NB], ov[MAX_ROWS * NB], v0;
	int err;
	for (int m = 0; m < n; m++)
		for (int k = 0; k < NB; k++)
			spend[m * NB + k] = fmax(0, out[m].r->tc[k]);
	if ((err = bd_sim_control_value(b->w, s->user, s->n, &v0)) ||
	    (err = bd_sim_oracle_curve(b->w, s->user, s->n, spend, n * NB, ov, NULL, NULL)))
		return err;
	for (int m = 0; m < n; m++)
		for (int k = 0; k < NB; k++) {
			row_t *r = out[m].r;
			double uv, inc = r->tv[k] - v0;
			if ((err = bd_sim_uniform_value_at(b->w, s->user, s->n, spend[m * NB + k], &uv)))
				return err;
			r->io[k] = ov[m * NB + k] > v0 ? inc / (ov[m * NB + k] - v0) : NAN;
			r->iu[k] = uv > v0 ? inc / (uv - v0) : NAN;
		}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: budgetd-bench [--train N] [--test N] [--obs N] [--obs-explore E]\n"
		   "                     [--epochs E] [--k K | --k-list K1,K2,...] [--csv FILE]\n"
		   "                     [--methods NAME,...]   (random tsm_sl dfcl dfcl_mer dfcl_ifd e2e\n"
		   "                      bidfcl hrc hrc_int hrc_w oracle; default all but hrc_w;\n"
		   "                      random, tsm_sl and oracle always run, hrc and hrc_int\n"
		   "                      together, hrc_w with them)\n"
		   "                     [--dfcl-tau T] [--dfcl-alpha A] [--dfcl-lr L] [--dfcl-epochs E]\n"
		   "                     [--dfcl-ifd-delta D] [--rep-dim D] [--cells mean|dr|true]\n"
		   "                     [--within-beta B]   (hrc_w: weight of the within-cluster scores)\n"
		   "                     [--bidfcl-outer N] [--bidfcl-cg N] [--bidfcl-lr L]\n"
		   "                     [--bidfcl-bridge-lr L] [--bidfcl-full-hessian] [--bidfcl-damping MU]\n"
		   "                     [--world default|smooth|sparse] [-p KEY=VALUE ...]   (simulator)\n");
}

/* --methods LIST into @p methods: the named ones, the references every run
 * needs (TSM-SL normalises the EOM; random and the oracle frame the
 * increments) and hrc with hrc_int (one representation serves both). */
static int methods_parse(const char *list, unsigned *methods)
{
	unsigned set = 1u << M_RANDOM | 1u << M_TSM | 1u << M_ORACLE;
	for (const char *p = list;; p++) {
		size_t len = strcspn(p, ",");
		int m = 0;
		while (m < M__COUNT && !(strlen(NAME[m]) == len && !strncmp(p, NAME[m], len)))
			m++;
		if (m == M__COUNT) {
			fprintf(stderr, "budgetd-bench: --methods: unknown method '%.*s' (known: ", (int)len,
				p);
			for (m = 0; m < M__COUNT; m++)
				fprintf(stderr, "%s%s", m ? ", " : "", NAME[m]);
			fprintf(stderr, ")\n");
			return -EINVAL;
		}
		set |= 1u << m;
		if (m == M_HRC || m == M_HRC_INT || m == M_HRC_W)
			set |= 1u << M_HRC | 1u << M_HRC_INT;
		p += len;
		if (!*p)
			break;
	}
	*methods = set;
	return 0;
}

/* --k-list K1,K2,... into o->k: each K from 2 to MAX_CLUSTERS, at most
 * MAX_K of them, none twice (the rows are named by K). */
static int k_list_parse(const char *list, opts_t *o)
{
	o->n_k = 0;
	for (const char *p = list;; p++) {
		char *end;
		long k;
		errno = 0;
		k = strtol(p, &end, 10);
		if (end == p || (*end && *end != ',') || errno || k < 2 || k > MAX_CLUSTERS) {
			fprintf(stderr, "budgetd-bench: --k-list: '%.*s' is not a K from 2 to %d\n",
				(int)strcspn(p, ","), p, MAX_CLUSTERS);
			return -EINVAL;
		}
		for (int i = 0; i < o->n_k; i++)
			if (o->k[i] == k) {
				fprintf(stderr, "budgetd-bench: --k-list: K %ld given twice\n", k);
				return -EINVAL;
			}
		if (o->n_k == MAX_K) {
			fprintf(stderr, "budgetd-bench: --k-list: at most %d values\n", MAX_K);
			return -EINVAL;
		}
		o->k[o->n_k++] = (int)k;
		p = end;
		if (!*p)
			break;
	}
	return 0;
}

/* Every setting that has a range, checked at once: a bad one is a usage error. */
static int opts_valid(const opts_t *o)
{
	const bd_dfcl_params_t *d = &o->dfp;
	const bd_bidfcl_params_t *bi = &o->bip;
	for (int i = 0; i < o->n_k; i++)
		if (o->k[i] < 2 || o->k[i] > MAX_CLUSTERS)
			return 0;
	return o->n_train >= 1000 && o->n_test >= 1000 && o->epochs >= 1 && d->tau > 0 &&
	       d->epochs >= 1 && d->lr > 0 && d->alpha >= 0 && o->n_obs >= 1000 &&
	       o->obs_explore >= 0 && o->obs_explore <= 1 && bi->outer >= 0 && bi->cg_iters >= 1 &&
	       bi->lr > 0 && bi->bridge_lr > 0 && bi->damping >= 0 && d->delta_min > 0 &&
	       o->rep_dim >= 0 && o->rep_dim <= 64 && o->within_beta >= 0 && o->within_beta <= 100;
}

static const struct option bench_options[] = {
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
	{"methods", required_argument, NULL, 'M'},
	{"k-list", required_argument, NULL, 'K'},
	{"cells", required_argument, NULL, 'X'},
	{"within-beta", required_argument, NULL, 'B'},
	{NULL, 0, NULL, 0},
};

/* The defaults: every method, K=8, 100000 training and test users. */
static void opts_default(opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->n_train = o->n_test = 100000;
	o->n_obs = 200000;
	o->epochs = 10;
	o->obs_explore = 0.1;
	o->k[0] = 8;
	o->n_k = 1;
	o->methods = ((1u << M__COUNT) - 1) & ~(1u << M_HRC_W); /* hrc_w: when named */
	o->within_beta = 0.5;
	bd_dfcl_params_default(&o->dfp);
	bd_bidfcl_params_default(&o->bip);
}

/* --cells: mean, dr or true. */
static int cells_parse(const char *arg, int *cells)
{
	if (!strcmp(arg, "mean") || !strcmp(arg, "dr") || !strcmp(arg, "true")) {
		*cells = arg[0] == 'm' ? CELLS_MEAN : arg[0] == 'd' ? CELLS_DR : CELLS_TRUE;
		return 0;
	}
	fprintf(stderr, "budgetd-bench: --cells: mean, dr or true, not '%s'\n", arg);
	return -EINVAL;
}

/*
 * The command line into @p o.  @returns 0 to run, 1 when --help printed the
 * usage (exit 0), -EINVAL on a usage error (said on stderr; exit 2).
 */
static int opts_parse(int argc, char **argv, opts_t *o)
{
	const char *world = NULL, *kv[64];
	int n_kv = 0, c, k_given = 0, k_list_given = 0;
	char err[256];

	opts_default(o);
	while ((c = getopt_long(argc, argv, "p:h", bench_options, NULL)) != -1) {
		switch (c) {
		case 'n': o->n_train = atoi(optarg); break;
		case 'm': o->n_test = atoi(optarg); break;
		case 'e': o->epochs = atoi(optarg); break;
		case 'k':
			o->k[0] = atoi(optarg);
			o->n_k = 1;
			k_given = 1;
			break;
		case 'K':
			if (k_list_parse(optarg, o))
				return -EINVAL;
			k_list_given = 1;
			break;
		case 'M':
			if (methods_parse(optarg, &o->methods))
				return -EINVAL;
			break;
		case 'c': o->csv = optarg; break;
		case 'X':
			if (cells_parse(optarg, &o->cells))
				return -EINVAL;
			break;
		case 'B': o->within_beta = atof(optarg); break;
		case 'T': o->dfp.tau = atof(optarg); break;
		case 'A': o->dfp.alpha = atof(optarg); break;
		case 'L': o->dfp.lr = atof(optarg); break;
		case 'E': o->dfp.epochs = atoi(optarg); break;
		case 'o': o->n_obs = atoi(optarg); break;
		case 'x': o->obs_explore = atof(optarg); break;
		case 'O': o->bip.outer = atoi(optarg); break;
		case 'C': o->bip.cg_iters = atoi(optarg); break;
		case 'l': o->bip.lr = atof(optarg); break;
		case 'b': o->bip.bridge_lr = atof(optarg); break;
		case 'F': o->bip.full_hessian = 1; break;
		case 'D': o->bip.damping = atof(optarg); break;
		case 'I': o->dfp.delta_min = atof(optarg); break;
		case 'R': o->rep_dim = atoi(optarg); break;
		case 'p':
			if (n_kv == (int)BD_ARRAY_SIZE(kv)) {
				fprintf(stderr, "budgetd-bench: too many -p options\n");
				return -EINVAL;
			}
			kv[n_kv++] = optarg;
			break;
		case 'W': world = optarg; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -EINVAL;
		}
	}
	if (k_given && k_list_given) {
		fprintf(stderr, "budgetd-bench: --k and --k-list: give one of them\n");
		return -EINVAL;
	}
	if (optind < argc || !opts_valid(o)) {
		usage(stderr);
		return -EINVAL;
	}
	if (bd_sim_params_from_args(&o->wp, world, kv, n_kv, err, sizeof(err)) ||
	    bd_sim_params_validate(&o->wp, err, sizeof(err))) {
		fprintf(stderr, "budgetd-bench: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* The world, its three data sets and the test-sized work buffers. */
static int data_make(bench_t *b)
{
	const opts_t *o = b->o;
	const uint64_t seed = o->wp.seed;
	const set_t *tr = &b->tr;
	size_t nj;

	b->step = "the world or the data";
	/* separate streams: each set is the same whatever the others' sizes */
	if (bd_sim_world_new(&o->wp, &b->w) || set_make(b->w, o->n_train, seed, 101, -1, &b->tr) ||
	    set_make(b->w, o->n_test, seed, 202, -1, &b->te) ||
	    set_make(b->w, o->n_obs, seed, 303, o->obs_explore, &b->ob))
		return -ENOMEM;
	nj = (size_t)b->te.n * (size_t)b->te.j;
	if (!(b->rh = malloc(sizeof(double) * nj)) || !(b->ch = malloc(sizeof(double) * nj)) ||
	    !(b->pi = malloc(sizeof(double) * nj)))
		return -ENOMEM;
	b->td = (bd_tsm_data_t){tr->n, tr->dim, tr->j, tr->x, tr->t, tr->p, tr->value, tr->cost};
	bd_tsm_params_default(&b->tp);
	b->tp.epochs = o->epochs;
	b->tp.seed = seed;
	return 0;
}

/* The budget grid: shares of what maximising true value spends on the test
 * users, and the oracle's true value at each. */
static int budgets_make(bench_t *b)
{
	const set_t *te = &b->te;
	double maxv;
	int err;

	b->step = "oracle budgets";
	if ((err = bd_sim_oracle_assign(b->w, te->user, te->n, 0, NULL, &maxv, &b->maxs)))
		return err;
	for (int k = 0; k < NB; k++) {
		b->budget[k] = FRAC[k] * b->maxs / te->n;
		if ((err = bd_sim_oracle(b->w, te->user, te->n, b->budget[k] * te->n, &b->orc[k], NULL,
					 NULL)))
			return err;
	}
	return 0;
}

static void header_print(const bench_t *b)
{
	const opts_t *o = b->o;
	printf("# world %s, seed %llu, %d users, %d treatments; train %d, test %d RCT samples, "
	       "%d observational (biased policy, exploration %g); value-maximising spend %.4f "
	       "per capita\n",
	       bd_sim_family_name(o->wp.family), (unsigned long long)o->wp.seed,
	       bd_sim_n_users(b->w), b->te.j, o->n_train, b->te.n, o->n_obs, o->obs_explore,
	       b->maxs / b->te.n);
}

/* oracle: the true responses as predictions */
static int run_oracle(bench_t *b)
{
	const set_t *te = &b->te;
	const int J = te->j;
	b->step = "oracle";
	for (int i = 0; i < te->n; i++)
		for (int t = 0; t < J; t++) {
			b->rh[(size_t)i * J + t] = bd_sim_user_ev(b->w, te->user[i], t);
			b->ch[(size_t)i * J + t] = bd_sim_user_ec(b->w, te->user[i], t);
		}
	return eval_predictions(b, &b->row[M_ORACLE]);
}

/* random: control, and a uniform coupon for the share the budget buys */
static int run_random(bench_t *b)
{
	const set_t *te = &b->te;
	const int J = te->j, N = te->n;
	row_t *rr = &b->row[M_RANDOM];
	double uv, us;
	int err;

	b->step = "random";
	if ((err = bd_sim_uniform_value(b->w, te->user, N, &uv, &us)))
		return err;
	for (int k = 0; k < NB; k++) {
		double a = fmin(1, b->budget[k] * N / us);
		for (int i = 0; i < N; i++)
			for (int t = 0; t < J; t++)
				b->pi[(size_t)i * J + t] = a / J + (t == 0 ? 1 - a : 0);
		eval_policy(b, k, rr);
	}
	rr->aucc = 0.5; /* a random ranking, by definition */
	return 0;
}

/* TSM-SL: kept in b->tsm, the warm start of the DFCL family */
static int run_tsm(bench_t *b)
{
	double t1 = now();
	int err;
	b->step = "TSM-SL";
	if ((err = bd_tsm_train(&b->td, &b->tp, &b->tsm)) ||
	    (err = eval_model(b, b->tsm, &b->row[M_TSM])))
		return err;
	b->secs[M_TSM] = now() - t1;
	return 0;
}

/* the end-to-end method: a fresh TSM-SL warm start (same seed, so the
 * same network as TSM-SL's), fine-tuned with the perturbation gradient */
static int run_e2e(bench_t *b)
{
	double t1 = now();
	bd_tsm_t *e2e = NULL;
	bd_e2e_params_t ep;
	int err;

	b->step = "end-to-end";
	bd_e2e_params_default(&ep);
	ep.seed = b->o->wp.seed;
	if (!(err = bd_tsm_train(&b->td, &b->tp, &e2e)) && !(err = bd_e2e_finetune(e2e, &b->td, &ep)))
		err = eval_model(b, e2e, &b->row[M_E2E]);
	bd_tsm_free(e2e);
	b->secs[M_E2E] = now() - t1;
	return err;
}

/* Bi-DFCL: the TSM-SL model is the teacher, so this runs before DFCL-PL
 * fine-tunes that model in place */
static int run_bidfcl(bench_t *b)
{
	const set_t *ob = &b->ob;
	double t1 = now();
	bd_tsm_t *bi = NULL;
	bd_tsm_data_t od = {ob->n, ob->dim, ob->j, ob->x, ob->t, ob->p, ob->value, ob->cost};
	bd_bidfcl_params_t bip = b->o->bip;
	int err;

	b->step = "Bi-DFCL";
	bip.seed = b->o->wp.seed;
	if (!(err = bd_bidfcl_train(&od, &b->td, b->tsm, &b->tp, &bip, &bi, &b->bst)))
		err = eval_model(b, bi, &b->row[M_BIDFCL]);
	bd_tsm_free(bi);
	b->secs[M_BIDFCL] = now() - t1;
	return err;
}

/* A DFCL variant (MER: tau 0.01; IFD: the finite-difference dual gradient)
 * on its own copy of the TSM-SL warm start */
static int run_dfcl_copy(bench_t *b, int m)
{
	double t1 = now();
	bd_tsm_t *cp = NULL;
	bd_dfcl_params_t vp = b->o->dfp;
	int err;

	b->step = m == M_DFCL_IFD ? "DFCL-IFD" : "DFCL-MER";
	if (m == M_DFCL_IFD)
		vp.ifd = 1;
	else
		vp.tau = 0.01;
	vp.seed = b->o->wp.seed;
	if (!(err = bd_tsm_clone(b->tsm, &cp)) && !(err = bd_dfcl_finetune(cp, &b->td, &vp)))
		err = eval_model(b, cp, &b->row[m]);
	bd_tsm_free(cp);
	b->secs[m] = now() - t1;
	return err;
}

static int run_dfcl_mer(bench_t *b)
{
	return run_dfcl_copy(b, M_DFCL_MER);
}

static int run_dfcl_ifd(bench_t *b)
{
	return run_dfcl_copy(b, M_DFCL_IFD);
}

/* DFCL-PL: the TSM-SL model itself fine-tuned with the decision loss (no
 * copy: nothing reads TSM-SL's model after this) */
static int run_dfcl(bench_t *b)
{
	double t1 = now();
	bd_dfcl_params_t dfp = b->o->dfp;
	int err;

	b->step = "DFCL";
	dfp.seed = b->o->wp.seed;
	if ((err = bd_dfcl_finetune(b->tsm, &b->td, &dfp)) ||
	    (err = eval_model(b, b->tsm, &b->row[M_DFCL])))
		return err;
	b->secs[M_DFCL] = now() - t1;
	return 0;
}

/* The cluster-level estimates of one K: traffic shares and the mean value
 * and cost per (cluster, treatment) cell on the training set, and each test
 * user's cluster. */
typedef struct cells_s {
	int k;
	double share[MAX_CLUSTERS], r[MAX_CLUSTERS * MAX_J], c[MAX_CLUSTERS * MAX_J];
	int *lab_te; /* test N: cluster */
} cells_t;

/*
 * --cells dr: a cell's mean is the mean over ALL the cluster's training
 * users of the network's prediction for the cell's treatment, plus the mean
 * residual (outcome - prediction) of the users who got that treatment
 * (AIPW; the training set is an RCT, so the propensities are equal within
 * a cell).  Unbiased whatever the predictions are worth; lower variance
 * where they explain the outcomes, and the prediction part uses J times
 * the users of the plain cell mean.  In-sample (the network saw these
 * samples), so the residuals are somewhat optimistic: an experiment, not
 * the daemon's estimator.  @p cn: the cell counts; the raw means are in
 * @p cl and are replaced.
 */
static void cells_dr(const bench_t *b, int K, const int *lab, const double *pv, const double *pc,
		     const double *cn, cells_t *cl)
{
	const set_t *tr = &b->tr;
	const int J = tr->j;
	double pr[MAX_CLUSTERS * MAX_J] = {0}, pcst[MAX_CLUSTERS * MAX_J] = {0};
	double rr[MAX_CLUSTERS * MAX_J] = {0}, rc[MAX_CLUSTERS * MAX_J] = {0};
	double nk[MAX_CLUSTERS] = {0};

	for (int i = 0; i < tr->n; i++) {
		const int k = lab[i], t = tr->t[i];
		nk[k] += 1;
		for (int u = 0; u < J; u++) {
			pr[k * J + u] += pv[(size_t)i * J + u];
			pcst[k * J + u] += pc[(size_t)i * J + u];
		}
		rr[k * J + t] += tr->value[i] - pv[(size_t)i * J + t];
		rc[k * J + t] += tr->cost[i] - pc[(size_t)i * J + t];
	}
	for (int k = 0; k < K; k++)
		for (int u = 0; u < J; u++) {
			const int c = k * J + u;
			if (nk[k] <= 0 || cn[c] <= 0)
				continue; /* no user in the cell: the raw mean (0) stays */
			cl->r[c] = pr[c] / nk[k] + rr[c] / cn[c];
			/* a cost is never negative (the solver refuses one), and an
			 * untreated user costs nothing: the raw mean stays there */
			if (u > 0)
				cl->c[c] = fmax(0, pcst[c] / nk[k] + rc[c] / cn[c]);
		}
}

/*
 * --cells true: a cell's mean is the world's TRUE expected value and cost
 * of the treatment, averaged over the cluster's training users.  Not an
 * estimator: the ceiling of the clusters themselves, so a run measures
 * what estimating the cells costs (mean against true) apart from what
 * the clusters cost (true against the oracle).
 */
static void cells_true(const bench_t *b, int K, const int *lab, cells_t *cl)
{
	const set_t *tr = &b->tr;
	const int J = tr->j;
	double nk[MAX_CLUSTERS] = {0};

	memset(cl->r, 0, sizeof(cl->r));
	memset(cl->c, 0, sizeof(cl->c));
	for (int i = 0; i < tr->n; i++) {
		nk[lab[i]] += 1;
		for (int t = 0; t < J; t++) {
			cl->r[lab[i] * J + t] += bd_sim_user_ev(b->w, tr->user[i], t);
			cl->c[lab[i] * J + t] += bd_sim_user_ec(b->w, tr->user[i], t);
		}
	}
	for (int c = 0; c < K * J; c++)
		if (nk[c / J] > 0) {
			cl->r[c] /= nk[c / J];
			cl->c[c] /= nk[c / J];
		}
}

/* k-means with K clusters on the training embeddings @p h_tr, the test
 * users assigned from @p h_te, the cell means into @p cl. */
static int hrc_cells(const bench_t *b, const double *h_tr, const double *h_te, int dim, int K,
		     const double *pv, const double *pc, int *lab, cells_t *cl)
{
	const set_t *tr = &b->tr;
	const int J = tr->j;
	bd_kmeans_params_t kp;
	bd_kmeans_result_t km = {0};
	double cn[MAX_CLUSTERS * MAX_J] = {0};
	int err;

	bd_kmeans_params_default(&kp);
	kp.k = K;
	kp.seed = b->o->wp.seed;
	if ((err = bd_kmeans_fit(h_tr, tr->n, dim, &kp, &km)) ||
	    (err = bd_kmeans_assign_all(&km, h_tr, tr->n, lab, NULL)) ||
	    (err = bd_kmeans_assign_all(&km, h_te, b->te.n, cl->lab_te, NULL)))
		goto out;
	cl->k = K;
	memset(cl->share, 0, sizeof(cl->share));
	memset(cl->r, 0, sizeof(cl->r));
	memset(cl->c, 0, sizeof(cl->c));
	for (int i = 0; i < tr->n; i++) {
		cl->share[lab[i]] += 1.0 / tr->n;
		cl->r[lab[i] * J + tr->t[i]] += tr->value[i];
		cl->c[lab[i] * J + tr->t[i]] += tr->cost[i];
		cn[lab[i] * J + tr->t[i]] += 1;
	}
	for (int i = 0; i < K * J; i++) {
		cl->r[i] = cn[i] > 0 ? cl->r[i] / cn[i] : 0;
		cl->c[i] = cn[i] > 0 ? cl->c[i] / cn[i] : 0;
	}
	if (pv)
		cells_dr(b, K, lab, pv, pc, cn, cl);
	if (b->o->cells == CELLS_TRUE)
		cells_true(b, K, lab, cl);
out:
	bd_kmeans_result_free(&km);
	return err;
}

/* The solver's plans for the cells at every budget, LP (one cluster may be
 * split) into @p lp and the exact integer plan into @p in; test users get
 * their cluster's plan.  AUCC: of the cluster-level predictions. */
static int hrc_plans(bench_t *b, const cells_t *cl, row_t *lp, row_t *in)
{
	const int J = b->te.j, N = b->te.n;
	bd_solver_problem_t sp = {cl->k, J, cl->share, cl->r, cl->c};
	double prob[MAX_CLUSTERS * MAX_J];
	int arm[MAX_CLUSTERS], err;

	for (int k = 0; k < NB; k++) {
		bd_solver_result_t res;
		bd_solver_int_stats_t ist;
		for (int v = 0; v < 2; v++) {
			if ((err = v == 0 ? bd_solver_lp(&sp, b->budget[k], prob, &res)
					  : bd_solver_integer(&sp, b->budget[k], 0, arm, &res, &ist)))
				return err;
			for (int i = 0; i < N; i++)
				for (int t = 0; t < J; t++)
					b->pi[(size_t)i * J + t] = v ? (t == arm[cl->lab_te[i]])
								     : prob[cl->lab_te[i] * J + t];
			eval_policy(b, k, v ? in : lp);
		}
	}
	for (int i = 0; i < N; i++)
		for (int t = 0; t < J; t++) {
			b->rh[(size_t)i * J + t] = cl->r[cl->lab_te[i] * J + t];
			b->ch[(size_t)i * J + t] = cl->c[cl->lab_te[i] * J + t];
		}
	const bd_rct_t d = test_rct(b);
	lp->aucc = in->aucc = aucc_mean(&d);
	return 0;
}

/* The network's predicted value and cost of every treatment for every
 * training user (n x J each, allocated into @p pv, @p pc). */
static int rep_predict_all(bd_rep_t *rep, const set_t *tr, double **pv, double **pc)
{
	const size_t nj = (size_t)tr->n * (size_t)tr->j;
	double conv[MAX_J];
	int err;

	if (!(*pv = malloc(sizeof(double) * nj)) || !(*pc = malloc(sizeof(double) * nj)))
		return -ENOMEM;
	for (int i = 0; i < tr->n; i++)
		if ((err = bd_rep_predict(rep, tr->x + (size_t)i * tr->dim, conv,
					  *pv + (size_t)i * tr->j, *pc + (size_t)i * tr->j)))
			return err;
	return 0;
}

/* hrc_w: per-user scores within the clusters (see the top).  @p pv, @p pc:
 * the network's value and cost of every treatment for every test user. */
static int hrc_within(bench_t *b, const cells_t *cl, const double *pv, const double *pc,
		      row_t *row)
{
	const set_t *te = &b->te;
	const int J = te->j, K = cl->k;
	const double beta = b->o->within_beta;
	double mv[MAX_CLUSTERS * MAX_J] = {0}, mc[MAX_CLUSTERS * MAX_J] = {0};
	double nk[MAX_CLUSTERS] = {0};

	for (int i = 0; i < te->n; i++) {
		const int k = cl->lab_te[i];
		nk[k]++;
		for (int t = 0; t < J; t++) {
			mv[k * J + t] += pv[(size_t)i * J + t];
			mc[k * J + t] += pc[(size_t)i * J + t];
		}
	}
	for (int c = 0; c < K * J; c++)
		if (nk[c / J] > 0) {
			mv[c] /= nk[c / J];
			mc[c] /= nk[c / J];
		}
	for (int i = 0; i < te->n; i++) {
		const int k = cl->lab_te[i];
		for (int t = 0; t < J; t++) {
			const size_t q = (size_t)i * J + t;
			const int c = k * J + t;
			b->rh[q] = cl->r[c] + beta * (pv[q] - mv[c]);
			/* control costs nothing; no cost below 0 */
			b->ch[q] = t ? fmax(0, cl->c[c] + beta * (pc[q] - mc[c])) : 0;
		}
	}
	return eval_predictions(b, row);
}

/* budgetd: representation -> k-means -> cluster-level estimates and plans,
 * one representation for every K so the K values differ in K alone */
static int run_hrc(bench_t *b)
{
	const set_t *tr = &b->tr, *te = &b->te;
	double t1 = now(), *h_tr = NULL, *h_te = NULL, *pv = NULL, *pc = NULL;
	double *wv = NULL, *wc = NULL; /* hrc_w: the network's test predictions */
	int *lab = NULL, err;
	bd_rep_t *rep = NULL;
	bd_rep_params_t rp;
	bd_rep_metrics_t rm;
	bd_rep_data_t rd = {tr->n, tr->dim, tr->j, tr->x, tr->t, tr->p, tr->conv, tr->value, tr->cost};
	cells_t *cl = NULL;

	b->step = "hrc";
	bd_rep_params_default(&rp);
	rp.epochs = b->o->epochs;
	rp.seed = b->o->wp.seed;
	if (b->o->rep_dim > 0)
		rp.rep_dim = b->o->rep_dim;
	err = -ENOMEM;
	if (!(h_tr = malloc(sizeof(double) * (size_t)tr->n * (size_t)rp.rep_dim)) ||
	    !(h_te = malloc(sizeof(double) * (size_t)te->n * (size_t)rp.rep_dim)) ||
	    !(lab = malloc(sizeof(int) * (size_t)tr->n)) || !(cl = calloc(1, sizeof(*cl))) ||
	    !(cl->lab_te = malloc(sizeof(int) * (size_t)te->n)))
		goto out;
	if ((err = bd_rep_train(&rd, &rp, &rep, &rm)) ||
	    (err = bd_rep_embed(rep, tr->x, tr->n, h_tr)) ||
	    (err = bd_rep_embed(rep, te->x, te->n, h_te)))
		goto out;
	if (b->o->cells == CELLS_DR && (err = rep_predict_all(rep, tr, &pv, &pc)))
		goto out;
	if (ran(b->o, M_HRC_W) && (err = rep_predict_all(rep, te, &wv, &wc)))
		goto out;
	b->secs[M_HRC] = now() - t1;
	for (int i = 0; i < b->o->n_k; i++) {
		t1 = now();
		if ((err = hrc_cells(b, h_tr, h_te, rp.rep_dim, b->o->k[i], pv, pc, lab, cl)))
			goto out;
		b->secs[M_HRC] += now() - t1;
		if ((err = hrc_plans(b, cl, &b->hrc[i][0], &b->hrc[i][1])))
			goto out;
		if (wv && (err = hrc_within(b, cl, wv, wc, &b->hrc[i][2])))
			goto out;
	}
out:
	if (cl)
		free(cl->lab_te);
	free(cl);
	free(lab);
	free(h_te);
	free(h_tr);
	free(pv);
	free(pc);
	free(wv);
	free(wc);
	bd_rep_free(rep);
	return err;
}

/* The order matters: Bi-DFCL's teacher and the variants' warm start are the
 * TSM-SL model, which DFCL-PL then fine-tunes in place; hrc runs hrc_int. */
static const struct {
	int m;
	int (*run)(bench_t *b);
} RUN[] = {
	{M_ORACLE, run_oracle}, {M_RANDOM, run_random},     {M_TSM, run_tsm},
	{M_E2E, run_e2e},       {M_BIDFCL, run_bidfcl},     {M_DFCL_MER, run_dfcl_mer},
	{M_DFCL_IFD, run_dfcl_ifd}, {M_DFCL, run_dfcl},     {M_HRC, run_hrc},
};

/* The output rows in table order (NAME's; hrc's per K, then hrc_int's):
 * with one K the cluster rows keep their plain names. @returns their count. */
static int rows_list(bench_t *b, out_t *out)
{
	const opts_t *o = b->o;
	int n = 0;
	for (int m = 0; m < M__COUNT; m++) {
		int per_k = per_k_index(m) >= 0;
		if (!ran(o, m))
			continue;
		for (int i = 0; i < (per_k ? o->n_k : 1); i++, n++) {
			out[n].m = m;
			out[n].r = per_k ? &b->hrc[i][per_k_index(m)] : &b->row[m];
			if (per_k && o->n_k > 1)
				snprintf(out[n].name, sizeof(out[n].name), "%s_k%d", NAME[m], o->k[i]);
			else
				snprintf(out[n].name, sizeof(out[n].name), "%s", NAME[m]);
		}
	}
	return n;
}

/* the method column's width: 8, or the longest name */
static int name_width(const out_t *out, int n)
{
	int w = 8;
	for (int m = 0; m < n; m++)
		if ((int)strlen(out[m].name) > w)
			w = (int)strlen(out[m].name);
	return w;
}

/* The EOM table, normalised to TSM-SL at each budget, and the CSV (@p cf
 * may be NULL) of every row and budget. */
static void table_print(const bench_t *b, const out_t *out, int n, FILE *cf)
{
	const row_t *tsm = &b->row[M_TSM];
	const int nw = name_width(out, n);
	if (cf)
		fprintf(cf, "method,budget_share,budget,eom,eom_norm,eom_cost,value_over_oracle,"
			    "spend_over_budget,aucc,eom_hajek,eom_hajek_norm,true_value,true_spend,"
			    "increment_over_oracle,increment_over_uniform\n");
	printf("# EOM normalised to TSM-SL at budgets of 10/30/50/70/90%% of the value-maximising "
	       "spend; EOMh: the mean over the budgets of the Hajek (self-normalised) EOM\n");
	printf("%-*s %6s %6s %6s %6s %6s %7s %7s %6s %7s %7s\n", nw, "method", "10%", "30%", "50%",
	       "70%", "90%", "EOM", "EOMh", "AUCC", "v/orc50", "s/b50");
	for (int m = 0; m < n; m++) {
		const row_t *r = out[m].r;
		double mean = 0, mean_h = 0;
		printf("%-*s", nw, out[m].name);
		for (int k = 0; k < NB; k++) {
			double x = r->eom[k] / tsm->eom[k];
			double xh = r->eom_h[k] / tsm->eom_h[k];
			mean += x / NB;
			mean_h += xh / NB;
			printf(" %6.3f", x);
			if (cf)
				fprintf(cf, "%s,%.2f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,"
					"%.4f,%.4f,%.6f,%.6f\n",
					out[m].name, FRAC[k], b->budget[k], r->eom[k], x,
					r->eom_cost[k], r->vo[k], r->sb[k], r->aucc, r->eom_h[k], xh,
					r->tv[k], r->tc[k], r->io[k], r->iu[k]);
		}
		printf(" %7.3f %7.3f %6.3f %7.3f %7.3f\n", mean, mean_h, r->aucc, r->vo[2], r->sb[2]);
	}
}

/* The fair comparison per budget; the means over the budgets into
 * @p inc_mean (of the oracle's) and @p incu_mean (x uniform's). */
static void increments_print(const out_t *out, int n, double *inc_mean, double *incu_mean)
{
	const int nw = name_width(out, n);
	printf("# incremental value over all-control (TRUE): share of the oracle's increment at "
	       "the method's own true spend (i/orc), and i/uni50 its ratio to uniform's increment "
	       "at that spend at the middle budget; mean over the budgets\n");
	printf("%-*s %6s %6s %6s %6s %6s %7s %7s %7s\n", nw, "method", "i/o10", "i/o30", "i/o50",
	       "i/o70", "i/o90", "i/orc", "i/uni50", "i/uni");
	for (int m = 0; m < n; m++) {
		const row_t *r = out[m].r;
		inc_mean[m] = incu_mean[m] = 0;
		printf("%-*s", nw, out[m].name);
		for (int k = 0; k < NB; k++) {
			inc_mean[m] += r->io[k] / NB;
			incu_mean[m] += r->iu[k] / NB;
			printf(" %6.3f", r->io[k]);
		}
		printf(" %7.3f %7.3f %7.3f\n", inc_mean[m], r->iu[2], incu_mean[m]);
	}
}

/* the training times' labels, in the line's order */
static const struct {
	int m;
	const char *label;
} TIMED[] = {
	{M_TSM, "TSM-SL"},         {M_E2E, "end-to-end (warm start + fine-tuning)"},
	{M_DFCL, "DFCL fine-tuning PL"}, {M_DFCL_MER, "MER"}, {M_DFCL_IFD, "IFD"},
	{M_BIDFCL, "Bi-DFCL"},     {M_HRC, "representation + k-means"},
};

/* Bi-DFCL's solver statistics and the training times, of the methods run */
static void stats_print(const bench_t *b)
{
	const bd_bidfcl_stats_t *s = &b->bst;
	const char *sep = "";
	if (ran(b->o, M_BIDFCL))
		printf("# Bi-DFCL: %d upper steps, %d CG iterations (%d stopped on negative "
		       "curvature), mean relative CG residual %.3f, mean gates value %.3f cost %.3f "
		       "(1: the teacher's labels)\n",
		       s->upper_steps, s->cg_iters, s->negative_curvature, s->cg_rel_resid,
		       s->gate_value, s->gate_cost);
	printf("# training: ");
	for (size_t i = 0; i < BD_ARRAY_SIZE(TIMED); i++) {
		if (!ran(b->o, TIMED[i].m))
			continue;
		printf("%s%s %.1f s", sep, TIMED[i].label, b->secs[TIMED[i].m]);
		if (TIMED[i].m == M_BIDFCL)
			printf(" (obs warm start %.1f s, bi-level %.1f s)", s->seconds_warm,
			       s->seconds_bilevel);
		sep = ", ";
	}
	printf("; total %.1f s\n", now() - b->t0);
}

/* the methods of the seeds: line's EOM part, in its historical order
 * (bench/seeds reads the keys, not their places) */
static const int SEEDS_EOM[] = {M_RANDOM, M_TSM,    M_HRC,    M_HRC_INT,
				M_DFCL,   M_E2E,  M_BIDFCL, M_ORACLE};

/* The one line bench/seeds reads: EOM at the middle budget normalised to
 * TSM-SL, then the increments' means over the budgets. */
static void seeds_print(const bench_t *b, const out_t *out, int n, const double *inc_mean,
			const double *incu_mean)
{
	const double tsm = b->row[M_TSM].eom[2];
	const char *sep = "";
	printf("seeds: ");
	for (size_t e = 0; e < BD_ARRAY_SIZE(SEEDS_EOM); e++)
		for (int m = 0; m < n; m++) {
			if (out[m].m != SEEDS_EOM[e])
				continue;
			if (out[m].m == M_TSM) /* by definition, whatever its EOM */
				printf("%s%s=1.000", sep, out[m].name);
			else
				printf("%s%s=%.3f", sep, out[m].name, out[m].r->eom[2] / tsm);
			sep = " ";
		}
	for (int m = 0; m < n; m++)
		printf(" inc_%s=%.3f", out[m].name, inc_mean[m]);
	for (int m = 0; m < n; m++)
		printf(" incu_%s=%.3f", out[m].name, incu_mean[m]);
	printf("\n");
}

static void bench_free(bench_t *b)
{
	set_free(&b->tr);
	set_free(&b->te);
	set_free(&b->ob);
	free(b->rh);
	free(b->ch);
	free(b->pi);
	bd_tsm_free(b->tsm);
	bd_sim_world_free(b->w);
}

int main(int argc, char **argv)
{
	bench_t b;
	opts_t o;
	out_t out[MAX_ROWS];
	double inc_mean[MAX_ROWS], incu_mean[MAX_ROWS];
	FILE *cf = NULL;
	int rc = 1, n, e;

	if ((e = opts_parse(argc, argv, &o)))
		return e > 0 ? 0 : 2;
	memset(&b, 0, sizeof(b));
	b.o = &o;
	b.t0 = now();
	b.step = "--csv";
	/* before the hours of training, not after them */
	if (o.csv && !(cf = fopen(o.csv, "w"))) {
		fprintf(stderr, "budgetd-bench: --csv %s: %s\n", o.csv, strerror(errno));
		goto out;
	}
	if (data_make(&b) || budgets_make(&b))
		goto out;
	header_print(&b);
	for (size_t i = 0; i < BD_ARRAY_SIZE(RUN); i++)
		if (ran(&o, RUN[i].m) && RUN[i].run(&b))
			goto out;
	n = rows_list(&b, out);
	b.step = "increments";
	if (increments(&b, out, n))
		goto out;
	table_print(&b, out, n, cf);
	increments_print(out, n, inc_mean, incu_mean);
	stats_print(&b);
	seeds_print(&b, out, n, inc_mean, incu_mean);
	b.step = "--csv";
	if (cf) {
		e = fclose(cf);
		cf = NULL;
		if (e) {
			fprintf(stderr, "budgetd-bench: --csv %s: %s\n", o.csv, strerror(errno));
			goto out;
		}
	}
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "budgetd-bench: %s failed\n", b.step);
	if (cf)
		fclose(cf);
	bench_free(&b);
	return rc;
}
