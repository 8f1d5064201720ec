/*
 * bd-exp-bench: the holdout report's intervals over many simulated days,
 * in process (lab/simexp.c: the report's statistics on a world's users and
 * outcome draws, no broker).  Per world family, R A/A days (both arms the
 * same random coupons: the truth is 0) and R A/B days (the treated random
 * coupons, the holdout control: the truth is the treated's true expected
 * value per request less the holdout's); how often the 95% interval holds
 * the truth, and the interval's mean width.
 *
 *   bd-exp-bench [--reps R] [--requests N] [--users U] [--holdout H] [--seed S]
 *
 * Prints per world and mode, then
 *   coverage: reps=R aa_min=.. aa_mean=.. ab_min=.. ab_mean=..
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/lab/simexp.h"
#include "budgetd/lab/simworld.h"

int main(int argc, char **argv)
{
	int reps = 400, n = 6000, users = 2000;
	double holdout = 0.1;
	unsigned long long seed = 11;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--requests"))
			n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--users"))
			users = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--holdout"))
			holdout = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[i + 1], NULL, 10);
		else {
			fprintf(stderr, "bd-exp-bench: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (argc % 2 == 0 || reps < 1 || n < 2 || users < 2 || !(holdout > 0 && holdout <= 0.5)) {
		fprintf(stderr, "usage: bd-exp-bench [--reps R] [--requests N] [--users U] "
				"[--holdout H] [--seed S]\n");
		return 2;
	}
	double aa_min = 1, ab_min = 1, aa_sum = 0, ab_sum = 0;
	for (int f = 0; f < BD_SIM_WORLD__COUNT; f++) {
		bd_sim_params_t p;
		bd_sim_world_t *w;
		bd_sim_params_default(&p);
		if (bd_sim_params_family(&p, f))
			return 1;
		p.n_users = users;
		p.seed = seed + (uint64_t)f;
		if (bd_sim_world_new(&p, &w))
			return 1;
		for (int ab = 0; ab < 2; ab++) {
			int hit = 0;
			double width = 0, se = 0;
			for (int rep = 0; rep < reps; rep++) {
				bd_exp_result_t r;
				double truth;
				if (bd_sim_holdout_day(w, rep + ab * 1000000, n, holdout, ab, 1.959964,
						       &r, &truth))
					return 1;
				hit += r.lo <= truth && truth <= r.hi;
				width += r.hi - r.lo;
				se += r.uplift_value.se;
			}
			double cov = (double)hit / reps;
			printf("world=%s mode=%s reps=%d requests=%d users=%d holdout=%g coverage=%.3f "
			       "mean_width=%.4f mean_se=%.4f\n", bd_sim_family_name(f),
			       ab ? "ab" : "aa", reps, n, users, holdout, cov, width / reps,
			       se / reps);
			if (ab) {
				ab_sum += cov;
				ab_min = cov < ab_min ? cov : ab_min;
			} else {
				aa_sum += cov;
				aa_min = cov < aa_min ? cov : aa_min;
			}
		}
		bd_sim_world_free(w);
	}
	printf("coverage: reps=%d aa_min=%.3f aa_mean=%.3f ab_min=%.3f ab_mean=%.3f\n", reps, aa_min,
	       aa_sum / BD_SIM_WORLD__COUNT, ab_min, ab_sum / BD_SIM_WORLD__COUNT);
	return 0;
}
