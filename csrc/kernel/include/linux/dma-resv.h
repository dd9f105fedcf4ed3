/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/dma-resv.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_DMA_RESV_H
#define PYGPUVM_KOVL_LINUX_DMA_RESV_H
#include "../../kshim.h"
#endif
