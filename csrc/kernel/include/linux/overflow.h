/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/overflow.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_OVERFLOW_H
#define PYGPUVM_KOVL_LINUX_OVERFLOW_H
#include "../../kshim.h"
#endif
