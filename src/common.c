#include "budgetd/common.h"

#include <string.h>

const char *bd_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case BD_EWIRE: return "bad wire framing";
	case BD_ESCHEMA: return "unknown schema";
	case BD_EDECODE: return "Avro decode error";
	case BD_EINVAL: return "invalid value";
	case BD_EUNKNOWN: return "unknown reference";
	case BD_EDUP: return "duplicate";
	case BD_ESTORE: return "state store error";
	case BD_EKAFKA: return "Kafka client error";
	case BD_ECONFIG: return "configuration error";
	case BD_EENCODING: return "not valid UTF-8";
	}
	if (err < 0 && err > -4096) {
		/* strerrordesc_np is thread-safe, unlike strerror */
		const char *s = strerrordesc_np(-err);
		if (s)
			return s;
	}
	return "unknown error";
}
