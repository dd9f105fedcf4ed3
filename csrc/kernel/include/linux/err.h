/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/err.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_ERR_H
#define PYGPUVM_KOVL_LINUX_ERR_H
#include "../../kshim.h"
#endif
