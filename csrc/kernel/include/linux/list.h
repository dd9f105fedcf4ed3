/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/list.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_LIST_H
#define PYGPUVM_KOVL_LINUX_LIST_H
#include "../../kshim.h"
#endif
