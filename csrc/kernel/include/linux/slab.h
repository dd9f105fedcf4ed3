/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/slab.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_SLAB_H
#define PYGPUVM_KOVL_LINUX_SLAB_H
#include "../../kshim.h"
#endif
