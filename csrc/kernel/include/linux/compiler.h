/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/compiler.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_COMPILER_H
#define PYGPUVM_KOVL_LINUX_COMPILER_H
#include "../../kshim.h"
#endif
