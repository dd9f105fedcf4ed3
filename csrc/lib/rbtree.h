/* SPDX-License-Identifier: MIT */
/*
 * Red-black tree core (private). Our own textbook implementation: insertion
 * rebalancing and erase for trees whose nodes may carry an augmented value
 * (a summary of their subtree, like an interval tree's max end).
 *
 * The rebalancing code is written once, as always-inline functions taking the
 * augmentation callbacks as arguments. A user that passes its own static
 * inline callbacks (interval_tree.c) gets a specialised copy with the
 * callbacks inlined: no indirect call on the hot path. rbtree.c instantiates
 * the plain, non-augmented variant and the traversal helpers.
 *
 * Invariants kept: every node is red or black; the root is black; a red node
 * has no red child; every root-to-NULL path has the same number of black nodes.
 * Colour lives in bit 0 of __rb_parent_color (1 = black), the rest is the
 * parent pointer (nodes are at least 4-byte aligned).
 */
#ifndef PYGPUVM_RBTREE_H
#define PYGPUVM_RBTREE_H

#include "linux/rbtree_types.h"
#include "linux/types.h"

#if defined(__GNUC__)
#define RB_INLINE static inline __attribute__((always_inline))
#else
#define RB_INLINE static inline
#endif

/* A hint only: prefetching NULL is harmless, so callers need not check. */
#if defined(__GNUC__)
#define rb_prefetch(node) __builtin_prefetch(node)
#else
#define rb_prefetch(node) ((void)(node))
#endif

#define RB_RED ((uintptr_t)0)
#define RB_BLACK ((uintptr_t)1)
#define RB_COLOR_MASK ((uintptr_t)3)

#define rb_entry(ptr, type, member) container_of(ptr, type, member)

static inline struct rb_node *rb_parent(const struct rb_node *node)
{
	return (struct rb_node *)(node->__rb_parent_color & ~RB_COLOR_MASK);
}

static inline uintptr_t rb_color(const struct rb_node *node)
{
	return node->__rb_parent_color & RB_BLACK;
}

/* NULL children count as black. */
static inline bool rb_is_red(const struct rb_node *node)
{
	return node && !(node->__rb_parent_color & RB_BLACK);
}

static inline bool rb_is_black(const struct rb_node *node)
{
	return !rb_is_red(node);
}

static inline void rb_set_parent(struct rb_node *node, struct rb_node *parent)
{
	node->__rb_parent_color = (uintptr_t)parent | rb_color(node);
}

static inline void rb_set_parent_color(struct rb_node *node, struct rb_node *parent,
				       uintptr_t color)
{
	node->__rb_parent_color = (uintptr_t)parent | color;
}

static inline void rb_set_color(struct rb_node *node, uintptr_t color)
{
	node->__rb_parent_color = (node->__rb_parent_color & ~RB_BLACK) | color;
}

/* Hook a new red leaf into the slot @link of @parent found by a descent. */
static inline void rb_link_node(struct rb_node *node, struct rb_node *parent,
				struct rb_node **link)
{
	node->__rb_parent_color = (uintptr_t)parent;
	node->rb_left = NULL;
	node->rb_right = NULL;
	*link = node;
}

/* Child slot by direction: 0 = left, 1 = right. */
RB_INLINE struct rb_node **rb_child_slot(struct rb_node *node, int dir)
{
	return dir ? &node->rb_right : &node->rb_left;
}

#define RB_CHILD(node, dir) (*rb_child_slot((node), (dir)))

/* Put @new where @old hangs below @parent (or at the root). */
RB_INLINE void rb_replace_child(struct rb_node *parent, struct rb_node *old,
				struct rb_node *new, struct rb_root *root)
{
	if (!parent)
		root->rb_node = new;
	else if (parent->rb_left == old)
		parent->rb_left = new;
	else
		parent->rb_right = new;
}

/*
 * Rotate so that @node moves down on side @dir and its child on the other
 * side takes its place. Returns that child. Colours are left to the caller;
 * in-order sequence is unchanged.
 */
RB_INLINE struct rb_node *rb_rotate(struct rb_node *node, int dir, struct rb_root *root)
{
	struct rb_node *up = RB_CHILD(node, !dir);
	struct rb_node *inner = RB_CHILD(up, dir);
	struct rb_node *parent = rb_parent(node);

	RB_CHILD(node, !dir) = inner;
	if (inner)
		rb_set_parent(inner, node);
	RB_CHILD(up, dir) = node;
	rb_set_parent(up, parent);
	rb_replace_child(parent, node, up, root);
	rb_set_parent(node, up);
	return up;
}

/*
 * Augmentation callbacks. rotate(old, new): @new now sits where @old was and
 * spans exactly @old's former subtree, so it inherits @old's value; @old gets
 * its value recomputed from its new children. copy(old, new): @new takes
 * @old's value verbatim. propagate(node, stop): recompute @node and its
 * ancestors up to (excluding) @stop, stopping early once a value is unchanged
 * (then nothing above can change either).
 */
typedef void (*rb_augment_rotate_fn)(struct rb_node *old, struct rb_node *new);
typedef void (*rb_augment_copy_fn)(struct rb_node *old, struct rb_node *new);
typedef void (*rb_augment_propagate_fn)(struct rb_node *node, struct rb_node *stop);

/*
 * Restore the red-black invariants after rb_link_node() added the red leaf
 * @node. Only red-red violations are possible; they move up two levels per
 * recolouring and end with at most two rotations.
 */
RB_INLINE void __rb_insert_fixup(struct rb_node *node, struct rb_root *root,
				 rb_augment_rotate_fn augment_rotate)
{
	for (;;) {
		struct rb_node *parent = rb_parent(node);

		if (!parent) {
			/* A red root can simply be blackened: every path gains one. */
			rb_set_parent_color(node, NULL, RB_BLACK);
			return;
		}
		if (rb_color(parent) == RB_BLACK)
			return;

		/* A red parent is never the root, so the grandparent exists. */
		struct rb_node *gparent = rb_parent(parent);
		int dir = gparent->rb_right == parent;
		struct rb_node *uncle = RB_CHILD(gparent, !dir);

		if (rb_is_red(uncle)) {
			/*
			 * Move the grandparent's blackness down to both children:
			 * black heights are unchanged, but the grandparent may
			 * now conflict with its own parent.
			 */
			rb_set_color(parent, RB_BLACK);
			rb_set_color(uncle, RB_BLACK);
			rb_set_color(gparent, RB_RED);
			node = gparent;
			continue;
		}

		if (node == RB_CHILD(parent, !dir)) {
			/* Inner grandchild: turn it into the outer case first. */
			rb_rotate(parent, dir, root);
			augment_rotate(parent, node);
			struct rb_node *tmp = node;

			node = parent;
			parent = tmp;
		}

		/*
		 * Outer grandchild: the red parent rises above the grandparent and
		 * takes its black colour, so no path changes its black count.
		 */
		rb_rotate(gparent, !dir, root);
		rb_set_color(parent, RB_BLACK);
		rb_set_color(gparent, RB_RED);
		augment_rotate(gparent, parent);
		return;
	}
}

/*
 * A black node was removed from below @parent: the side that lost it (whose
 * top is @node, possibly NULL) is one black short. Fix it by borrowing from
 * the sibling's side or by pushing the deficit up.
 */
RB_INLINE void __rb_erase_fixup(struct rb_node *parent, struct rb_root *root,
				rb_augment_rotate_fn augment_rotate)
{
	struct rb_node *node = NULL;

	for (;;) {
		int dir = parent->rb_left != node;
		/* The short side had black height >= 1 before, so a sibling exists. */
		struct rb_node *sib = RB_CHILD(parent, !dir);

		if (rb_is_red(sib)) {
			/*
			 * Make the sibling black: rotate the red sibling above the
			 * (then black) parent, which turns the sibling's black
			 * child into our new sibling under a red parent.
			 */
			rb_rotate(parent, dir, root);
			rb_set_color(sib, RB_BLACK);
			rb_set_color(parent, RB_RED);
			augment_rotate(parent, sib);
			sib = RB_CHILD(parent, !dir);
		}

		struct rb_node *far = RB_CHILD(sib, !dir);
		struct rb_node *near = RB_CHILD(sib, dir);

		if (rb_is_black(far) && rb_is_black(near)) {
			/*
			 * Reddening the sibling shortens its side too, so the
			 * whole parent subtree is one short: absorb that in a red
			 * parent, else push the problem one level up.
			 */
			rb_set_color(sib, RB_RED);
			if (rb_color(parent) == RB_RED) {
				rb_set_color(parent, RB_BLACK);
				return;
			}
			node = parent;
			parent = rb_parent(node);
			if (!parent)
				return; /* the root: every path lost one, fine */
			continue;
		}

		if (rb_is_black(far)) {
			/* Only the near nephew is red: make it the far one. */
			rb_rotate(sib, !dir, root);
			rb_set_color(near, RB_BLACK);
			rb_set_color(sib, RB_RED);
			augment_rotate(sib, near);
			far = sib;
			sib = near;
		}

		/*
		 * Far nephew red: rotate the sibling up into the parent's place
		 * with the parent's colour; the parent (now black) adds the
		 * missing black to our side, the blackened far nephew keeps the
		 * other side's count.
		 */
		rb_rotate(parent, dir, root);
		rb_set_color(sib, rb_color(parent));
		rb_set_color(parent, RB_BLACK);
		rb_set_color(far, RB_BLACK);
		augment_rotate(parent, sib);
		return;
	}
}

/*
 * Unlink @node and rebalance. Augmented values are brought up to date on the
 * structural change first, so the rotations of the fixup start from a
 * consistent tree.
 */
RB_INLINE void __rb_erase_augmented(struct rb_node *node, struct rb_root *root,
				    rb_augment_propagate_fn augment_propagate,
				    rb_augment_copy_fn augment_copy,
				    rb_augment_rotate_fn augment_rotate)
{
	struct rb_node *left = node->rb_left;
	struct rb_node *right = node->rb_right;
	struct rb_node *parent = rb_parent(node);
	struct rb_node *rebalance = NULL;

	if (!left || !right) {
		struct rb_node *child = left ? left : right;

		rb_replace_child(parent, node, child, root);
		if (child) {
			/*
			 * A lone child is a red leaf under a black node: it takes
			 * the node's place and blackness, heights are unchanged.
			 */
			rb_set_parent_color(child, parent, RB_BLACK);
		} else if (rb_color(node) == RB_BLACK) {
			rebalance = parent;
		}
		if (parent)
			augment_propagate(parent, NULL);
	} else {
		/* Two children: the in-order successor takes the node's place. */
		struct rb_node *succ = right;
		struct rb_node *succ_parent = right;
		struct rb_node *child;

		if (!succ->rb_left) {
			/* The right child itself: it keeps its right subtree. */
			child = succ->rb_right;
		} else {
			do
				succ = succ->rb_left;
			while (succ->rb_left);
			succ_parent = rb_parent(succ);
			child = succ->rb_right;
			succ_parent->rb_left = child;
			if (child)
				rb_set_parent(child, succ_parent);
			succ->rb_right = right;
			rb_set_parent(right, succ);
		}
		succ->rb_left = left;
		rb_set_parent(left, succ);
		rb_replace_child(parent, node, succ, root);

		uintptr_t succ_color = rb_color(succ);

		succ->__rb_parent_color = node->__rb_parent_color;
		if (child) {
			/* Same as above: a red leaf replaces the black successor. */
			rb_set_parent_color(child, succ_parent, RB_BLACK);
		} else if (succ_color == RB_BLACK) {
			rebalance = succ_parent;
		}

		/*
		 * The successor now spans the node's old subtree minus two
		 * entries: start from the node's old value so the early stop of
		 * propagate compares against what the ancestors saw.
		 */
		augment_copy(node, succ);
		if (succ_parent != succ)
			augment_propagate(succ_parent, succ);
		augment_propagate(succ, NULL);
	}

	if (rebalance)
		__rb_erase_fixup(rebalance, root, augment_rotate);
}

/* Plain (non-augmented) trees and traversal: rbtree.c. */
void rb_insert_color(struct rb_node *node, struct rb_root *root);
void rb_erase(struct rb_node *node, struct rb_root *root);
/* Cached variants; @leftmost: the new node was linked as the leftmost one. */
void rb_insert_color_cached(struct rb_node *node, struct rb_root_cached *root, bool leftmost);
void rb_erase_cached(struct rb_node *node, struct rb_root_cached *root);

struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_last(const struct rb_root *root);
struct rb_node *rb_next(const struct rb_node *node);
struct rb_node *rb_prev(const struct rb_node *node);

static inline struct rb_node *rb_first_cached(const struct rb_root_cached *root)
{
	return root->rb_leftmost;
}

/*
 * Structural check for tests: parent pointers, root colour, no red-red edge,
 * equal black heights, and the leftmost cache if @cached is non-NULL.
 * Counts the nodes into *@count. Returns 0 or -EINVAL.
 */
int rb_check_structure(const struct rb_root *root, const struct rb_root_cached *cached,
		       size_t *count);

#endif
