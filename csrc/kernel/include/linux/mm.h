/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/mm.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_MM_H
#define PYGPUVM_KOVL_LINUX_MM_H
#include "../../kshim.h"
#endif
