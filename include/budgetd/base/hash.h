/**
 * @file hash.h
 * @brief Stable 64-bit hashing and counter-based randomness.
 *
 * Decisions must be reproducible: the same request always gets the same
 * decision, on any instance, after any restart.  So every "random" draw on
 * the decision path is a hash of stable inputs, never a stateful RNG.
 * The hash is FNV-1a 64 followed by the splitmix64 finaliser (FNV alone
 * mixes the high bits poorly).  Its values are part of the wire contract
 * (decision ids): never change it.
 */
#ifndef BUDGETD_HASH_H
#define BUDGETD_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t bd_hash_bytes(const void *buf, size_t len, uint64_t seed);
uint64_t bd_hash_str(const char *s, uint64_t seed);
/** splitmix64 finaliser: a bijective mix of @p x. */
uint64_t bd_hash_mix(uint64_t x);
/** splitmix64: advances @p state and returns the next 64 random bits (for
 *  seeded, reproducible training; not for the decision path). */
uint64_t bd_hash_next(uint64_t *state);
/** A uniform double in [0, 1) from the top 53 bits of @p h. */
double bd_hash_unit(uint64_t h);

#endif
