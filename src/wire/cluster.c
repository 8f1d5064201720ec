#include "budgetd/wire/cluster.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/hash.h"

/* The seed of the initial assignment: part of the contract, never change. */
#define INITIAL_SEED 0x62756467657464ULL /* "budgetd" */

static void model_free(bd_cluster_model_t *m)
{
	for (int l = 0; l < m->n_layers; l++) {
		free(m->layer[l].w);
		free(m->layer[l].b);
	}
	free(m->mean);
	free(m->scale);
	free(m);
}

int bd_cluster_model_new(int n_layers, const int *sizes, const bd_activation_t *acts,
			 bd_cluster_model_t **out)
{
	bd_cluster_model_t *m;

	if (n_layers < 1 || n_layers > BD_CLUSTER_MAX_LAYERS)
		return BD_EINVAL;
	for (int l = 0; l <= n_layers; l++)
		if (sizes[l] < 1 || sizes[l] > BD_CLUSTER_MAX_WIDTH)
			return BD_EINVAL;
	if (!(m = calloc(1, sizeof(*m))))
		return -ENOMEM;
	bd_refcnt_init(&m->refcnt);
	m->kind = "mlp";
	m->dim = sizes[0];
	m->k = sizes[n_layers];
	m->n_layers = n_layers;
	m->agreement = 0;
	m->mean = calloc((size_t)m->dim, sizeof(double));
	m->scale = malloc((size_t)m->dim * sizeof(double));
	if (!m->mean || !m->scale)
		goto nomem;
	for (int j = 0; j < m->dim; j++)
		m->scale[j] = 1.0;
	for (int l = 0; l < n_layers; l++) {
		bd_layer_t *L = &m->layer[l];
		L->rows = sizes[l + 1];
		L->cols = sizes[l];
		L->act = acts[l];
		L->w = calloc((size_t)L->rows * (size_t)L->cols, sizeof(double));
		L->b = calloc((size_t)L->rows, sizeof(double));
		if (!L->w || !L->b)
			goto nomem;
	}
	*out = m;
	return 0;
nomem:
	model_free(m);
	return -ENOMEM;
}

int bd_cluster_model_initial(int dim, int k, bd_cluster_model_t **out)
{
	bd_cluster_model_t *m = calloc(1, sizeof(*m));
	bd_layer_t *L;
	uint64_t ctr = 0;

	if (!m)
		return -ENOMEM;
	bd_refcnt_init(&m->refcnt);
	m->version = 0;
	m->kind = "random-linear";
	m->dim = dim;
	m->k = k;
	m->agreement = 1.0;
	m->n_layers = 1;
	L = &m->layer[0];
	L->rows = k;
	L->cols = dim;
	L->act = BD_ACT_NONE;
	m->mean = calloc((size_t)dim, sizeof(double));
	m->scale = malloc((size_t)dim * sizeof(double));
	L->w = malloc((size_t)k * (size_t)dim * sizeof(double));
	L->b = calloc((size_t)k, sizeof(double));
	if (!m->mean || !m->scale || !L->w || !L->b) {
		model_free(m);
		return -ENOMEM;
	}
	for (int j = 0; j < dim; j++)
		m->scale[j] = 1.0;
	for (int r = 0; r < k; r++) {
		double norm = 0;
		for (int j = 0; j < dim; j++) {
			/* Box-Muller on counter-based uniforms */
			double u1 = bd_hash_unit(bd_hash_mix(INITIAL_SEED + ++ctr));
			double u2 = bd_hash_unit(bd_hash_mix(INITIAL_SEED + ++ctr));
			double z = sqrt(-2.0 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
			L->w[r * dim + j] = z;
			norm += z * z;
		}
		norm = sqrt(norm) + 1e-12;
		for (int j = 0; j < dim; j++)
			L->w[r * dim + j] /= norm;
	}
	*out = m;
	return 0;
}

bd_cluster_model_t *bd_cluster_model_ref(bd_cluster_model_t *m)
{
	bd_refcnt_get(&m->refcnt);
	return m;
}

void bd_cluster_model_unref(bd_cluster_model_t *m)
{
	if (m && bd_refcnt_put(&m->refcnt))
		model_free(m);
}

/* The K scores of the model for the scaled input in @p a (overwritten);
 * @returns where they are (a or b). */
static double *scores(const bd_cluster_model_t *m, double *a, double *b)
{
	double *in = a, *out = b;
	for (int l = 0; l < m->n_layers; l++) {
		const bd_layer_t *L = &m->layer[l];
		for (int r = 0; r < L->rows && r < BD_CLUSTER_MAX_WIDTH; r++) {
			double s = L->b[r];
			const double *w = L->w + (size_t)r * L->cols;
			for (int j = 0; j < L->cols; j++)
				s += w[j] * in[j];
			out[r] = (L->act == BD_ACT_RELU && s < 0) ? 0 : s;
		}
		double *t = in;
		in = out;
		out = t;
	}
	return in;
}

int bd_cluster_assign(const bd_cluster_model_t *m, const float *x)
{
	double a[BD_CLUSTER_MAX_WIDTH], b[BD_CLUSTER_MAX_WIDTH], *in;
	int n = m->dim;

	if (n > BD_CLUSTER_MAX_WIDTH)
		n = BD_CLUSTER_MAX_WIDTH; /* layer widths are capped at build time */
	for (int j = 0; j < n; j++)
		a[j] = ((double)x[j] - m->mean[j]) / m->scale[j];
	in = scores(m, a, b);
	int best = 0;
	for (int r = 1; r < m->k; r++)
		if (in[r] > in[best])
			best = r;
	return best;
}

int bd_cluster_feature_effects(const bd_cluster_model_t *m, double *effect)
{
	double a[BD_CLUSTER_MAX_WIDTH], b[BD_CLUSTER_MAX_WIDTH], base[BD_CLUSTER_MAX_WIDTH];
	int n = m->dim < BD_CLUSTER_MAX_WIDTH ? m->dim : BD_CLUSTER_MAX_WIDTH;
	if (m->k < 2 || m->k > BD_CLUSTER_MAX_WIDTH)
		return BD_EINVAL;
	memset(a, 0, sizeof(a)); /* the average user: every scaled input 0 */
	memcpy(base, scores(m, a, b), (size_t)m->k * sizeof(double));
	for (int i = 0; i < m->dim; i++) {
		double *s = NULL, tot = 0;
		if (i < n) {
			memset(a, 0, sizeof(a));
			a[i] = 1; /* one scale unit above the average in feature i */
			s = scores(m, a, b);
			for (int g = 0; g < m->k; g++)
				tot += s[g] - base[g];
		}
		/* the change of cluster g's score against the others' mean */
		for (int g = 0; g < m->k; g++) {
			double d = s ? s[g] - base[g] : 0;
			effect[(size_t)g * (size_t)m->dim + (size_t)i] =
				s ? d - (tot - d) / (m->k - 1) : 0;
		}
	}
	return 0;
}
