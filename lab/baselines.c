/**
 * @file baselines.c
 * @brief TSM-SL: an S-learner of value and cost (see baselines.h).
 */
#include "budgetd/lab/baselines.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/hash.h"
#include "baselines_int.h"

void bd_tsm_params_default(bd_tsm_params_t *p)
{
	*p = (bd_tsm_params_t){.hidden = 64, .epochs = 10, .batch = 256, .lr = 3e-3,
			       .l2 = 1e-5, .max_ipw = 50, .seed = 1};
}

void bd_tsm_free(bd_tsm_t *m)
{
	if (!m)
		return;
	bd_nn_free(m->nn);
	free(m->mean);
	free(m->scale);
	free(m);
}

/* Row i's input: normalised features, then the one-hot treatment. */
void bd__tsm_input_row(const bd_tsm_t *m, const float *x, int t, double *in)
{
	for (int k = 0; k < m->dim; k++)
		in[k] = ((double)x[k] - m->mean[k]) / m->scale[k];
	for (int u = 0; u < m->j; u++)
		in[m->dim + u] = u == t;
}

int bd_tsm_train(const bd_tsm_data_t *d, const bd_tsm_params_t *p, bd_tsm_t **out)
{
	bd_tsm_t *m = NULL;
	double *in = NULL, *tgt = NULL, *w = NULL, *dout = NULL;
	int *idx = NULL, err = -ENOMEM;
	const int width = d->dim + d->j;

	*out = NULL;
	if (d->n < 2 || d->dim < 1 || d->j < 1 || p->batch < 1 || p->epochs < 1 || p->hidden < 1)
		return BD_EINVAL;
	if (!(m = calloc(1, sizeof(*m))) || !(m->mean = calloc((size_t)d->dim, sizeof(double))) ||
	    !(m->scale = calloc((size_t)d->dim, sizeof(double))) ||
	    !(in = malloc(sizeof(double) * (size_t)p->batch * width)) ||
	    !(tgt = malloc(sizeof(double) * (size_t)p->batch * 2)) ||
	    !(w = malloc(sizeof(double) * (size_t)p->batch)) ||
	    !(dout = malloc(sizeof(double) * (size_t)p->batch * 2)) ||
	    !(idx = malloc(sizeof(int) * (size_t)d->n)))
		goto fail;
	m->dim = d->dim;
	m->j = d->j;
	double vs = 0, cs = 0;
	for (int i = 0; i < d->n; i++) {
		for (int k = 0; k < d->dim; k++)
			m->mean[k] += d->x[(size_t)i * d->dim + k];
		vs += d->value[i] * d->value[i];
		cs += d->cost[i] * d->cost[i];
	}
	for (int k = 0; k < d->dim; k++)
		m->mean[k] /= d->n;
	for (int i = 0; i < d->n; i++)
		for (int k = 0; k < d->dim; k++) {
			double z = d->x[(size_t)i * d->dim + k] - m->mean[k];
			m->scale[k] += z * z;
		}
	for (int k = 0; k < d->dim; k++)
		m->scale[k] = sqrt(m->scale[k] / d->n) + 1e-9;
	m->value_scale = vs > 0 ? sqrt(vs / d->n) : 1;
	m->cost_scale = cs > 0 ? sqrt(cs / d->n) : 1;
	int sizes[4] = {width, p->hidden, p->hidden, 2};
	bd_nn_act_t acts[3] = {BD_NN_RELU, BD_NN_RELU, BD_NN_LINEAR};
	if ((err = bd_nn_new(3, sizes, acts, p->seed, &m->nn)))
		goto fail;
	bd_nn_adam_t adam;
	bd_nn_adam_default(&adam);
	adam.lr = p->lr;
	adam.l2 = p->l2;
	uint64_t rng = p->seed;
	for (int i = 0; i < d->n; i++)
		idx[i] = i;
	for (int e = 0; e < p->epochs; e++) {
		bd_nn_shuffle(idx, d->n, &rng);
		for (int s = 0; s < d->n; s += p->batch) {
			int b = d->n - s < p->batch ? d->n - s : p->batch;
			for (int r = 0; r < b; r++) {
				int i = idx[s + r];
				bd__tsm_input_row(m, d->x + (size_t)i * d->dim, d->t[i], in + (size_t)r * width);
				tgt[2 * r] = d->value[i] / m->value_scale;
				tgt[2 * r + 1] = d->cost[i] / m->cost_scale;
				double ipw = 1 / d->p[i];
				w[r] = ipw < p->max_ipw ? ipw : p->max_ipw;
			}
			const double *o = bd_nn_forward(m->nn, in, b);
			err = -ENOMEM;
			if (!o)
				goto fail;
			bd_nn_loss_mse(o, tgt, w, NULL, b, 2, dout);
			bd_nn_backward(m->nn, in, dout, b, NULL);
			bd_nn_adam_step(m->nn, &adam);
		}
	}
	free(in);
	free(tgt);
	free(w);
	free(dout);
	free(idx);
	*out = m;
	return 0;
fail:
	free(in);
	free(tgt);
	free(w);
	free(dout);
	free(idx);
	bd_tsm_free(m);
	return err;
}

int bd_tsm_clone(const bd_tsm_t *m, bd_tsm_t **out)
{
	bd_tsm_t *c = NULL;
	int err = -ENOMEM;
	*out = NULL;
	if (!(c = calloc(1, sizeof(*c))) || !(c->mean = malloc(sizeof(double) * (size_t)m->dim)) ||
	    !(c->scale = malloc(sizeof(double) * (size_t)m->dim)) ||
	    (err = bd_nn_clone(m->nn, &c->nn))) {
		bd_tsm_free(c);
		return err;
	}
	c->dim = m->dim;
	c->j = m->j;
	memcpy(c->mean, m->mean, sizeof(double) * (size_t)m->dim);
	memcpy(c->scale, m->scale, sizeof(double) * (size_t)m->dim);
	c->value_scale = m->value_scale;
	c->cost_scale = m->cost_scale;
	*out = c;
	return 0;
}

int bd_tsm_predict(bd_tsm_t *m, const float *x, int n, double *r_hat, double *c_hat)
{
	enum { CHUNK = 256 };
	const int width = m->dim + m->j;
	double *in = malloc(sizeof(double) * (size_t)CHUNK * width);
	if (!in)
		return -ENOMEM;
	/* one pass per treatment over chunks of rows */
	for (int t = 0; t < m->j; t++)
		for (int s = 0; s < n; s += CHUNK) {
			int b = n - s < CHUNK ? n - s : CHUNK;
			for (int r = 0; r < b; r++)
				bd__tsm_input_row(m, x + (size_t)(s + r) * m->dim, t, in + (size_t)r * width);
			const double *o = bd_nn_forward(m->nn, in, b);
			if (!o) {
				free(in);
				return -ENOMEM;
			}
			for (int r = 0; r < b; r++) {
				r_hat[(size_t)(s + r) * m->j + t] = o[2 * r] * m->value_scale;
				/* treatment 0, the control, gives no incentive: it
				 * costs nothing; an incentive costs something (a
				 * predicted 0 would make it free at every price) */
				c_hat[(size_t)(s + r) * m->j + t] =
					t == 0 ? 0
					       : fmax(1e-6 * m->cost_scale, o[2 * r + 1] * m->cost_scale);
			}
		}
	free(in);
	return 0;
}

/* ---- DFCL-PL ------------------------------------------------------------------ */

void bd_dfcl_params_default(bd_dfcl_params_t *p)
{
	*p = (bd_dfcl_params_t){.alpha = 1, .tau = 0.1, .lr = 1e-4, .epochs = 5, .batch = 256,
				.n_lambda = 0, .ifd = 0, .delta_min = 0.05, .seed = 1};
}

/* The lambdas at which the predictions spend 30, 50 and 70% of what
 * maximising predicted value spends, per capita over the training rows. */
int bd__tsm_warm_lambdas(bd_tsm_t *m, const bd_tsm_data_t *d, double *lam)
{
	const int J = d->j;
	double *rh = malloc(sizeof(double) * (size_t)d->n * J),
	       *ch = malloc(sizeof(double) * (size_t)d->n * J);
	int err = -ENOMEM;
	if (!rh || !ch || (err = bd_tsm_predict(m, d->x, d->n, rh, ch)))
		goto out;
	/* spend per capita of the argmax policy at lambda */
#define SPEND(lambda, out)                                                              \
	do {                                                                            \
		double sum_ = 0;                                                        \
		for (int i_ = 0; i_ < d->n; i_++) {                                      \
			int z_ = 0;                                                     \
			for (int t_ = 1; t_ < J; t_++)                                  \
				if (rh[i_ * J + t_] - (lambda)*ch[i_ * J + t_] >           \
				    rh[i_ * J + z_] - (lambda)*ch[i_ * J + z_])            \
					z_ = t_;                                        \
			sum_ += ch[i_ * J + z_];                                        \
		}                                                                       \
		(out) = sum_ / d->n;                                                    \
	} while (0)
	double s0;
	SPEND(0.0, s0);
	const double frac[3] = {0.3, 0.5, 0.7};
	for (int f = 0; f < 3; f++) {
		double lo = 0, hi = 1, s;
		for (int it = 0; it < 60; it++) {
			SPEND(hi, s);
			if (s <= frac[f] * s0)
				break;
			lo = hi;
			hi *= 2;
		}
		for (int it = 0; it < 50; it++) {
			double mid = 0.5 * (lo + hi);
			SPEND(mid, s);
			if (s <= frac[f] * s0)
				hi = mid;
			else
				lo = mid;
		}
		lam[f] = hi;
	}
#undef SPEND
	err = 0;
out:
	free(rh);
	free(ch);
	return err;
}

/* A decision term's gradient for row @p i: adds dLoss/d(scaled outputs)
 * into @p di (J x 2) given the row's outputs @p oi; @p w = N / N_{t_i}
 * (the row's inverse arm share), @p inv_b = 1 / batch size. */
typedef void (*row_grad_fn)(const bd_tsm_t *m, const bd_tsm_data_t *d, int i, const double *oi,
			    double *di, double w, double inv_b, const double *lam, int n_lam,
			    void *ctx, uint64_t *rng);

/* Fine-tuning shared by DFCL and the end-to-end method: mini-batches of
 * every arm of every row (row (r, j) at r * J + j), alpha L_PL on the
 * factual arm, the decision term of @p fn, Adam. */
static int finetune(bd_tsm_t *m, const bd_tsm_data_t *d, double alpha, double lr, int epochs,
		    int batch, uint64_t seed, const double *lam, int n_lam, row_grad_fn fn,
		    void *ctx)
{
	const int J = d->j, width = d->dim + d->j;
	double nt[64] = {0}, *in = NULL, *dout = NULL;
	int *idx = NULL, err = -ENOMEM;

	for (int i = 0; i < d->n; i++)
		nt[d->t[i]]++;
	if (!(in = malloc(sizeof(double) * (size_t)batch * J * width)) ||
	    !(dout = malloc(sizeof(double) * (size_t)batch * J * 2)) ||
	    !(idx = malloc(sizeof(int) * (size_t)d->n)))
		goto out;
	bd_nn_adam_t adam;
	bd_nn_adam_default(&adam);
	adam.lr = lr;
	uint64_t rng = seed;
	for (int i = 0; i < d->n; i++)
		idx[i] = i;
	const double vs = m->value_scale, cs = m->cost_scale;
	for (int e = 0; e < epochs; e++) {
		bd_nn_shuffle(idx, d->n, &rng);
		for (int s = 0; s < d->n; s += batch) {
			int b = d->n - s < batch ? d->n - s : batch;
			for (int r = 0; r < b; r++)
				for (int j = 0; j < J; j++)
					bd__tsm_input_row(m, d->x + (size_t)idx[s + r] * d->dim, j,
						  in + ((size_t)r * J + j) * width);
			const double *o = bd_nn_forward(m->nn, in, b * J);
			if (!o)
				goto out;
			memset(dout, 0, sizeof(double) * (size_t)b * J * 2);
			for (int r = 0; r < b; r++) {
				int i = idx[s + r], t = d->t[i];
				double aw = (double)d->n / (J * nt[t]); /* 1 on a balanced RCT */
				const double *oi = o + (size_t)r * J * 2;
				double *di = dout + (size_t)r * J * 2;
				di[2 * t] += alpha * aw * 2 * (oi[2 * t] - d->value[i] / vs) / b;
				di[2 * t + 1] += alpha * aw * 2 * (oi[2 * t + 1] - d->cost[i] / cs) / b;
				fn(m, d, i, oi, di, (double)d->n / nt[t], 1.0 / b, lam, n_lam, ctx,
				   &rng);
			}
			bd_nn_backward(m->nn, in, dout, b * J, NULL);
			bd_nn_adam_step(m->nn, &adam);
		}
	}
	err = 0;
out:
	free(in);
	free(dout);
	free(idx);
	return err;
}

void bd__pll_grad(const bd_tsm_t *m, const bd_tsm_data_t *d, int i, const double *oi,
		  double *di, double w, double inv_b, const double *lam, int n_lam, double tau)
{
	const int J = d->j, t = d->t[i];
	const double vs = m->value_scale, cs = m->cost_scale;
	for (int l = 0; l < n_lam; l++) {
		double sc[64], mx = -INFINITY, z = 0;
		for (int j = 0; j < J; j++) {
			sc[j] = (oi[2 * j] * vs - lam[l] * oi[2 * j + 1] * cs) / tau;
			mx = fmax(mx, sc[j]);
		}
		for (int j = 0; j < J; j++)
			z += (sc[j] = exp(sc[j] - mx));
		double g = -w * (d->value[i] - lam[l] * d->cost[i]) * inv_b, pt = sc[t] / z;
		for (int j = 0; j < J; j++) {
			double ds = g * pt * ((j == t) - sc[j] / z);
			di[2 * j] += ds * vs / tau;
			di[2 * j + 1] += ds * (-lam[l] * cs) / tau;
		}
	}
}

/* DFCL's L_PLL: minus the softmax policy's IPW value at each lambda. */
static void dfcl_grad(const bd_tsm_t *m, const bd_tsm_data_t *d, int i, const double *oi,
		      double *di, double w, double inv_b, const double *lam, int n_lam, void *ctx,
		      uint64_t *rng)
{
	const bd_dfcl_params_t *p = ctx;
	(void)rng;
	bd__pll_grad(m, d, i, oi, di, w, inv_b, lam, n_lam, p->tau);
}

/* DFCL-IFD: the dual decision loss L = - w (r - lambda c) 1[argmax_j s_j =
 * t], s_j = r_hat_j - lambda c_hat_j, has no gradient; its finite
 * difference per score is taken over the smallest change of that score
 * that changes the argmax: raising a losing s_j to the winner's s_z (the
 * decision becomes j), or lowering the winner to the runner-up (it becomes
 * the runner-up).  dL/ds_j ~ (L(after) - L(now)) / (change), the change at
 * least p->delta_min value units so near-ties do not explode. */
static void ifd_grad(const bd_tsm_t *m, const bd_tsm_data_t *d, int i, const double *oi,
		     double *di, double w, double inv_b, const double *lam, int n_lam, void *ctx,
		     uint64_t *rng)
{
	const bd_dfcl_params_t *p = ctx;
	const int J = d->j, t = d->t[i];
	const double vs = m->value_scale, cs = m->cost_scale;
	(void)rng;
	for (int l = 0; l < n_lam; l++) {
		double s[64], gain = w * (d->value[i] - lam[l] * d->cost[i]);
		int z = 0, z2 = -1;
		for (int j = 0; j < J; j++)
			s[j] = oi[2 * j] * vs - lam[l] * oi[2 * j + 1] * cs;
		for (int j = 1; j < J; j++)
			if (s[j] > s[z])
				z = j;
		for (int j = 0; j < J; j++)
			if (j != z && (z2 < 0 || s[j] > s[z2]))
				z2 = j;
		/* L(a) = -gain when the decision a is the logged arm, else 0 */
		const double lz = z == t ? -gain : 0;
		for (int j = 0; j < J; j++) {
			double g;
			if (j == z) {
				double lo = z2 == t ? -gain : 0;
				g = (lo - lz) / -fmax(s[z] - s[z2], p->delta_min);
			} else {
				double lj = j == t ? -gain : 0;
				g = (lj - lz) / fmax(s[z] - s[j], p->delta_min);
			}
			double ds = g * inv_b;
			di[2 * j] += ds * vs;
			di[2 * j + 1] += ds * (-lam[l] * cs);
		}
	}
}

int bd_dfcl_finetune(bd_tsm_t *m, const bd_tsm_data_t *d, const bd_dfcl_params_t *p)
{
	double lam[8];
	int n_lam = p->n_lambda, err;

	if (d->n < 2 || d->j < 2 || d->j > 64 || p->batch < 1 || p->epochs < 1 ||
	    !(p->tau > 0) || n_lam < 0 || n_lam > 8 || d->dim != m->dim || d->j != m->j ||
	    (p->ifd && !(p->delta_min > 0)))
		return BD_EINVAL;
	if (n_lam == 0) {
		if ((err = bd__tsm_warm_lambdas(m, d, lam)))
			return err;
		n_lam = 3;
	} else {
		for (int l = 0; l < n_lam; l++)
			lam[l] = p->lambda[l];
	}
	return finetune(m, d, p->alpha, p->lr, p->epochs, p->batch, p->seed, lam, n_lam,
			p->ifd ? ifd_grad : dfcl_grad, (void *)p);
}

/* ---- end-to-end (perturbation gradient) --------------------------------------- */

static double normal(uint64_t *s)
{
	double u1 = bd_hash_unit(bd_hash_next(s)), u2 = bd_hash_unit(bd_hash_next(s));
	return sqrt(-2 * log(1 - u1)) * cos(6.283185307179586 * u2);
}

void bd_e2e_params_default(bd_e2e_params_t *p)
{
	*p = (bd_e2e_params_t){.alpha = 1, .beta = 1, .sigma = 0.05, .lr = 1e-4, .pairs = 8,
			       .epochs = 5, .batch = 256, .seed = 1};
}

/* The end-to-end goal's gradient: per row, antithetic perturbations of
 * the scores; the row's Lagrangian value counts when the argmax lands on
 * its logged arm. */
static void e2e_grad(const bd_tsm_t *m, const bd_tsm_data_t *d, int i, const double *oi,
		     double *di, double w, double inv_b, const double *lam, int n_lam, void *ctx,
		     uint64_t *rng)
{
	const bd_e2e_params_t *p = ctx;
	const int J = d->j, t = d->t[i];
	const double vs = m->value_scale, cs = m->cost_scale;
	for (int l = 0; l < n_lam; l++) {
		double gain = w * (d->value[i] - lam[l] * d->cost[i]);
		double sc[64], g[64] = {0};
		for (int j = 0; j < J; j++)
			sc[j] = oi[2 * j] * vs - lam[l] * oi[2 * j + 1] * cs;
		for (int k = 0; k < p->pairs; k++) {
			double eps[64];
			for (int j = 0; j < J; j++)
				eps[j] = normal(rng);
			int zp = 0, zm = 0;
			for (int j = 1; j < J; j++) {
				if (sc[j] + p->sigma * eps[j] > sc[zp] + p->sigma * eps[zp])
					zp = j;
				if (sc[j] - p->sigma * eps[j] > sc[zm] - p->sigma * eps[zm])
					zm = j;
			}
			double fp = zp == t ? gain : 0, fm = zm == t ? gain : 0;
			for (int j = 0; j < J; j++)
				g[j] += (fp - fm) * eps[j] / (2 * p->pairs * p->sigma);
		}
		/* minimise -beta G */
		for (int j = 0; j < J; j++) {
			double ds = -p->beta * g[j] * inv_b;
			di[2 * j] += ds * vs;
			di[2 * j + 1] += ds * (-lam[l] * cs);
		}
	}
}

int bd_e2e_finetune(bd_tsm_t *m, const bd_tsm_data_t *d, const bd_e2e_params_t *p)
{
	double lam[3];
	int err;

	if (d->n < 2 || d->j < 2 || d->j > 64 || p->batch < 1 || p->epochs < 1 ||
	    !(p->sigma > 0) || p->pairs < 1 || d->dim != m->dim || d->j != m->j)
		return BD_EINVAL;
	if ((err = bd__tsm_warm_lambdas(m, d, lam)))
		return err;
	return finetune(m, d, p->alpha, p->lr, p->epochs, p->batch, p->seed, lam, 3, e2e_grad,
			(void *)p);
}
