/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/container_of.h>: see ../../kshim.h. */
#ifndef PYGPUVM_KOVL_LINUX_CONTAINER_OF_H
#define PYGPUVM_KOVL_LINUX_CONTAINER_OF_H
#include "../../kshim.h"
#endif
