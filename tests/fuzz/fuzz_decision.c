/* Decision decoder (what the daemon reads back when it rebuilds state). */
#include "fuzz_common.h"

static volatile double fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bd_decision_t d;
	char errstr[512];

	if (bd_decode_decision(fuzz_codec(), data, size, &d, errstr, sizeof(errstr)))
		return 0;
	fuzz_sink = (double)(fuzz_touch_str(d.decision_id) + fuzz_touch_str(d.request_id) +
			     fuzz_touch_str(d.campaign_id) + fuzz_touch_str(d.user_id) +
			     fuzz_touch_str(d.reason)) +
		    d.propensity;
	return 0;
}
