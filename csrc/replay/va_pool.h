/* SPDX-License-Identifier: MIT */
/*
 * gpuvm-replay's VA allocator: 128-byte, 64-byte aligned slots carved from
 * large chunks, with a free list. A tree descent then touches exactly one
 * cache line per node (struct drm_gpuva keeps va and rb in its first 64
 * bytes), where malloc's 16-byte aligned 128-byte chunks straddle two lines
 * three times out of four. Freed slots are reused, never returned to the
 * chunk's allocation, so the memory held is the peak number of live VAs
 * times 128 bytes, as with malloc.
 *
 * Chunks come from kmalloc so the allocation counters and failure injection
 * still see them (one allocation per chunk). Private to gpuvm_replay.c.
 */
#ifndef GPUVM_REPLAY_VA_POOL_H
#define GPUVM_REPLAY_VA_POOL_H

#include <string.h>
#include <sys/mman.h>

#include "driver/kapi.h"

#define VA_POOL_LINE 64
#define VA_POOL_SLOT 128
/* 64 KiB per chunk including its header line: small enough for the heap. */
#define VA_POOL_SLOTS 511

_Static_assert(sizeof(struct drm_gpuva) <= VA_POOL_SLOT, "a VA must fit in a pool slot");

/* Sits in the first line of each chunk; the slots follow it. */
struct va_pool_chunk {
	void *raw; /* what kmalloc returned, for kfree */
	struct va_pool_chunk *next;
};

struct va_pool_free {
	struct va_pool_free *next;
};

struct va_pool {
	struct va_pool_chunk *chunks;
	struct va_pool_free *free;
	/* Unused tail of the newest chunk. */
	char *bump, *bump_end;
};

/*
 * Back a new chunk with memory in one system call instead of one page fault
 * per 4 KiB as the slots are first written: a fault costs more than the page
 * it brings. Only a hint (kernels before 5.14 lack it): errors are ignored.
 */
static inline void va_pool_populate(void *chunk, size_t bytes)
{
#ifdef MADV_POPULATE_WRITE
	const uintptr_t page = 4096;
	const uintptr_t start = ((uintptr_t)chunk + page - 1) & ~(page - 1);
	const uintptr_t end = ((uintptr_t)chunk + bytes) & ~(page - 1);

	if (end > start)
		(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
#else
	GPUVM_UNUSED(chunk);
	GPUVM_UNUSED(bytes);
#endif
}

static inline void va_pool_init(struct va_pool *pool)
{
	memset(pool, 0, sizeof(*pool));
}

static inline struct drm_gpuva *va_pool_alloc(struct va_pool *pool)
{
	void *slot;

	if (pool->free) {
		slot = pool->free;
		pool->free = pool->free->next;
	} else {
		if (pool->bump == pool->bump_end) {
			const size_t bytes = VA_POOL_LINE + (size_t)VA_POOL_SLOTS * VA_POOL_SLOT;
			/* Over-allocate by a line to align by hand: kmalloc gives 16. */
			void *raw = kmalloc(bytes + VA_POOL_LINE, GFP_KERNEL);
			struct va_pool_chunk *chunk;

			if (!raw)
				return NULL;
			chunk = (void *)(((uintptr_t)raw + VA_POOL_LINE - 1) &
					 ~(uintptr_t)(VA_POOL_LINE - 1));
			chunk->raw = raw;
			chunk->next = pool->chunks;
			pool->chunks = chunk;
			pool->bump = (char *)chunk + VA_POOL_LINE;
			pool->bump_end = (char *)chunk + bytes;
			va_pool_populate(chunk, bytes);
		}
		slot = pool->bump;
		pool->bump += VA_POOL_SLOT;
	}
	/* drm_gpuva_map() wants zeroed VAs. */
	memset(slot, 0, sizeof(struct drm_gpuva));
	return slot;
}

static inline void va_pool_free(struct va_pool *pool, struct drm_gpuva *va)
{
	struct va_pool_free *slot = (void *)va;

	slot->next = pool->free;
	pool->free = slot;
}

/* Releases every chunk; the VAs in them must no longer be in use. */
static inline void va_pool_destroy(struct va_pool *pool)
{
	while (pool->chunks) {
		struct va_pool_chunk *chunk = pool->chunks;

		pool->chunks = chunk->next;
		kfree(chunk->raw);
	}
	va_pool_init(pool);
}

#endif
