/* SPDX-License-Identifier: MIT */
/* Red-black tree node types with the kernel's names (layout: csrc/lib/rbtree.c). */
#ifndef PYGPUVM_LINUX_RBTREE_TYPES_H
#define PYGPUVM_LINUX_RBTREE_TYPES_H

#include "linux/types.h"

/* The parent pointer and the node colour share one word (nodes are 8-aligned). */
struct rb_node {
	uintptr_t __rb_parent_color;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
};

struct rb_root {
	struct rb_node *rb_node;
};

/* Root plus a cached pointer to the leftmost (lowest) node. */
struct rb_root_cached {
	struct rb_root rb_root;
	struct rb_node *rb_leftmost;
};

#define RB_ROOT_CACHED ((struct rb_root_cached){ { NULL }, NULL })

#endif
