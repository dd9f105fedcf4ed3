/* SPDX-License-Identifier: MIT */
/* Reference counts on C11 atomics, with the kernel's kref API. */
#ifndef PYGPUVM_LINUX_KREF_H
#define PYGPUVM_LINUX_KREF_H

#include <stdatomic.h>

#include "linux/types.h"

struct mutex;

struct kref {
	atomic_uint refcount;
};

static inline void kref_init(struct kref *kref)
{
	atomic_init(&kref->refcount, 1);
}

static inline unsigned int kref_read(const struct kref *kref)
{
	return atomic_load_explicit((atomic_uint *)&kref->refcount, memory_order_relaxed);
}

static inline void kref_get(struct kref *kref)
{
	atomic_fetch_add_explicit(&kref->refcount, 1, memory_order_relaxed);
}

/* Take a reference unless the count already dropped to zero (object dying). */
static inline bool kref_get_unless_zero(struct kref *kref)
{
	unsigned int old = atomic_load_explicit(&kref->refcount, memory_order_relaxed);

	do {
		if (old == 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&kref->refcount, &old, old + 1,
							memory_order_acquire,
							memory_order_relaxed));
	return true;
}

/* Drop a reference; calls @release and returns 1 when it was the last one. */
static inline int kref_put(struct kref *kref, void (*release)(struct kref *kref))
{
	if (atomic_fetch_sub_explicit(&kref->refcount, 1, memory_order_acq_rel) == 1) {
		release(kref);
		return 1;
	}
	return 0;
}

/*
 * Decrement unless this would drop the count to zero; returns true if it did
 * decrement. Used to implement kref_put_mutex(): only the final put takes the lock.
 */
static inline bool kref_put_unless_last(struct kref *kref)
{
	unsigned int old = atomic_load_explicit(&kref->refcount, memory_order_relaxed);

	do {
		if (old <= 1)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&kref->refcount, &old, old - 1,
							memory_order_acq_rel,
							memory_order_relaxed));
	return true;
}

#endif
