/* SPDX-License-Identifier: MIT */
/*
 * The VM's interval tree of drm_gpuva (private to csrc/gpuvm/ and the tests).
 * Keyed by va.addr; each node covers the inclusive interval
 * [va.addr, va.addr + va.range - 1] computed modulo 2^64 (a zero-range VA at
 * a covers [a, a-1]), and rb.__subtree_last holds the largest such last byte
 * in its subtree. Implementation: csrc/lib/interval_tree.c.
 */
#ifndef PYGPUVM_INTERVAL_TREE_H
#define PYGPUVM_INTERVAL_TREE_H

#include "drm/drm_gpuvm.h"

/*
 * Insert @va; equal starts go after the existing ones (insertion order kept).
 * Returns @va's in-order successor, or NULL if it is the last node.
 */
struct drm_gpuva *gpuva_it_insert(struct rb_root_cached *root, struct drm_gpuva *va);

/*
 * For a VA with range >= 1 whose end does not overflow: -EEXIST if
 * gpuva_it_iter_first(@root, start, last) finds a VA (nothing changes), else
 * the same insertion as gpuva_it_insert() with the successor in *@next, and
 * 0. One descent instead of two.
 */
int gpuva_it_insert_checked(struct rb_root_cached *root, struct drm_gpuva *va,
			    struct drm_gpuva **next);

/*
 * The same, with @spine caching the tree's right spine (initially len 0; any
 * tree change may leave it stale, it is checked against the tree before it is
 * used, and only entries found in the tree are dereferenced). A VA that goes
 * last (nothing in the tree reaches its start) then costs no walk down the
 * spine: its maxima are updated from the cache.
 */
/*
 * What spine->walk is set to: shorter spines (as last seen) are walked, as
 * gpuva_it_insert_checked() does, since they sit in the first level cache and
 * a walk takes fewer instructions than checking the cache.
 */
#define GPUVA_IT_SPINE_WALK 24

int gpuva_it_insert_checked_spine(struct rb_root_cached *root, struct gpuva_it_spine *spine,
				  struct drm_gpuva *va, struct drm_gpuva **next);

/*
 * Insert @va as the in-order successor of @prev, without a descent from the
 * root. The caller guarantees that gpuva_it_insert() would put it there.
 */
void gpuva_it_insert_after(struct rb_root_cached *root, struct drm_gpuva *prev,
			   struct drm_gpuva *va);

/*
 * @new takes @old's place in the tree, and @old is out of it. The caller
 * guarantees that address order is unchanged (@new starts at or after @old's
 * predecessor and before its successor, as the insertion rule would put it).
 */
void gpuva_it_replace(struct rb_root_cached *root, struct drm_gpuva *old, struct drm_gpuva *new);
void gpuva_it_remove(struct rb_root_cached *root, struct drm_gpuva *va);

/*
 * The first VA in address order whose last byte is >= @start, if its start is
 * <= @last; else NULL. This is the kernel interval tree's query: for a normal
 * range it is the lowest-start VA overlapping [@start, @last].
 */
struct drm_gpuva *gpuva_it_iter_first(struct rb_root_cached *root, u64 start, u64 last);

/* The same query, inlined into callers on hot paths (sm.c's walks). */
static inline struct drm_gpuva *gpuva_it_iter_first_inline(struct rb_root_cached *root,
							   u64 start, u64 last)
{
	struct rb_node *node = root->rb_root.rb_node;

	if (!node || container_of(node, struct drm_gpuva, rb.node)->rb.__subtree_last < start)
		return NULL;

	/*
	 * Find the first VA in address order whose last byte reaches @start:
	 * only ever enter a subtree whose __subtree_last is >= @start. Every VA
	 * after it starts at or above its start, so if it starts beyond @last
	 * nothing overlaps.
	 */
	for (;;) {
		struct rb_node *left = node->rb_left;
		struct drm_gpuva *va;

		/*
		 * Deciding needs the left child's line; the right child's is
		 * the other way on. Fetch both at once rather than one after
		 * the other.
		 */
#if defined(__GNUC__)
		__builtin_prefetch(node->rb_right);
#endif
		if (left && container_of(left, struct drm_gpuva, rb.node)->rb.__subtree_last >= start) {
			node = left;
			continue;
		}
		va = container_of(node, struct drm_gpuva, rb.node);
		if (va->va.addr > last)
			return NULL;
		/* Inclusive last byte, modulo 2^64 (range 0 gives addr - 1). */
		if (va->va.addr + va->va.range - 1 >= start)
			return va;
		/* Neither the left side nor this VA qualifies: the right one must. */
		node = node->rb_right;
	}
}

/* In-order predecessor of @va, or NULL. */
struct drm_gpuva *gpuva_it_prev(struct drm_gpuva *va);

/*
 * For tests: verify the red-black invariants, parent pointers, the leftmost
 * cache, address order and every __subtree_last. Returns 0 (and the node
 * count in *@count if non-NULL) or -EINVAL.
 */
int gpuva_it_check(struct rb_root_cached *root, size_t *count);

#endif
