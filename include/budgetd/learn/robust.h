/**
 * @file robust.h
 * @brief Feature normalisation for inputs as users send them: raw scales,
 *        heavy tails, outliers, columns that mean nothing.
 *
 * Learned per feature on the training rows and kept with the model:
 *
 *   centre = the median
 *   scale  = a robust spread, the first of these that is not 0:
 *            (q75 - q25) / 1.349, (q90 - q10) / 2.563, (q99 - q01) / 4.653
 *            (each the standard deviation of a normal distribution), the
 *            mean absolute deviation from the median x 1.2533, and 1 (a
 *            constant feature); never below 1e-9 x max(1, |centre|)
 *   z      = (x - centre) / scale, clipped to [-clip, clip] (clip 0: not)
 *
 * A feature's outliers or heavy tail cannot move the centre or the scale,
 * and no user is further than clip robust units from the bulk on any
 * feature, so a handful of extreme users cannot pull a cluster of their own
 * out of the representation.  The distilled model carries the centre and
 * scale (ModelUpdate feature_mean and feature_scale) and the clip as its
 * first layer (bd_robust_clip_layers), so a downstream issuer computes the
 * same function without knowing about any of this.
 *
 * @locality any thread; pure functions.
 */
#ifndef BUDGETD_ROBUST_H
#define BUDGETD_ROBUST_H

#include "budgetd/wire/cluster.h"
#include "budgetd/base/common.h"

/** Robust units a normalised feature is clipped to by default. */
#define BD_ROBUST_CLIP 5.0

/**
 * Fits centre and scale (dim each) on rows @p rows[0..n_rows) of @p x
 * (row-major, dim columns); @p rows NULL: the first @p n_rows rows.
 * @returns 0, BD_EINVAL (no rows) or -ENOMEM.
 */
int bd_robust_fit(const float *x, int dim, const int *rows, int n_rows, double *center,
		  double *scale) BD_WUR;

/** One feature normalised and clipped. */
static inline double bd_robust_z(double x, double center, double scale, double clip)
{
	double z = (x - center) / scale;
	if (clip > 0)
		z = z > clip ? clip : z < -clip ? -clip : z;
	return z;
}

/**
 * The layers of a model that clips its normalised input to +-@p clip before
 * @p m's own layers: a first layer of 2 dim ReLU units, relu(z_j + clip) and
 * relu(z_j - clip) (weights: unit rows; bias +clip, -clip), and @p m's first
 * layer folded onto their difference minus clip, which is clip(z_j).  So the
 * model stays "normalise, dense layers, argmax".  @p m must have fewer than
 * BD_CLUSTER_MAX_LAYERS layers.  @returns 0 or an error; the new model (same
 * version, kind, normalisation and agreement) in @p out.
 */
int bd_robust_clip_layers(const bd_cluster_model_t *m, double clip,
			  bd_cluster_model_t **out) BD_WUR;

#endif
