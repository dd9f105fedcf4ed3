/* SPDX-License-Identifier: MIT */
/*
 * Circular doubly linked lists with the kernel's names, so that code reads the
 * same as drm_gpuvm.c. Our own implementation; without typeof the entry macros
 * take the entry type explicitly where the kernel infers it.
 */
#ifndef PYGPUVM_LINUX_LIST_H
#define PYGPUVM_LINUX_LIST_H

#include "linux/types.h"

struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name) { &(name), &(name) }

static inline void INIT_LIST_HEAD(struct list_head *list)
{
	list->next = list;
	list->prev = list;
}

static inline void __list_link(struct list_head *entry, struct list_head *prev,
			       struct list_head *next)
{
	next->prev = entry;
	entry->next = next;
	entry->prev = prev;
	prev->next = entry;
}

/* Insert @entry right after @head. */
static inline void list_add(struct list_head *entry, struct list_head *head)
{
	__list_link(entry, head, head->next);
}

/* Insert @entry right before @head, i.e. at the tail of the list @head heads. */
static inline void list_add_tail(struct list_head *entry, struct list_head *head)
{
	__list_link(entry, head->prev, head);
}

static inline void __list_unlink(struct list_head *entry)
{
	entry->next->prev = entry->prev;
	entry->prev->next = entry->next;
}

/* Unlink and leave the node pointing at itself, so list_empty() on it is true. */
static inline void list_del_init(struct list_head *entry)
{
	__list_unlink(entry);
	INIT_LIST_HEAD(entry);
}

static inline void list_del(struct list_head *entry)
{
	__list_unlink(entry);
	entry->next = NULL;
	entry->prev = NULL;
}

static inline void list_move_tail(struct list_head *entry, struct list_head *head)
{
	__list_unlink(entry);
	list_add_tail(entry, head);
}

static inline bool list_empty(const struct list_head *head)
{
	return head->next == head;
}

static inline bool list_is_first(const struct list_head *entry,
				 const struct list_head *head)
{
	return entry->prev == head;
}

static inline bool list_is_last(const struct list_head *entry,
				const struct list_head *head)
{
	return entry->next == head;
}

/* Move all of @list to the front of @head and reinitialise @list. */
static inline void list_splice_init(struct list_head *list, struct list_head *head)
{
	if (list_empty(list))
		return;
	struct list_head *first = list->next, *last = list->prev, *at = head->next;

	first->prev = head;
	head->next = first;
	last->next = at;
	at->prev = last;
	INIT_LIST_HEAD(list);
}

/* Move all of @list to the tail of @head and reinitialise @list. */
static inline void list_splice_tail_init(struct list_head *list, struct list_head *head)
{
	if (list_empty(list))
		return;
	struct list_head *first = list->next, *last = list->prev, *at = head->prev;

	first->prev = at;
	at->next = first;
	last->next = head;
	head->prev = last;
	INIT_LIST_HEAD(list);
}

static inline size_t list_count_nodes(const struct list_head *head)
{
	size_t n = 0;

	for (const struct list_head *p = head->next; p != head; p = p->next)
		n++;
	return n;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(head, type, member) list_entry((head)->next, type, member)
#define list_last_entry(head, type, member) list_entry((head)->prev, type, member)
#define list_first_entry_or_null(head, type, member) \
	(list_empty(head) ? NULL : list_first_entry(head, type, member))

#define list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

#define list_for_each_safe(pos, n, head) \
	for ((pos) = (head)->next, (n) = (pos)->next; (pos) != (head); \
	     (pos) = (n), (n) = (pos)->next)

/* Entry iterators: @type is the entry struct type (no typeof in C11). */
#define list_for_each_entry(pos, head, type, member)                        \
	for ((pos) = list_entry((head)->next, type, member);                \
	     &(pos)->member != (head);                                      \
	     (pos) = list_entry((pos)->member.next, type, member))

#define list_for_each_entry_safe(pos, n, head, type, member)                \
	for ((pos) = list_entry((head)->next, type, member),                \
	     (n) = list_entry((pos)->member.next, type, member);            \
	     &(pos)->member != (head);                                      \
	     (pos) = (n), (n) = list_entry((n)->member.next, type, member))

#define list_for_each_entry_reverse(pos, head, type, member)                \
	for ((pos) = list_entry((head)->prev, type, member);                \
	     &(pos)->member != (head);                                      \
	     (pos) = list_entry((pos)->member.prev, type, member))

#endif
