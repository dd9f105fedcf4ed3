/* SPDX-License-Identifier: MIT */
/* Kernel integer and helper types, as plain C11. */
#ifndef PYGPUVM_LINUX_TYPES_H
#define PYGPUVM_LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

#ifndef BIT
#define BIT(n) (1UL << (n))
#endif

/* container_of without typeof: the cast is checked by the caller's usage. */
#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

#define GPUVM_UNUSED(x) ((void)(x))

#endif
