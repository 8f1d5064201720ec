/*
 * Training of the multi-task network.  One step:
 *   forward trunk on the batch -> h; forward each head on h;
 *   masked, weighted losses -> dOut of each head; backward each head to dh;
 *   sum the three dh; backward the trunk; Adam on all four networks.
 * Value and cost targets are scaled by their root mean squares so the tasks have
 * comparable gradients; the scales are kept to undo it at prediction.
 */
#include "budgetd/learn/represent.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/learn/robust.h"

void bd_rep_params_default(bd_rep_params_t *p)
{
	*p = (bd_rep_params_t){
		.hidden = 64, .rep_dim = 16, .head_hidden = 32,
		.epochs = 30, .batch = 256, .patience = 4,
		.lr = 3e-3, .l2 = 1e-5, .holdout = 0.1,
		.w_conv = 1.0, .w_value = 1.0, .w_cost = 1.0,
		.huber = 0, .max_ipw = 50, .clip = BD_ROBUST_CLIP, .seed = 1,
	};
}

void bd_rep_free(bd_rep_t *r)
{
	if (!r)
		return;
	bd_nn_free(r->trunk);
	bd_nn_free(r->conv);
	bd_nn_free(r->value);
	bd_nn_free(r->cost);
	free(r->mean);
	free(r->scale);
	free(r);
}

typedef struct work_s {
	int cap, dim, J, rep_dim;
	double *x, *w, *mask, *tconv, *tval, *tcost;
	double *dconv, *dval, *dcost, *dh, *dh2;
} work_t;

static void work_free(work_t *k)
{
	free(k->x);
	free(k->w);
	free(k->mask);
	free(k->tconv);
	free(k->tval);
	free(k->tcost);
	free(k->dconv);
	free(k->dval);
	free(k->dcost);
	free(k->dh);
	free(k->dh2);
}

static int work_alloc(work_t *k, int cap, int dim, int J, int rep_dim)
{
	size_t nj = (size_t)cap * (size_t)J;
	k->cap = cap;
	k->dim = dim;
	k->J = J;
	k->rep_dim = rep_dim;
	k->x = malloc(sizeof(double) * (size_t)cap * (size_t)dim);
	k->w = malloc(sizeof(double) * (size_t)cap);
	k->mask = malloc(sizeof(double) * nj);
	k->tconv = malloc(sizeof(double) * nj);
	k->tval = malloc(sizeof(double) * nj);
	k->tcost = malloc(sizeof(double) * nj);
	k->dconv = malloc(sizeof(double) * nj);
	k->dval = malloc(sizeof(double) * nj);
	k->dcost = malloc(sizeof(double) * nj);
	k->dh = malloc(sizeof(double) * (size_t)cap * (size_t)rep_dim);
	k->dh2 = malloc(sizeof(double) * (size_t)cap * (size_t)rep_dim);
	return k->x && k->w && k->mask && k->tconv && k->tval && k->tcost && k->dconv &&
			       k->dval && k->dcost && k->dh && k->dh2
		       ? 0
		       : -ENOMEM;
}

/* Fills the work buffers with rows idx[0..b) of the data. */
static void load_batch(const bd_rep_t *r, const bd_rep_data_t *d, const bd_rep_params_t *p,
		       const int *idx, int b, work_t *k)
{
	const int J = d->n_treatments;
	memset(k->mask, 0, sizeof(double) * (size_t)b * (size_t)J);
	memset(k->tconv, 0, sizeof(double) * (size_t)b * (size_t)J);
	memset(k->tval, 0, sizeof(double) * (size_t)b * (size_t)J);
	memset(k->tcost, 0, sizeof(double) * (size_t)b * (size_t)J);
	for (int i = 0; i < b; i++) {
		int s = idx[i], t = d->treatment[s];
		for (int j = 0; j < d->dim; j++)
			k->x[(size_t)i * d->dim + j] = bd_robust_z(
				d->x[(size_t)s * d->dim + j], r->mean[j], r->scale[j], r->clip);
		double ipw = 1.0 / d->propensity[s];
		k->w[i] = ipw < p->max_ipw ? ipw : p->max_ipw;
		k->mask[(size_t)i * J + t] = 1;
		k->tconv[(size_t)i * J + t] = d->converted[s] > 0 ? 1 : 0;
		k->tval[(size_t)i * J + t] = d->value[s] / r->value_scale;
		k->tcost[(size_t)i * J + t] = d->cost[s] / r->cost_scale;
	}
}

/* The three losses of a batch already forwarded through the heads; fills
 * the heads' output gradients.  @returns the weighted total. */
static double batch_losses(const bd_rep_t *r, const bd_rep_params_t *p, work_t *k, int b,
			   const double *oc, const double *ov, const double *ox,
			   double *lc, double *lv, double *lx)
{
	const int J = r->n_treatments;
	*lc = bd_nn_loss_logloss(oc, k->tconv, k->w, k->mask, b, J, k->dconv);
	if (p->huber > 0) {
		*lv = bd_nn_loss_huber(ov, k->tval, k->w, k->mask, b, J, p->huber, k->dval);
		*lx = bd_nn_loss_huber(ox, k->tcost, k->w, k->mask, b, J, p->huber, k->dcost);
	} else {
		*lv = bd_nn_loss_mse(ov, k->tval, k->w, k->mask, b, J, k->dval);
		*lx = bd_nn_loss_mse(ox, k->tcost, k->w, k->mask, b, J, k->dcost);
	}
	for (size_t i = 0; i < (size_t)b * J; i++) {
		k->dconv[i] *= p->w_conv;
		k->dval[i] *= p->w_value;
		k->dcost[i] *= p->w_cost;
	}
	return p->w_conv * *lc + p->w_value * *lv + p->w_cost * *lx;
}

static int new_head(int in, int hidden, int out, bd_nn_act_t last, uint64_t seed,
		    bd_nn_t **nn)
{
	int sizes[3] = {in, hidden, out};
	bd_nn_act_t acts[2] = {BD_NN_RELU, last};
	return bd_nn_new(2, sizes, acts, seed, nn);
}

static int build(const bd_rep_data_t *d, const bd_rep_params_t *p, const int *train,
		 int n_train, bd_rep_t **out)
{
	bd_rep_t *r = calloc(1, sizeof(*r));
	int sizes[3] = {d->dim, p->hidden, p->rep_dim};
	bd_nn_act_t acts[2] = {BD_NN_RELU, BD_NN_RELU};
	int err = -ENOMEM;
	double vs = 0, cs = 0;

	if (!r)
		return -ENOMEM;
	r->dim = d->dim;
	r->n_treatments = d->n_treatments;
	r->rep_dim = p->rep_dim;
	r->mean = calloc((size_t)d->dim, sizeof(double));
	r->scale = calloc((size_t)d->dim, sizeof(double));
	r->clip = p->clip;
	if (!r->mean || !r->scale)
		goto fail;
	/* normalisation from the training rows only, robust to raw scales,
	 * heavy tails and outliers (robust.h) */
	if ((err = bd_robust_fit(d->x, d->dim, train, n_train, r->mean, r->scale)))
		goto fail;
	err = -ENOMEM;
	for (int i = 0; i < n_train; i++) {
		vs += d->value[train[i]] * d->value[train[i]];
		cs += d->cost[train[i]] * d->cost[train[i]];
	}
	/* root mean squares: predicting 0 then costs 1, comparable to the
	 * conversion log loss, so no task drowns the others */
	r->value_scale = vs > 0 ? sqrt(vs / n_train) : 1;
	r->cost_scale = cs > 0 ? sqrt(cs / n_train) : 1;
	if ((err = bd_nn_new(2, sizes, acts, p->seed, &r->trunk)) ||
	    (err = new_head(p->rep_dim, p->head_hidden, d->n_treatments, BD_NN_SIGMOID,
			    p->seed + 1, &r->conv)) ||
	    (err = new_head(p->rep_dim, p->head_hidden, d->n_treatments, BD_NN_LINEAR,
			    p->seed + 2, &r->value)) ||
	    (err = new_head(p->rep_dim, p->head_hidden, d->n_treatments, BD_NN_LINEAR,
			    p->seed + 3, &r->cost)))
		goto fail;
	*out = r;
	return 0;
fail:
	bd_rep_free(r);
	return err;
}

/* forward all, optionally backward + Adam; returns the weighted loss */
static int step(bd_rep_t *r, const bd_rep_params_t *p, work_t *k, int b, int learn,
		const bd_nn_adam_t *adam, double *loss, double *lc, double *lv, double *lx)
{
	const double *h = bd_nn_forward(r->trunk, k->x, b);
	if (!h)
		return -ENOMEM;
	const double *oc = bd_nn_forward(r->conv, h, b);
	const double *ov = bd_nn_forward(r->value, h, b);
	const double *ox = bd_nn_forward(r->cost, h, b);
	if (!oc || !ov || !ox)
		return -ENOMEM;
	*loss = batch_losses(r, p, k, b, oc, ov, ox, lc, lv, lx);
	if (!learn)
		return 0;
	const size_t nh = (size_t)b * (size_t)r->rep_dim;
	bd_nn_backward(r->conv, h, k->dconv, b, k->dh);
	bd_nn_backward(r->value, h, k->dval, b, k->dh2);
	for (size_t i = 0; i < nh; i++)
		k->dh[i] += k->dh2[i];
	bd_nn_backward(r->cost, h, k->dcost, b, k->dh2);
	for (size_t i = 0; i < nh; i++)
		k->dh[i] += k->dh2[i];
	bd_nn_backward(r->trunk, k->x, k->dh, b, NULL);
	bd_nn_adam_step(r->trunk, adam);
	bd_nn_adam_step(r->conv, adam);
	bd_nn_adam_step(r->value, adam);
	bd_nn_adam_step(r->cost, adam);
	return 0;
}

/* Copies the weights of @src into @dst (same shapes). */
static void copy_weights(bd_nn_t *dst, const bd_nn_t *src)
{
	for (int l = 0; l < src->n_layers; l++) {
		const bd_nn_layer_t *L = &src->layer[l];
		memcpy(dst->layer[l].w, L->w, sizeof(double) * (size_t)L->in * (size_t)L->out);
		memcpy(dst->layer[l].b, L->b, sizeof(double) * (size_t)L->out);
	}
}

int bd_rep_train(const bd_rep_data_t *d, const bd_rep_params_t *p, bd_rep_t **out,
		 bd_rep_metrics_t *m)
{
	bd_rep_t *r = NULL, *best = NULL;
	int *idx = NULL, n_hold, n_train, err = -ENOMEM, bad_epochs = 0;
	work_t k = {0};
	bd_nn_adam_t adam;
	uint64_t rng = p->seed;
	double best_loss = INFINITY;
	struct timespec t0, t1;

	if (d->n < 10 || d->dim < 1 || d->n_treatments < 1 || d->n_treatments > 64 ||
	    p->batch < 1 || p->epochs < 1)
		return BD_EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(m, 0, sizeof(*m));
	if (!(idx = malloc(sizeof(int) * (size_t)d->n)))
		goto out;
	for (int i = 0; i < d->n; i++)
		idx[i] = i;
	bd_nn_shuffle(idx, d->n, &rng);
	n_hold = (int)(d->n * p->holdout);
	if (n_hold < 1)
		n_hold = 1;
	n_train = d->n - n_hold;
	/* held-out rows are idx[n_train..n) */
	if ((err = build(d, p, idx, n_train, &r)) || (err = build(d, p, idx, n_train, &best)))
		goto out;
	if ((err = work_alloc(&k, p->batch > n_hold ? p->batch : n_hold, d->dim,
			      d->n_treatments, p->rep_dim)))
		goto out;
	bd_nn_adam_default(&adam);
	adam.lr = p->lr;
	adam.l2 = p->l2;
	for (int e = 0; e < p->epochs; e++) {
		double sum = 0, loss, lc, lv, lx;
		bd_nn_shuffle(idx, n_train, &rng);
		for (int s = 0; s < n_train; s += p->batch) {
			int b = n_train - s < p->batch ? n_train - s : p->batch;
			load_batch(r, d, p, idx + s, b, &k);
			if ((err = step(r, p, &k, b, 1, &adam, &loss, &lc, &lv, &lx)))
				goto out;
			sum += loss * b;
		}
		m->train_loss = sum / n_train;
		/* held-out losses, one pass */
		load_batch(r, d, p, idx + n_train, n_hold, &k);
		if ((err = step(r, p, &k, n_hold, 0, &adam, &loss, &lc, &lv, &lx)))
			goto out;
		m->epochs = e + 1;
		if (loss < best_loss - 1e-9) {
			/* reported per unit of weight, so they read as plain means */
			double wsum = 0;
			for (int i = 0; i < n_hold; i++)
				wsum += k.w[i];
			double wm = wsum > 0 ? wsum / n_hold : 1;
			best_loss = loss;
			m->holdout_conv = lc / wm;
			m->holdout_value = lv / wm;
			m->holdout_cost = lx / wm;
			copy_weights(best->trunk, r->trunk);
			copy_weights(best->conv, r->conv);
			copy_weights(best->value, r->value);
			copy_weights(best->cost, r->cost);
			bad_epochs = 0;
		} else if (++bad_epochs >= p->patience) {
			break; /* early stopping: keep the best epoch's weights */
		}
	}
	*out = best;
	best = NULL;
	err = 0;
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	m->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	work_free(&k);
	free(idx);
	bd_rep_free(r);
	bd_rep_free(best);
	return err;
}

int bd_rep_embed(bd_rep_t *r, const float *x, int n, double *h)
{
	enum { CHUNK = 1024 };
	double buf[CHUNK * 64];
	int per = r->dim <= 64 ? CHUNK : CHUNK * 64 / r->dim;

	for (int s = 0; s < n; s += per) {
		int b = n - s < per ? n - s : per;
		for (int i = 0; i < b; i++)
			for (int j = 0; j < r->dim; j++)
				buf[(size_t)i * r->dim + j] =
					bd_robust_z(x[(size_t)(s + i) * r->dim + j], r->mean[j],
						    r->scale[j], r->clip);
		const double *o = bd_nn_forward(r->trunk, buf, b);
		if (!o)
			return -ENOMEM;
		memcpy(h + (size_t)s * r->rep_dim, o, sizeof(double) * (size_t)b * r->rep_dim);
	}
	return 0;
}

int bd_rep_predict(bd_rep_t *r, const float *x, double *conv, double *value, double *cost)
{
	double h[512];
	int err;
	if (r->rep_dim > 512)
		return BD_EINVAL;
	if ((err = bd_rep_embed(r, x, 1, h)))
		return err;
	const double *oc = bd_nn_forward(r->conv, h, 1);
	const double *ov = oc ? bd_nn_forward(r->value, h, 1) : NULL;
	if (!ov)
		return -ENOMEM;
	for (int j = 0; j < r->n_treatments; j++) {
		conv[j] = oc[j];
		value[j] = ov[j] * r->value_scale;
	}
	const double *ox = bd_nn_forward(r->cost, h, 1);
	if (!ox)
		return -ENOMEM;
	for (int j = 0; j < r->n_treatments; j++)
		cost[j] = ox[j] * r->cost_scale;
	return 0;
}
