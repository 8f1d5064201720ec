#include "budgetd/base/common.h"

#include <string.h>

int bd_sorted_pos(const void *base, int n, size_t size, const void *key,
		  int (*cmp)(const void *key, const void *elem), int *found)
{
	int lo = 0, hi = n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2, c = cmp(key, (const char *)base + (size_t)mid * size);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

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
