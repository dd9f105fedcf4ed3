/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/kref.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_KREF_H
#define PYGPUVM_KOVL_LINUX_KREF_H
#include "../../kshim.h"
#endif
