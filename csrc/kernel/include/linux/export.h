/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/export.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_EXPORT_H
#define PYGPUVM_KOVL_LINUX_EXPORT_H
#include "../../kshim.h"
#endif
