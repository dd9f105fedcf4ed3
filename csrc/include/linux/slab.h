/* SPDX-License-Identifier: MIT */
/*
 * Every allocation of the C core goes through this hook, so tests can count
 * live objects (leak checks) and make the N-th allocation fail (every -ENOMEM
 * path becomes testable). Process-wide and thread-safe. Implementation: csrc/standin/slab.c.
 */
#ifndef PYGPUVM_LINUX_SLAB_H
#define PYGPUVM_LINUX_SLAB_H

#include "linux/types.h"

/* Zeroed allocation; NULL on failure (real or injected). */
void *kzalloc(size_t size);
/* Uninitialised allocation; NULL on failure. */
void *kmalloc(size_t size);
/* Resize (NULL ptr allocates); on failure returns NULL and leaves ptr intact. */
void *krealloc(void *ptr, size_t size);
void kfree(const void *ptr);

/* Make the @n-th allocation from now fail (1 = the next one); 0 disarms. */
void gpuvm_alloc_fail_nth(unsigned long n);
/* Allocations attempted since start (failed ones included). */
unsigned long gpuvm_alloc_count(void);
/* Allocations currently live (kzalloc/kmalloc minus kfree). */
long gpuvm_alloc_live(void);
/* Injected failures so far. */
unsigned long gpuvm_alloc_failures(void);

#endif
