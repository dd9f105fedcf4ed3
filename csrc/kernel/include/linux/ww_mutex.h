/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/ww_mutex.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_WW_MUTEX_H
#define PYGPUVM_KOVL_LINUX_WW_MUTEX_H
#include "../../kshim.h"
#endif
