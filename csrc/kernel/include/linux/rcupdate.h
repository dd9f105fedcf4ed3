/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/rcupdate.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_RCUPDATE_H
#define PYGPUVM_KOVL_LINUX_RCUPDATE_H
#include "../../kshim.h"
#endif
