#include "budgetd/lab/simexp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bd_sim_holdout_day(const bd_sim_world_t *w, int day, int n, double holdout, int ab,
		       double z, bd_exp_result_t *r, double *truth)
{
	double *times = malloc(sizeof(double) * (size_t)n);
	int *users = malloc(sizeof(int) * (size_t)n);
	bd_experiment_t *e = calloc(1, sizeof(*e));
	uint64_t rng = bd_sim_rng_seed(7, 100 + (uint64_t)day);
	int err = -ENOMEM;
	if (!times || !users || !e || (err = bd_sim_day_arrivals(w, n, &rng, times, users)))
		goto out;
	char camp[32], uid[32];
	snprintf(camp, sizeof(camp), "exp-%d", day);
	double ev[BD_ARM__COUNT] = {0}, cnt[BD_ARM__COUNT] = {0};
	const int J = bd_sim_n_treatments(w);
	for (int i = 0; i < n; i++) {
		snprintf(uid, sizeof(uid), "u%d", users[i]);
		int arm = bd_experiment_holdout(camp, uid, holdout) ? BD_ARM_HOLDOUT : BD_ARM_TREATED;
		int t = (ab && arm == BD_ARM_HOLDOUT) ? 0 : (int)(bd_sim_rng_uniform(&rng) * J);
		bd_sim_outcome_t o;
		bd_sim_outcome(w, users[i], t, &rng, &o);
		double x[BD_EXP__COUNT] = {1, 1, o.value, o.cost, o.orders};
		bd_experiment_add(e, arm, bd_experiment_bucket(camp, uid), x, BD_EXP__COUNT);
		ev[arm] += bd_sim_user_ev(w, users[i], t);
		cnt[arm]++;
	}
	bd_experiment_result(e, z, r);
	*truth = ab && cnt[0] > 0 && cnt[1] > 0 ? ev[0] / cnt[0] - ev[1] / cnt[1] : 0;
	err = 0;
out:
	free(times);
	free(users);
	free(e);
	return err;
}
