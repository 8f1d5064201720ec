#include "budgetd/base/hash.h"

uint64_t bd_hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t bd_hash_bytes(const void *buf, size_t len, uint64_t seed)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL ^ bd_hash_mix(seed);
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return bd_hash_mix(h ^ len);
}

uint64_t bd_hash_str(const char *s, uint64_t seed)
{
	size_t n = 0;
	while (s[n])
		n++;
	return bd_hash_bytes(s, n, seed);
}

uint64_t bd_hash_next(uint64_t *state)
{
	return bd_hash_mix(*state += 0x9e3779b97f4a7c15ULL);
}

double bd_hash_unit(uint64_t h)
{
	return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}
