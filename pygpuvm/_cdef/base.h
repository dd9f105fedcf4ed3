/*
 * cffi declarations, part 1: kernel integer types, errno values, ERR_PTR
 * helpers, lists, krefs, lock-free lists, red-black tree nodes
 * (csrc/include/linux/{types,err,list,kref,llist,rbtree_types}.h).
 *
 * Fragments are concatenated in the order of pygpuvm/meson.build; a fragment
 * may only use types declared by earlier ones. `...` lets cffi take sizes,
 * values and field offsets from the real headers (API mode), so fields the
 * Python side never needs (atomics, pthread types) are simply left out.
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int s32;
typedef long long s64;
typedef unsigned int gfp_t;
#define GFP_KERNEL ...
#define GFP_NOWAIT ...
#define __GFP_ZERO ...

/* errno values the C core returns (negated). */
#define EINVAL ...
#define EEXIST ...
#define ENOMEM ...
#define EDEADLK ...
#define EALREADY ...
#define ENOENT ...
#define EOPNOTSUPP ...
#define EINTR ...
#define EBUSY ...
#define EAGAIN ...
#define ENODEV ...
#define ESTALE ...
#define ECANCELED ...

/* linux/err.h */
#define MAX_ERRNO ...
void *ERR_PTR(long error);
long PTR_ERR(const void *ptr);
bool IS_ERR(const void *ptr);
bool IS_ERR_OR_NULL(const void *ptr);
int PTR_ERR_OR_ZERO(const void *ptr);

/* linux/list.h */
struct list_head {
	struct list_head *next, *prev;
};
void INIT_LIST_HEAD(struct list_head *list);
void list_add(struct list_head *entry, struct list_head *head);
void list_add_tail(struct list_head *entry, struct list_head *head);
void list_del_init(struct list_head *entry);
void list_del(struct list_head *entry);
void list_move_tail(struct list_head *entry, struct list_head *head);
bool list_empty(const struct list_head *head);
bool list_is_first(const struct list_head *entry, const struct list_head *head);
bool list_is_last(const struct list_head *entry, const struct list_head *head);
void list_splice_init(struct list_head *list, struct list_head *head);
void list_splice_tail_init(struct list_head *list, struct list_head *head);
size_t list_count_nodes(const struct list_head *head);
void list_replace(struct list_head *old, struct list_head *new);
void list_replace_init(struct list_head *old, struct list_head *new);
void list_swap(struct list_head *entry1, struct list_head *entry2);
void list_move(struct list_head *entry, struct list_head *head);
void list_bulk_move_tail(struct list_head *head, struct list_head *first,
			 struct list_head *last);
int list_is_head(const struct list_head *list, const struct list_head *head);
int list_empty_careful(const struct list_head *head);
int list_is_singular(const struct list_head *head);
void list_rotate_left(struct list_head *head);
void list_rotate_to_front(struct list_head *list, struct list_head *head);
void list_splice(const struct list_head *list, struct list_head *head);
void list_splice_tail(const struct list_head *list, struct list_head *head);
void list_cut_position(struct list_head *list, struct list_head *head,
		       struct list_head *entry);
void list_cut_before(struct list_head *list, struct list_head *head,
		     struct list_head *entry);

struct hlist_node {
	struct hlist_node *next, **pprev;
};
struct hlist_head {
	struct hlist_node *first;
};
void INIT_HLIST_NODE(struct hlist_node *h);
int hlist_unhashed(const struct hlist_node *h);
int hlist_empty(const struct hlist_head *h);
void hlist_del(struct hlist_node *n);
void hlist_del_init(struct hlist_node *n);
void hlist_add_head(struct hlist_node *n, struct hlist_head *h);
void hlist_add_before(struct hlist_node *n, struct hlist_node *next);
void hlist_add_behind(struct hlist_node *n, struct hlist_node *prev);
void hlist_move_list(struct hlist_head *old, struct hlist_head *new);
size_t hlist_count_nodes(const struct hlist_head *head);

/* linux/overflow.h: saturating size arithmetic */
size_t size_mul(size_t factor1, size_t factor2);
size_t size_add(size_t addend1, size_t addend2);
size_t size_sub(size_t minuend, size_t subtrahend);

/* linux/kref.h: the counter is atomic, reach it through the functions. */
struct kref {
	...;
};
void kref_init(struct kref *kref);
unsigned int kref_read(const struct kref *kref);
void kref_get(struct kref *kref);
bool kref_get_unless_zero(struct kref *kref);
int kref_put(struct kref *kref, void (*release)(struct kref *kref));
bool kref_put_unless_last(struct kref *kref);

/* linux/llist.h */
struct llist_node {
	struct llist_node *next;
};
struct llist_head {
	...;
};
void init_llist_head(struct llist_head *list);
bool llist_empty(const struct llist_head *list);
bool llist_add(struct llist_node *node, struct llist_head *list);
struct llist_node *llist_del_all(struct llist_head *list);

/* linux/rbtree_types.h */
struct rb_node {
	uintptr_t __rb_parent_color;
	struct rb_node *rb_right;
	struct rb_node *rb_left;
};
struct rb_root {
	struct rb_node *rb_node;
};
struct rb_root_cached {
	struct rb_root rb_root;
	struct rb_node *rb_leftmost;
};
