/* OutcomeEvent decoder (optional features, treatment, propensity). */
#include "fuzz_common.h"

static volatile double fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bd_outcome_event_t ev;
	char errstr[512];
	double s = 0;

	if (bd_decode_outcome(fuzz_codec(), data, size, &ev, errstr, sizeof(errstr)))
		return 0;
	s += (double)fuzz_touch_str(ev.decision_id) + (double)fuzz_touch_str(ev.campaign_id) +
	     (double)fuzz_touch_str(ev.user_id);
	if (ev.has_features)
		for (int j = 0; j < ev.dim; j++)
			s += ev.features[j];
	s += ev.value + ev.cost + ev.treatment + ev.propensity;
	fuzz_sink = s;
	return 0;
}
