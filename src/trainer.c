#include "budgetd/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/hash.h"
#include "budgetd/kmeans.h"
#include "budgetd/samples.h"
#include "budgetd/stats.h"

typedef struct pool_s {
	int n, cap, dim, seen, J;
	uint64_t rng;
	float *x;
	int *t, *part;
	int64_t *hour;
	double *p, *conv, *value, *cost, *orders;
	uint8_t *explored;
	char (*campaign)[128];
} pool_t;

static void pool_free(pool_t *p)
{
	free(p->x);
	free(p->t);
	free(p->part);
	free(p->hour);
	free(p->p);
	free(p->conv);
	free(p->value);
	free(p->cost);
	free(p->orders);
	free(p->explored);
	free(p->campaign);
}

static int pool_alloc(pool_t *p, int cap, int dim)
{
	p->cap = cap;
	p->dim = dim;
	p->x = malloc(sizeof(float) * (size_t)cap * (size_t)dim);
	p->t = malloc(sizeof(int) * (size_t)cap);
	p->part = malloc(sizeof(int) * (size_t)cap);
	p->hour = malloc(sizeof(int64_t) * (size_t)cap);
	p->p = malloc(sizeof(double) * (size_t)cap);
	p->conv = malloc(sizeof(double) * (size_t)cap);
	p->value = malloc(sizeof(double) * (size_t)cap);
	p->cost = malloc(sizeof(double) * (size_t)cap);
	p->orders = malloc(sizeof(double) * (size_t)cap);
	p->explored = malloc((size_t)cap);
	p->campaign = malloc(sizeof(*p->campaign) * (size_t)cap);
	return p->x && p->t && p->part && p->hour && p->p && p->conv && p->value && p->cost &&
			       p->orders && p->explored && p->campaign
		       ? 0
		       : -ENOMEM;
}

/* Reservoir sampling over the whole log, so a capped pool is not biased
 * toward the first partitions. */
static int collect(const char *key, size_t klen, const char *val, size_t vlen, void *opaque)
{
	pool_t *p = opaque;
	bd_sample_t s;
	float f[512];
	int slot;

	if (klen != 10 || bd_sample_unpack(&s, (const uint8_t *)val, vlen, f, 512) != 0 ||
	    s.dim != p->dim || s.treatment < 0 || s.treatment >= 64)
		return 0;
	p->seen++;
	if (p->n < p->cap) {
		slot = p->n++;
	} else {
		uint64_t r = bd_hash_next(&p->rng) % (uint64_t)p->seen;
		if (r >= (uint64_t)p->cap)
			return 0;
		slot = (int)r;
	}
	memcpy(p->x + (size_t)slot * p->dim, f, sizeof(float) * (size_t)p->dim);
	p->t[slot] = s.treatment;
	p->part[slot] = (uint8_t)key[0] << 8 | (uint8_t)key[1];
	p->p[slot] = s.propensity;
	p->hour[slot] = bd_stats_hour(s.ts_ms);
	p->conv[slot] = s.orders > 0;
	p->value[slot] = s.value;
	p->cost[slot] = s.cost;
	p->orders[slot] = s.orders;
	p->explored[slot] = s.explored;
	snprintf(p->campaign[slot], sizeof(p->campaign[slot]), "%s", s.campaign_id);
	if (s.treatment + 1 > p->J)
		p->J = s.treatment + 1;
	return 0;
}

void bd_trainer_result_free(bd_trainer_result_t *res)
{
	bd_cluster_model_unref(res->model);
	res->model = NULL;
}

static int finite_model(const bd_cluster_model_t *m)
{
	for (int l = 0; l < m->n_layers; l++)
		for (size_t i = 0; i < (size_t)m->layer[l].rows * (size_t)m->layer[l].cols; i++)
			if (!isfinite(m->layer[l].w[i]))
				return 0;
	return 1;
}

/* The new version's cell statistics, from the same samples. */
static int rebuild_stats(bd_store_t *st, const pool_t *p, const bd_cluster_model_t *m,
			 const int *cluster)
{
	bd_stats_delta_t *d = bd_stats_delta_new();
	bd_store_batch_t *b = bd_store_batch_new(st);
	char errstr[256];
	int err = -ENOMEM;

	if (!d || !b)
		goto out;
	for (int i = 0; i < p->n; i++) {
		uint8_t key[BD_STATS_KEY_MAX];
		double x[BD_STAT__COUNT];
		size_t klen = bd_stats_cell_key(key, (uint16_t)p->part[i], p->campaign[i],
						m->version, cluster[i], p->t[i],
						p->hour[i]);
		bd_stats_outcome_vector(x, p->value[i], p->cost[i], p->orders[i], p->p[i],
					p->explored[i]);
		x[BD_STAT_DECISIONS] = 1;
		x[BD_STAT_DW] = 1.0 / p->p[i];
		if ((err = bd_stats_delta_add(d, key, klen, x, BD_STAT__COUNT)))
			goto out;
	}
	bd_stats_delta_flush(d, b);
	err = bd_store_batch_write(st, b, errstr, sizeof(errstr));
out:
	bd_stats_delta_free(d);
	bd_store_batch_destroy(b);
	return err;
}

int bd_trainer_run(bd_store_t *st, const bd_trainer_params_t *tp, int64_t version,
		   bd_trainer_result_t *res)
{
	pool_t pool = {.rng = tp->seed};
	bd_rep_t *rep = NULL;
	bd_kmeans_result_t km = {0};
	double *h = NULL;
	int *label = NULL, err;
	struct timespec t0, t1;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((err = pool_alloc(&pool, tp->max_samples, tp->dim)))
		goto out;
	if ((err = bd_store_scan(st, BD_CF_SAMPLES, "", 0, collect, &pool)))
		goto out;
	res->samples = pool.n;
	if (pool.n < tp->min_samples || pool.n < 10 * tp->k) {
		snprintf(res->why, sizeof(res->why), "%d samples, %d needed", pool.n,
			 tp->min_samples > 10 * tp->k ? tp->min_samples : 10 * tp->k);
		goto out;
	}
	bd_rep_params_t rp;
	bd_rep_params_default(&rp);
	rp.epochs = tp->epochs;
	rp.seed = tp->seed;
	if (tp->hidden > 0)
		rp.hidden = tp->hidden;
	if (tp->rep_dim > 0)
		rp.rep_dim = tp->rep_dim;
	if (tp->w_conv > 0 || tp->w_value > 0 || tp->w_cost > 0) {
		rp.w_conv = tp->w_conv;
		rp.w_value = tp->w_value;
		rp.w_cost = tp->w_cost;
	}
	rp.huber = tp->huber;
	bd_rep_data_t d = {pool.n, pool.dim, pool.J, pool.x, pool.t, pool.p, pool.conv,
			   pool.value, pool.cost};
	if ((err = bd_rep_train(&d, &rp, &rep, &res->rep)))
		goto out;
	h = malloc(sizeof(double) * (size_t)pool.n * (size_t)rep->rep_dim);
	label = malloc(sizeof(int) * (size_t)pool.n);
	if (!h || !label) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = bd_rep_embed(rep, pool.x, pool.n, h)))
		goto out;
	bd_kmeans_params_t kp;
	bd_kmeans_params_default(&kp);
	kp.k = tp->k;
	kp.seed = tp->seed;
	if ((err = bd_kmeans_fit(h, pool.n, rep->rep_dim, &kp, &km)) ||
	    (err = bd_kmeans_assign_all(&km, h, pool.n, label, &res->inertia)))
		goto out;
	bd_distill_params_t dp;
	bd_distill_params_default(&dp);
	dp.hidden = tp->student_hidden;
	dp.seed = tp->seed;
	if ((err = bd_distill_train(pool.x, pool.n, pool.dim, label, tp->k, rep->mean,
				    rep->scale, &dp, &res->model, &res->student)))
		goto out;
	res->model->version = version;
	/* the student decides on the hot path: its clusters must all be used */
	int *sizes = calloc((size_t)tp->k, sizeof(int));
	if (!sizes) {
		err = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < pool.n; i++)
		sizes[label[i] = bd_cluster_assign(res->model, pool.x + (size_t)i * pool.dim)]++;
	res->min_cluster = pool.n;
	for (int c = 0; c < tp->k; c++) {
		res->min_cluster = sizes[c] < res->min_cluster ? sizes[c] : res->min_cluster;
		res->max_cluster = sizes[c] > res->max_cluster ? sizes[c] : res->max_cluster;
	}
	free(sizes);
	if (res->student.agreement < tp->min_agreement)
		snprintf(res->why, sizeof(res->why), "student agreement %.3f below %.3f",
			 res->student.agreement, tp->min_agreement);
	else if (!finite_model(res->model))
		snprintf(res->why, sizeof(res->why), "weights are not finite");
	else if (res->min_cluster == 0)
		snprintf(res->why, sizeof(res->why), "a cluster is empty");
	else if ((err = rebuild_stats(st, &pool, res->model, label)) == 0)
		res->accepted = 1;
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	bd_rep_free(rep);
	bd_kmeans_result_free(&km);
	free(h);
	free(label);
	pool_free(&pool);
	return err;
}
