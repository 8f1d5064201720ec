#include "budgetd/learn/distill.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/learn/nn.h"
#include "budgetd/learn/robust.h"

void bd_distill_params_default(bd_distill_params_t *p)
{
	*p = (bd_distill_params_t){.hidden = 32, .epochs = 40, .batch = 256,
				   .patience = 5, .lr = 3e-3, .l2 = 1e-5,
				   .holdout = 0.1, .clip = BD_ROBUST_CLIP, .seed = 7};
}

static double agreement(bd_nn_t *nn, const double *x, const int *labels, const int *idx,
			int n, int dim, int k, double *buf)
{
	int hit = 0;
	for (int s = 0; s < n; s += 1024) {
		int b = n - s < 1024 ? n - s : 1024;
		for (int i = 0; i < b; i++)
			memcpy(buf + (size_t)i * dim, x + (size_t)idx[s + i] * dim,
			       sizeof(double) * (size_t)dim);
		const double *o = bd_nn_forward(nn, buf, b);
		for (int i = 0; i < b && o; i++) {
			int best = 0;
			for (int j = 1; j < k; j++)
				if (o[(size_t)i * k + j] > o[(size_t)i * k + best])
					best = j;
			hit += best == labels[idx[s + i]];
		}
	}
	return n ? (double)hit / n : 0;
}

int bd_distill_train(const float *x, int n, int dim, const int *labels, int k,
		     const double *mean, const double *scale,
		     const bd_distill_params_t *p, bd_cluster_model_t **out,
		     bd_distill_metrics_t *m)
{
	int n_layers = p->hidden > 0 ? 2 : 1, sizes[3], bad = 0, err = -ENOMEM;
	bd_nn_act_t acts[2];
	bd_activation_t cacts[2];
	bd_nn_t *nn = NULL, *best = NULL;
	double *xn = NULL, *buf = NULL, *d = NULL, best_agree = -1;
	int *idx = NULL, *lab = NULL;
	uint64_t rng = p->seed;
	bd_nn_adam_t adam;
	struct timespec t0, t1;

	if (n < 10 || k < 1 || dim < 1)
		return BD_EINVAL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(m, 0, sizeof(*m));
	sizes[0] = dim;
	if (n_layers == 2) {
		sizes[1] = p->hidden;
		sizes[2] = k;
		acts[0] = BD_NN_RELU;
		acts[1] = BD_NN_LINEAR;
		cacts[0] = BD_ACT_RELU;
		cacts[1] = BD_ACT_NONE;
	} else {
		sizes[1] = k;
		acts[0] = BD_NN_LINEAR;
		cacts[0] = BD_ACT_NONE;
	}
	xn = malloc(sizeof(double) * (size_t)n * (size_t)dim);
	buf = malloc(sizeof(double) * 1024 * (size_t)(dim > k ? dim : k));
	d = malloc(sizeof(double) * (size_t)(p->batch > 1024 ? p->batch : 1024) * (size_t)k);
	idx = malloc(sizeof(int) * (size_t)n);
	lab = malloc(sizeof(int) * (size_t)p->batch);
	if (!xn || !buf || !d || !idx || !lab)
		goto out;
	for (int i = 0; i < n; i++) {
		idx[i] = i;
		for (int j = 0; j < dim; j++)
			xn[(size_t)i * dim + j] =
				bd_robust_z(x[(size_t)i * dim + j], mean[j], scale[j], p->clip);
	}
	bd_nn_shuffle(idx, n, &rng);
	int n_hold = (int)(n * p->holdout) > 0 ? (int)(n * p->holdout) : 1;
	int n_train = n - n_hold;
	if ((err = bd_nn_new(n_layers, sizes, acts, p->seed, &nn)) ||
	    (err = bd_nn_clone(nn, &best)))
		goto out;
	bd_nn_adam_default(&adam);
	adam.lr = p->lr;
	adam.l2 = p->l2;
	double *xb = malloc(sizeof(double) * (size_t)p->batch * (size_t)dim);
	if (!xb) {
		err = -ENOMEM;
		goto out;
	}
	for (int e = 0; e < p->epochs; e++) {
		bd_nn_shuffle(idx, n_train, &rng);
		for (int s = 0; s < n_train; s += p->batch) {
			int b = n_train - s < p->batch ? n_train - s : p->batch;
			for (int i = 0; i < b; i++) {
				memcpy(xb + (size_t)i * dim, xn + (size_t)idx[s + i] * dim,
				       sizeof(double) * (size_t)dim);
				lab[i] = labels[idx[s + i]];
			}
			const double *o = bd_nn_forward(nn, xb, b);
			if (!o) {
				free(xb);
				err = -ENOMEM;
				goto out;
			}
			bd_nn_loss_softmax(o, lab, NULL, b, k, d);
			bd_nn_backward(nn, xb, d, b, NULL);
			bd_nn_adam_step(nn, &adam);
		}
		double a = agreement(nn, xn, labels, idx + n_train, n_hold, dim, k, buf);
		m->epochs = e + 1;
		if (a > best_agree) {
			best_agree = a;
			bd_nn_free(best);
			if ((err = bd_nn_clone(nn, &best))) {
				free(xb);
				goto out;
			}
			bad = 0;
		} else if (++bad >= p->patience) {
			break;
		}
	}
	free(xb);
	m->agreement = best_agree;
	m->train_agreement = agreement(best, xn, labels, idx, n_train, dim, k, buf);

	bd_cluster_model_t *cm;
	if ((err = bd_cluster_model_new(n_layers, sizes, cacts, &cm)))
		goto out;
	cm->kind = n_layers == 2 ? "mlp" : "softmax";
	memcpy(cm->mean, mean, sizeof(double) * (size_t)dim);
	memcpy(cm->scale, scale, sizeof(double) * (size_t)dim);
	for (int l = 0; l < n_layers; l++) {
		const bd_nn_layer_t *L = &best->layer[l];
		memcpy(cm->layer[l].w, L->w, sizeof(double) * (size_t)L->in * (size_t)L->out);
		memcpy(cm->layer[l].b, L->b, sizeof(double) * (size_t)L->out);
	}
	cm->agreement = best_agree;
	if (p->clip > 0) {
		bd_cluster_model_t *clipped;
		err = bd_robust_clip_layers(cm, p->clip, &clipped);
		bd_cluster_model_unref(cm);
		if (err)
			goto out;
		cm = clipped;
	}
	*out = cm;
	err = 0;
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	m->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	bd_nn_free(nn);
	bd_nn_free(best);
	free(xn);
	free(buf);
	free(d);
	free(idx);
	free(lab);
	return err;
}
