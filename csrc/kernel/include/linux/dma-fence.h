/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/dma-fence.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_DMA_FENCE_H
#define PYGPUVM_KOVL_LINUX_DMA_FENCE_H
#include "../../kshim.h"
#endif
