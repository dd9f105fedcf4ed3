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

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;

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
