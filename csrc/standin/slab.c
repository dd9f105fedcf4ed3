/* SPDX-License-Identifier: MIT */
/*
 * The allocator hook behind linux/slab.h: libc malloc plus process-wide
 * counters and a one-shot "fail the N-th allocation" trigger, all atomic so
 * tests running several threads stay race-free.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "linux/slab.h"

static atomic_ulong alloc_count;
static atomic_long alloc_live;
static atomic_ulong alloc_failures;
/* Allocations left before the injected failure; 0 = disarmed. */
static atomic_ulong fail_countdown;

/*
 * Count one allocation attempt and decide whether it must fail. The countdown
 * is decremented with a CAS so exactly one thread sees it reach zero.
 */
static bool alloc_attempt(void)
{
	unsigned long n;

	atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed);
	n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
	while (n != 0) {
		if (atomic_compare_exchange_weak_explicit(&fail_countdown, &n, n - 1,
							  memory_order_relaxed,
							  memory_order_relaxed)) {
			if (n == 1) {
				atomic_fetch_add_explicit(&alloc_failures, 1,
							  memory_order_relaxed);
				return false;
			}
			break;
		}
	}
	return true;
}

/* Larger requests fail like a kernel kmalloc() beyond its maximum size would. */
#define GPUVM_KMALLOC_MAX ((size_t)PTRDIFF_MAX / 2)

/* gfp flags other than __GFP_ZERO are accepted and ignored (see linux/slab.h). */
void *kmalloc(size_t size, gfp_t flags)
{
	void *p;

	if (!alloc_attempt())
		return NULL;
	/*
	 * Saturated sizes (size_mul/struct_size overflow) fail here, before libc
	 * (or a sanitizer's allocator, which would abort) sees them.
	 */
	if (size > GPUVM_KMALLOC_MAX)
		return NULL;
	/* malloc(0) may return NULL; callers must not mistake that for -ENOMEM. */
	if (flags & __GFP_ZERO)
		p = calloc(1, size ? size : 1);
	else
		p = malloc(size ? size : 1);
	if (p)
		atomic_fetch_add_explicit(&alloc_live, 1, memory_order_relaxed);
	return p;
}

void *kzalloc(size_t size, gfp_t flags)
{
	return kmalloc(size, flags | __GFP_ZERO);
}

void *krealloc(const void *ptr, size_t new_size, gfp_t flags)
{
	void *p;

	if (!ptr)
		return kmalloc(new_size, flags);
	/* A resize is an allocation attempt too: -ENOMEM paths of growth are testable. */
	if (!alloc_attempt() || new_size > GPUVM_KMALLOC_MAX)
		return NULL;
	p = realloc((void *)ptr, new_size ? new_size : 1);
	/* realloc failure leaves ptr valid and still counted as live. */
	return p;
}

void kfree(const void *ptr)
{
	if (!ptr)
		return;
	atomic_fetch_sub_explicit(&alloc_live, 1, memory_order_relaxed);
	free((void *)ptr);
}

void kfree_sensitive(const void *ptr)
{
	if (!ptr)
		return;
	/* glibc knows the usable size; the kernel's ksize() plays that role there. */
	explicit_bzero((void *)ptr, malloc_usable_size((void *)ptr));
	kfree(ptr);
}

void *kmemdup(const void *src, size_t len, gfp_t gfp)
{
	void *p = kmalloc(len, gfp);

	if (p && len)
		memcpy(p, src, len);
	return p;
}

char *kstrdup(const char *s, gfp_t gfp)
{
	if (!s)
		return NULL;
	return kmemdup(s, strlen(s) + 1, gfp);
}

void gpuvm_alloc_fail_nth(unsigned long n)
{
	atomic_store_explicit(&fail_countdown, n, memory_order_relaxed);
}

unsigned long gpuvm_alloc_count(void)
{
	return atomic_load_explicit(&alloc_count, memory_order_relaxed);
}

long gpuvm_alloc_live(void)
{
	return atomic_load_explicit(&alloc_live, memory_order_relaxed);
}

unsigned long gpuvm_alloc_failures(void)
{
	return atomic_load_explicit(&alloc_failures, memory_order_relaxed);
}
