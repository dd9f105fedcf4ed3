/* SPDX-License-Identifier: MIT */
/* Kernel-build overlay for <linux/stddef.h>: the system's, plus C's stddef/stdbool. */
#ifndef PYGPUVM_KOVL_LINUX_STDDEF_H
#define PYGPUVM_KOVL_LINUX_STDDEF_H
#include_next <linux/stddef.h>
#include <stdbool.h>
#include <stddef.h>
#endif
