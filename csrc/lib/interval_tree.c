// SPDX-License-Identifier: MIT
/*
 * Augmented red-black interval tree of drm_gpuva. The augmentation callbacks
 * are static inline and handed to the always-inline core of rbtree.h, so the
 * compiler specialises the rebalancing for this tree: no indirect calls.
 */
#include "lib/interval_tree.h"

#include <errno.h>

#include "lib/rbtree.h"

static inline struct drm_gpuva *it_va(const struct rb_node *node)
{
	return rb_entry(node, struct drm_gpuva, rb.node);
}

/* Inclusive last byte, modulo 2^64 like the kernel's (so range 0 gives a-1). */
static inline u64 it_last(const struct drm_gpuva *va)
{
	return va->va.addr + va->va.range - 1;
}

static inline u64 it_compute(const struct drm_gpuva *va)
{
	u64 max = it_last(va);
	const struct rb_node *left = va->rb.node.rb_left;
	const struct rb_node *right = va->rb.node.rb_right;

	if (left && it_va(left)->rb.__subtree_last > max)
		max = it_va(left)->rb.__subtree_last;
	if (right && it_va(right)->rb.__subtree_last > max)
		max = it_va(right)->rb.__subtree_last;
	return max;
}

static inline void it_propagate(struct rb_node *node, struct rb_node *stop)
{
	while (node != stop) {
		struct drm_gpuva *va = it_va(node);
		u64 last = it_compute(va);

		if (va->rb.__subtree_last == last)
			break;
		va->rb.__subtree_last = last;
		node = rb_parent(node);
	}
}

static inline void it_copy(struct rb_node *old, struct rb_node *new)
{
	it_va(new)->rb.__subtree_last = it_va(old)->rb.__subtree_last;
}

static inline void it_rotate(struct rb_node *old, struct rb_node *new)
{
	it_va(new)->rb.__subtree_last = it_va(old)->rb.__subtree_last;
	it_va(old)->rb.__subtree_last = it_compute(it_va(old));
}

/* Hang @va in the free slot @link below @parent, then rebalance. */
static void it_link_and_fix(struct rb_root_cached *root, struct drm_gpuva *va,
			    struct rb_node *parent, struct rb_node **link, bool leftmost)
{
	va->rb.__subtree_last = it_last(va);
	rb_link_node(&va->rb.node, parent, link);
	if (leftmost)
		root->rb_leftmost = &va->rb.node;
	__rb_insert_fixup(&va->rb.node, &root->rb_root, it_rotate);
}

struct drm_gpuva *gpuva_it_insert(struct rb_root_cached *root, struct drm_gpuva *va)
{
	struct rb_node **link = &root->rb_root.rb_node;
	struct rb_node *parent = NULL;
	struct drm_gpuva *next = NULL;
	const u64 start = va->va.addr;
	const u64 last = it_last(va);
	bool leftmost = true;

	/* Every node on the way down gains @va in its subtree. */
	while (*link) {
		struct drm_gpuva *p = it_va(*link);

		parent = *link;
		if (p->rb.__subtree_last < last)
			p->rb.__subtree_last = last;
		if (start < p->va.addr) {
			/* The last node we pass on its left is the successor. */
			next = p;
			link = &parent->rb_left;
		} else {
			link = &parent->rb_right;
			leftmost = false;
		}
	}

	it_link_and_fix(root, va, parent, link, leftmost);
	return next;
}

/*
 * Why one descent is enough. Call F the first VA in address order whose last
 * byte reaches s = @va's start (F is what gpuva_it_iter_first() inspects).
 * Any VA starting after s reaches s: with a range it ends at or past its
 * start, and a zero-range VA at b > s has last byte b - 1 >= s (no VA's end
 * overflows: range_valid() and drm_gpuvm_init() see to that). So every VA
 * before F starts at or below s, and F, if it starts above @va's last byte,
 * starts above s: F is exactly the successor of @va's insertion point, which
 * puts @va after every VA starting at or below s, as gpuva_it_insert() does.
 * If F starts at or below @va's last byte, the query finds it: -EEXIST.
 */
/*
 * @va goes after every node, each of which gains it in its subtree: the right
 * spine's maxima become @va's last byte, and @va hangs below the rightmost.
 */
static void it_append(struct rb_root_cached *root, struct gpuva_it_spine *spine,
		      struct drm_gpuva *va)
{
	const u64 last = it_last(va);
	struct rb_node **link = &root->rb_root.rb_node;
	struct rb_node *parent = NULL;

	/*
	 * A short spine is in the first level cache anyway: walking it costs
	 * fewer instructions than checking the cache. Only its length is kept
	 * (with the cache marked stale), to switch over once it grows.
	 */
	if (spine && spine->len < spine->walk) {
		unsigned int depth = 1;

		while (*link) {
			parent = *link;
			it_va(parent)->rb.__subtree_last = last;
			link = &parent->rb_right;
			depth++;
		}
		spine->len = depth;
		spine->node[0] = 0;
		it_link_and_fix(root, va, parent, link, !parent);
		return;
	}
	if (spine && *link) {
		uintptr_t *const cache = spine->node;
		unsigned int len = spine->len, k = 1;

		/*
		 * Along the longest prefix of the cache that is still the spine
		 * (the root, then each entry the right child of the one before),
		 * give every node @va's last byte. An entry is dereferenced only
		 * once it has been found in the tree, and the loads do not depend
		 * on each other (unlike a walk down the spine, one pointer at a
		 * time).
		 */
		if (!len || cache[0] != (uintptr_t)*link) {
			cache[0] = (uintptr_t)*link;
			len = 1;
		}
		for (;;) {
			/*
			 * Read from the cache, not taken from the comparison
			 * below (the compiler would otherwise reuse the loaded
			 * right child and chain the loads again).
			 */
			parent = (struct rb_node *)*(volatile uintptr_t *)&cache[k - 1];
			it_va(parent)->rb.__subtree_last = last;
			if (k == len || (uintptr_t)parent->rb_right != cache[k])
				break;
			k++;
		}
		/* Then down the part that changed (usually a node or two). */
		while (parent->rb_right) {
			parent = parent->rb_right;
			it_va(parent)->rb.__subtree_last = last;
			/* Deeper than a red-black tree can be: never, but do not cache. */
			if (k < GPUVA_IT_SPINE_MAX)
				cache[k++] = (uintptr_t)parent;
		}
		/* @va is the spine's new end until the fixup moves things. */
		if (k < GPUVA_IT_SPINE_MAX)
			cache[k++] = (uintptr_t)&va->rb.node;
		spine->len = k;
		it_link_and_fix(root, va, parent, &parent->rb_right, false);
		return;
	}
	while (*link) {
		parent = *link;
		it_va(parent)->rb.__subtree_last = last;
		link = &parent->rb_right;
	}
	it_link_and_fix(root, va, parent, link, !parent);
}

static int it_insert_checked(struct rb_root_cached *root, struct gpuva_it_spine *spine,
			     struct drm_gpuva *va, struct drm_gpuva **next)
{
	struct rb_node *node = root->rb_root.rb_node;
	const u64 start = va->va.addr;
	const u64 last = it_last(va);
	struct rb_node *parent, **link;
	struct drm_gpuva *f;

	if (!node || it_va(node)->rb.__subtree_last < start) {
		/* Nothing reaches s, so nothing starts after it: @va goes last. */
		it_append(root, spine, va);
		*next = NULL;
		return 0;
	}

	/* The descent of gpuva_it_iter_first(); F exists as the root reaches s. */
	for (;;) {
		struct rb_node *left = node->rb_left;

		rb_prefetch(node->rb_right);
		if (left && it_va(left)->rb.__subtree_last >= start) {
			node = left;
			continue;
		}
		if (it_last(it_va(node)) >= start)
			break;
		node = node->rb_right;
	}
	f = it_va(node);
	if (f->va.addr <= last)
		return -EEXIST;

	/* The free slot just before F: its left link, or its predecessor's right. */
	if (!node->rb_left) {
		parent = node;
		link = &node->rb_left;
	} else {
		parent = node->rb_left;
		while (parent->rb_right)
			parent = parent->rb_right;
		link = &parent->rb_right;
	}
	/* Ancestors already covering @va's end cover it for everything above. */
	for (struct rb_node *p = parent; p && it_va(p)->rb.__subtree_last < last; p = rb_parent(p))
		it_va(p)->rb.__subtree_last = last;
	it_link_and_fix(root, va, parent, link, root->rb_leftmost == node && link == &node->rb_left);
	*next = f;
	return 0;
}

int gpuva_it_insert_checked(struct rb_root_cached *root, struct drm_gpuva *va,
			    struct drm_gpuva **next)
{
	return it_insert_checked(root, NULL, va, next);
}

int gpuva_it_insert_checked_spine(struct rb_root_cached *root, struct gpuva_it_spine *spine,
				  struct drm_gpuva *va, struct drm_gpuva **next)
{
	return it_insert_checked(root, spine, va, next);
}

void gpuva_it_replace(struct rb_root_cached *root, struct drm_gpuva *old, struct drm_gpuva *new)
{
	struct rb_node *node = &new->rb.node;
	struct rb_node *parent = rb_parent(&old->rb.node);

	*node = old->rb.node;
	if (node->rb_left)
		rb_set_parent(node->rb_left, node);
	if (node->rb_right)
		rb_set_parent(node->rb_right, node);
	rb_replace_child(parent, &old->rb.node, node, &root->rb_root);
	if (root->rb_leftmost == &old->rb.node)
		root->rb_leftmost = node;

	/* @new may end earlier than @old did: shrink the maxima above it. */
	new->rb.__subtree_last = it_compute(new);
	if (new->rb.__subtree_last != old->rb.__subtree_last && parent)
		it_propagate(parent, NULL);
}

void gpuva_it_insert_after(struct rb_root_cached *root, struct drm_gpuva *prev,
			   struct drm_gpuva *va)
{
	struct rb_node *parent = &prev->rb.node;
	struct rb_node **link = &parent->rb_right;
	const u64 last = it_last(va);

	/* The free slot right after @prev: its right link, or its successor's left. */
	if (*link) {
		parent = *link;
		while (parent->rb_left)
			parent = parent->rb_left;
		link = &parent->rb_left;
	}
	for (struct rb_node *p = parent; p && it_va(p)->rb.__subtree_last < last; p = rb_parent(p))
		it_va(p)->rb.__subtree_last = last;
	it_link_and_fix(root, va, parent, link, false);
}

void gpuva_it_remove(struct rb_root_cached *root, struct drm_gpuva *va)
{
	if (root->rb_leftmost == &va->rb.node)
		root->rb_leftmost = rb_next(&va->rb.node);
	__rb_erase_augmented(&va->rb.node, &root->rb_root, it_propagate, it_copy, it_rotate);
}

struct drm_gpuva *gpuva_it_iter_first(struct rb_root_cached *root, u64 start, u64 last)
{
	return gpuva_it_iter_first_inline(root, start, last);
}

struct drm_gpuva *gpuva_it_prev(struct drm_gpuva *va)
{
	struct rb_node *prev = rb_prev(&va->rb.node);

	return prev ? it_va(prev) : NULL;
}

int gpuva_it_check(struct rb_root_cached *root, size_t *count)
{
	size_t n = 0, seen = 0;
	const struct drm_gpuva *prev = NULL;

	if (rb_check_structure(&root->rb_root, root, &n))
		return -EINVAL;

	for (struct rb_node *node = rb_first(&root->rb_root); node; node = rb_next(node)) {
		const struct drm_gpuva *va = it_va(node);

		if (prev && prev->va.addr > va->va.addr)
			return -EINVAL;
		if (va->rb.__subtree_last != it_compute(va))
			return -EINVAL;
		prev = va;
		seen++;
	}
	if (seen != n)
		return -EINVAL;
	if (count)
		*count = n;
	return 0;
}
