/* SPDX-License-Identifier: MIT */
/*
 * Circular doubly linked lists and hash lists with the kernel's names,
 * arities and semantics (our own implementation). The entry iterators infer
 * the entry type from the cursor with __typeof__, as the kernel's do with
 * typeof, so they take the kernel's 3 (list_for_each_entry) and 4
 * (list_for_each_entry_safe) arguments.
 *
 * One difference: list_del() and hlist_del() leave NULL in the unlinked
 * node's pointers where the kernel leaves its LIST_POISON values; either way
 * a use after deletion faults.
 */
#ifndef PYGPUVM_LINUX_LIST_H
#define PYGPUVM_LINUX_LIST_H

#include "linux/types.h"

struct list_head {
	struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)

static inline void INIT_LIST_HEAD(struct list_head *list)
{
	list->next = list;
	list->prev = list;
}

static inline void __list_add(struct list_head *entry, struct list_head *prev,
			      struct list_head *next)
{
	next->prev = entry;
	entry->next = next;
	entry->prev = prev;
	prev->next = entry;
}

/* Insert @entry right after @head (stack order). */
static inline void list_add(struct list_head *entry, struct list_head *head)
{
	__list_add(entry, head, head->next);
}

/* Insert @entry right before @head, i.e. at the tail of the list @head heads. */
static inline void list_add_tail(struct list_head *entry, struct list_head *head)
{
	__list_add(entry, head->prev, head);
}

static inline void __list_del(struct list_head *prev, struct list_head *next)
{
	next->prev = prev;
	prev->next = next;
}

static inline void __list_del_entry(struct list_head *entry)
{
	__list_del(entry->prev, entry->next);
}

static inline void list_del(struct list_head *entry)
{
	__list_del_entry(entry);
	entry->next = NULL;
	entry->prev = NULL;
}

/* Unlink and leave the node pointing at itself, so list_empty() on it is true. */
static inline void list_del_init(struct list_head *entry)
{
	__list_del_entry(entry);
	INIT_LIST_HEAD(entry);
}

/* Put @new where @old is; @old's pointers are left as they were. */
static inline void list_replace(struct list_head *old, struct list_head *new)
{
	new->next = old->next;
	new->next->prev = new;
	new->prev = old->prev;
	new->prev->next = new;
}

static inline void list_replace_init(struct list_head *old, struct list_head *new)
{
	list_replace(old, new);
	INIT_LIST_HEAD(old);
}

/* Exchange the positions of two entries (of the same or different lists). */
static inline void list_swap(struct list_head *entry1, struct list_head *entry2)
{
	struct list_head *pos = entry2->prev;

	list_del(entry2);
	list_replace(entry1, entry2);
	if (pos == entry1)
		pos = entry2;
	list_add(entry1, pos);
}

/* Unlink @entry and add it after / before @head. */
static inline void list_move(struct list_head *entry, struct list_head *head)
{
	__list_del_entry(entry);
	list_add(entry, head);
}

static inline void list_move_tail(struct list_head *entry, struct list_head *head)
{
	__list_del_entry(entry);
	list_add_tail(entry, head);
}

/* Move the run [@first, @last] of one list to the tail of @head. */
static inline void list_bulk_move_tail(struct list_head *head, struct list_head *first,
				       struct list_head *last)
{
	first->prev->next = last->next;
	last->next->prev = first->prev;

	head->prev->next = first;
	first->prev = head->prev;

	last->next = head;
	head->prev = last;
}

static inline int list_is_first(const struct list_head *entry, const struct list_head *head)
{
	return entry->prev == head;
}

static inline int list_is_last(const struct list_head *entry, const struct list_head *head)
{
	return entry->next == head;
}

static inline int list_is_head(const struct list_head *list, const struct list_head *head)
{
	return list == head;
}

static inline int list_empty(const struct list_head *head)
{
	return head->next == head;
}

/* Empty and not being modified by another CPU half-way (same test here, both pointers). */
static inline int list_empty_careful(const struct list_head *head)
{
	struct list_head *next = head->next;

	return list_is_head(next, head) && next == head->prev;
}

static inline int list_is_singular(const struct list_head *head)
{
	return !list_empty(head) && head->next == head->prev;
}

/* Move the first entry to the tail. */
static inline void list_rotate_left(struct list_head *head)
{
	if (!list_empty(head))
		list_move_tail(head->next, head);
}

/* Rotate so that @list becomes the new front of @head. */
static inline void list_rotate_to_front(struct list_head *list, struct list_head *head)
{
	list_move_tail(head, list);
}

static inline void __list_splice(const struct list_head *list, struct list_head *prev,
				 struct list_head *next)
{
	struct list_head *first = list->next;
	struct list_head *last = list->prev;

	first->prev = prev;
	prev->next = first;
	last->next = next;
	next->prev = last;
}

/* Join @list at the front / tail of @head; @list itself is left stale. */
static inline void list_splice(const struct list_head *list, struct list_head *head)
{
	if (!list_empty(list))
		__list_splice(list, head, head->next);
}

static inline void list_splice_tail(const struct list_head *list, struct list_head *head)
{
	if (!list_empty(list))
		__list_splice(list, head->prev, head);
}

/* Same, and reinitialise @list. */
static inline void list_splice_init(struct list_head *list, struct list_head *head)
{
	if (!list_empty(list)) {
		__list_splice(list, head, head->next);
		INIT_LIST_HEAD(list);
	}
}

static inline void list_splice_tail_init(struct list_head *list, struct list_head *head)
{
	if (!list_empty(list)) {
		__list_splice(list, head->prev, head);
		INIT_LIST_HEAD(list);
	}
}

/* Move the entries of @head up to and including @entry to @list (which must be empty). */
static inline void list_cut_position(struct list_head *list, struct list_head *head,
				     struct list_head *entry)
{
	struct list_head *new_first;

	if (list_empty(head))
		return;
	if (list_is_singular(head) && !list_is_head(entry, head) && entry != head->next)
		return;
	if (list_is_head(entry, head)) {
		INIT_LIST_HEAD(list);
		return;
	}
	new_first = entry->next;
	list->next = head->next;
	list->next->prev = list;
	list->prev = entry;
	entry->next = list;
	head->next = new_first;
	new_first->prev = head;
}

/* Move the entries of @head before @entry (exclusive) to @list (which must be empty). */
static inline void list_cut_before(struct list_head *list, struct list_head *head,
				   struct list_head *entry)
{
	if (head->next == entry) {
		INIT_LIST_HEAD(list);
		return;
	}
	list->next = head->next;
	list->next->prev = list;
	list->prev = entry->prev;
	list->prev->next = list;
	head->next = entry;
	entry->prev = head;
}

static inline size_t list_count_nodes(const struct list_head *head)
{
	size_t n = 0;

	for (const struct list_head *p = head->next; p != head; p = p->next)
		n++;
	return n;
}

/* ----------------------------------------------------------------- entries */

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_last_entry(ptr, type, member) list_entry((ptr)->prev, type, member)
#define list_first_entry_or_null(ptr, type, member) \
	(list_empty(ptr) ? NULL : list_first_entry(ptr, type, member))
#define list_last_entry_or_null(ptr, type, member) \
	(list_empty(ptr) ? NULL : list_last_entry(ptr, type, member))

/* Neighbours of the entry @pos (whose type is inferred). */
#define list_next_entry(pos, member) \
	list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_prev_entry(pos, member) \
	list_entry((pos)->member.prev, __typeof__(*(pos)), member)
/* Same, wrapping around the head of @head. */
#define list_next_entry_circular(pos, head, member)                        \
	(list_is_last(&(pos)->member, head) ?                              \
	 list_first_entry(head, __typeof__(*(pos)), member) :              \
	 list_next_entry(pos, member))
#define list_prev_entry_circular(pos, head, member)                        \
	(list_is_first(&(pos)->member, head) ?                             \
	 list_last_entry(head, __typeof__(*(pos)), member) :               \
	 list_prev_entry(pos, member))

/* True if @pos is the (fake) entry made of the list head itself. */
#define list_entry_is_head(pos, head, member) list_is_head(&(pos)->member, (head))

/* A @pos usable as the start of list_for_each_entry_continue(): @pos, or the head if NULL. */
#define list_prepare_entry(pos, head, member) \
	((pos) ? (pos) : list_entry(head, __typeof__(*(pos)), member))

/* --------------------------------------------------------------- iterators */

#define list_for_each(pos, head) \
	for ((pos) = (head)->next; !list_is_head(pos, (head)); (pos) = (pos)->next)

#define list_for_each_reverse(pos, head) \
	for ((pos) = (head)->prev; !list_is_head(pos, (head)); (pos) = (pos)->prev)

#define list_for_each_prev(pos, head) list_for_each_reverse(pos, head)

/* Continue from the node after @pos. */
#define list_for_each_continue(pos, head) \
	for ((pos) = (pos)->next; !list_is_head(pos, (head)); (pos) = (pos)->next)

#define list_for_each_safe(pos, n, head)                              \
	for ((pos) = (head)->next, (n) = (pos)->next;                 \
	     !list_is_head(pos, (head)); (pos) = (n), (n) = (pos)->next)

#define list_for_each_prev_safe(pos, n, head)                         \
	for ((pos) = (head)->prev, (n) = (pos)->prev;                 \
	     !list_is_head(pos, (head)); (pos) = (n), (n) = (pos)->prev)

#define list_for_each_entry(pos, head, member)                                 \
	for ((pos) = list_first_entry(head, __typeof__(*(pos)), member);       \
	     !list_entry_is_head(pos, head, member);                            \
	     (pos) = list_next_entry(pos, member))

#define list_for_each_entry_reverse(pos, head, member)                         \
	for ((pos) = list_last_entry(head, __typeof__(*(pos)), member);        \
	     !list_entry_is_head(pos, head, member);                            \
	     (pos) = list_prev_entry(pos, member))

/* Continue after / before the current @pos. */
#define list_for_each_entry_continue(pos, head, member)                        \
	for ((pos) = list_next_entry(pos, member);                              \
	     !list_entry_is_head(pos, head, member);                            \
	     (pos) = list_next_entry(pos, member))

#define list_for_each_entry_continue_reverse(pos, head, member)                \
	for ((pos) = list_prev_entry(pos, member);                              \
	     !list_entry_is_head(pos, head, member);                            \
	     (pos) = list_prev_entry(pos, member))

/* Iterate from the current @pos (inclusive) forwards / backwards. */
#define list_for_each_entry_from(pos, head, member)                            \
	for (; !list_entry_is_head(pos, head, member); (pos) = list_next_entry(pos, member))

#define list_for_each_entry_from_reverse(pos, head, member)                    \
	for (; !list_entry_is_head(pos, head, member); (pos) = list_prev_entry(pos, member))

/* Safe against removal of @pos: @n holds the next entry. */
#define list_for_each_entry_safe(pos, n, head, member)                         \
	for ((pos) = list_first_entry(head, __typeof__(*(pos)), member),       \
	     (n) = list_next_entry(pos, member);                                \
	     !list_entry_is_head(pos, head, member);                            \
	     (pos) = (n), (n) = list_next_entry(n, member))

#define list_for_each_entry_safe_continue(pos, n, head, member)                \
	for ((pos) = list_next_entry(pos, member), (n) = list_next_entry(pos, member); \
	     !list_entry_is_head(pos, head, member);                            \
	     (pos) = (n), (n) = list_next_entry(n, member))

#define list_for_each_entry_safe_from(pos, n, head, member)                    \
	for ((n) = list_next_entry(pos, member);                                \
	     !list_entry_is_head(pos, head, member);                            \
	     (pos) = (n), (n) = list_next_entry(n, member))

#define list_for_each_entry_safe_reverse(pos, n, head, member)                 \
	for ((pos) = list_last_entry(head, __typeof__(*(pos)), member),        \
	     (n) = list_prev_entry(pos, member);                                \
	     !list_entry_is_head(pos, head, member);                            \
	     (pos) = (n), (n) = list_prev_entry(n, member))

/* Re-fetch @n after the loop body dropped a lock that protected it. */
#define list_safe_reset_next(pos, n, member) ((n) = list_next_entry(pos, member))

/* -------------------------------------------------------------- hash lists */

struct hlist_node {
	struct hlist_node *next, **pprev;
};

struct hlist_head {
	struct hlist_node *first;
};

#define HLIST_HEAD_INIT { .first = NULL }
#define HLIST_HEAD(name) struct hlist_head name = { .first = NULL }
#define INIT_HLIST_HEAD(ptr) ((ptr)->first = NULL)

static inline void INIT_HLIST_NODE(struct hlist_node *h)
{
	h->next = NULL;
	h->pprev = NULL;
}

static inline int hlist_unhashed(const struct hlist_node *h)
{
	return !h->pprev;
}

static inline int hlist_empty(const struct hlist_head *h)
{
	return !h->first;
}

static inline void __hlist_del(struct hlist_node *n)
{
	struct hlist_node *next = n->next;
	struct hlist_node **pprev = n->pprev;

	*pprev = next;
	if (next)
		next->pprev = pprev;
}

static inline void hlist_del(struct hlist_node *n)
{
	__hlist_del(n);
	n->next = NULL;
	n->pprev = NULL;
}

static inline void hlist_del_init(struct hlist_node *n)
{
	if (!hlist_unhashed(n)) {
		__hlist_del(n);
		INIT_HLIST_NODE(n);
	}
}

static inline void hlist_add_head(struct hlist_node *n, struct hlist_head *h)
{
	struct hlist_node *first = h->first;

	n->next = first;
	if (first)
		first->pprev = &n->next;
	h->first = n;
	n->pprev = &h->first;
}

/* Add @n before @next, which must be hashed. */
static inline void hlist_add_before(struct hlist_node *n, struct hlist_node *next)
{
	n->pprev = next->pprev;
	n->next = next;
	next->pprev = &n->next;
	*(n->pprev) = n;
}

/* Add @n after @prev, which must be hashed. */
static inline void hlist_add_behind(struct hlist_node *n, struct hlist_node *prev)
{
	n->next = prev->next;
	prev->next = n;
	n->pprev = &prev->next;
	if (n->next)
		n->next->pprev = &n->next;
}

static inline void hlist_move_list(struct hlist_head *old, struct hlist_head *new)
{
	new->first = old->first;
	if (new->first)
		new->first->pprev = &new->first;
	old->first = NULL;
}

static inline size_t hlist_count_nodes(const struct hlist_head *head)
{
	size_t n = 0;

	for (const struct hlist_node *p = head->first; p; p = p->next)
		n++;
	return n;
}

#define hlist_entry(ptr, type, member) container_of(ptr, type, member)
#define hlist_entry_safe(ptr, type, member)                                    \
	__extension__({                                                        \
		__typeof__(ptr) ____ptr = (ptr);                               \
		____ptr ? hlist_entry(____ptr, type, member) : NULL;           \
	})

#define hlist_for_each(pos, head) for ((pos) = (head)->first; (pos); (pos) = (pos)->next)

#define hlist_for_each_safe(pos, n, head)                                      \
	for ((pos) = (head)->first; (pos) && ((n) = (pos)->next, 1); (pos) = (n))

#define hlist_for_each_entry(pos, head, member)                                \
	for ((pos) = hlist_entry_safe((head)->first, __typeof__(*(pos)), member); \
	     (pos);                                                             \
	     (pos) = hlist_entry_safe((pos)->member.next, __typeof__(*(pos)), member))

#define hlist_for_each_entry_safe(pos, n, head, member)                        \
	for ((pos) = hlist_entry_safe((head)->first, __typeof__(*(pos)), member); \
	     (pos) && ((n) = (pos)->member.next, 1);                            \
	     (pos) = hlist_entry_safe(n, __typeof__(*(pos)), member))

#endif
