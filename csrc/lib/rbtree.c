// SPDX-License-Identifier: MIT
/*
 * Red-black tree: the plain (non-augmented) instantiation of the core in
 * rbtree.h, in-order traversal, and a structural checker for tests.
 */
#include "lib/rbtree.h"

#include <errno.h>

static inline void rb_no_rotate(struct rb_node *old, struct rb_node *new)
{
	GPUVM_UNUSED(old);
	GPUVM_UNUSED(new);
}

static inline void rb_no_copy(struct rb_node *old, struct rb_node *new)
{
	GPUVM_UNUSED(old);
	GPUVM_UNUSED(new);
}

static inline void rb_no_propagate(struct rb_node *node, struct rb_node *stop)
{
	GPUVM_UNUSED(node);
	GPUVM_UNUSED(stop);
}

void rb_insert_color(struct rb_node *node, struct rb_root *root)
{
	__rb_insert_fixup(node, root, rb_no_rotate);
}

void rb_erase(struct rb_node *node, struct rb_root *root)
{
	__rb_erase_augmented(node, root, rb_no_propagate, rb_no_copy, rb_no_rotate);
}

void rb_insert_color_cached(struct rb_node *node, struct rb_root_cached *root, bool leftmost)
{
	if (leftmost)
		root->rb_leftmost = node;
	rb_insert_color(node, &root->rb_root);
}

void rb_erase_cached(struct rb_node *node, struct rb_root_cached *root)
{
	if (root->rb_leftmost == node)
		root->rb_leftmost = rb_next(node);
	rb_erase(node, &root->rb_root);
}

struct rb_node *rb_first(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;

	if (!n)
		return NULL;
	while (n->rb_left)
		n = n->rb_left;
	return n;
}

struct rb_node *rb_last(const struct rb_root *root)
{
	struct rb_node *n = root->rb_node;

	if (!n)
		return NULL;
	while (n->rb_right)
		n = n->rb_right;
	return n;
}

struct rb_node *rb_next(const struct rb_node *node)
{
	const struct rb_node *parent;

	if (node->rb_right) {
		node = node->rb_right;
		while (node->rb_left)
			node = node->rb_left;
		return (struct rb_node *)node;
	}
	/* Climb while we are a right child: those ancestors come before us. */
	while ((parent = rb_parent(node)) && node == parent->rb_right)
		node = parent;
	return (struct rb_node *)parent;
}

struct rb_node *rb_prev(const struct rb_node *node)
{
	const struct rb_node *parent;

	if (node->rb_left) {
		node = node->rb_left;
		while (node->rb_right)
			node = node->rb_right;
		return (struct rb_node *)node;
	}
	while ((parent = rb_parent(node)) && node == parent->rb_left)
		node = parent;
	return (struct rb_node *)parent;
}

/* Black height of the subtree at @node, or -1 if it breaks an invariant. */
static int rb_check_subtree(const struct rb_node *node, const struct rb_node *parent,
			    size_t *count, unsigned int depth)
{
	if (!node)
		return 0;
	/* Deeper than any valid tree in a 64-bit address space: a cycle. */
	if (depth > 2 * 64)
		return -1;
	if (rb_parent(node) != parent)
		return -1;
	if ((node->__rb_parent_color & RB_COLOR_MASK) & ~RB_BLACK)
		return -1;
	if (rb_is_red(node) && (rb_is_red(node->rb_left) || rb_is_red(node->rb_right)))
		return -1;

	int lh = rb_check_subtree(node->rb_left, node, count, depth + 1);
	int rh = rb_check_subtree(node->rb_right, node, count, depth + 1);

	if (lh < 0 || rh < 0 || lh != rh)
		return -1;
	(*count)++;
	return lh + (rb_color(node) == RB_BLACK);
}

int rb_check_structure(const struct rb_root *root, const struct rb_root_cached *cached,
		       size_t *count)
{
	size_t n = 0;

	if (root->rb_node && rb_is_red(root->rb_node))
		return -EINVAL;
	if (rb_check_subtree(root->rb_node, NULL, &n, 0) < 0)
		return -EINVAL;
	if (cached && cached->rb_leftmost != rb_first(root))
		return -EINVAL;
	if (count)
		*count = n;
	return 0;
}
