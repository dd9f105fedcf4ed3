/* SPDX-License-Identifier: MIT */
/*
 * Memory allocation with the kernel's names and arities. Every allocation of
 * the C core (and of driver code built against these headers) goes through
 * one hook, so tests can count live objects (leak checks) and make the N-th
 * allocation fail (every -ENOMEM path becomes testable). Process-wide and
 * thread-safe. Implementation: csrc/standin/slab.c.
 *
 * gfp_t flags: accepted and ignored, except __GFP_ZERO (zeroes, as in the
 * kernel). In particular GFP_NOWAIT/GFP_ATOMIC allocations may "sleep" (they
 * are plain malloc) and __GFP_NOFAIL allocations can still fail, both under
 * real memory pressure and under injected failure. kv*alloc is kmalloc: there
 * is no vmalloc fallback, and kvfree() is kfree().
 */
#ifndef PYGPUVM_LINUX_SLAB_H
#define PYGPUVM_LINUX_SLAB_H

#include "linux/gfp_types.h"
#include "linux/overflow.h"
#include "linux/types.h"

/* Uninitialised allocation (zeroed with __GFP_ZERO); NULL on failure (real or injected). */
void *kmalloc(size_t size, gfp_t flags);
/* Zeroed allocation; NULL on failure. */
void *kzalloc(size_t size, gfp_t flags);
/*
 * Resize (NULL @ptr allocates); on failure returns NULL and leaves @ptr intact.
 * With __GFP_ZERO the grown tail is NOT zeroed (the allocator does not know the
 * old size; the kernel's does): zero it yourself.
 */
void *krealloc(const void *ptr, size_t new_size, gfp_t flags);
/* NULL-safe. */
void kfree(const void *ptr);
/* kfree() after clearing the memory (needs the size, unlike the kernel's: see the docs). */
void kfree_sensitive(const void *ptr);
/* A kmalloc'd copy of @len bytes at @src; NULL on failure. */
void *kmemdup(const void *src, size_t len, gfp_t gfp);
/* A kmalloc'd copy of the string @s (NULL for NULL); NULL on failure. */
char *kstrdup(const char *s, gfp_t gfp);

/* Arrays: an overflowing @n * @size fails (returns NULL) instead of wrapping. */
static inline void *kmalloc_array(size_t n, size_t size, gfp_t flags)
{
	return kmalloc(size_mul(n, size), flags);
}

static inline void *kcalloc(size_t n, size_t size, gfp_t flags)
{
	return kmalloc_array(n, size, flags | __GFP_ZERO);
}

static inline void *krealloc_array(void *p, size_t new_n, size_t new_size, gfp_t flags)
{
	return krealloc(p, size_mul(new_n, new_size), flags);
}

/* No vmalloc in userspace: the kv* forms are the kmalloc ones. */
static inline void *kvmalloc(size_t size, gfp_t flags) { return kmalloc(size, flags); }
static inline void *kvzalloc(size_t size, gfp_t flags) { return kzalloc(size, flags); }
static inline void *kvmalloc_array(size_t n, size_t size, gfp_t flags)
{
	return kmalloc_array(n, size, flags);
}
static inline void *kvcalloc(size_t n, size_t size, gfp_t flags)
{
	return kcalloc(n, size, flags);
}
static inline void kvfree(const void *addr) { kfree(addr); }

/*
 * Typed allocation helpers (Linux 7.0): kzalloc_obj(*p) allocates one object
 * of the type of the expression or type given, kzalloc_objs(*p, n) an array,
 * kzalloc_flex(*p, fam, n) a struct with @n trailing flexible-array elements.
 * The gfp argument is optional and defaults to GFP_KERNEL. Sizes saturate, so
 * an overflowing count fails. Unlike the kernel's, kzalloc_flex() never sets a
 * __counted_by() counter (there are no counted_by annotations here).
 */
#define __gpuvm_gfp_pick(dummy, gfp, ...) gfp
#define default_gfp(...) __gpuvm_gfp_pick(, __VA_ARGS__ __VA_OPT__(,) GFP_KERNEL)

#define __alloc_objs(KMALLOC, GFP, TYPE, COUNT) \
	((TYPE *)KMALLOC(size_mul(sizeof(TYPE), COUNT), GFP))
#define __alloc_flex(KMALLOC, GFP, TYPE, FAM, COUNT) \
	((TYPE *)KMALLOC(struct_size_t(TYPE, FAM, COUNT), GFP))

#define kmalloc_obj(VAR_OR_TYPE, ...) \
	__alloc_objs(kmalloc, default_gfp(__VA_ARGS__), __typeof__(VAR_OR_TYPE), 1)
#define kmalloc_objs(VAR_OR_TYPE, COUNT, ...) \
	__alloc_objs(kmalloc, default_gfp(__VA_ARGS__), __typeof__(VAR_OR_TYPE), COUNT)
#define kmalloc_flex(VAR_OR_TYPE, FAM, COUNT, ...) \
	__alloc_flex(kmalloc, default_gfp(__VA_ARGS__), __typeof__(VAR_OR_TYPE), FAM, COUNT)
#define kzalloc_obj(P, ...) \
	__alloc_objs(kzalloc, default_gfp(__VA_ARGS__), __typeof__(P), 1)
#define kzalloc_objs(P, COUNT, ...) \
	__alloc_objs(kzalloc, default_gfp(__VA_ARGS__), __typeof__(P), COUNT)
#define kzalloc_flex(P, FAM, COUNT, ...) \
	__alloc_flex(kzalloc, default_gfp(__VA_ARGS__), __typeof__(P), FAM, COUNT)
#define kvmalloc_obj(P, ...) \
	__alloc_objs(kvmalloc, default_gfp(__VA_ARGS__), __typeof__(P), 1)
#define kvmalloc_objs(P, COUNT, ...) \
	__alloc_objs(kvmalloc, default_gfp(__VA_ARGS__), __typeof__(P), COUNT)
#define kvmalloc_flex(P, FAM, COUNT, ...) \
	__alloc_flex(kvmalloc, default_gfp(__VA_ARGS__), __typeof__(P), FAM, COUNT)
#define kvzalloc_obj(P, ...) \
	__alloc_objs(kvzalloc, default_gfp(__VA_ARGS__), __typeof__(P), 1)
#define kvzalloc_objs(P, COUNT, ...) \
	__alloc_objs(kvzalloc, default_gfp(__VA_ARGS__), __typeof__(P), COUNT)
#define kvzalloc_flex(P, FAM, COUNT, ...) \
	__alloc_flex(kvzalloc, default_gfp(__VA_ARGS__), __typeof__(P), FAM, COUNT)

/* Ours, not the kernel's: failure injection and accounting. */
/* Make the @n-th allocation from now fail (1 = the next one); 0 disarms. */
void gpuvm_alloc_fail_nth(unsigned long n);
/* Allocations attempted since start (failed ones included). */
unsigned long gpuvm_alloc_count(void);
/* Allocations currently live (kzalloc/kmalloc minus kfree). */
long gpuvm_alloc_live(void);
/* Injected failures so far. */
unsigned long gpuvm_alloc_failures(void);

#endif
