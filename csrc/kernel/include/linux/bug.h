/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/bug.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_BUG_H
#define PYGPUVM_KOVL_LINUX_BUG_H
#include "../../kshim.h"
#endif
