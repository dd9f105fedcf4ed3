/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/llist.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_LLIST_H
#define PYGPUVM_KOVL_LINUX_LLIST_H
#include "../../kshim.h"
#endif
