/**
 * @file simworld_int.h
 * @brief Internals shared by the world simulator's files: simworld.c (the
 *        common machinery and the `default` family) and simfamilies.c (the
 *        `smooth` and `sparse` families).  Not part of the public API.
 *
 * A family fills, at world creation, the segments (share, response
 * coefficients, arrival profile) and, per user, the segment, the observed
 * features and the true responses (pconv, gmv per treatment, rho).  The
 * oracle, the outcome draws, the arrivals and the logged samples are common
 * to every family and read only those arrays.
 *
 * @locality any thread; a world is read-only after bd_sim_world_new().
 */
#ifndef BUDGETD_SIMWORLD_INT_H
#define BUDGETD_SIMWORLD_INT_H

#include <math.h>
#include <stdint.h>

#include "budgetd/lab/simworld.h"

#define BD__SIM_LAT_S 4	   /* per-user latent offset dims (e_i) */
#define BD__SIM_N_RESP 4   /* individual response offsets: a, m, v, r */
#define BD__SIM_MAX_PEAKS 8 /* Gaussian bumps of an arrival profile */
#define BD__SIM_HID 24	   /* hidden units of the default feature map */
#define BD__SIM_LAT 7	   /* default latent: 4 segment + 3 nuisance dims */
#define BD__SIM_N_CITIES 6
#define BD__SIM_SCORE_M 64 /* random features of the logging score */
#define BD__SIM_N_FPAR 8   /* per-segment feature parameters (families) */
#define BD__SIM_N_FAM 32   /* family-level coefficients */
#define BD__SIM_PCONV_MAX 0.95
#define BD__SIM_PCONV_MIN 1e-6

/* RNG streams: world-level draws, the default family's pilot, user i */
#define BD__SIM_STREAM_WORLD 1
#define BD__SIM_STREAM_PILOT 2
#define BD__SIM_STREAM_USER (UINT64_C(1) << 40)

/* An arrival density over the day fraction [0, 1): a floor, Gaussian bumps
 * (wrapped), and a broad daytime component a (1 + cos 2 pi (x - day_mu)) / 2. */
struct bd__sim_profile {
	double floor;
	int n_peaks;
	double a[BD__SIM_MAX_PEAKS], mu[BD__SIM_MAX_PEAKS], sd[BD__SIM_MAX_PEAKS];
	double day, day_mu;
	double norm;
};

/* A segment archetype's response parameters (before perturbation). */
struct bd__sim_arch_response {
	double share, p0, b_fast, b_slow, b_thr, b_val, rho, gmv, xo;
};

struct bd__sim_segment {
	const char *name;
	char label[24]; /* storage for generated names (name may point here) */
	double share;
	double logit_p0, b_fast, b_slow, b_thr, b_val, logit_rho, gmv, xo;
	double centre[BD__SIM_LAT_S];
	double wdir[BD__SIM_N_RESP][BD__SIM_LAT_S];
	double fpar[BD__SIM_N_FPAR]; /* family-specific feature parameters */
	struct bd__sim_profile prof;
};

struct bd_sim_world_s {
	bd_sim_params_t p;
	int n, dim, T, S;
	struct bd__sim_segment seg[BD_SIM_MAX_SEGMENTS];
	double cum_share[BD_SIM_MAX_SEGMENTS];
	double g_fast[BD_SIM_MAX_T], g_slow[BD_SIM_MAX_T], g_thr[BD_SIM_MAX_T];
	double fam[BD__SIM_N_FAM]; /* family-level coefficients */
	/* the default family's feature map */
	double city[BD__SIM_N_CITIES][2];
	double W1[BD__SIM_HID][BD__SIM_LAT], b1[BD__SIM_HID];
	double *W2;		 /* dim x HID */
	double *fmean, *fsd;	 /* pilot standardisation of the raw map */
	double *fscale, *foff;	 /* raw-feature units */
	/* logging-policy score: a ridge fit on SCORE_M random tanh features of
	 * the standardised observed features, itself standardised */
	double *smu, *ssd;	   /* dim */
	double *sproj;		   /* SCORE_M x dim */
	double sbias[BD__SIM_SCORE_M], sbeta[BD__SIM_SCORE_M];
	double score_mean, score_sd;
	/* per user */
	uint8_t *useg;
	float *x;     /* n x dim */
	float *pconv; /* n x T */
	float *gmv;   /* n x T */
	float *rho;   /* n */
};

static inline double bd__sim_sigm(double z)
{
	return 1.0 / (1.0 + exp(-z));
}

static inline double bd__sim_logit(double p)
{
	return log(p / (1.0 - p));
}

/** Poisson draw (multiplication method; fine for lam up to ~50). */
int bd__sim_poisson(uint64_t *s, double lam);

/** Fills @p pr from its parts and computes its normaliser (peaks in day
 *  fractions). */
void bd__sim_profile_make(struct bd__sim_profile *pr, double floor, int n_peaks,
			  const double *a, const double *mu, const double *sd, double day,
			  double day_mu);

/** Normalises the segment shares and builds the cumulative table. */
void bd__sim_finish_shares(bd_sim_world_t *w);

/** Picks a segment by its share from a uniform @p u in [0, 1). */
int bd__sim_pick_segment(const bd_sim_world_t *w, double u);

/** Sets segment @p s's name and response parameters from archetype @p a,
 *  each perturbed log-normally with sd @p sd (shares with 0.2; signs kept). */
void bd__sim_segment_draw(struct bd__sim_segment *s, const char *name,
			  const struct bd__sim_arch_response *a, double sd, uint64_t *r);

/** Draws segment @p s's random unit directions wdir (one per response). */
void bd__sim_response_dirs(struct bd__sim_segment *s, uint64_t *r);

/** A user's response offsets z_q = sqrt(0.7) wdir_q . e + sqrt(0.3) N(0,1):
 *  standard normal, correlated with the latent offset @p e. */
void bd__sim_response_z(const struct bd__sim_segment *sg, const double e[BD__SIM_LAT_S],
			uint64_t *r, double z[BD__SIM_N_RESP]);

/** Stores user @p i's truth: pconv_t = S(a + m lift_t) clamped, gmv_t =
 *  v exp(b_val g_slow(c_t)), rho; lift_t from the segment's shapes. */
void bd__sim_store_responses(bd_sim_world_t *w, int i, int s, double a, double m, double v,
			     double rho);

/** Sets the coupon ladder to the @p n values @p c (c[0] = 0). */
void bd__sim_params_ladder(bd_sim_params_t *p, const double *c, int n);

/* ---- the families (simfamilies.c) ------------------------------------ */

/** World-level draws of the `smooth` / `sparse` family (segments, profiles,
 *  coefficients) from the world stream @p r. */
void bd__sim_smooth_build(bd_sim_world_t *w, uint64_t *r);
void bd__sim_sparse_build(bd_sim_world_t *w, uint64_t *r);

/** User @p i's segment, features and truth, from its own stream. */
void bd__sim_smooth_user(bd_sim_world_t *w, int i);
void bd__sim_sparse_user(bd_sim_world_t *w, int i);

/** The family's knob defaults (segments, coupons, mean delay). */
void bd__sim_smooth_params(bd_sim_params_t *p);
void bd__sim_sparse_params(bd_sim_params_t *p);

/** A conversion's outcome delay in seconds (mean p.mean_delay_s). */
double bd__sim_smooth_delay(const bd_sim_world_t *w, uint64_t *r);
double bd__sim_sparse_delay(const bd_sim_world_t *w, uint64_t *r);

#endif
