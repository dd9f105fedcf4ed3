/* SPDX-License-Identifier: MIT */
/*
 * Kernel integer and helper types. The fixed-width types have the kernel's
 * definitions (u64 is unsigned long long, as in the kernel's int-ll64 scheme),
 * so "%llx" is the right format for a u64 here as it is there.
 *
 * This header can shadow the system's uapi <linux/types.h> when the public
 * headers are used with -I (as C users and the driver corpus do): it therefore
 * pulls the uapi one in first when there is one, so system headers that
 * expect __u32, __le64, ... still find them.
 */
#ifndef PYGPUVM_LINUX_TYPES_H
#define PYGPUVM_LINUX_TYPES_H

#if defined(__has_include_next)
#if __has_include_next(<linux/types.h>)
#include_next <linux/types.h>
#endif
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef signed short s16;
typedef signed int s32;
typedef signed long long s64;

/* Bus, physical and resource addresses: 64-bit, as on every 64-bit kernel. */
typedef u64 dma_addr_t;
typedef u64 phys_addr_t;
typedef u64 resource_size_t;

/* Allocation flags (linux/gfp_types.h); see linux/slab.h for what they do here. */
typedef unsigned int gfp_t;

#ifndef BIT
#define BIT(n) (1UL << (n))
#endif
#ifndef BIT_ULL
#define BIT_ULL(n) (1ULL << (n))
#endif

/* container_of without typeof: the cast is checked by the caller's usage. */
#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Attributes drivers put on declarations. */
#ifndef __maybe_unused
#define __maybe_unused __attribute__((unused))
#endif
#ifndef __always_unused
#define __always_unused __attribute__((unused))
#endif
#ifndef __must_check
#define __must_check __attribute__((warn_unused_result))
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef fallthrough
#define fallthrough __attribute__((fallthrough))
#endif
/* counted_by() is a bounds annotation for the kernel's hardening: nothing here. */
#ifndef __counted_by
#define __counted_by(member)
#endif

/* Ours, not the kernel's. */
#define GPUVM_UNUSED(x) ((void)(x))

#endif
