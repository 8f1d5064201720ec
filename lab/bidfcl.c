/**
 * @file bidfcl.c
 * @brief Bi-DFCL: bi-level decision-focused learning with a bridge network
 *        and an implicit hypergradient (see bidfcl.h).
 */
#include "budgetd/lab/bidfcl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baselines_int.h"
#include "budgetd/base/hash.h"

void bd_bidfcl_params_default(bd_bidfcl_params_t *p)
{
	*p = (bd_bidfcl_params_t){.outer = 100, .inner = 5, .cg_iters = 50, .batch = 256,
				  .hyper_batch = 512, .rct_batch = 2048, .bridge_hidden = 32,
				  .lr = 3e-4, .bridge_lr = 1e-2, .tau = 0.1, .pseudo_weight = 1,
				  .damping = 0.03, .fd_eps = 1e-4, .seed = 1};
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- flat views of a network's parameters and gradients ----------------------- */

static void flat_axpy(bd_nn_t *nn, double a, const double *v)
{
	for (int l = 0; l < nn->n_layers; l++) {
		bd_nn_layer_t *L = &nn->layer[l];
		size_t nw = (size_t)L->in * (size_t)L->out;
		for (size_t i = 0; i < nw; i++)
			L->w[i] += a * *v++;
		for (int i = 0; i < L->out; i++)
			L->b[i] += a * *v++;
	}
}

static void flat_grads(const bd_nn_t *nn, double *g)
{
	for (int l = 0; l < nn->n_layers; l++) {
		const bd_nn_layer_t *L = &nn->layer[l];
		size_t nw = (size_t)L->in * (size_t)L->out;
		memcpy(g, L->gw, sizeof(double) * nw);
		g += nw;
		memcpy(g, L->gb, sizeof(double) * (size_t)L->out);
		g += L->out;
	}
}

static double flat_norm(const bd_nn_t *nn)
{
	double s = 0;
	for (int l = 0; l < nn->n_layers; l++) {
		const bd_nn_layer_t *L = &nn->layer[l];
		for (size_t i = 0; i < (size_t)L->in * (size_t)L->out; i++)
			s += L->w[i] * L->w[i];
		for (int i = 0; i < L->out; i++)
			s += L->b[i] * L->b[i];
	}
	return sqrt(s);
}

static double dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* ---- the bi-level problem ------------------------------------------------------ */

typedef struct bi_s {
	const bd_tsm_data_t *obs, *rct;
	const bd_bidfcl_params_t *p;
	bd_tsm_t *tg;   /* target */
	bd_nn_t *br;    /* bridge */
	int J, width;
	size_t np;      /* target parameters */
	double *T, *O;  /* obs n x J x 2: teacher and obs-model predictions, target units */
	double *in, *in_rct, *dout, *gate, *fp, *fm;
	int *rows;      /* the rows of in: obs indices */
	double nt[64];  /* RCT rows per arm */
	double lam[3];
	uint64_t rng;
} bi_t;

/* Input rows (every arm of every listed row) of @p d into @p in. */
static void build(const bi_t *b, const bd_tsm_data_t *d, const int *idx, int n, double *in)
{
	for (int r = 0; r < n; r++)
		for (int j = 0; j < b->J; j++)
			bd__tsm_input_row(b->tg, d->x + (size_t)idx[r] * d->dim, j,
					  in + ((size_t)r * b->J + j) * b->width);
}

static int pick(bi_t *b, int n_pool, int n, int *idx)
{
	for (int r = 0; r < n; r++)
		idx[r] = (int)(bd_hash_unit(bd_hash_next(&b->rng)) * n_pool);
	return n;
}

/* The bridge's gates for the @p n rows in b->in, into b->gate. */
static int gates(bi_t *b, int n)
{
	const double *g = bd_nn_forward(b->br, b->in, n * b->J);
	if (!g)
		return -ENOMEM;
	memcpy(b->gate, g, sizeof(double) * (size_t)n * b->J * 2);
	return 0;
}

/* The lower-level target of row r, arm j, output k and its weight. */
static double label(const bi_t *b, int r, int j, int k, double *wgt)
{
	int i = b->rows[r];
	size_t at = ((size_t)i * b->J + j) * 2 + k;
	if (j == b->obs->t[i]) {
		*wgt = 1;
		return k == 0 ? b->obs->value[i] / b->tg->value_scale
			      : b->obs->cost[i] / b->tg->cost_scale;
	}
	double g = b->gate[((size_t)r * b->J + j) * 2 + k];
	*wgt = b->p->pseudo_weight;
	return g * b->T[at] + (1 - g) * b->O[at];
}

/* L_PL on the n rows of b->in with b->gate; its gradient into the
 * target's layers.  @returns the loss, or NAN when out of memory. */
static double lower_grad(bi_t *b, int n)
{
	const int J = b->J;
	const double *o = bd_nn_forward(b->tg->nn, b->in, n * J);
	if (!o)
		return NAN;
	double loss = 0;
	for (int r = 0; r < n; r++)
		for (int j = 0; j < J; j++)
			for (int k = 0; k < 2; k++) {
				size_t a = ((size_t)r * J + j) * 2 + k;
				double wgt, y = label(b, r, j, k, &wgt), diff = o[a] - y;
				loss += wgt * diff * diff / n;
				b->dout[a] = 2 * wgt * diff / n;
			}
	bd_nn_backward(b->tg->nn, b->in, b->dout, n * J, NULL);
	return loss;
}

/* grad_theta L_DL on a random RCT batch, into @p g. */
static int upper_grad(bi_t *b, double *g)
{
	const bd_tsm_data_t *d = b->rct;
	const int J = b->J, n = b->p->rct_batch < d->n ? b->p->rct_batch : d->n;
	int *idx = malloc(sizeof(int) * (size_t)n);
	if (!idx)
		return -ENOMEM;
	pick(b, d->n, n, idx);
	build(b, d, idx, n, b->in_rct);
	const double *o = bd_nn_forward(b->tg->nn, b->in_rct, n * J);
	if (!o) {
		free(idx);
		return -ENOMEM;
	}
	memset(b->dout, 0, sizeof(double) * (size_t)n * J * 2);
	for (int r = 0; r < n; r++) {
		int i = idx[r];
		bd__pll_grad(b->tg, d, i, o + (size_t)r * J * 2, b->dout + (size_t)r * J * 2,
			     (double)d->n / b->nt[d->t[i]], 1.0 / n, b->lam, 3, b->p->tau);
	}
	bd_nn_backward(b->tg->nn, b->in_rct, b->dout, n * J, NULL);
	flat_grads(b->tg->nn, g);
	free(idx);
	return 0;
}

/* The finite-difference step for direction @p v. */
static double fd_step(const bi_t *b, const double *v)
{
	double nv = sqrt(dot(v, v, b->np));
	return nv > 0 ? b->p->fd_eps * (1 + flat_norm(b->tg->nn)) / nv : 0;
}

/* The target's outputs on the n rows of b->in at theta + e x and theta -
 * e x into b->fp and b->fm; theta is left as it was. */
static int outputs_pm(bi_t *b, int n, const double *x, double e)
{
	const size_t no = (size_t)n * b->J * 2;
	flat_axpy(b->tg->nn, e, x);
	const double *o = bd_nn_forward(b->tg->nn, b->in, n * b->J);
	if (o)
		memcpy(b->fp, o, sizeof(double) * no);
	flat_axpy(b->tg->nn, -2 * e, x);
	const double *o2 = o ? bd_nn_forward(b->tg->nn, b->in, n * b->J) : NULL;
	if (o2)
		memcpy(b->fm, o2, sizeof(double) * no);
	flat_axpy(b->tg->nn, e, x);
	return o && o2 ? 0 : -ENOMEM;
}

/* (G + mu I) v on the n rows of b->in into @p gv, G = J' D J the
 * Gauss-Newton matrix of L_PL (D = 2 w / n per output): J v by a central
 * difference of the outputs, then J' (D J v) by one backward pass. */
static int gnvp(bi_t *b, int n, const double *v, double *gv)
{
	const int J = b->J;
	double e = fd_step(b, v);
	int err;
	if (e == 0) {
		memset(gv, 0, sizeof(double) * b->np);
		return 0;
	}
	if ((err = outputs_pm(b, n, v, e)))
		return err;
	for (int r = 0; r < n; r++)
		for (int j = 0; j < J; j++)
			for (int k = 0; k < 2; k++) {
				size_t a = ((size_t)r * J + j) * 2 + k;
				double wgt;
				(void)label(b, r, j, k, &wgt);
				b->dout[a] = 2 * wgt / n * (b->fp[a] - b->fm[a]) / (2 * e);
			}
	if (!bd_nn_forward(b->tg->nn, b->in, n * J))
		return -ENOMEM;
	bd_nn_backward(b->tg->nn, b->in, b->dout, n * J, NULL);
	flat_grads(b->tg->nn, gv);
	for (size_t i = 0; i < b->np; i++)
		gv[i] += b->p->damping * v[i];
	return 0;
}

/* (H + mu I) v on the n rows of b->in, into @p hv (scratch: @p g2). */
static int hvp(bi_t *b, int n, const double *v, double *hv, double *g2)
{
	double e = fd_step(b, v);
	if (e == 0) {
		memset(hv, 0, sizeof(double) * b->np);
		return 0;
	}
	flat_axpy(b->tg->nn, e, v);
	double l1 = lower_grad(b, n);
	flat_grads(b->tg->nn, hv);
	flat_axpy(b->tg->nn, -2 * e, v);
	double l2 = lower_grad(b, n);
	flat_grads(b->tg->nn, g2);
	flat_axpy(b->tg->nn, e, v);
	if (isnan(l1) || isnan(l2))
		return -ENOMEM;
	for (size_t i = 0; i < b->np; i++)
		hv[i] = (hv[i] - g2[i]) / (2 * e) + b->p->damping * v[i];
	return 0;
}

/* The mixed product d/dphi (grad_theta L_PL . x) times @p sign into the
 * bridge's gradients, for the n rows of b->in: only the pseudo-label terms
 * depend on phi, dL_PL/dgate = -2 pw (F - y) (T - O) / n, whose derivative
 * along x needs the target's outputs at theta +- e x.  Leaves theta as it
 * was.  @returns 0, 1 when x is 0 (nothing set), or -ENOMEM. */
static int mixed_backward(bi_t *b, int n, const double *x, double sign)
{
	const int J = b->J;
	double e = fd_step(b, x);
	if (e == 0)
		return 1;
	int err = outputs_pm(b, n, x, e);
	if (err)
		return err;
	for (int rw = 0; rw < n; rw++)
		for (int j = 0; j < J; j++)
			for (int k = 0; k < 2; k++) {
				size_t a = ((size_t)rw * J + j) * 2 + k;
				size_t at = ((size_t)b->rows[rw] * J + j) * 2 + k;
				b->dout[a] = j == b->obs->t[b->rows[rw]]
						     ? 0
						     : sign * -2 * b->p->pseudo_weight *
							       (b->fp[a] - b->fm[a]) / (2 * e) *
							       (b->T[at] - b->O[at]) / n;
			}
	/* the bridge's activations for these rows, then its backward pass */
	if ((err = gates(b, n)))
		return err;
	bd_nn_backward(b->br, b->in, b->dout, n * J, NULL);
	return 0;
}

/* One upper step: the hypergradient on the bridge and its Adam step. */
static int upper_step(bi_t *b, bd_nn_adam_t *adam, double *work, bd_bidfcl_stats_t *st)
{
	const size_t np = b->np;
	const int n = b->p->hyper_batch;
	double *g = work, *x = g + np, *r = x + np, *pd = r + np, *ap = pd + np, *g2 = ap + np;
	int err;

	pick(b, b->obs->n, n, b->rows);
	build(b, b->obs, b->rows, n, b->in);
	if ((err = gates(b, n)) || (err = upper_grad(b, g)))
		return err;
	/* CG on (H + mu I) x = g from x = 0 */
	double gg = dot(g, g, np), rr = gg;
	memset(x, 0, sizeof(double) * np);
	memcpy(r, g, sizeof(double) * np);
	memcpy(pd, g, sizeof(double) * np);
	int it;
	for (it = 0; it < b->p->cg_iters && rr > 1e-24 * gg; it++) {
		if ((err = b->p->full_hessian ? hvp(b, n, pd, ap, g2) : gnvp(b, n, pd, ap)))
			return err;
		double pap = dot(pd, ap, np);
		if (!(pap > 0)) {
			st->negative_curvature++;
			if (it == 0) /* no curvature information: a gradient step */
				for (size_t i = 0; i < np; i++)
					x[i] = g[i] / (1 + b->p->damping);
			break;
		}
		double a = rr / pap, rn = 0;
		for (size_t i = 0; i < np; i++) {
			x[i] += a * pd[i];
			r[i] -= a * ap[i];
			rn += r[i] * r[i];
		}
		for (size_t i = 0; i < np; i++)
			pd[i] = r[i] + rn / rr * pd[i];
		rr = rn;
	}
	st->cg_iters += it;
	st->cg_rel_resid += gg > 0 ? sqrt(rr / gg) : 0;
	/* the hypergradient: minus the mixed product along x */
	if ((err = mixed_backward(b, n, x, -1)))
		return err < 0 ? err : 0;
	bd_nn_adam_step(b->br, adam);
	st->upper_steps++;
	return 0;
}

static void bi_free(bi_t *b)
{
	bd_tsm_free(b->tg);
	bd_nn_free(b->br);
	free(b->T);
	free(b->O);
	free(b->in);
	free(b->in_rct);
	free(b->dout);
	free(b->gate);
	free(b->fp);
	free(b->fm);
	free(b->rows);
	memset(b, 0, sizeof(*b));
}

/* Validation, the warm start (TSM-SL on the observational set), the frozen
 * predictions, the lambdas and a fresh bridge. */
static int bi_init(bi_t *b, const bd_tsm_data_t *obs, const bd_tsm_data_t *rct,
		   bd_tsm_t *teacher, const bd_tsm_params_t *tp, const bd_bidfcl_params_t *p)
{
	double *rh = NULL, *ch = NULL;
	int err;

	memset(b, 0, sizeof(*b));
	if (obs->n < 2 || rct->n < 2 || obs->j < 2 || obs->j > 64 || rct->j != obs->j ||
	    rct->dim != obs->dim || teacher->dim != obs->dim || teacher->j != obs->j ||
	    p->outer < 0 || p->inner < 1 || p->cg_iters < 1 || p->batch < 1 ||
	    p->hyper_batch < 1 || p->rct_batch < 1 || p->bridge_hidden < 1 || !(p->tau > 0) ||
	    !(p->lr > 0) || !(p->bridge_lr > 0) || !(p->fd_eps > 0) || p->damping < 0 ||
	    p->pseudo_weight < 0)
		return BD_EINVAL;
	*b = (bi_t){.obs = obs, .rct = rct, .p = p, .J = obs->j, .rng = p->seed};
	const int J = obs->j, n_in = p->batch > p->hyper_batch ? p->batch : p->hyper_batch;
	const int n_out = n_in > p->rct_batch ? n_in : p->rct_batch;
	const size_t no = (size_t)obs->n * J * 2;
	if ((err = bd_tsm_train(obs, tp, &b->tg)))
		goto out;
	b->width = obs->dim + J;
	b->np = bd_nn_params(b->tg->nn);
	err = -ENOMEM;
	if (!(b->T = malloc(sizeof(double) * no)) || !(b->O = malloc(sizeof(double) * no)) ||
	    !(rh = malloc(sizeof(double) * (size_t)obs->n * J)) ||
	    !(ch = malloc(sizeof(double) * (size_t)obs->n * J)) ||
	    !(b->in = malloc(sizeof(double) * (size_t)n_in * J * b->width)) ||
	    !(b->in_rct = malloc(sizeof(double) * (size_t)p->rct_batch * J * b->width)) ||
	    !(b->dout = malloc(sizeof(double) * (size_t)n_out * J * 2)) ||
	    !(b->gate = malloc(sizeof(double) * (size_t)n_in * J * 2)) ||
	    !(b->fp = malloc(sizeof(double) * (size_t)n_in * J * 2)) ||
	    !(b->fm = malloc(sizeof(double) * (size_t)n_in * J * 2)) ||
	    !(b->rows = malloc(sizeof(int) * (size_t)n_in)))
		goto out;
	/* frozen predictions, in the target's scaled units */
	for (int pass = 0; pass < 2; pass++) {
		bd_tsm_t *m = pass ? b->tg : teacher;
		double *dst = pass ? b->O : b->T;
		if ((err = bd_tsm_predict(m, obs->x, obs->n, rh, ch)))
			goto out;
		for (size_t i = 0; i < (size_t)obs->n * J; i++) {
			dst[2 * i] = rh[i] / b->tg->value_scale;
			dst[2 * i + 1] = ch[i] / b->tg->cost_scale;
		}
	}
	for (int i = 0; i < rct->n; i++)
		b->nt[rct->t[i]]++;
	if ((err = bd__tsm_warm_lambdas(teacher, rct, b->lam)))
		goto out;
	int sizes[3] = {b->width, p->bridge_hidden, 2};
	bd_nn_act_t acts[2] = {BD_NN_RELU, BD_NN_SIGMOID};
	err = bd_nn_new(2, sizes, acts, p->seed ^ 0xb1dfc1ULL, &b->br);
out:
	free(rh);
	free(ch);
	if (err)
		bi_free(b);
	return err;
}

int bd_bidfcl_train(const bd_tsm_data_t *obs, const bd_tsm_data_t *rct, bd_tsm_t *teacher,
		    const bd_tsm_params_t *tp, const bd_bidfcl_params_t *p, bd_tsm_t **out,
		    bd_bidfcl_stats_t *st)
{
	bi_t b;
	bd_bidfcl_stats_t stats = {0};
	double *work = NULL;
	int err;

	*out = NULL;
	double t0 = seconds();
	if ((err = bi_init(&b, obs, rct, teacher, tp, p)))
		return err;
	const int J = obs->j, n_in = p->batch > p->hyper_batch ? p->batch : p->hyper_batch;
	err = -ENOMEM;
	if (!(work = malloc(sizeof(double) * b.np * 6)))
		goto out;
	stats.seconds_warm = seconds() - t0;

	bd_nn_adam_t at, ab;
	bd_nn_adam_default(&at);
	at.lr = p->lr;
	at.l2 = tp->l2;
	bd_nn_adam_default(&ab);
	ab.lr = p->bridge_lr;
	for (int s = 0; s < p->outer; s++) {
		for (int k = 0; k < p->inner; k++) {
			pick(&b, obs->n, p->batch, b.rows);
			build(&b, obs, b.rows, p->batch, b.in);
			if ((err = gates(&b, p->batch)))
				goto out;
			if (isnan(lower_grad(&b, p->batch))) {
				err = -ENOMEM;
				goto out;
			}
			bd_nn_adam_step(b.tg->nn, &at);
		}
		if ((err = upper_step(&b, &ab, work, &stats)))
			goto out;
	}
	/* the gates where they ended, on (up to) 4096 observational rows */
	int n_seen = 0;
	for (int s = 0; s < obs->n && n_seen < 4096; s += n_in) {
		int m = obs->n - s < n_in ? obs->n - s : n_in;
		for (int r = 0; r < m; r++)
			b.rows[r] = s + r;
		build(&b, obs, b.rows, m, b.in);
		if ((err = gates(&b, m)))
			goto out;
		for (int a = 0; a < m * J; a++) {
			stats.gate_value += b.gate[2 * a];
			stats.gate_cost += b.gate[2 * a + 1];
		}
		n_seen += m;
	}
	stats.gate_value /= (double)n_seen * J;
	stats.gate_cost /= (double)n_seen * J;
	if (stats.upper_steps)
		stats.cg_rel_resid /= stats.upper_steps;
	stats.seconds_bilevel = seconds() - t0 - stats.seconds_warm;
	*out = b.tg;
	b.tg = NULL;
	if (st)
		*st = stats;
	err = 0;
out:
	bi_free(&b);
	free(work);
	return err;
}

/* L_PL alone at the current parameters on the n rows of b->in. */
static double lower_loss(bi_t *b, int n)
{
	return lower_grad(b, n); /* the backward pass it also runs is harmless */
}

int bd_bidfcl_check(const bd_tsm_data_t *obs, const bd_tsm_data_t *rct, bd_tsm_t *teacher,
		    const bd_tsm_params_t *tp, const bd_bidfcl_params_t *p,
		    double *hvp_rel_err, double *gn_sym_err, double *gn_vgv,
		    double *mixed_rel_err)
{
	bi_t b;
	double *v = NULL, *hv = NULL, *g2 = NULL;
	int err;

	if ((err = bi_init(&b, obs, rct, teacher, tp, p)))
		goto out;
	const size_t np = b.np;
	const int n = p->hyper_batch;
	err = -ENOMEM;
	if (!(v = calloc(np, sizeof(double))) || !(hv = malloc(sizeof(double) * np)) ||
	    !(g2 = malloc(sizeof(double) * np)))
		goto out;
	pick(&b, obs->n, n, b.rows);
	build(&b, obs, b.rows, n, b.in);
	if ((err = gates(&b, n)))
		goto out;
	for (size_t i = 0; i < np; i++)
		v[i] = bd_hash_unit(bd_hash_next(&b.rng)) - 0.5;
	/* v'Hv two ways: from the finite-difference HVP (damping removed),
	 * and as the second difference of the loss along v */
	if ((err = hvp(&b, n, v, hv, g2)))
		goto out;
	double vhv = 0;
	for (size_t i = 0; i < np; i++)
		vhv += v[i] * (hv[i] - p->damping * v[i]);
	double h = 1e-3 * (1 + flat_norm(b.tg->nn)) / sqrt(dot(v, v, np));
	double l0 = lower_loss(&b, n);
	flat_axpy(b.tg->nn, h, v);
	double lp = lower_loss(&b, n);
	flat_axpy(b.tg->nn, -2 * h, v);
	double lm = lower_loss(&b, n);
	flat_axpy(b.tg->nn, h, v);
	double vhv2 = (lp - 2 * l0 + lm) / (h * h);
	*hvp_rel_err = fabs(vhv - vhv2) / fmax(fabs(vhv2), 1e-300);
	/* Gauss-Newton: symmetric and positive (damping removed) */
	for (size_t i = 0; i < np; i++)
		g2[i] = bd_hash_unit(bd_hash_next(&b.rng)) - 0.5; /* u */
	if ((err = gnvp(&b, n, v, hv)))
		goto out;
	double ugv = 0, vgv = 0;
	for (size_t i = 0; i < np; i++) {
		ugv += g2[i] * (hv[i] - p->damping * v[i]);
		vgv += v[i] * (hv[i] - p->damping * v[i]);
	}
	if ((err = gnvp(&b, n, g2, hv)))
		goto out;
	double vgu = 0;
	for (size_t i = 0; i < np; i++)
		vgu += v[i] * (hv[i] - p->damping * g2[i]);
	*gn_sym_err = fabs(ugv - vgu) / fmax(fabs(ugv), 1e-300);
	*gn_vgv = vgv;
	/* the mixed product d/dphi (grad_theta L_PL . v), by the bridge's
	 * backward pass as in upper_step (unnegated), against central
	 * differences over a few bridge weights */
	if ((err = mixed_backward(&b, n, v, 1)))
		goto out;
	double worst = 0, scale = 0;
	bd_nn_layer_t *L = &b.br->layer[0];
	const size_t nw = (size_t)L->in * (size_t)L->out;
	for (int q = 0; q < 8; q++) {
		size_t wi = (size_t)(bd_hash_unit(bd_hash_next(&b.rng)) * nw);
		double analytic = L->gw[wi], w0 = L->w[wi], d = 1e-4, f[2];
		for (int s = 0; s < 2; s++) {
			L->w[wi] = w0 + (s ? -d : d);
			if ((err = gates(&b, n)))
				goto out;
			/* grad_theta L_PL . v by the gradient at these gates */
			if (isnan(lower_grad(&b, n))) {
				err = -ENOMEM;
				goto out;
			}
			flat_grads(b.tg->nn, hv);
			f[s] = dot(hv, v, np);
		}
		L->w[wi] = w0;
		double numeric = (f[0] - f[1]) / (2 * d);
		worst = fmax(worst, fabs(analytic - numeric));
		scale = fmax(scale, fabs(numeric));
	}
	*mixed_rel_err = worst / fmax(scale, 1e-300);
	err = 0;
out:
	bi_free(&b);
	free(v);
	free(hv);
	free(g2);
	return err;
}
