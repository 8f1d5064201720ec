/*
 * bd-train-bench: training and inference cost of the learning pipeline, each
 * beside a naive baseline measured in the same run.
 *
 *   bd-train-bench [ROWS]        (default 1000000)
 *
 * Training: one epoch of the representation network over ROWS RCT samples
 * with mini-batches of 256 (matrix products through OpenBLAS) beside one
 * epoch with batches of 1 (one sample at a time, the unbatched way), then a
 * full training run (10 epochs, early stopping).  Inference, per user: the
 * distilled student (what the daemon runs per request) beside the teacher it
 * replaces (the representation network's forward pass plus the nearest
 * centroid).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "budgetd/learn/distill.h"
#include "budgetd/learn/kmeans.h"
#include "budgetd/learn/represent.h"
#include "budgetd/lab/simworld.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000000;
	bd_sim_params_t wp;
	bd_sim_world_t *w;
	uint64_t rng = 17;

	bd_sim_params_default(&wp);
	if (n < 1000 || bd_sim_world_new(&wp, &w)) {
		fprintf(stderr, "usage: bd-train-bench [ROWS >= 1000]\n");
		return 2;
	}
	int J = bd_sim_n_treatments(w), dim = bd_sim_dim(w);
	float *x = malloc(sizeof(float) * (size_t)n * (size_t)dim);
	int *t = malloc(sizeof(int) * (size_t)n);
	double *p = malloc(sizeof(double) * (size_t)n), *cv = malloc(sizeof(double) * (size_t)n);
	double *v = malloc(sizeof(double) * (size_t)n), *c = malloc(sizeof(double) * (size_t)n);
	for (int i = 0; i < n; i++) {
		int u = (int)(bd_sim_rng_next(&rng) % (uint64_t)bd_sim_n_users(w));
		bd_sim_outcome_t o;
		t[i] = (int)(bd_sim_rng_next(&rng) % (uint64_t)J);
		p[i] = 1.0 / J;
		bd_sim_outcome(w, u, t[i], &rng, &o);
		cv[i] = o.converted;
		v[i] = o.value;
		c[i] = o.cost;
		memcpy(x + (size_t)i * dim, bd_sim_user_features(w, u), sizeof(float) * (size_t)dim);
	}
	bd_rep_data_t d = {n, dim, J, x, t, p, cv, v, c};
	bd_rep_params_t rp;
	bd_rep_metrics_t m1, mb, mf;
	bd_rep_t *r = NULL;

	bd_rep_params_default(&rp);
	rp.epochs = 1;
	if (bd_rep_train(&d, &rp, &r, &mb))
		return 1;
	bd_rep_free(r);
	rp.batch = 1;
	if (bd_rep_train(&d, &rp, &r, &m1))
		return 1;
	bd_rep_free(r);
	rp.batch = 256;
	rp.epochs = 10;
	if (bd_rep_train(&d, &rp, &r, &mf))
		return 1;

	/* teacher labels and the student */
	double *h = malloc(sizeof(double) * (size_t)n * (size_t)rp.rep_dim);
	int *lab = malloc(sizeof(int) * (size_t)n);
	bd_kmeans_params_t kp;
	bd_kmeans_result_t km;
	bd_distill_params_t dp;
	bd_distill_metrics_t dm;
	bd_cluster_model_t *student;
	bd_kmeans_params_default(&kp);
	if (bd_rep_embed(r, x, n, h) || bd_kmeans_fit(h, n, rp.rep_dim, &kp, &km) ||
	    bd_kmeans_assign_all(&km, h, n, lab, NULL))
		return 1;
	bd_distill_params_default(&dp);
	if (bd_distill_train(x, n, dim, lab, kp.k, r->mean, r->scale, &dp, &student, &dm))
		return 1;
	int reps = 200000, agree = 0;
	volatile int sink = 0;
	double t0 = now();
	for (int i = 0; i < reps; i++)
		sink += bd_cluster_assign(student, x + (size_t)(i % n) * dim);
	double student_ns = (now() - t0) * 1e9 / reps;
	double hi[64];
	t0 = now();
	for (int i = 0; i < reps; i++) {
		if (bd_rep_embed(r, x + (size_t)(i % n) * dim, 1, hi))
			return 1;
		int k = bd_kmeans_assign(&km, hi);
		agree += k == bd_cluster_assign(student, x + (size_t)(i % n) * dim);
		sink += k;
	}
	double teacher_ns = (now() - t0) * 1e9 / reps - student_ns;
	printf("machine: %ld cores; rows=%d; representation %d-d, K=%d, student %d hidden\n",
	       sysconf(_SC_NPROCESSORS_ONLN), n, rp.rep_dim, kp.k, dp.hidden);
	printf("epoch: batched %.2f s, unbatched %.2f s; full training %d epochs %.1f s; "
	       "student agreement %.3f (%.3f on these rows)\n",
	       mb.seconds, m1.seconds, mf.epochs, mf.seconds, dm.agreement, (double)agree / reps);
	printf("training: rows=%d epoch_s=%.2f unbatched_epoch_s=%.2f speedup=%.1f full_s=%.1f "
	       "student_ns=%.0f teacher_ns=%.0f\n",
	       n, mb.seconds, m1.seconds, m1.seconds / mb.seconds, mf.seconds, student_ns,
	       teacher_ns);
	return 0;
}
