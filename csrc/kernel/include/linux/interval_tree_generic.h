/* SPDX-License-Identifier: MIT */
/*
 * <linux/interval_tree_generic.h> of the kernel tree named by -Dkernel_tree: the build writes its
 * path into ktree_paths.h (csrc/kernel/meson.build). The tree is the user's;
 * nothing of it is in this repository.
 */
#ifndef PYGPUVM_KOVL_LINUX_INTERVAL_TREE_GENERIC_H
#define PYGPUVM_KOVL_LINUX_INTERVAL_TREE_GENERIC_H
#include "ktree_paths.h"
#include KTREE_INTERVAL_TREE_GENERIC_H
#endif
