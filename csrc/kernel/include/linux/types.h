/* SPDX-License-Identifier: MIT */
/*
 * Kernel-build overlay for <linux/types.h>. System headers include this name
 * too (for the uapi __u64 family), so it chains to the system's header first
 * and then adds the stand-in kernel types.
 */
#ifndef PYGPUVM_KOVL_LINUX_TYPES_H
#define PYGPUVM_KOVL_LINUX_TYPES_H
#include_next <linux/types.h>
#include "../../../include/linux/types.h"
#endif
