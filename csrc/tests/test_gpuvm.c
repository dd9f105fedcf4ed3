// SPDX-License-Identifier: MIT
/*
 * The VM/VA core (csrc/gpuvm/gpuvm.c): init and teardown, range validation, VA
 * insert/remove, the find_* lookups with their kernel quirks, the iteration
 * macros, reference counting and the WARNs.
 *
 * Address layouts are drawn in units of 0x1000 unless stated:
 *
 *	 0    1    2    3        <- page index
 *	 KKKKK.....AAAAA          K = reserved (kernel) node, . = free, A = a VA
 */
#include <stdlib.h>
#include <string.h>

#include "drm/drm_gpuvm.h"
#include "gpuvm/gpuvm_internal.h"
#include "harness.h"
#include "lib/interval_tree.h"
#include "linux/slab.h"
#include "lib/rbtree.h"

#define U64_MAX_ ((u64)~(u64)0)
#define P(n) ((u64)(n) * 0x1000)

/* ----------------------------------------------------------- fixtures */

/* WARN log: a hook that keeps the last few messages. */
#define WARN_LOG 8
static char warn_msgs[WARN_LOG][256];
static unsigned int warn_seen;

static void warn_hook(const char *file, int line, const char *msg, void *data)
{
	GPUVM_UNUSED(file);
	GPUVM_UNUSED(line);
	GPUVM_UNUSED(data);
	snprintf(warn_msgs[warn_seen % WARN_LOG], sizeof(warn_msgs[0]), "%s", msg);
	warn_seen++;
}

/* Did one of the WARNs since @since carry @text? */
static bool warned(unsigned int since, const char *text)
{
	for (unsigned int i = since; i < warn_seen; i++)
		if (i + WARN_LOG >= warn_seen && strstr(warn_msgs[i % WARN_LOG], text))
			return true;
	return false;
}

/* What vm_free saw. */
static unsigned int vm_free_calls;
static const char *name_at_free;
static unsigned int drm_ref_at_free;

static void test_vm_free(struct drm_gpuvm *gpuvm)
{
	vm_free_calls++;
	name_at_free = gpuvm->name;
	drm_ref_at_free = gpuvm->drm ? kref_read(&gpuvm->drm->ref) : 0;
	kfree(gpuvm);
}

static const struct drm_gpuvm_ops test_ops = {
	.vm_free = test_vm_free,
};

static struct drm_gpuvm *vm_create_ops(struct drm_device *drm, const char *name, u64 start,
				       u64 range, u64 roff, u64 rrange,
				       const struct drm_gpuvm_ops *ops)
{
	struct drm_gpuvm *vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	struct drm_gem_object *r_obj = drm_gpuvm_resv_object_alloc(drm);

	if (!vm || !r_obj) {
		kfree(vm);
		drm_gem_object_put(r_obj);
		return NULL;
	}
	drm_gpuvm_init(vm, name, 0, drm, r_obj, start, range, roff, rrange, ops);
	/* The VM keeps its own reference. */
	drm_gem_object_put(r_obj);
	return vm;
}

static struct drm_gpuvm *vm_create(u64 start, u64 range, u64 roff, u64 rrange)
{
	return vm_create_ops(NULL, "test", start, range, roff, rrange, &test_ops);
}

static struct drm_gpuva *va_new(u64 addr, u64 range)
{
	struct drm_gpuva *va = kzalloc(sizeof(*va), GFP_KERNEL);

	if (va) {
		drm_gpuva_init_lists(va);
		va->va.addr = addr;
		va->va.range = range;
	}
	return va;
}

/* Insert a new VA; NULL (and nothing allocated) if the insert fails. */
static struct drm_gpuva *va_insert(struct drm_gpuvm *vm, u64 addr, u64 range, int *err)
{
	struct drm_gpuva *va = va_new(addr, range);
	int ret = va ? drm_gpuva_insert(vm, va) : -ENOMEM;

	if (err)
		*err = ret;
	if (ret) {
		kfree(va);
		return NULL;
	}
	return va;
}

static void va_remove_free(struct drm_gpuva *va)
{
	drm_gpuva_remove(va);
	kfree(va);
}

static unsigned int vm_refs(struct drm_gpuvm *vm)
{
	return kref_read(&vm->kref);
}

/* The list holds every tree node, in tree order (and nothing else). */
static bool list_matches_tree(struct drm_gpuvm *vm, size_t *count)
{
	struct rb_node *node = rb_first(&vm->rb.tree.rb_root);
	struct drm_gpuva *va, *prev = NULL;
	size_t n, walked = 0;

	ASSERT_EQ(gpuva_it_check(&vm->rb.tree, &n), 0);
	drm_gpuvm_for_each_va(va, vm) {
		ASSERT_TRUE(node == &va->rb.node);
		ASSERT_TRUE(va->vm == vm);
		if (prev)
			ASSERT_TRUE(prev->va.addr <= va->va.addr);
		prev = va;
		node = rb_next(node);
		walked++;
	}
	ASSERT_NULL(node);
	ASSERT_EQ(walked, n);
	if (count)
		*count = n;
	return true;
}

/* ---------------------------------------------------------------- init */

static bool test_init_and_last_put(void)
{
	const long live0 = gpuvm_alloc_live();
	const unsigned long warn0 = gpuvm_warn_count();
	struct drm_device *drm = drm_dev_alloc("dev");
	struct drm_gpuvm *vm;

	ASSERT_NONNULL(drm);
	/* NULL name; window [1, 0x11); reserved [1, 2). */
	vm = vm_create_ops(drm, NULL, P(1), P(0x10), P(1), P(1), &test_ops);
	ASSERT_NONNULL(vm);
	ASSERT_EQ(strcmp(vm->name, "unknown"), 0);
	ASSERT_EQ(vm->flags, 0);
	ASSERT_TRUE(vm->drm == drm);
	ASSERT_EQ(kref_read(&drm->ref), 2); /* ours, the VM's (GEM objects hold none) */
	ASSERT_EQ(kref_read(&vm->r_obj->refcount), 1); /* only the VM's */
	ASSERT_EQ(vm->r_obj->size, 0);
	ASSERT_EQ(vm->mm_start, P(1));
	ASSERT_EQ(vm->mm_range, P(0x10));
	ASSERT_EQ(vm_refs(vm), 1); /* the reserved node holds none */
	ASSERT_TRUE(vm->ops == &test_ops);
	ASSERT_TRUE(list_empty(&vm->extobj.list));
	ASSERT_TRUE(list_empty(&vm->evict.list));
	ASSERT_NULL(vm->extobj.local_list);
	ASSERT_NULL(vm->evict.local_list);
	ASSERT_TRUE(llist_empty(&vm->bo_defer));

	/* The reserved node is in the tree and the list, with no GEM. */
	ASSERT_TRUE(vm->kernel_alloc_node_inserted);
	ASSERT_TRUE(vm->kernel_alloc_node.vm == vm);
	ASSERT_NULL(vm->kernel_alloc_node.gem.obj);
	ASSERT_TRUE(list_first_entry(&vm->rb.list, struct drm_gpuva, rb.entry) ==
		    &vm->kernel_alloc_node);
	ASSERT_TRUE(list_matches_tree(vm, NULL));

	vm_free_calls = 0;
	drm_gpuvm_get(vm);
	drm_gpuvm_put(vm);
	ASSERT_EQ(vm_free_calls, 0);
	drm_gpuvm_put(vm);
	ASSERT_EQ(vm_free_calls, 1);
	ASSERT_NULL(name_at_free);     /* fini ran before vm_free */
	/* fini dropped the resv object (and its device ref); the VM's goes after vm_free */
	ASSERT_EQ(drm_ref_at_free, 2);
	ASSERT_EQ(kref_read(&drm->ref), 1);
	ASSERT_EQ(gpuvm_warn_count(), warn0);

	drm_gpuvm_put(NULL); /* NULL-safe */
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_init_overflow_warns(void)
{
	const long live0 = gpuvm_alloc_live();
	unsigned long warn0 = gpuvm_warn_count();
	unsigned int seen0 = warn_seen;
	struct drm_gpuvm *vm;

	/* Window end wraps: WARN, values stored anyway. */
	vm = vm_create(U64_MAX_ - 0xfff, 0x2000, 0, 0);
	ASSERT_NONNULL(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	ASSERT_TRUE(warned(seen0, "GPUVA address limited to 8 bytes."));
	ASSERT_EQ(vm->mm_start, U64_MAX_ - 0xfff);
	ASSERT_EQ(vm->mm_range, 0x2000);
	/* Later checks use the wrapped end (0x1000): nothing is valid. */
	ASSERT_FALSE(drm_gpuvm_range_valid(vm, U64_MAX_ - 0xfff, 0x10));
	ASSERT_FALSE(drm_gpuvm_range_valid(vm, U64_MAX_ - 0xfff, 0));
	ASSERT_FALSE(drm_gpuvm_range_valid(vm, 0, 0x10));
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);

	/*
	 * Reserved range wraps: [2^64-0x100, 2^64+0x100). WARN, the node keeps
	 * its values but stays out of the tree; the last put must not try to
	 * remove it (the kernel would).
	 */
	warn0 = gpuvm_warn_count();
	seen0 = warn_seen;
	vm = vm_create(0, U64_MAX_, U64_MAX_ - 0xff, 0x200);
	ASSERT_NONNULL(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	ASSERT_TRUE(warned(seen0, "GPUVA address limited to 8 bytes."));
	ASSERT_FALSE(vm->kernel_alloc_node_inserted);
	ASSERT_EQ(vm->kernel_alloc_node.va.addr, U64_MAX_ - 0xff);
	ASSERT_EQ(vm->kernel_alloc_node.va.range, 0x200);
	ASSERT_NULL(vm->rb.tree.rb_root.rb_node);
	ASSERT_TRUE(list_empty(&vm->rb.list));
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, U64_MAX_ - 0xff, 0x100));
	/*
	 * range_valid still uses the stored node, with the kernel's modulo
	 * end (kend = 0x100): a request is rejected iff addr < 0x100 and
	 * end > 2^64-0x100, i.e. one spanning the wrap point of the node.
	 */
	ASSERT_FALSE(drm_gpuvm_range_valid(vm, 0x80, U64_MAX_ - 0x80));
	ASSERT_TRUE(drm_gpuvm_range_valid(vm, 0x80, 0x10));
	ASSERT_TRUE(drm_gpuvm_range_valid(vm, U64_MAX_ - 0x80, 0x10));
	/* Inserting into the stored-but-absent node's range is thus allowed. */
	struct drm_gpuva *va = va_insert(vm, U64_MAX_ - 0x80, 0x10, NULL);

	ASSERT_NONNULL(va);
	va_remove_free(va);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);

	/* Both overflow: two WARNs. */
	warn0 = gpuvm_warn_count();
	vm = vm_create(U64_MAX_, 2, U64_MAX_, 2);
	ASSERT_NONNULL(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 2);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 2);

	/* A zero reserve range means "no reserved node", even at a wrapping offset. */
	warn0 = gpuvm_warn_count();
	vm = vm_create(0, P(0x10), U64_MAX_, 0);
	ASSERT_NONNULL(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0);
	ASSERT_FALSE(vm->kernel_alloc_node_inserted);
	ASSERT_NULL(vm->rb.tree.rb_root.rb_node);
	drm_gpuvm_put(vm);

	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* --------------------------------------------------------- range_valid */

struct rv_case {
	u64 addr, range;
	bool valid;
	const char *what;
};

/*
 * Window [1, 0x11), reserved [2, 3):
 *
 *	 0    1    2    3    4  ...  0x10   0x11
 *	 .....WWWWWKKKKKWWWWWWW ... WWWWW.....
 */
static bool test_range_valid_table(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(P(1), P(0x10), P(2), P(1));
	static const struct rv_case cases[] = {
		/* overflow */
		{ U64_MAX_, 1, false, "addr+range wraps by one" },
		{ P(1), U64_MAX_, false, "huge range" },
		{ U64_MAX_, 0, false, "no wrap but outside the window" },
		/* window edges */
		{ P(1), P(1), true, "first page, left of the reserved node" },
		{ P(1) - 1, 1, false, "byte below the window" },
		{ P(1) - 1, 2, false, "straddles the window start" },
		{ P(0x11) - 1, 1, true, "last byte of the window" },
		{ P(3), P(0xe), true, "reserved end to window end" },
		{ P(3), P(0xe) + 1, false, "one byte past the window end" },
		{ P(0x11), 1, false, "first byte after the window" },
		{ P(1), P(0x10), false, "whole window (covers the reserved node)" },
		/* reserved node */
		{ P(1), P(1) + 1, false, "overlaps the reserved node's first byte" },
		{ P(3), 0x10, true, "adjacent right of the reserved node" },
		{ P(3) - 1, 1, false, "reserved node's last byte" },
		{ P(2) + 0x800, 0x100, false, "inside the reserved node" },
		{ P(1) + 0x800, P(2), false, "spans the reserved node" },
		/* zero range */
		{ P(2), 0, true, "zero range at the reserved start" },
		{ P(2) + 0x800, 0, false, "zero range strictly inside the reserved node" },
		{ P(2) + 1, 0, false, "zero range one byte into the reserved node" },
		{ P(3), 0, true, "zero range at the reserved end" },
		{ P(5), 0, true, "zero range inside the window" },
		{ P(1), 0, true, "zero range at the window start" },
		{ P(0x11), 0, true, "zero range at the window end" },
		{ P(1) - 1, 0, false, "zero range below the window" },
		{ P(0x11) + 1, 0, false, "zero range above the window" },
		{ 0, 0, false, "zero range at 0, below the window" },
	};

	ASSERT_NONNULL(vm);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rv_case *c = &cases[i];

		if (drm_gpuvm_range_valid(vm, c->addr, c->range) != c->valid) {
			fprintf(stderr, "case %zu (%s): addr 0x%llx range 0x%llx\n", i, c->what,
				(unsigned long long)c->addr, (unsigned long long)c->range);
			ASSERT_EQ(drm_gpuvm_range_valid(vm, c->addr, c->range), c->valid);
		}
		/* insert agrees with range_valid on an empty VM (-EINVAL only). */
		int err;
		struct drm_gpuva *va = va_insert(vm, c->addr, c->range, &err);

		ASSERT_EQ(err, c->valid ? 0 : -EINVAL);
		if (va)
			va_remove_free(va);
	}
	ASSERT_EQ(vm_refs(vm), 1);
	drm_gpuvm_put(vm);

	/* No reserved node: the whole window including 0 is usable. */
	vm = vm_create(0, P(0x10), 0, 0);
	ASSERT_NONNULL(vm);
	ASSERT_TRUE(drm_gpuvm_range_valid(vm, 0, P(0x10)));
	ASSERT_TRUE(drm_gpuvm_range_valid(vm, 0, 0));
	ASSERT_FALSE(drm_gpuvm_range_valid(vm, 0, P(0x10) + 1));
	drm_gpuvm_put(vm);

	/* Full 64-bit window [0, 2^64-1): only overflow limits it. */
	vm = vm_create(0, U64_MAX_, 0, 0);
	ASSERT_NONNULL(vm);
	ASSERT_TRUE(drm_gpuvm_range_valid(vm, 0, U64_MAX_));
	ASSERT_TRUE(drm_gpuvm_range_valid(vm, U64_MAX_ - 1, 1));
	ASSERT_FALSE(drm_gpuvm_range_valid(vm, U64_MAX_, 1));
	ASSERT_FALSE(drm_gpuvm_range_valid(vm, 1, U64_MAX_));
	drm_gpuvm_put(vm);

	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * The reserved range need not lie in the window. Window [0x10, 0x20),
 * reserved [0, 1) and, in a second VM, [0x30, 0x31):
 *
 *	 0    1 ...  0x10 ... 0x20 ... 0x30  0x31
 *	 KKKKK.......WWWWWWWWWW........(KKKKK)
 */
static bool test_reserved_outside_window(void)
{
	const long live0 = gpuvm_alloc_live();
	const unsigned long warn0 = gpuvm_warn_count();
	struct drm_gpuvm *vm = vm_create(P(0x10), P(0x10), 0, P(1));
	struct drm_gpuva *va;

	ASSERT_NONNULL(vm);
	ASSERT_TRUE(vm->kernel_alloc_node_inserted);
	ASSERT_TRUE(drm_gpuvm_range_valid(vm, P(0x10), P(0x10)));
	ASSERT_FALSE(drm_gpuvm_range_valid(vm, 0x800, 1)); /* outside anyway */
	/* Lookups see it (no validation). */
	ASSERT_TRUE(drm_gpuva_find_first(vm, 0, 1) == &vm->kernel_alloc_node);
	ASSERT_TRUE(drm_gpuva_find(vm, 0, P(1)) == &vm->kernel_alloc_node);
	ASSERT_FALSE(drm_gpuvm_interval_empty(vm, 0, P(0x20)));
	va = va_insert(vm, P(0x10), P(1), NULL);
	ASSERT_NONNULL(va);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	va_remove_free(va);
	drm_gpuvm_put(vm);

	vm = vm_create(P(0x10), P(0x10), P(0x30), P(1));
	ASSERT_NONNULL(vm);
	ASSERT_TRUE(drm_gpuvm_range_valid(vm, P(0x10), P(0x10)));
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(0x10), U64_MAX_ - P(0x10)) ==
		    &vm->kernel_alloc_node);
	drm_gpuvm_put(vm);

	ASSERT_EQ(gpuvm_warn_count(), warn0);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* -------------------------------------------------------------- insert */

/*
 * Window [0, 0x10), reserved [1, 2):
 *
 *	 0    1    2    3    4    5    6    7
 *	 .....KKKKK.....AAAAAAAAAA.....BBBBB..
 */
static bool test_insert_errors(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(0, P(0x10), P(1), P(1));
	struct drm_gpuva *a, *b, *x;
	int err;

	ASSERT_NONNULL(vm);
	a = va_new(P(3), P(2));
	ASSERT_NONNULL(a);
	a->flags = DRM_GPUVA_SPARSE;
	a->gem.offset = 0x1234;
	ASSERT_EQ(drm_gpuva_insert(vm, a), 0);
	/* insert sets vm, takes a VM ref, leaves flags and gem alone */
	ASSERT_TRUE(a->vm == vm);
	ASSERT_EQ(vm_refs(vm), 2);
	ASSERT_EQ(a->flags, DRM_GPUVA_SPARSE);
	ASSERT_EQ(a->gem.offset, 0x1234);
	ASSERT_NULL(a->gem.obj);
	ASSERT_NULL(a->vm_bo);

	b = va_insert(vm, P(6), P(1), &err);
	ASSERT_NONNULL(b);
	ASSERT_EQ(vm_refs(vm), 3);

	/* -EINVAL: overflow, outside the window, touching the reserved node. */
	ASSERT_NULL(va_insert(vm, U64_MAX_ - 1, 2, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(va_insert(vm, P(0xf), P(2), &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(va_insert(vm, P(1) + 0x10, 0x10, &err));
	ASSERT_EQ(err, -EINVAL);
	ASSERT_NULL(va_insert(vm, P(0), P(1) + 1, &err));
	ASSERT_EQ(err, -EINVAL);

	/* -EEXIST: any overlap with A or B; state unchanged. */
	x = va_new(P(4), P(2)); /* [4, 6): A's second page */
	ASSERT_NONNULL(x);
	ASSERT_EQ(drm_gpuva_insert(vm, x), -EEXIST);
	ASSERT_NULL(x->vm);
	ASSERT_TRUE(list_empty(&x->rb.entry));
	kfree(x);
	ASSERT_NULL(va_insert(vm, P(5) - 1, 1, &err)); /* A's last byte */
	ASSERT_EQ(err, -EEXIST);
	ASSERT_NULL(va_insert(vm, P(2), P(5), &err)); /* covers A and B */
	ASSERT_EQ(err, -EEXIST);
	ASSERT_NULL(va_insert(vm, P(6) + 0x10, 0x10, &err)); /* inside B */
	ASSERT_EQ(err, -EEXIST);
	ASSERT_EQ(vm_refs(vm), 3);

	/* Adjacent on both sides is fine. */
	x = va_insert(vm, P(5), P(1), &err); /* [5, 6) between A and B */
	ASSERT_NONNULL(x);
	struct drm_gpuva *y = va_insert(vm, P(2), P(1), &err); /* right after K */

	ASSERT_NONNULL(y);
	ASSERT_EQ(vm_refs(vm), 5);
	size_t n;

	ASSERT_TRUE(list_matches_tree(vm, &n));
	ASSERT_EQ(n, 5);

	va_remove_free(x);
	va_remove_free(y);
	va_remove_free(b);
	/* remove keeps va->vm and leaves the list node self-linked */
	drm_gpuva_remove(a);
	ASSERT_TRUE(a->vm == vm);
	ASSERT_TRUE(list_empty(&a->rb.entry));
	ASSERT_EQ(vm_refs(vm), 1);
	/* ... so the VA can be inserted again */
	ASSERT_EQ(drm_gpuva_insert(vm, a), 0);
	va_remove_free(a);
	ASSERT_TRUE(list_matches_tree(vm, &n));
	ASSERT_EQ(n, 1);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * Zero-range VAs (docs/trace-format.md): a zero-range VA at a is the interval [a, a-1].
 * Window [0, 0x10):
 *
 *	 0    1    2    3    4    5    6
 *	 .....AAAAAAAAAA.....BBBBB.....
 *	      ^Z1       ^Z2       ^Z3     (zero-range VAs)
 */
static bool test_zero_range_insert(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(0, P(0x10), 0, 0);
	struct drm_gpuva *a, *z1, *z2, *z3, *b, *c;
	int err;

	ASSERT_NONNULL(vm);
	a = va_insert(vm, P(1), P(2), &err);
	ASSERT_NONNULL(a);

	/* A spans across 0x2000 (holds 0x1fff and 0x2000): blocked. */
	ASSERT_NULL(va_insert(vm, P(2), 0, &err));
	ASSERT_EQ(err, -EEXIST);
	/* At A's start and just past its end nothing spans: accepted. */
	z1 = va_insert(vm, P(1), 0, &err);
	ASSERT_NONNULL(z1);
	z2 = va_insert(vm, P(3), 0, &err);
	ASSERT_NONNULL(z2);
	z3 = va_insert(vm, P(5), 0, &err);
	ASSERT_NONNULL(z3);
	ASSERT_EQ(vm_refs(vm), 5);

	/* Equal starts keep insertion order: A before Z1. */
	ASSERT_TRUE(__drm_gpuva_next(a) == z1);
	ASSERT_TRUE(list_matches_tree(vm, NULL));

	/* Z3 blocks inserts strictly containing 0x5000 ... */
	ASSERT_NULL(va_insert(vm, P(4), P(2), &err));
	ASSERT_EQ(err, -EEXIST);
	/* ... but not those ending or starting at it. */
	b = va_insert(vm, P(4), P(1), &err);
	ASSERT_NONNULL(b);
	c = va_insert(vm, P(5), P(1), &err);
	ASSERT_NONNULL(c);

	/* Lookups: a zero-range query [a, a-1] finds only a node spanning a. */
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(2), 0) == a);
	ASSERT_NULL(drm_gpuva_find_first(vm, P(3), 0));
	/* find() cannot see Z2: its own query [3, 3-1] does not reach it. */
	ASSERT_NULL(drm_gpuva_find(vm, P(3), 0));
	/* interval_empty over A's range: false; over the zero range at Z2: true. */
	ASSERT_FALSE(drm_gpuvm_interval_empty(vm, P(1), P(2)));
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, P(3), 0));
	/* [0x2fff, 0x3000] meets A and Z2 ([3, 3-1]); the lowest start wins */
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(3) - 1, 2) == a);

	ASSERT_TRUE(list_matches_tree(vm, NULL));
	va_remove_free(z1);
	va_remove_free(z2);
	va_remove_free(z3);
	va_remove_free(a);
	va_remove_free(b);
	va_remove_free(c);
	ASSERT_EQ(vm_refs(vm), 1);
	drm_gpuvm_put(vm);

	/*
	 * "map 0 0" on an empty tree: the interval [0, 2^64-1] overlaps every
	 * later insert, zero-range ones included.
	 */
	vm = vm_create(0, P(0x10), 0, 0);
	ASSERT_NONNULL(vm);
	struct drm_gpuva *w = va_insert(vm, 0, 0, &err);

	ASSERT_NONNULL(w);
	ASSERT_EQ(w->rb.__subtree_last, U64_MAX_);
	ASSERT_NULL(va_insert(vm, P(1), P(1), &err));
	ASSERT_EQ(err, -EEXIST);
	ASSERT_NULL(va_insert(vm, P(5), 0, &err));
	ASSERT_EQ(err, -EEXIST);
	ASSERT_NULL(va_insert(vm, 0, 0, &err));
	ASSERT_EQ(err, -EEXIST);
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(8), 0x10) == w);
	ASSERT_FALSE(drm_gpuvm_interval_empty(vm, P(0xf), 1));
	va_remove_free(w);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* -------------------------------------------------------------- remove */

static bool test_remove_reserved_node(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(0, P(0x10), P(1), P(1));
	unsigned long warn0;
	unsigned int seen0;

	ASSERT_NONNULL(vm);
	warn0 = gpuvm_warn_count();
	seen0 = warn_seen;
	drm_gpuva_remove(&vm->kernel_alloc_node);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	ASSERT_TRUE(warned(seen0, "kernel reserved node"));
	/* a no-op: still in the tree and the list, no ref dropped */
	ASSERT_EQ(vm_refs(vm), 1);
	ASSERT_TRUE(drm_gpuva_find(vm, P(1), P(1)) == &vm->kernel_alloc_node);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	ASSERT_FALSE(list_empty(&vm->rb.list));

	/* Ours: removing a VA twice WARNs instead of corrupting the tree. */
	struct drm_gpuva *va = va_insert(vm, P(4), P(1), NULL);

	ASSERT_NONNULL(va);
	drm_gpuva_remove(va);
	warn0 = gpuvm_warn_count();
	drm_gpuva_remove(va);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	ASSERT_EQ(vm_refs(vm), 1);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	kfree(va);

	warn0 = gpuvm_warn_count();
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ---------------------------------------------------------------- find */

/*
 * Window [1, 0x10), reserved [1, 2):
 *
 *	 0    1    2    3    4    5    6    7    8
 *	 .....KKKKK.....AAAAA|BBBBCCCCC.....DDDDD.
 *	                     ^ B starts one byte after A's end (0x4001)
 */
static bool test_find_quirks(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(P(1), P(0xf), P(1), P(1));
	struct drm_gpuva *k, *a, *b, *c, *d;

	ASSERT_NONNULL(vm);
	k = &vm->kernel_alloc_node;
	a = va_insert(vm, P(3), P(1), NULL);
	b = va_insert(vm, P(4) + 1, P(1) - 1, NULL);
	c = va_insert(vm, P(5), P(1), NULL);
	d = va_insert(vm, P(7), P(1), NULL);
	ASSERT_TRUE(a && b && c && d);

	/* find_first: lowest start overlapping, reserved node included. */
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(1), 1) == k);
	ASSERT_TRUE(drm_gpuva_find_first(vm, 0, P(10)) == k);
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(2), P(3)) == a);
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(3) + 0x800, P(10)) == a);
	ASSERT_NULL(drm_gpuva_find_first(vm, P(4), 1)); /* the byte 0x4000 */
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(4), 2) == b);
	ASSERT_NULL(drm_gpuva_find_first(vm, P(6), P(1)));
	/* no validation: the last byte wraps, 0x4800 + (2^64-1) - 1 = 0x47fe */
	ASSERT_TRUE(drm_gpuva_find_first(vm, P(4) + 0x800, U64_MAX_) == b);

	/* find: exact addr and range only */
	ASSERT_TRUE(drm_gpuva_find(vm, P(3), P(1)) == a);
	ASSERT_NULL(drm_gpuva_find(vm, P(3), P(1) / 2));
	ASSERT_NULL(drm_gpuva_find(vm, P(3) + 0x800, 0x800)); /* inside A */
	ASSERT_TRUE(drm_gpuva_find(vm, P(1), P(1)) == k);

	/* find_prev(start) probes [start-1, start] */
	ASSERT_TRUE(drm_gpuva_find_prev(vm, P(4)) == a);  /* A ends at 0x4000 */
	ASSERT_TRUE(drm_gpuva_find_prev(vm, P(3)) == a);  /* quirk: the VA at start */
	ASSERT_TRUE(drm_gpuva_find_prev(vm, P(5)) == b);
	ASSERT_NULL(drm_gpuva_find_prev(vm, P(6) + 0x10)); /* gap, nothing at start */
	ASSERT_NULL(drm_gpuva_find_prev(vm, P(2)));       /* start-1 in the reserved node */
	ASSERT_NULL(drm_gpuva_find_prev(vm, P(1)));       /* start == window start */
	ASSERT_NULL(drm_gpuva_find_prev(vm, 0));          /* start-1 wraps */
	ASSERT_NULL(drm_gpuva_find_prev(vm, P(0x11)));    /* start-1 outside */
	ASSERT_TRUE(drm_gpuva_find_prev(vm, P(4) + 1) == b); /* quirk again: B at start */

	/* find_next(end) probes [end, end+1] */
	ASSERT_TRUE(drm_gpuva_find_next(vm, P(4)) == b);  /* quirk: B at end+1 */
	ASSERT_TRUE(drm_gpuva_find_next(vm, P(5)) == c);  /* adjacent */
	ASSERT_NULL(drm_gpuva_find_next(vm, P(6)));       /* gap */
	ASSERT_TRUE(drm_gpuva_find_next(vm, P(7) - 1) == d); /* D at end+1 */
	ASSERT_TRUE(drm_gpuva_find_next(vm, P(3)) == a);  /* the VA at end itself */
	ASSERT_NULL(drm_gpuva_find_next(vm, P(1) + 0x800)); /* inside the reserved node */
	ASSERT_NULL(drm_gpuva_find_next(vm, P(0x10)));    /* window end */
	ASSERT_NULL(drm_gpuva_find_next(vm, P(1) - 1));   /* below the window */
	ASSERT_NULL(drm_gpuva_find_next(vm, U64_MAX_));   /* end+1 overflows */
	/* find_next at the reserved node's end: valid, finds nothing at 2 */
	ASSERT_NULL(drm_gpuva_find_next(vm, P(2)));

	va_remove_free(a);
	va_remove_free(b);
	va_remove_free(c);
	va_remove_free(d);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * Window [0, 0x10), reserved [1, 2):
 *
 *	 0    1    2    3    4    5
 *	 .....KKKKK.....AAAAA.....
 */
static bool test_interval_empty(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(0, P(0x10), P(1), P(1));
	struct drm_gpuva *a;

	ASSERT_NONNULL(vm);
	a = va_insert(vm, P(3), P(1), NULL);
	ASSERT_NONNULL(a);
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, 0, P(1)));
	ASSERT_FALSE(drm_gpuvm_interval_empty(vm, 0, P(1) + 1)); /* the reserved node */
	ASSERT_FALSE(drm_gpuvm_interval_empty(vm, P(1) + 0x10, 0x10));
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, P(2), P(1)));
	ASSERT_FALSE(drm_gpuvm_interval_empty(vm, P(2), P(1) + 1));
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, P(4), P(0xc)));
	ASSERT_FALSE(drm_gpuvm_interval_empty(vm, P(3) + 0x800, 0));  /* A spans it */
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, P(3), 0));           /* nothing spans 3 */
	/*
	 * No validation: a range of 2^64-1 wraps the last byte to addr-2, so
	 * from 0x5000 it sees nothing, and from 0x3800 it still meets A.
	 */
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, P(5), U64_MAX_));
	ASSERT_FALSE(drm_gpuvm_interval_empty(vm, P(3) + 0x800, U64_MAX_));
	/* outside the window is just empty */
	ASSERT_TRUE(drm_gpuvm_interval_empty(vm, P(0x100), P(1)));
	va_remove_free(a);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ----------------------------------------------------------- iteration */

static bool expect_seq(struct drm_gpuva **got, size_t n, struct drm_gpuva **want, size_t m)
{
	ASSERT_EQ(n, m);
	for (size_t i = 0; i < n; i++)
		ASSERT_TRUE(got[i] == want[i]);
	return true;
}

/*
 * Window [0, 0x10), reserved [0xc, 0xd):
 *
 *	 0    1    2    3    4    5    6    7    8    9    a    b    c    d
 *	 .....AAAAAAAAAA.....BBBBBCCCCC.....DDDDDDDDDD...............KKKKK
 */
static bool test_iteration(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(0, P(0x10), P(0xc), P(1));
	struct drm_gpuva *a, *b, *c, *d, *e, *f, *k, *va, *next;
	struct drm_gpuva *seen[16];
	size_t n;

	ASSERT_NONNULL(vm);
	k = &vm->kernel_alloc_node;
	d = va_insert(vm, P(7), P(2), NULL);
	b = va_insert(vm, P(4), P(1), NULL);
	a = va_insert(vm, P(1), P(2), NULL);
	c = va_insert(vm, P(5), P(1), NULL);
	ASSERT_TRUE(a && b && c && d);

	/* Range [2, 7): A (partially), B, C; D starts at the end. */
	n = 0;
	drm_gpuvm_for_each_va_range(va, vm, P(2), P(7))
		seen[n++] = va;
	ASSERT_TRUE(expect_seq(seen, n, (struct drm_gpuva *[]){ a, b, c }, 3));

	/* Range [3, 4): the gap. */
	n = 0;
	drm_gpuvm_for_each_va_range(va, vm, P(3), P(4))
		seen[n++] = va;
	ASSERT_EQ(n, 0);

	/* Range [4.5, 0x10): B, C, D and the reserved node. */
	n = 0;
	drm_gpuvm_for_each_va_range(va, vm, P(4) + 0x800, P(0x10))
		seen[n++] = va;
	ASSERT_TRUE(expect_seq(seen, n, (struct drm_gpuva *[]){ b, c, d, k }, 4));

	/*
	 * Safe walk over everything, removing B and D when visited. While at
	 * A, insert F [0, 0.5) behind the walk (never visited) and E [0xa, 0xb)
	 * after D (visited: D's successor is fetched when D becomes current).
	 */
	n = 0;
	e = f = NULL;
	drm_gpuvm_for_each_va_range_safe(va, next, vm, 0, P(0x10)) {
		seen[n++] = va;
		if (va == a) {
			f = va_insert(vm, 0, 0x800, NULL);
			e = va_insert(vm, P(0xa), P(1), NULL);
			ASSERT_TRUE(e && f);
		}
		if (va == b || va == d)
			va_remove_free(va);
	}
	ASSERT_TRUE(expect_seq(seen, n, (struct drm_gpuva *[]){ a, b, c, d, e, k }, 6));
	ASSERT_TRUE(list_matches_tree(vm, &n));
	ASSERT_EQ(n, 5);

	/* Whole list: F, A, C, E, K in address order. */
	n = 0;
	drm_gpuvm_for_each_va(va, vm)
		seen[n++] = va;
	ASSERT_TRUE(expect_seq(seen, n, (struct drm_gpuva *[]){ f, a, c, e, k }, 5));

	/* __drm_gpuva_next stops at the end of the list. */
	ASSERT_NULL(__drm_gpuva_next(k));
	ASSERT_NULL(__drm_gpuva_next(NULL));
	ASSERT_TRUE(__drm_gpuva_next(f) == a);

	/* Safe whole-list walk removing everything but the reserved node. */
	drm_gpuvm_for_each_va_safe(va, next, vm)
		if (va != k)
			va_remove_free(va);
	ASSERT_TRUE(list_matches_tree(vm, &n));
	ASSERT_EQ(n, 1);
	ASSERT_EQ(vm_refs(vm), 1);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static u64 rng = 0x1234567;

static u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/*
 * Random inserts (many rejected) and removals, zero ranges included: the
 * list always equals the tree's in-order sequence, find() finds each VA of
 * non-zero range, refs count the VAs.
 */
static bool test_list_order_random(void)
{
	const long live0 = gpuvm_alloc_live();
	enum { SLOTS = 256 };
	struct drm_gpuvm *vm = vm_create(0, 0x4000, 0x1000, 0x100);
	struct drm_gpuva *slot[SLOTS] = { NULL };
	unsigned int live = 0, rejected = 0;

	ASSERT_NONNULL(vm);
	for (unsigned int op = 0; op < 20000; op++) {
		unsigned int i = (unsigned int)(rnd() % SLOTS);

		if (slot[i]) {
			va_remove_free(slot[i]);
			slot[i] = NULL;
			live--;
		} else {
			u64 addr = rnd() % 0x4000, range = rnd() % 4 ? 1 + rnd() % 0x80 : 0;
			int err;

			slot[i] = va_insert(vm, addr, range, &err);
			if (slot[i]) {
				live++;
			} else {
				ASSERT_TRUE(err == -EEXIST || err == -EINVAL);
				rejected++;
			}
		}
		if (op % 500 == 0) {
			size_t n;

			ASSERT_TRUE(list_matches_tree(vm, &n));
			ASSERT_EQ(n, live + 1);
			ASSERT_EQ(vm_refs(vm), live + 1);
			for (unsigned int j = 0; j < SLOTS; j++)
				if (slot[j] && slot[j]->va.range)
					ASSERT_TRUE(drm_gpuva_find(vm, slot[j]->va.addr,
								   slot[j]->va.range) == slot[j]);
		}
	}
	ASSERT_TRUE(rejected > 100 && live > 10);
	for (unsigned int j = 0; j < SLOTS; j++)
		if (slot[j])
			va_remove_free(slot[j]);
	ASSERT_EQ(vm_refs(vm), 1);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* --------------------------------------------------------------- remap */

/* A remap step over @old with optional pieces, as sm_map would build it. */
static void remap_op(struct drm_gpuva_op_remap *op, struct drm_gpuva_op_unmap *u,
		     struct drm_gpuva_op_map *p, struct drm_gpuva_op_map *n,
		     struct drm_gpuva *old, u64 paddr, u64 prange, u64 naddr, u64 nrange)
{
	*u = (struct drm_gpuva_op_unmap){ .va = old };
	*p = (struct drm_gpuva_op_map){ .va = { .addr = paddr, .range = prange } };
	*n = (struct drm_gpuva_op_map){ .va = { .addr = naddr, .range = nrange } };
	*op = (struct drm_gpuva_op_remap){ .prev = prange ? p : NULL,
					   .next = nrange ? n : NULL, .unmap = u };
}

/*
 * drm_gpuva_remap() lets the first piece take over the old VA's tree node
 * when that ends up exactly like removal plus insertion; a zero-range VA
 * sharing the old VA's start (after it) forces the slow path, because an
 * inserted piece goes after it:
 *
 *	 0    1    2    3    4    5    6    7    8
 *	 .....OOOOOOOOOOOOOOO.....QQQQQQQQQQQQQQQ     O = [1, 4), Q = [5, 8)
 *	      Z                                        Z = [1, 1) (after O)
 */
static bool test_remap_in_place(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(0, P(0x10), 0, 0);
	struct drm_gpuva *o, *q, *z, *prev, *next, *va;
	struct drm_gpuva_op_remap op;
	struct drm_gpuva_op_unmap u;
	struct drm_gpuva_op_map pm, nm;
	const unsigned long warn0 = gpuvm_warn_count();

	ASSERT_NONNULL(vm);
	ASSERT_NONNULL(o = va_insert(vm, P(1), P(3), NULL));
	ASSERT_NONNULL(q = va_insert(vm, P(5), P(3), NULL));
	ASSERT_EQ(vm_refs(vm), 3);

	/* Q: a head and a tail; the head takes Q's place. */
	prev = va_new(0, 0);
	next = va_new(0, 0);
	ASSERT_TRUE(prev && next);
	remap_op(&op, &u, &pm, &nm, q, P(5), P(1), P(7), P(1));
	drm_gpuva_remap(prev, next, &op);
	ASSERT_TRUE(prev->vm == vm && next->vm == vm);
	ASSERT_TRUE(q->vm == vm && list_empty(&q->rb.entry));
	ASSERT_EQ(vm_refs(vm), 4);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	ASSERT_TRUE(drm_gpuva_find(vm, P(5), P(1)) == prev);
	ASSERT_TRUE(drm_gpuva_find(vm, P(7), P(1)) == next);
	ASSERT_NULL(drm_gpuva_find_first(vm, P(6), P(1)));
	kfree(q);

	/* The tail alone of [7, 8): [7.5, 8) takes its place. */
	q = va_new(0, 0);
	ASSERT_NONNULL(q);
	remap_op(&op, &u, &pm, &nm, next, 0, 0, P(7) + 0x800, 0x800);
	drm_gpuva_remap(NULL, q, &op);
	ASSERT_TRUE(q->vm == vm && list_empty(&next->rb.entry));
	ASSERT_TRUE(__drm_gpuva_next(prev) == q);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	ASSERT_EQ(vm_refs(vm), 4);
	kfree(next);

	/* Z after O at the same start: the head of O must end up after Z. */
	ASSERT_NONNULL(z = va_insert(vm, P(1), 0, NULL));
	ASSERT_TRUE(__drm_gpuva_next(o) == z);
	va = va_new(0, 0);
	next = va_new(0, 0);
	ASSERT_TRUE(va && next);
	remap_op(&op, &u, &pm, &nm, o, P(1), P(1), P(3), P(1));
	drm_gpuva_remap(va, next, &op);
	ASSERT_TRUE(va->vm == vm && next->vm == vm && list_empty(&o->rb.entry));
	ASSERT_TRUE(list_first_entry(&vm->rb.list, struct drm_gpuva, rb.entry) == z);
	ASSERT_TRUE(__drm_gpuva_next(z) == va && __drm_gpuva_next(va) == next);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	ASSERT_EQ(vm_refs(vm), 6);
	kfree(o);

	/* A piece that is not inside the old VA (a driver's own op): as before. */
	o = va_new(0, 0);
	ASSERT_NONNULL(o);
	remap_op(&op, &u, &pm, &nm, next, P(2) + 0x800, P(2), 0, 0);
	drm_gpuva_remap(o, NULL, &op);
	ASSERT_TRUE(o->vm == vm && __drm_gpuva_next(va) == o);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	kfree(next);

	/* A piece overlapping another VA: removal happens, insertion fails. */
	next = va_new(0, 0);
	ASSERT_NONNULL(next);
	remap_op(&op, &u, &pm, &nm, o, P(2), P(4), 0, 0);
	drm_gpuva_remap(next, NULL, &op);
	ASSERT_NULL(next->vm);
	ASSERT_TRUE(list_empty(&o->rb.entry));
	ASSERT_EQ(vm_refs(vm), 5);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	kfree(next);
	kfree(o);

	ASSERT_EQ(gpuvm_warn_count(), warn0);
	drm_gpuvm_for_each_va_safe(va, next, vm)
		va_remove_free(va);
	ASSERT_EQ(vm_refs(vm), 1);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/*
 * __drm_gpuva_insert_after() only acts when drm_gpuva_insert() would put the
 * VA right after the hint; anything else is left to the plain insert:
 *
 *	 0    1    2    3    4    5    6
 *	 .....AAAAAAAAAA.....BBBBB.....      A = [1, 3), B = [4, 5)
 *	      Z                              Z = [1, 1), after A
 */
static bool test_insert_after_hint(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = vm_create(0, P(0x10), 0, 0);
	struct drm_gpuva *a, *z, *b, *va;

	ASSERT_NONNULL(vm);
	ASSERT_NONNULL(a = va_insert(vm, P(1), P(2), NULL));
	ASSERT_NONNULL(z = va_insert(vm, P(1), 0, NULL));
	ASSERT_NONNULL(b = va_insert(vm, P(4), P(1), NULL));
	ASSERT_NONNULL(va = va_new(P(2), P(1)));

	/* Z ends "before" [2, 3) but A, before Z, covers it: no. */
	ASSERT_FALSE(__drm_gpuva_insert_after(vm, z, va));
	ASSERT_EQ(drm_gpuva_insert(vm, va), -EEXIST);
	/* A's successor is Z, which starts inside [1, 2): no. */
	va->va.addr = P(3);
	ASSERT_FALSE(__drm_gpuva_insert_after(vm, a, va));
	/* Hints that are missing, not in this VM or overlapping: no. */
	ASSERT_FALSE(__drm_gpuva_insert_after(vm, NULL, va));
	ASSERT_FALSE(__drm_gpuva_insert_after(vm, b, va));
	va->va.addr = P(5);
	va->va.range = 0;
	ASSERT_FALSE(__drm_gpuva_insert_after(vm, b, va)); /* zero range */
	va->va.range = P(0x20);
	ASSERT_FALSE(__drm_gpuva_insert_after(vm, b, va)); /* out of the VM */
	ASSERT_NULL(va->vm);
	ASSERT_EQ(vm_refs(vm), 4);

	/* Right after B, and right after Z once A is gone: yes. */
	va->va.range = P(1);
	ASSERT_TRUE(__drm_gpuva_insert_after(vm, b, va));
	ASSERT_TRUE(va->vm == vm && __drm_gpuva_next(b) == va);
	va_remove_free(a);
	ASSERT_NONNULL(a = va_new(P(2), P(1)));
	ASSERT_FALSE(__drm_gpuva_insert_after(vm, z, a)); /* Z has no range */
	ASSERT_EQ(drm_gpuva_insert(vm, a), 0);
	ASSERT_TRUE(__drm_gpuva_next(z) == a && __drm_gpuva_next(a) == b);
	ASSERT_TRUE(list_matches_tree(vm, NULL));
	ASSERT_EQ(vm_refs(vm), 5);

	va_remove_free(a);
	va_remove_free(z);
	va_remove_free(b);
	va_remove_free(va);
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Same (addr, range) sequence in both VMs' lists, and both trees sound. */
static bool vms_match(struct drm_gpuvm *a, struct drm_gpuvm *b)
{
	struct list_head *ea = a->rb.list.next, *eb = b->rb.list.next;

	ASSERT_TRUE(list_matches_tree(a, NULL));
	ASSERT_TRUE(list_matches_tree(b, NULL));
	for (; ea != &a->rb.list && eb != &b->rb.list; ea = ea->next, eb = eb->next) {
		struct drm_gpuva *va = list_entry(ea, struct drm_gpuva, rb.entry);
		struct drm_gpuva *vb = list_entry(eb, struct drm_gpuva, rb.entry);

		ASSERT_EQ(va->va.addr, vb->va.addr);
		ASSERT_EQ(va->va.range, vb->va.range);
	}
	ASSERT_TRUE(ea == &a->rb.list && eb == &b->rb.list);
	ASSERT_EQ(vm_refs(a), vm_refs(b));
	return true;
}

/* A random piece: mostly the head or tail of @old, sometimes anything. */
static void rnd_piece(const struct drm_gpuva *old, bool head, u64 *addr, u64 *range)
{
	const u64 end = old->va.addr + old->va.range;

	if (rnd() % 8 == 0 || old->va.range < 2) {
		*addr = rnd() % 0x4000;
		*range = rnd() % 3 ? rnd() % 0x80 : 0;
		return;
	}
	u64 cut = old->va.addr + 1 + rnd() % (old->va.range - 1);

	*addr = head ? old->va.addr : cut;
	*range = head ? cut - old->va.addr : end - cut;
}

/*
 * Two VMs driven alike, except that one applies remap steps with
 * drm_gpuva_remap() and the other with drm_gpuva_remove() plus
 * drm_gpuva_insert() of each piece, and that one may insert after a hinted
 * VA (__drm_gpuva_insert_after) where the other inserts plainly: the outcome
 * must be the same, with zero-range VAs, equal starts and a reserved node in
 * the mix.
 */
static bool test_remap_random_vs_remove_insert(void)
{
	const long live0 = gpuvm_alloc_live();
	enum { SLOTS = 128 };
	struct drm_gpuvm *vm[2] = { vm_create(0, 0x4000, 0x1000, 0x100),
				    vm_create(0, 0x4000, 0x1000, 0x100) };
	struct drm_gpuva *slot[SLOTS][2] = { { NULL } };
	const unsigned long warn0 = gpuvm_warn_count();
	unsigned int remaps = 0, failed_pieces = 0, hinted = 0;

	ASSERT_TRUE(vm[0] && vm[1]);
	for (unsigned int op = 0; op < 40000; op++) {
		unsigned int i = (unsigned int)(rnd() % SLOTS), r = (unsigned int)(rnd() % 8);

		if (!slot[i][0] && r == 3) {
			/*
			 * Insert with a hint: a random live VA, the new one usually
			 * placed just after it. Only vm[0] gets the hint.
			 */
			unsigned int h = (unsigned int)(rnd() % SLOTS);
			struct drm_gpuva *hint = slot[h][0];
			u64 addr = hint ? hint->va.addr + hint->va.range + rnd() % 3 * 0x10
					: rnd() % 0x4000;
			u64 range = rnd() % 5 ? 0x10 * (1 + rnd() % 4) : 0;
			int err[2];

			for (int k = 0; k < 2; k++)
				ASSERT_NONNULL(slot[i][k] = va_new(addr, range));
			if (__drm_gpuva_insert_after(vm[0], hint, slot[i][0])) {
				err[0] = 0;
				hinted++;
			} else {
				err[0] = drm_gpuva_insert(vm[0], slot[i][0]);
			}
			err[1] = drm_gpuva_insert(vm[1], slot[i][1]);
			ASSERT_EQ(err[0], err[1]);
			if (err[0]) {
				for (int k = 0; k < 2; k++) {
					kfree(slot[i][k]);
					slot[i][k] = NULL;
				}
			}
		} else if (!slot[i][0] && r < 4) {
			/* Coarse addresses: equal starts are common. */
			u64 addr = (rnd() % 0x400) * 0x10, range = rnd() % 4 ? 0x10 * (1 + rnd() % 8) : 0;
			int err[2];

			for (int k = 0; k < 2; k++)
				slot[i][k] = va_insert(vm[k], addr, range, &err[k]);
			ASSERT_EQ(err[0], err[1]);
		} else if (slot[i][0] && r < 2) {
			for (int k = 0; k < 2; k++) {
				va_remove_free(slot[i][k]);
				slot[i][k] = NULL;
			}
		} else if (slot[i][0]) {
			struct drm_gpuva *old[2] = { slot[i][0], slot[i][1] };
			struct drm_gpuva *piece[2][2];
			struct drm_gpuva_op_remap rop;
			struct drm_gpuva_op_unmap u;
			struct drm_gpuva_op_map pm, nm;
			u64 pa = 0, pr = 0, na = 0, nr = 0;

			switch (rnd() % 3) {
			case 0:
				rnd_piece(old[0], true, &pa, &pr);
				break;
			case 1:
				rnd_piece(old[0], false, &na, &nr);
				break;
			default:
				rnd_piece(old[0], true, &pa, &pr);
				rnd_piece(old[0], false, &na, &nr);
				if (pr && nr && na < pa + pr) /* keep sm_map's shape: a hole */
					na = pa + pr + (rnd() % 2);
				break;
			}
			for (int k = 0; k < 2; k++)
				for (int j = 0; j < 2; j++)
					ASSERT_NONNULL(piece[k][j] = va_new(0, 0));
			remap_op(&rop, &u, &pm, &nm, old[0], pa, pr, na, nr);
			drm_gpuva_remap(piece[0][0], piece[0][1], &rop);
			drm_gpuva_remove(old[1]);
			if (pr) {
				piece[1][0]->va.addr = pa;
				piece[1][0]->va.range = pr;
				(void)drm_gpuva_insert(vm[1], piece[1][0]);
			}
			if (nr) {
				piece[1][1]->va.addr = na;
				piece[1][1]->va.range = nr;
				(void)drm_gpuva_insert(vm[1], piece[1][1]);
			}
			remaps++;
			kfree(old[0]);
			kfree(old[1]);
			slot[i][0] = slot[i][1] = NULL;
			/* Inserted pieces live on in free slots; the others go. */
			for (int j = 0; j < 2; j++) {
				ASSERT_TRUE(!piece[0][j]->vm == !piece[1][j]->vm);
				if (!piece[0][j]->vm) {
					failed_pieces += pr || nr;
					kfree(piece[0][j]);
					kfree(piece[1][j]);
					continue;
				}
				unsigned int f = i, tries = 0;

				while (slot[f][0] && ++tries < SLOTS)
					f = (f + 1) % SLOTS;
				if (slot[f][0]) {
					/* No room left: drop the piece again. */
					va_remove_free(piece[0][j]);
					va_remove_free(piece[1][j]);
					continue;
				}
				slot[f][0] = piece[0][j];
				slot[f][1] = piece[1][j];
			}
		}
		if (op % 200 == 0 && !vms_match(vm[0], vm[1]))
			return false;
	}
	ASSERT_TRUE(vms_match(vm[0], vm[1]));
	ASSERT_TRUE(remaps > 1000 && failed_pieces > 100 && hinted > 500);
	ASSERT_EQ(gpuvm_warn_count(), warn0);
	for (unsigned int i = 0; i < SLOTS; i++)
		for (int k = 0; k < 2; k++)
			if (slot[i][k])
				va_remove_free(slot[i][k]);
	for (int k = 0; k < 2; k++) {
		ASSERT_EQ(vm_refs(vm[k]), 1);
		drm_gpuvm_put(vm[k]);
	}
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* --------------------------------------------------------- refcounting */

static bool test_refcount_last_put_by_remove(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("dev");
	struct drm_gpuvm *vm;
	struct drm_gpuva *a, *b;

	ASSERT_NONNULL(drm);
	vm = vm_create_ops(drm, "vm", 0, P(0x10), 0, 0, &test_ops);
	ASSERT_NONNULL(vm);
	a = va_insert(vm, P(1), P(1), NULL);
	b = va_insert(vm, P(2), P(1), NULL);
	ASSERT_TRUE(a && b);
	ASSERT_EQ(vm_refs(vm), 3);

	/* The creator drops its ref: the VAs keep the VM alive. */
	vm_free_calls = 0;
	drm_gpuvm_put(vm);
	ASSERT_EQ(vm_free_calls, 0);
	ASSERT_EQ(vm_refs(vm), 2);
	va_remove_free(a);
	ASSERT_EQ(vm_free_calls, 0);
	/* Removing the last VA frees the VM, exactly once. */
	unsigned long warn0 = gpuvm_warn_count();

	drm_gpuva_remove(b);
	ASSERT_EQ(vm_free_calls, 1);
	ASSERT_EQ(gpuvm_warn_count(), warn0);
	ASSERT_EQ(drm_ref_at_free, 2);
	ASSERT_EQ(kref_read(&drm->ref), 1);
	/* b->vm still names the (freed) VM: remove never clears it. */
	ASSERT_TRUE(b->vm == vm);
	kfree(b);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* ------------------------------------------------------------ teardown */

static bool test_teardown_warns(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm;
	struct drm_gpuva *va;
	unsigned long warn0;
	unsigned int seen0;

	/* A VA still in the tree at the last put (a put too many). */
	vm = vm_create(0, P(0x10), P(1), P(1));
	ASSERT_NONNULL(vm);
	va = va_insert(vm, P(4), P(1), NULL);
	ASSERT_NONNULL(va);
	warn0 = gpuvm_warn_count();
	seen0 = warn_seen;
	vm_free_calls = 0;
	drm_gpuvm_put(vm);
	drm_gpuvm_put(vm);
	ASSERT_EQ(vm_free_calls, 1);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	ASSERT_TRUE(warned(seen0, "tree is not empty"));
	kfree(va);

	/* Entries left on the extobj, evict and deferred lists. */
	struct list_head fake_extobj, fake_evict;
	struct llist_node fake_defer;

	vm = vm_create(0, P(0x10), 0, 0);
	ASSERT_NONNULL(vm);
	list_add_tail(&fake_extobj, &vm->extobj.list);
	list_add_tail(&fake_evict, &vm->evict.list);
	llist_add(&fake_defer, &vm->bo_defer);
	warn0 = gpuvm_warn_count();
	seen0 = warn_seen;
	drm_gpuvm_put(vm);
	ASSERT_EQ(vm_free_calls, 2);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 3);
	ASSERT_TRUE(warned(seen0, "Extobj list"));
	ASSERT_TRUE(warned(seen0, "Evict list"));
	ASSERT_TRUE(warned(seen0, "Deferred list"));

	/* No vm_free: WARN, the VM memory and the device ref stay behind. */
	static const struct drm_gpuvm_ops no_free_ops = { 0 };
	struct drm_device *drm = drm_dev_alloc("dev");

	ASSERT_NONNULL(drm);
	vm = vm_create_ops(drm, "leaky", 0, P(0x10), P(1), P(1), &no_free_ops);
	ASSERT_NONNULL(vm);
	warn0 = gpuvm_warn_count();
	seen0 = warn_seen;
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	ASSERT_TRUE(warned(seen0, "vm_free"));
	ASSERT_EQ(vm_free_calls, 2);
	ASSERT_EQ(kref_read(&drm->ref), 2); /* leaked with the VM */
	ASSERT_NULL(vm->name);              /* fini did run */
	ASSERT_FALSE(vm->kernel_alloc_node_inserted);
	ASSERT_NULL(vm->rb.tree.rb_root.rb_node);
	/* Clean up what the kernel would leak. */
	drm_dev_put(drm);
	drm_dev_put(drm);
	kfree(vm);

	/* NULL ops entirely: the same WARN, no crash. */
	vm = vm_create_ops(NULL, "noops", 0, P(0x10), 0, 0, NULL);
	ASSERT_NONNULL(vm);
	warn0 = gpuvm_warn_count();
	drm_gpuvm_put(vm);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	kfree(vm);

	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* Ours: the kernel would oops on a NULL resv object; we WARN and go on. */
static bool test_init_without_resv_object(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_gpuvm *vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	unsigned long warn0 = gpuvm_warn_count();
	unsigned int seen0 = warn_seen;
	struct drm_gpuva *va;

	ASSERT_NONNULL(vm);
	drm_gpuvm_init(vm, "no-resv", 0, NULL, NULL, 0, P(0x10), 0, 0, &test_ops);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	ASSERT_TRUE(warned(seen0, "resv object"));
	ASSERT_NULL(vm->r_obj);
	/* The VA space itself works. */
	va = va_insert(vm, P(1), P(1), NULL);
	ASSERT_NONNULL(va);
	ASSERT_TRUE(drm_gpuva_find(vm, P(1), P(1)) == va);
	va_remove_free(va);
	vm_free_calls = 0;
	drm_gpuvm_put(vm);
	ASSERT_EQ(vm_free_calls, 1);
	ASSERT_EQ(gpuvm_warn_count(), warn0 + 1);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

/* -------------------------------------------------------- resv object */

static bool test_resv_object_alloc(void)
{
	const long live0 = gpuvm_alloc_live();
	struct drm_device *drm = drm_dev_alloc("dev");
	struct drm_gem_object *obj;

	ASSERT_NONNULL(drm);
	/* Injected failure of the first allocation: NULL, nothing leaked. */
	gpuvm_alloc_fail_nth(1);
	obj = drm_gpuvm_resv_object_alloc(drm);
	ASSERT_NULL(obj);
	ASSERT_EQ(kref_read(&drm->ref), 1);
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1); /* just the device */

	/* A VM can then not be set up (vm_create gives up cleanly). */
	gpuvm_alloc_fail_nth(2);
	ASSERT_NULL(vm_create(0, P(1), 0, 0));
	ASSERT_EQ(gpuvm_alloc_live(), live0 + 1);

	obj = drm_gpuvm_resv_object_alloc(drm);
	ASSERT_NONNULL(obj);
	ASSERT_EQ(obj->size, 0);
	ASSERT_EQ(kref_read(&obj->refcount), 1);
	ASSERT_TRUE(obj->resv == &obj->_resv); /* its own resv: the VM's resv */
	ASSERT_TRUE(obj->dev == drm);
	drm_gem_object_put(obj);
	ASSERT_EQ(kref_read(&drm->ref), 1);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);

	/* Without a device. */
	obj = drm_gpuvm_resv_object_alloc(NULL);
	ASSERT_NONNULL(obj);
	ASSERT_NULL(obj->dev);
	drm_gem_object_put(obj);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	gpuvm_set_warn_hook(warn_hook, NULL);

	RUN(test_init_and_last_put);
	RUN(test_init_overflow_warns);
	RUN(test_range_valid_table);
	RUN(test_reserved_outside_window);
	RUN(test_insert_errors);
	RUN(test_zero_range_insert);
	RUN(test_remove_reserved_node);
	RUN(test_find_quirks);
	RUN(test_interval_empty);
	RUN(test_iteration);
	RUN(test_list_order_random);
	RUN(test_remap_in_place);
	RUN(test_insert_after_hint);
	RUN(test_remap_random_vs_remove_insert);
	RUN(test_refcount_last_put_by_remove);
	RUN(test_teardown_warns);
	RUN(test_init_without_resv_object);
	RUN(test_resv_object_alloc);

	gpuvm_set_warn_hook(NULL, NULL);
	return harness_done();
}
