/* The message kinds' names: the schema files' names (kinds.h). */
#include "budgetd/base/kinds.h"

static const char *const kind_names[BD_MSG__COUNT] = {
	"feature_event", "outcome_event", "control_command", "decision",
	"plan",		 "model_update",  "dead_letter",	  "changelog",
};

const char *bd_msg_kind_name(bd_msg_kind_t kind)
{
	return (unsigned)kind < BD_MSG__COUNT ? kind_names[kind] : "unknown";
}
