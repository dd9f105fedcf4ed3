/* SPDX-License-Identifier: MIT */
/*
 * Overflow-checked arithmetic with the kernel's names. The size helpers
 * saturate at SIZE_MAX, so an overflowing allocation size fails in the
 * allocator instead of allocating too little.
 */
#ifndef PYGPUVM_LINUX_OVERFLOW_H
#define PYGPUVM_LINUX_OVERFLOW_H

#include "linux/types.h"

/* True if a + b / a - b / a * b overflowed the type of *d; *d gets the wrapped result. */
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
#define check_sub_overflow(a, b, d) __builtin_sub_overflow(a, b, d)
#define check_mul_overflow(a, b, d) __builtin_mul_overflow(a, b, d)

static inline size_t size_mul(size_t factor1, size_t factor2)
{
	size_t bytes;

	if (__builtin_mul_overflow(factor1, factor2, &bytes))
		return SIZE_MAX;
	return bytes;
}

static inline size_t size_add(size_t addend1, size_t addend2)
{
	size_t bytes;

	if (__builtin_add_overflow(addend1, addend2, &bytes))
		return SIZE_MAX;
	return bytes;
}

static inline size_t size_sub(size_t minuend, size_t subtrahend)
{
	size_t bytes;

	if (minuend == SIZE_MAX || subtrahend == SIZE_MAX ||
	    __builtin_sub_overflow(minuend, subtrahend, &bytes))
		return SIZE_MAX;
	return bytes;
}

#define array_size(a, b) size_mul(a, b)
#define array3_size(a, b, c) size_mul(size_mul(a, b), c)

/* Bytes of @count elements of the flexible array @member of *@p / of @type. */
#define flex_array_size(p, member, count) size_mul(count, sizeof(*(p)->member))
#define struct_size(p, member, count) \
	size_add(sizeof(*(p)), flex_array_size(p, member, count))
#define struct_size_t(type, member, count) struct_size((type *)NULL, member, count)

#endif
