/* FeatureEvent decoder: wire header, schema check, Avro body, checks. */
#include "fuzz_common.h"

static volatile double fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bd_feature_event_t ev;
	char errstr[512];
	double s = 0;

	if (bd_decode_feature(fuzz_codec(), data, size, &ev, errstr, sizeof(errstr)))
		return 0;
	s += (double)fuzz_touch_str(ev.request_id) + (double)fuzz_touch_str(ev.campaign_id) +
	     (double)fuzz_touch_str(ev.user_id);
	for (int j = 0; j < ev.dim; j++)
		s += ev.features[j];
	fuzz_sink = s;
	return 0;
}
