/*
 * Dense layers and their gradients.
 *
 *   forward   z = a_prev W^T + b,  a = act(z)
 *   backward  dz = da * act'(z);  gW = dz^T a_prev;  gb = sum_rows dz;
 *             da_prev = dz W
 * The losses already divide by the number of rows, so gradients are of the
 * mean loss.  act'(z) is computed from a: relu (a > 0), sigmoid a (1 - a).
 */
#include "budgetd/learn/nn.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/hash.h"

static double rng_unit(uint64_t *s)
{
	return bd_hash_unit(bd_hash_next(s));
}

static double rng_normal(uint64_t *s)
{
	double u1 = rng_unit(s), u2 = rng_unit(s);
	return sqrt(-2.0 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
}

void bd_nn_shuffle(int *idx, int n, uint64_t *rng)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(bd_hash_next(rng) % (uint64_t)(i + 1));
		int t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}

void bd_nn_adam_default(bd_nn_adam_t *a)
{
	a->lr = 1e-3;
	a->beta1 = 0.9;
	a->beta2 = 0.999;
	a->eps = 1e-8;
	a->l2 = 0;
}

static void layer_free(bd_nn_layer_t *L)
{
	free(L->w);
	free(L->b);
	free(L->gw);
	free(L->gb);
	free(L->mw);
	free(L->vw);
	free(L->mb);
	free(L->vb);
}

void bd_nn_free(bd_nn_t *nn)
{
	if (!nn)
		return;
	for (int l = 0; l < nn->n_layers; l++) {
		layer_free(&nn->layer[l]);
		if (nn->act)
			free(nn->act[l]);
		if (nn->dact)
			free(nn->dact[l]);
	}
	free(nn->layer);
	free(nn->act);
	free(nn->dact);
	free(nn);
}

static int layer_alloc(bd_nn_layer_t *L, int in, int out, bd_nn_act_t act)
{
	size_t nw = (size_t)in * (size_t)out, nb = (size_t)out;
	L->in = in;
	L->out = out;
	L->act = act;
	L->w = calloc(nw, sizeof(double));
	L->gw = calloc(nw, sizeof(double));
	L->mw = calloc(nw, sizeof(double));
	L->vw = calloc(nw, sizeof(double));
	L->b = calloc(nb, sizeof(double));
	L->gb = calloc(nb, sizeof(double));
	L->mb = calloc(nb, sizeof(double));
	L->vb = calloc(nb, sizeof(double));
	return L->w && L->gw && L->mw && L->vw && L->b && L->gb && L->mb && L->vb
		       ? 0
		       : -ENOMEM;
}

int bd_nn_new(int n_layers, const int *sizes, const bd_nn_act_t *acts,
	      uint64_t seed, bd_nn_t **out)
{
	bd_nn_t *nn;
	uint64_t rng = seed ^ 0x6e6e6e6eULL;

	if (n_layers < 1)
		return BD_EINVAL;
	for (int l = 0; l <= n_layers; l++)
		if (sizes[l] < 1)
			return BD_EINVAL;
	if (!(nn = calloc(1, sizeof(*nn))))
		return -ENOMEM;
	nn->n_layers = n_layers;
	nn->layer = calloc((size_t)n_layers, sizeof(*nn->layer));
	nn->act = calloc((size_t)n_layers, sizeof(*nn->act));
	nn->dact = calloc((size_t)n_layers, sizeof(*nn->dact));
	if (!nn->layer || !nn->act || !nn->dact)
		goto nomem;
	for (int l = 0; l < n_layers; l++) {
		bd_nn_layer_t *L = &nn->layer[l];
		if (layer_alloc(L, sizes[l], sizes[l + 1], acts[l]))
			goto nomem;
		/* He for ReLU, Xavier otherwise */
		double sd = acts[l] == BD_NN_RELU ? sqrt(2.0 / L->in)
						  : sqrt(2.0 / (L->in + L->out));
		for (size_t i = 0; i < (size_t)L->in * (size_t)L->out; i++)
			L->w[i] = sd * rng_normal(&rng);
	}
	*out = nn;
	return 0;
nomem:
	bd_nn_free(nn);
	return -ENOMEM;
}

int bd_nn_clone(const bd_nn_t *nn, bd_nn_t **out)
{
	int sizes[65];
	bd_nn_act_t acts[64];
	bd_nn_t *c;
	int err;

	if (nn->n_layers > 64)
		return BD_EINVAL;
	sizes[0] = nn->layer[0].in;
	for (int l = 0; l < nn->n_layers; l++) {
		sizes[l + 1] = nn->layer[l].out;
		acts[l] = nn->layer[l].act;
	}
	if ((err = bd_nn_new(nn->n_layers, sizes, acts, 0, &c)))
		return err;
	for (int l = 0; l < nn->n_layers; l++) {
		const bd_nn_layer_t *L = &nn->layer[l];
		memcpy(c->layer[l].w, L->w, sizeof(double) * (size_t)L->in * (size_t)L->out);
		memcpy(c->layer[l].b, L->b, sizeof(double) * (size_t)L->out);
	}
	*out = c;
	return 0;
}

size_t bd_nn_params(const bd_nn_t *nn)
{
	size_t n = 0;
	for (int l = 0; l < nn->n_layers; l++)
		n += (size_t)nn->layer[l].out * ((size_t)nn->layer[l].in + 1);
	return n;
}

static int reserve(bd_nn_t *nn, int batch)
{
	if (batch <= nn->cap)
		return 0;
	for (int l = 0; l < nn->n_layers; l++) {
		size_t n = (size_t)batch * (size_t)nn->layer[l].out;
		double *a = realloc(nn->act[l], n * sizeof(double));
		if (!a)
			return -ENOMEM;
		nn->act[l] = a;
		double *d = realloc(nn->dact[l], n * sizeof(double));
		if (!d)
			return -ENOMEM;
		nn->dact[l] = d;
	}
	nn->cap = batch;
	return 0;
}

const double *bd_nn_forward(bd_nn_t *nn, const double *x, int batch)
{
	const double *in = x;

	if (batch < 1 || reserve(nn, batch) != 0)
		return NULL;
	for (int l = 0; l < nn->n_layers; l++) {
		const bd_nn_layer_t *L = &nn->layer[l];
		double *z = nn->act[l];
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, L->out, L->in,
			    1.0, in, L->in, L->w, L->in, 0.0, z, L->out);
		for (int r = 0; r < batch; r++) {
			double *row = z + (size_t)r * L->out;
			for (int j = 0; j < L->out; j++) {
				double v = row[j] + L->b[j];
				if (L->act == BD_NN_RELU)
					v = v > 0 ? v : 0;
				else if (L->act == BD_NN_SIGMOID)
					v = 1.0 / (1.0 + exp(-v));
				row[j] = v;
			}
		}
		in = z;
	}
	return in;
}

const double *bd_nn_activation(const bd_nn_t *nn, int l)
{
	return nn->act[l];
}

void bd_nn_backward(bd_nn_t *nn, const double *x, const double *dout, int batch,
		    double *dx)
{
	const int last = nn->n_layers - 1;

	memcpy(nn->dact[last], dout,
	       sizeof(double) * (size_t)batch * (size_t)nn->layer[last].out);
	for (int l = last; l >= 0; l--) {
		bd_nn_layer_t *L = &nn->layer[l];
		double *dz = nn->dact[l];
		const double *a = nn->act[l];
		const double *prev = l > 0 ? nn->act[l - 1] : x;
		size_t n = (size_t)batch * (size_t)L->out;

		if (L->act == BD_NN_RELU) {
			for (size_t i = 0; i < n; i++)
				if (a[i] <= 0)
					dz[i] = 0;
		} else if (L->act == BD_NN_SIGMOID) {
			for (size_t i = 0; i < n; i++)
				dz[i] *= a[i] * (1 - a[i]);
		}
		cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, L->out, L->in, batch,
			    1.0, dz, L->out, prev, L->in, 0.0, L->gw, L->in);
		memset(L->gb, 0, sizeof(double) * (size_t)L->out);
		for (int r = 0; r < batch; r++)
			for (int j = 0; j < L->out; j++)
				L->gb[j] += dz[(size_t)r * L->out + j];
		double *dprev = l > 0 ? nn->dact[l - 1] : dx;
		if (dprev)
			cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, L->in,
				    L->out, 1.0, dz, L->out, L->w, L->in, 0.0, dprev, L->in);
	}
}

static void adam(double *p, const double *g, double *m, double *v, size_t n,
		 const bd_nn_adam_t *a, double l2, double c1, double c2)
{
	for (size_t i = 0; i < n; i++) {
		double gi = g[i] + l2 * p[i];
		m[i] = a->beta1 * m[i] + (1 - a->beta1) * gi;
		v[i] = a->beta2 * v[i] + (1 - a->beta2) * gi * gi;
		p[i] -= a->lr * (m[i] / c1) / (sqrt(v[i] / c2) + a->eps);
	}
}

void bd_nn_adam_step(bd_nn_t *nn, const bd_nn_adam_t *a)
{
	nn->steps++;
	double c1 = 1 - pow(a->beta1, (double)nn->steps);
	double c2 = 1 - pow(a->beta2, (double)nn->steps);
	for (int l = 0; l < nn->n_layers; l++) {
		bd_nn_layer_t *L = &nn->layer[l];
		adam(L->w, L->gw, L->mw, L->vw, (size_t)L->in * (size_t)L->out, a, a->l2,
		     c1, c2);
		adam(L->b, L->gb, L->mb, L->vb, (size_t)L->out, a, 0, c1, c2);
	}
}

/* ---- losses ------------------------------------------------------------------ */

typedef double (*elem_loss_fn)(double y, double t, double extra, double *dy);

static double elem_mse(double y, double t, double extra, double *dy)
{
	(void)extra;
	*dy = 2 * (y - t);
	return (y - t) * (y - t);
}

static double elem_huber(double y, double t, double delta, double *dy)
{
	double r = y - t;
	if (fabs(r) <= delta) {
		*dy = r;
		return 0.5 * r * r;
	}
	*dy = r > 0 ? delta : -delta;
	return delta * (fabs(r) - 0.5 * delta);
}

static double elem_logloss(double p, double t, double extra, double *dy)
{
	(void)extra;
	double q = p < 1e-12 ? 1e-12 : p > 1 - 1e-12 ? 1 - 1e-12 : p;
	*dy = (q - t) / (q * (1 - q));
	return -(t * log(q) + (1 - t) * log(1 - q));
}

static double elementwise(const double *out, const double *target, const double *weight,
			  const double *mask, int n, int m, double extra, double *d,
			  elem_loss_fn f)
{
	double total = 0;
	for (int r = 0; r < n; r++) {
		double w = weight ? weight[r] : 1.0;
		for (int j = 0; j < m; j++) {
			size_t i = (size_t)r * m + j;
			double dy = 0, l = 0;
			if (!mask || mask[i] != 0)
				l = f(out[i], target[i], extra, &dy);
			total += w * l;
			d[i] = w * dy / n;
		}
	}
	return total / n;
}

double bd_nn_loss_mse(const double *out, const double *target, const double *weight,
		      const double *mask, int n, int m, double *d)
{
	return elementwise(out, target, weight, mask, n, m, 0, d, elem_mse);
}

double bd_nn_loss_huber(const double *out, const double *target, const double *weight,
			const double *mask, int n, int m, double delta, double *d)
{
	return elementwise(out, target, weight, mask, n, m, delta, d, elem_huber);
}

double bd_nn_loss_logloss(const double *prob, const double *target, const double *weight,
			  const double *mask, int n, int m, double *d)
{
	return elementwise(prob, target, weight, mask, n, m, 0, d, elem_logloss);
}

double bd_nn_loss_softmax(const double *logits, const int *label, const double *weight,
			  int n, int k, double *d)
{
	double total = 0;
	for (int r = 0; r < n; r++) {
		const double *z = logits + (size_t)r * k;
		double *g = d + (size_t)r * k, mx = z[0], sum = 0, w = weight ? weight[r] : 1.0;
		for (int j = 1; j < k; j++)
			mx = z[j] > mx ? z[j] : mx;
		for (int j = 0; j < k; j++)
			sum += exp(z[j] - mx);
		for (int j = 0; j < k; j++) {
			double p = exp(z[j] - mx) / sum;
			g[j] = w * (p - (j == label[r])) / n;
		}
		total += w * (log(sum) + mx - z[label[r]]);
	}
	return total / n;
}
