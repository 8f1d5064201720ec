/* ClusterPlan decoder: reads back every array it returns. */
#include "fuzz_common.h"

static volatile double fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bd_plan_msg_t p;
	char errstr[512];
	double s = 0;

	if (bd_decode_plan(fuzz_codec(), data, size, &p, errstr, sizeof(errstr)))
		return 0;
	s += (double)(fuzz_touch_str(p.campaign_id) + fuzz_touch_str(p.solver));
	for (int i = 0; i < p.n_clusters; i++) {
		s += p.traffic_share[i];
		for (int t = 0; t < p.n_treatments; t++)
			s += p.probabilities[i * p.n_treatments + t];
	}
	for (int i = 0; i < p.n_curve; i++)
		s += p.curve_budget[i] + p.curve_value[i];
	fuzz_sink = s;
	return 0;
}
