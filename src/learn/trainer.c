#include "budgetd/learn/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/policy/carry.h"
#include "budgetd/base/hash.h"
#include "budgetd/base/log.h"
#include "budgetd/learn/kmeans.h"
#include "budgetd/state/samples.h"
#include "budgetd/state/stats.h"

typedef struct pool_s {
	int n, cap, dim, seen, J;
	uint64_t rng;
	float *x;
	int *t;
	double *p, *conv, *value, *cost;
} pool_t;

static void pool_free(pool_t *p)
{
	free(p->x);
	free(p->t);
	free(p->p);
	free(p->conv);
	free(p->value);
	free(p->cost);
}

static int pool_alloc(pool_t *p, int cap, int dim)
{
	p->cap = cap;
	p->dim = dim;
	p->x = malloc(sizeof(float) * (size_t)cap * (size_t)dim);
	p->t = malloc(sizeof(int) * (size_t)cap);
	p->p = malloc(sizeof(double) * (size_t)cap);
	p->conv = malloc(sizeof(double) * (size_t)cap);
	p->value = malloc(sizeof(double) * (size_t)cap);
	p->cost = malloc(sizeof(double) * (size_t)cap);
	return p->x && p->t && p->p && p->conv && p->value && p->cost ? 0 : -ENOMEM;
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
	p->p[slot] = s.propensity;
	p->conv[slot] = s.orders > 0;
	p->value[slot] = s.value;
	p->cost[slot] = s.cost;
	if (s.treatment + 1 > p->J)
		p->J = s.treatment + 1;
	return 0;
}

void bd_trainer_result_free(bd_trainer_result_t *res)
{
	bd_cluster_model_unref(res->model);
	res->model = NULL;
	free(res->parts);
	res->parts = NULL;
	res->n_parts = 0;
}

static int finite_model(const bd_cluster_model_t *m)
{
	for (int l = 0; l < m->n_layers; l++)
		for (size_t i = 0; i < (size_t)m->layer[l].rows * (size_t)m->layer[l].cols; i++)
			if (!isfinite(m->layer[l].w[i]))
				return 0;
	return 1;
}

/* ---- the new version's statistics ------------------------------------------------ */

/* Step 1 of the carry-over (carry.h): every sample of the log below each
 * partition's sequence at the start, clustered by the candidate, with its
 * exposure and its outcome (historical samples at their hour of day, -1 to
 * -24: evidence, never traffic).  The whole log, not the training pool: a reservoir would count a
 * share of the decisions and the traffic forecast would shrink with it. */
#define REBUILD_FLUSH_KEYS 50000

typedef struct rebuild_s {
	bd_store_t *st;
	const bd_cluster_model_t *m;
	uint64_t *seq; /* per partition: the log's next sequence at the start */
	uint8_t *has;  /* per partition: it has a log */
	bd_stats_delta_t *d;
	bd_store_batch_t *b;
	float f[512];
	int n, err;
} rebuild_t;

static int rebuild_seq(const char *key, size_t klen, const char *val, size_t vlen,
		       void *opaque)
{
	rebuild_t *rb = opaque;
	if (klen == 6 && vlen == 8) {
		uint16_t part = (uint16_t)((uint8_t)key[4] << 8 | (uint8_t)key[5]);
		rb->seq[part] = bd_rd_be64((const uint8_t *)val);
		rb->has[part] = 1;
	}
	return 0;
}

static int rebuild_write(rebuild_t *rb)
{
	char errstr[256];
	bd_stats_delta_flush(rb->d, rb->b);
	int err = bd_store_batch_write(rb->st, rb->b, errstr, sizeof(errstr));
	if (err)
		bd_error("rebuilding the statistics of model %lld: %s",
			 (long long)rb->m->version, errstr);
	return err;
}

static int rebuild_sample(const char *key, size_t klen, const char *val, size_t vlen,
			  void *opaque)
{
	rebuild_t *rb = opaque;
	bd_sample_t s;

	if (klen != 10 || bd_sample_unpack(&s, (const uint8_t *)val, vlen, rb->f, 512) != 0)
		return 0;
	uint16_t part = (uint16_t)((uint8_t)key[0] << 8 | (uint8_t)key[1]);
	if (!rb->has[part] || bd_rd_be64((const uint8_t *)key + 2) >= rb->seq[part])
		return 0; /* after the start: the worker's carry adds it */
	int r = bd_carry_add_sample(rb->d, part, rb->m, &s);
	if (r < 0) {
		rb->err = r;
		return -1;
	}
	rb->n += r;
	/* in slices: the delta of a long log would not fit in memory */
	if (bd_stats_delta_count(rb->d) >= REBUILD_FLUSH_KEYS && (rb->err = rebuild_write(rb)))
		return -1;
	return 0;
}

static int rebuild_stats(bd_store_t *st, const bd_cluster_model_t *m,
			 bd_trainer_result_t *res)
{
	rebuild_t *rb = calloc(1, sizeof(*rb));
	int err = -ENOMEM;

	if (!rb)
		return -ENOMEM;
	rb->st = st;
	rb->m = m;
	rb->seq = calloc(65536, sizeof(uint64_t));
	rb->has = calloc(65536, 1);
	rb->d = bd_stats_delta_new();
	rb->b = bd_store_batch_new(st);
	if (!rb->seq || !rb->has || !rb->d || !rb->b)
		goto out;
	if ((err = bd_store_scan(st, BD_CF_META, "sseq", 4, rebuild_seq, rb)) ||
	    (err = bd_store_scan(st, BD_CF_SAMPLES, "", 0, rebuild_sample, rb)) ||
	    (err = rb->err))
		goto out;
	for (int p = 0; p < 65536; p++)
		if (rb->has[p])
			bd_carry_put_rebuilt(rb->b, (uint16_t)p, m->version, rb->seq[p]);
	if ((err = rebuild_write(rb)))
		goto out;
	res->rebuilt = rb->n;
	/* the partitions the workers must carry over before the swap: those
	 * with a log, and those with decisions waiting for outcomes */
	if ((err = bd_carry_pending_parts(st, rb->has)))
		goto out;
	err = -ENOMEM;
	if (!(res->parts = malloc(sizeof(uint16_t) * 65536)))
		goto out;
	for (int p = 0; p < 65536; p++)
		if (rb->has[p])
			res->parts[res->n_parts++] = (uint16_t)p;
	err = 0;
out:
	bd_stats_delta_free(rb->d);
	bd_store_batch_destroy(rb->b);
	free(rb->seq);
	free(rb->has);
	free(rb);
	return err;
}

/* The smallest cluster a promoted model may have on its training rows: a
 * share of an average cluster, and a number of users. */
static int size_floor(const bd_trainer_params_t *tp, int n)
{
	int f = (int)ceil(tp->min_cluster_share * n / tp->k);
	return f > tp->min_cluster_users ? f : tp->min_cluster_users;
}

/* The student's clusters of the training rows into @p label; their sizes
 * into @p res.  @returns the smallest cluster. */
static int student_sizes(const bd_cluster_model_t *m, const pool_t *pool, int k, int *label,
			 int *sizes, bd_trainer_result_t *res)
{
	int small = 0;
	memset(sizes, 0, sizeof(int) * (size_t)k);
	for (int i = 0; i < pool->n; i++)
		sizes[label[i] = bd_cluster_assign(m, pool->x + (size_t)i * pool->dim)]++;
	res->max_cluster = 0;
	for (int c = 0; c < k; c++) {
		small = sizes[c] < sizes[small] ? c : small;
		res->max_cluster = sizes[c] > res->max_cluster ? sizes[c] : res->max_cluster;
	}
	res->min_cluster = sizes[small];
	return small;
}

static int train_rep(const bd_trainer_params_t *tp, const pool_t *pool, bd_rep_t **rep,
		     bd_trainer_result_t *res)
{
	bd_rep_params_t rp;
	bd_rep_params_default(&rp);
	rp.epochs = tp->epochs;
	rp.seed = tp->seed;
	rp.clip = tp->clip;
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
	bd_rep_data_t d = {pool->n, pool->dim, pool->J, pool->x, pool->t, pool->p, pool->conv,
			   pool->value, pool->cost};
	return bd_rep_train(&d, &rp, rep, &res->rep);
}

/* The teacher's clusters: k-means on h(x), then no cluster under @p floor
 * (with a margin, so the student, which agrees with it on most users but
 * not all, stays above the floor too). */
static int cluster_h(const bd_trainer_params_t *tp, const double *h, int n, int dim,
		     int floor, bd_kmeans_result_t *km, int *label, bd_trainer_result_t *res)
{
	bd_kmeans_params_t kp;
	int err, target = (int)ceil(1.5 * floor);
	bd_kmeans_params_default(&kp);
	kp.k = tp->k;
	kp.seed = tp->seed;
	if (target > n / (2 * tp->k))
		target = n / (2 * tp->k);
	if ((err = bd_kmeans_fit(h, n, dim, &kp, km)) ||
	    (err = bd_kmeans_assign_all(km, h, n, label, NULL)))
		return err;
	if ((err = bd_kmeans_enforce_min(km, h, n, target, label)) < 0)
		return err;
	res->reseeded += err;
	res->inertia = km->inertia;
	return 0;
}

/* The candidate's plans valued against the deciding model's on the pool
 * (promote.h): a retrain trained on a noisy day or on the daemon's own
 * decisions must not make them worse.  Refused (res->why) when lower by
 * more than promote_z standard errors; samples that value nothing (no
 * usable propensity) leave it unchecked. */
static int versus_current(const bd_trainer_params_t *tp, const pool_t *pool,
			  bd_trainer_result_t *res)
{
	const bd_cluster_model_t *cur = tp->current;
	if (!cur || cur->version <= 0 || tp->promote_z <= 0)
		return 0;
	bd_promote_data_t d = {pool->n, pool->dim,   pool->J,	  pool->x,
			       pool->t, pool->p,     pool->value, pool->cost};
	int err = bd_promote_compare(cur, res->model, &d, tp->shrinkage, &res->ope);
	if (err == BD_EINVAL)
		return 0;
	if (err)
		return err;
	res->compared = 1;
	if (res->ope.diff < -tp->promote_z * res->ope.se)
		snprintf(res->why, sizeof(res->why),
			 "its plans' estimated net value per request, %.4f, is below model "
			 "%lld's, %.4f, by %.4f (standard error %.4f; train.promote.z %.2f)",
			 res->ope.cand, (long long)cur->version, res->ope.cur, -res->ope.diff,
			 res->ope.se, tp->promote_z);
	return 0;
}

int bd_trainer_run(bd_store_t *st, const bd_trainer_params_t *tp, int64_t version,
		   bd_trainer_result_t *res)
{
	pool_t pool = {.rng = tp->seed};
	bd_rep_t *rep = NULL;
	bd_kmeans_result_t km = {0};
	double *h = NULL;
	int *label = NULL, *sizes = NULL, err, small = 0;
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
	res->floor = size_floor(tp, pool.n);
	if (res->floor > pool.n / (2 * tp->k)) {
		snprintf(res->why, sizeof(res->why),
			 "%d samples are too few for %d clusters of at least %d users "
			 "(train.min.cluster.*)", pool.n, tp->k, res->floor);
		goto out;
	}
	if ((err = train_rep(tp, &pool, &rep, res)))
		goto out;
	h = malloc(sizeof(double) * (size_t)pool.n * (size_t)rep->rep_dim);
	label = malloc(sizeof(int) * (size_t)pool.n);
	sizes = malloc(sizeof(int) * (size_t)tp->k);
	if (!h || !label || !sizes) {
		err = -ENOMEM;
		goto out;
	}
	if ((err = bd_rep_embed(rep, pool.x, pool.n, h)) ||
	    (err = cluster_h(tp, h, pool.n, rep->rep_dim, res->floor, &km, label, res)))
		goto out;
	bd_distill_params_t dp;
	bd_distill_params_default(&dp);
	dp.hidden = tp->student_hidden;
	dp.clip = tp->clip;
	/* the student decides on the hot path: no cluster of it may be tiny;
	 * if one is, its labels get the floor and it learns them once more */
	for (int attempt = 0; attempt < 2; attempt++) {
		dp.seed = tp->seed + (uint64_t)attempt;
		bd_cluster_model_unref(res->model);
		res->model = NULL;
		if ((err = bd_distill_train(pool.x, pool.n, pool.dim, label, tp->k, rep->mean,
					    rep->scale, &dp, &res->model, &res->student)))
			goto out;
		small = student_sizes(res->model, &pool, tp->k, label, sizes, res);
		if (res->min_cluster >= res->floor || attempt == 1)
			break;
		if ((err = bd_kmeans_enforce_min(&km, h, pool.n, res->floor, label)) < 0)
			goto out;
		res->reseeded += err;
		err = 0;
	}
	res->model->version = version;
	if (res->student.agreement < tp->min_agreement)
		snprintf(res->why, sizeof(res->why), "student agreement %.3f below %.3f",
			 res->student.agreement, tp->min_agreement);
	else if (!finite_model(res->model))
		snprintf(res->why, sizeof(res->why), "weights are not finite");
	else if (res->min_cluster < res->floor)
		snprintf(res->why, sizeof(res->why),
			 "the student puts %d users in cluster %d, below the floor of %d "
			 "(train.min.cluster.*), after %d clusters were re-seeded",
			 res->min_cluster, small, res->floor, res->reseeded);
	else if ((err = versus_current(tp, &pool, res)) == 0 && !res->why[0] &&
		 (err = rebuild_stats(st, res->model, res)) == 0)
		res->accepted = 1;
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	res->seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	bd_rep_free(rep);
	bd_kmeans_result_free(&km);
	free(h);
	free(label);
	free(sizes);
	pool_free(&pool);
	return err;
}
