/* SPDX-License-Identifier: MIT */
/*
 * Decoding libFuzzer's bytes into numbers (csrc/fuzz). An exhausted input
 * reads as zeros, and fuzz_done() tells the targets to stop.
 */
#ifndef GPUVM_FUZZ_INPUT_H
#define GPUVM_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct fuzz_input {
	const uint8_t *p;
	size_t n;
};

static inline bool fuzz_done(const struct fuzz_input *in)
{
	return in->n == 0;
}

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint64_t fuzz_bytes(struct fuzz_input *in, unsigned int k)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < k; i++)
		v |= (uint64_t)fuzz_u8(in) << (8 * i);
	return v;
}

/*
 * A 64-bit number drawn so that the interesting ones are short: small values,
 * values near 2^64, page multiples, and any value at all.
 */
static inline uint64_t fuzz_u64(struct fuzz_input *in)
{
	uint8_t mode = fuzz_u8(in);

	switch (mode & 7) {
	case 0:
		return mode >> 3;
	case 1:
		return fuzz_u8(in);
	case 2:
		return (uint64_t)fuzz_u8(in) << 12;
	case 3:
		return fuzz_bytes(in, 2) << 12;
	case 4:
		return ~(uint64_t)0 - fuzz_u8(in);
	case 5:
		return (~(uint64_t)0 << 12) + ((uint64_t)fuzz_u8(in) << 12) * (mode >> 7);
	case 6:
		return (uint64_t)1 << (fuzz_u8(in) & 63);
	default:
		return fuzz_bytes(in, 8);
	}
}

/* A failed check: print where and abort, which libFuzzer reports as a crash. */
#define FUZZ_CHECK(cond)                                                              \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
				#cond);                                               \
			abort();                                                      \
		}                                                                     \
	} while (0)

#endif
