/**
 * @file simexp.h
 * @brief Simulated holdout days in process: the experiment report's
 *        statistics (policy/experiment.h) on a world's users and outcome
 *        draws, with the truth the world knows, for checking the report's
 *        intervals (tests/unit/test_experiment, bench/experiment).
 *
 * @locality any thread; the world is read-only.
 */
#ifndef BUDGETD_SIMEXP_H
#define BUDGETD_SIMEXP_H

#include <stdint.h>

#include "budgetd/lab/simworld.h"
#include "budgetd/policy/experiment.h"

/**
 * One day of @p n requests from the world's arrivals (stream @p day of
 * seed 7: users come several times when the world has few), a share
 * @p holdout of the users held out by campaign "exp-DAY"'s hash.  A/B
 * (@p ab): the treated get a uniformly random treatment, the holdout
 * control; A/A: both arms get the random treatment.  Fills @p r (intervals
 * at the normal quantile @p z made t) and @p truth: 0 for A/A; for A/B the
 * treated's true expected value per request less the holdout's, over the
 * users that came.  @returns 0 or -ENOMEM.
 */
int bd_sim_holdout_day(const bd_sim_world_t *w, int day, int n, double holdout, int ab,
		       double z, bd_exp_result_t *r, double *truth) BD_WUR;

#endif
