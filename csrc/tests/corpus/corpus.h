/* SPDX-License-Identifier: MIT */
/*
 * Shared bits of the driver-style corpus: a seeded PRNG and a TAP-ish check
 * macro. The corpus programs include kernel headers only with <...>, the way
 * driver sources do, and are built with -Wall -Wextra -Werror (meson's unit
 * suite, hence also under ASan+UBSan and TSan in CI).
 */
#ifndef CORPUS_H
#define CORPUS_H

#include <stdio.h>
#include <stdlib.h>

#include <linux/types.h>

static u64 corpus_rng = 0x9e3779b97f4a7c15ULL;

static inline u64 corpus_rand(void)
{
	corpus_rng ^= corpus_rng << 13;
	corpus_rng ^= corpus_rng >> 7;
	corpus_rng ^= corpus_rng << 17;
	return corpus_rng;
}

static inline unsigned int corpus_below(unsigned int n)
{
	return (unsigned int)(corpus_rand() % n);
}

static int corpus_failures;

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                             \
			corpus_failures++;                                    \
		}                                                             \
	} while (0)

/* One TAP line per program part. */
#define CORPUS_PART(n, name, expr)                                               \
	do {                                                                     \
		int f0__ = corpus_failures;                                      \
		expr;                                                            \
		printf("%sok %d - %s\n", corpus_failures == f0__ ? "" : "not ", \
		       (n), (name));                                             \
		fflush(stdout);                                                  \
	} while (0)

#endif
