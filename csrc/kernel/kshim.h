/* SPDX-License-Identifier: MIT */
/*
 * What a kernel tree's drm_gpuvm.c, drm_gpuvm.h and lib/rbtree.c need beyond
 * the stand-ins of csrc/include: the kernel's spellings that have no other use
 * in the project (EXPORT_SYMBOL, drm_WARN, might_sleep, WRITE_ONCE,
 * rcu_assign_pointer, ...). Every header of include/ below includes this one,
 * so which kernel header a name comes from does not matter. Kernel-build
 * only: neither the port nor the Python extension sees it. Ours, no kernel code.
 */
#ifndef PYGPUVM_KERNEL_KSHIM_H
#define PYGPUVM_KERNEL_KSHIM_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "drm/drm_device.h"
#include "drm/drm_exec.h"
#include "drm/drm_gem.h"
#include "linux/bug.h"
#include "linux/dma-fence.h"
#include "linux/dma-resv.h"
#include "linux/err.h"
#include "linux/kref.h"
#include "linux/list.h"
#include "linux/llist.h"
#include "linux/mutex.h"
#include "linux/slab.h"
#include "linux/types.h"
#include "linux/ww_mutex.h"

/* ------------------------------------------------------------ compiler.h */
#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif
#ifndef __must_check
#define __must_check __attribute__((__warn_unused_result__))
#endif
#ifndef __maybe_unused
#define __maybe_unused __attribute__((__unused__))
#endif
#ifndef __rcu
#define __rcu
#endif
#ifndef READ_ONCE
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#endif
#ifndef WRITE_ONCE
#define WRITE_ONCE(x, val) do { *(volatile __typeof__(x) *)&(x) = (val); } while (0)
#endif
#ifndef fallthrough
#define fallthrough __attribute__((__fallthrough__))
#endif

/* ------------------------------------------------------------- rcupdate.h */
#ifndef rcu_assign_pointer
#define rcu_assign_pointer(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#endif

/* --------------------------------------------------------------- export.h */
#define EXPORT_SYMBOL(sym)
#define EXPORT_SYMBOL_GPL(sym)
#define MODULE_DESCRIPTION(s)
#define MODULE_LICENSE(s)

/* ------------------------------------------------------------ overflow.h */
#ifndef check_add_overflow
#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
#endif

/* ----------------------------------------------------------------- mm.h */
#ifndef might_sleep
#define might_sleep() do { } while (0)
#endif

/* -------------------------------------------------------------- slab.h */
#ifndef GFP_KERNEL
#define GFP_KERNEL 0u
#endif
#ifndef kzalloc_obj
/* kzalloc_obj(VAR_OR_TYPE[, GFP]): one zeroed object of that size. */
#define kzalloc_obj(x, ...) kzalloc(sizeof(x), GFP_KERNEL)
#endif

/* ------------------------------------------------------------ drm_print.h */
#ifndef drm_WARN
#define drm_WARN(drm, cond, ...) ((void)(drm), WARN(cond, __VA_ARGS__))
#endif
#ifndef drm_WARN_ON
#define drm_WARN_ON(drm, cond) ((void)(drm), WARN_ON(cond))
#endif

/*
 * Helpers the kernel files use that the stand-ins may lack. Functions are
 * ours under a kshim_ name with the kernel's name as a macro in front, so a
 * stand-in that gains the same function later does not clash.
 */
/* ----------------------------------------------------------------- list.h */
#ifndef LIST_HEAD
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)
#endif
#ifndef list_next_entry
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#endif
#ifndef list_prev_entry
#define list_prev_entry(pos, member) list_entry((pos)->member.prev, __typeof__(*(pos)), member)
#endif
#ifndef list_for_each_entry_from_reverse
#define list_for_each_entry_from_reverse(pos, head, member) \
	for (; &(pos)->member != (head); pos = list_prev_entry(pos, member))
#endif
static inline void kshim_list_splice(const struct list_head *list, struct list_head *head)
{
	if (!list_empty(list)) {
		struct list_head *first = list->next, *last = list->prev, *at = head->next;

		first->prev = head;
		head->next = first;
		last->next = at;
		at->prev = last;
	}
}
#undef list_splice
#define list_splice(list, head) kshim_list_splice(list, head)

/* ---------------------------------------------------------------- llist.h */
static inline void kshim_init_llist_node(struct llist_node *node)
{
	node->next = node;
}
#undef init_llist_node
#define init_llist_node(node) kshim_init_llist_node(node)
#ifndef llist_entry
#define llist_entry(ptr, type, member) container_of(ptr, type, member)
#endif
#ifndef llist_for_each_entry
/*
 * Walks the nodes and derives each entry from a non-NULL node: container_of()
 * of the terminating NULL would be pointer arithmetic on NULL, which UBSan
 * (built with the sanitizers) rightly reports.
 */
#define llist_for_each_entry(pos, node, member)                                        \
	for (struct llist_node *kshim_ln_ = (node);                                     \
	     kshim_ln_ && ((pos) = llist_entry(kshim_ln_, __typeof__(*(pos)), member), 1); \
	     kshim_ln_ = kshim_ln_->next)
#endif

/* ----------------------------------------------------------------- kref.h */
static inline int kshim_kref_put_mutex(struct kref *kref, void (*release)(struct kref *kref),
				       struct mutex *lock)
{
	if (kref_put_unless_last(kref))
		return 0;
	mutex_lock(lock);
	if (atomic_fetch_sub_explicit(&kref->refcount, 1, memory_order_acq_rel) != 1) {
		mutex_unlock(lock);
		return 0;
	}
	/* @release runs with @lock held and unlocks it, as in the kernel. */
	release(kref);
	return 1;
}
#undef kref_put_mutex
#define kref_put_mutex(kref, release, lock) kshim_kref_put_mutex(kref, release, lock)

/* ----------------------------------------------------------------- slab.h */
static inline void *kshim_kmemdup(const void *src, size_t len)
{
	void *p = kmalloc(len, GFP_KERNEL);

	if (p)
		memcpy(p, src, len);
	return p;
}
#undef kmemdup
#define kmemdup(src, len, gfp) ((void)(gfp), kshim_kmemdup(src, len))

/* ------------------------------------------------------------- rcupdate.h */
#ifndef rcu_dereference_raw
#define rcu_dereference_raw(p) __atomic_load_n(&(p), __ATOMIC_CONSUME)
#endif

/* ---------------------------------------------------------------- drm_gem.h */
/*
 * drm_gem_gpuva_assert_lock_held(gpuvm, obj) in current trees: the gpuva
 * mutex in immediate mode, the resv otherwise; (obj) in older ones, where the
 * list is always protected by the resv.
 */
#define KSHIM_PICK3(_1, _2, _3, name, ...) name
#undef drm_gem_gpuva_assert_lock_held
#define drm_gem_gpuva_assert_lock_held(...)                                            \
	KSHIM_PICK3(__VA_ARGS__, none, kshim_gpuva_assert2, kshim_gpuva_assert1)(__VA_ARGS__)
#define kshim_gpuva_assert1(obj) \
	gpuvm_lockdep_assert(dma_resv_held((obj)->resv), "GEM gpuva lock")
#define kshim_gpuva_assert2(gpuvm, obj)                                                \
	gpuvm_lockdep_assert(drm_gpuvm_immediate_mode(gpuvm)                           \
				     ? mutex_held_by_me(&(obj)->gpuva.lock)             \
				     : dma_resv_held((obj)->resv),                      \
			     "GEM gpuva lock")
#undef drm_gem_for_each_gpuvm_bo
#undef drm_gem_for_each_gpuvm_bo_safe
#define drm_gem_for_each_gpuvm_bo(entry__, obj__) \
	list_for_each_entry(entry__, &(obj__)->gpuva.list, list.entry.gem)
#define drm_gem_for_each_gpuvm_bo_safe(entry__, next__, obj__) \
	list_for_each_entry_safe(entry__, next__, &(obj__)->gpuva.list, list.entry.gem)

#endif
