/* ControlCommand decoder alone (fuzz_campaign also applies the command). */
#include "fuzz_common.h"

static volatile double fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bd_control_command_t cmd;
	char errstr[512];
	double s = 0;

	if (bd_decode_control(fuzz_codec(), data, size, &cmd, errstr, sizeof(errstr)))
		return 0;
	s += (double)fuzz_touch_str(cmd.command_id) + (double)fuzz_touch_str(cmd.campaign_id);
	for (int j = 0; j < cmd.n_treatments; j++)
		s += (double)fuzz_touch_str(cmd.treatments[j].name) +
		     cmd.treatments[j].nominal_cost;
	s += (cmd.has_max_value ? cmd.max_value : 0) + (cmd.has_max_cost ? cmd.max_cost : 0) +
	     (cmd.has_winsor_value ? cmd.winsor_value : 0);
	fuzz_sink = s;
	return 0;
}
