/* SPDX-License-Identifier: MIT */
/* The kernel's <linux/gfp.h>: here only the flags (see linux/gfp_types.h). */
#ifndef PYGPUVM_LINUX_GFP_H
#define PYGPUVM_LINUX_GFP_H

#include "linux/gfp_types.h"

#endif
