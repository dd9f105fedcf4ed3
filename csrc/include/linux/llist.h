/* SPDX-License-Identifier: MIT */
/* Lock-free singly linked LIFO: many pushers, one take-all consumer. */
#ifndef PYGPUVM_LINUX_LLIST_H
#define PYGPUVM_LINUX_LLIST_H

#include <stdatomic.h>

#include "linux/types.h"

struct llist_node {
	struct llist_node *next;
};

struct llist_head {
	_Atomic(struct llist_node *) first;
};

static inline void init_llist_head(struct llist_head *list)
{
	atomic_init(&list->first, NULL);
}

static inline bool llist_empty(const struct llist_head *list)
{
	return atomic_load_explicit((_Atomic(struct llist_node *) *)&list->first,
				    memory_order_acquire) == NULL;
}

/* Push one node; returns true if the list was empty before. */
static inline bool llist_add(struct llist_node *node, struct llist_head *list)
{
	struct llist_node *first = atomic_load_explicit(&list->first, memory_order_relaxed);

	do {
		node->next = first;
	} while (!atomic_compare_exchange_weak_explicit(&list->first, &first, node,
							memory_order_release,
							memory_order_relaxed));
	return first == NULL;
}

/* Take the whole list (newest first). */
static inline struct llist_node *llist_del_all(struct llist_head *list)
{
	return atomic_exchange_explicit(&list->first, NULL, memory_order_acq_rel);
}

#endif
