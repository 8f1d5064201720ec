/*
 * Control-command validation end to end: decode, then apply to a fresh
 * campaign registry (as the main thread does), then apply the same command
 * again so that actions other than UPSERT_CAMPAIGN and updates of an
 * existing campaign are reached too.
 */
#include "fuzz_common.h"

#include "budgetd/policy/bounds.h"
#include "budgetd/policy/campaign.h"

static volatile double fuzz_sink;
static bd_config_t cfg; /* the defaults, for the bounds */
static int cfg_ready;

static void free_cfg(void)
{
	bd_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bd_control_command_t cmd;
	bd_campaigns_t cs = {0};
	bd_campaign_t *changed;
	char errstr[512];
	int effect;

	if (!cfg_ready && (cfg_ready = bd_config_init(&cfg) == 0))
		atexit(free_cfg);
	if (!cfg_ready || bd_decode_control(fuzz_codec(), data, size, &cmd, errstr, sizeof(errstr)))
		return 0;
	for (int round = 0; round < 2; round++)
		if (bd_campaigns_apply(&cs, &cmd, 0.1, &effect, &changed, errstr,
				       sizeof(errstr)) == 0) {
			bd_bounds_t b;
			bd_bounds_of(changed, &cfg, &b);
			double s = changed->daily_budget + b.max_value + b.max_cost +
				   b.winsor_value;
			for (int j = 0; j < changed->n_treatments; j++)
				s += changed->nominal_cost[j] +
				     (double)fuzz_touch_str(changed->treatment_name[j]);
			fuzz_sink = s;
		}
	bd_campaigns_free(&cs);
	return 0;
}
