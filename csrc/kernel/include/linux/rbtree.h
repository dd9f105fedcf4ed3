/* SPDX-License-Identifier: MIT */
/*
 * <linux/rbtree.h> of the kernel tree named by -Dkernel_tree: the build writes its
 * path into ktree_paths.h (csrc/kernel/meson.build). The tree is the user's;
 * nothing of it is in this repository.
 */
#ifndef PYGPUVM_KOVL_LINUX_RBTREE_H
#define PYGPUVM_KOVL_LINUX_RBTREE_H
#include "ktree_paths.h"
#include KTREE_RBTREE_H
#endif
