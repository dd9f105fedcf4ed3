/* SPDX-License-Identifier: MIT */
/*
 * The kernel-compatibility layer of the stand-in headers: kernel arities and
 * semantics of slab.h (gfp flags, the typed kzalloc_obj family, overflow),
 * list.h (typeof-based iterators, moves, cuts, hlist), types.h widths,
 * bug.h/lockdep.h/mutex.h additions and drm_gem init/fini without a device
 * reference.
 */
#include <stdio.h>
#include <string.h>

#include "drm/drm_device.h"
#include "drm/drm_gem.h"
#include "drm/drm_print.h"
#include "linux/bug.h"
#include "linux/list.h"
#include "linux/lockdep.h"
#include "linux/mutex.h"
#include "linux/overflow.h"
#include "linux/slab.h"
#include "linux/types.h"
#include "harness.h"

/* Kernel widths: u64 is unsigned long long, so %llx is the right format. */
_Static_assert(__builtin_types_compatible_p(u64, unsigned long long), "u64");
_Static_assert(__builtin_types_compatible_p(s64, long long), "s64");
_Static_assert(__builtin_types_compatible_p(u32, unsigned int), "u32");
_Static_assert(__builtin_types_compatible_p(u16, unsigned short), "u16");
_Static_assert(__builtin_types_compatible_p(u8, unsigned char), "u8");
_Static_assert(sizeof(dma_addr_t) == 8, "dma_addr_t");

struct item {
	int v;
	struct list_head link;
	struct hlist_node hnode;
};

struct flex {
	u32 count;
	u64 slots[];
};

static bool test_typed_allocs(void)
{
	long live0 = gpuvm_alloc_live();
	struct item *it = kzalloc_obj(*it);
	struct item *arr = kzalloc_objs(*arr, 5, GFP_NOWAIT);
	struct flex *f = kzalloc_flex(*f, slots, 7);
	u64 *m = kmalloc_objs(u64, 3);
	char buf[32];

	ASSERT_TRUE(it && arr && f && m);
	ASSERT_EQ(it->v, 0);
	ASSERT_NULL(it->link.next);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(arr[i].v, 0);
	for (int i = 0; i < 7; i++)
		ASSERT_EQ(f->slots[i], 0);
	f->slots[6] = 1; /* in bounds: ASan would catch a short allocation */
	m[2] = 3;
	snprintf(buf, sizeof(buf), "%llx", m[2]);
	ASSERT_EQ(strcmp(buf, "3"), 0);
	kfree(it);
	kfree(arr);
	kfree(f);
	kfree(m);

	/* Overflowing counts saturate and fail instead of allocating too little. */
	ASSERT_NULL(kmalloc_objs(u64, SIZE_MAX / 4));
	ASSERT_NULL(kcalloc(SIZE_MAX / 2, 4, GFP_KERNEL));
	ASSERT_NULL(kmalloc_array(3, SIZE_MAX / 2, GFP_KERNEL));
	ASSERT_EQ(size_mul(SIZE_MAX / 2, 3), SIZE_MAX);
	ASSERT_EQ(size_add(SIZE_MAX, 1), SIZE_MAX);
	ASSERT_EQ(struct_size(f, slots, 2), sizeof(*f) + 2 * sizeof(u64));
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool test_gfp_flags(void)
{
	long live0 = gpuvm_alloc_live();
	unsigned char *p = kmalloc(64, GFP_KERNEL | __GFP_ZERO);
	char *s;
	void *d;

	ASSERT_NONNULL(p);
	for (int i = 0; i < 64; i++)
		ASSERT_EQ(p[i], 0);
	kfree(p);
	/* Every other flag is accepted and ignored. */
	p = kzalloc(16, GFP_ATOMIC | __GFP_NOWARN | __GFP_RETRY_MAYFAIL | __GFP_NOFAIL);
	ASSERT_NONNULL(p);
	p = krealloc(p, 4096, GFP_NOFS);
	ASSERT_NONNULL(p);
	kvfree(p);
	s = kstrdup("vm_bind", GFP_KERNEL);
	ASSERT_TRUE(s && strcmp(s, "vm_bind") == 0);
	d = kmemdup(s, 8, GFP_KERNEL);
	ASSERT_TRUE(d && memcmp(d, "vm_bind", 8) == 0);
	kfree_sensitive(s);
	kfree(d);
	ASSERT_NULL(kstrdup(NULL, GFP_KERNEL));
	/* Injected failures reach the typed helpers too. */
	gpuvm_alloc_fail_nth(1);
	ASSERT_NULL(kzalloc_obj(struct item, GFP_KERNEL));
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

static bool check_order(struct list_head *head, const char *want)
{
	char got[16] = { 0 };
	size_t n = 0;
	struct item *it;

	list_for_each_entry(it, head, link)
		got[n++] = (char)('0' + it->v);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "# list order %s, want %s\n", got, want);
		return false;
	}
	return true;
}

static bool test_list_kernel_arities(void)
{
	LIST_HEAD(a);
	LIST_HEAD(b);
	struct item items[5], *it, *n;
	char rev[8] = { 0 };
	size_t k = 0;

	for (int i = 0; i < 5; i++) {
		items[i].v = i;
		list_add_tail(&items[i].link, &a);
	}
	ASSERT_TRUE(check_order(&a, "01234"));
	ASSERT_EQ(list_count_nodes(&a), 5);

	/* list_prev_entry / list_for_each_entry_from_reverse */
	it = list_last_entry(&a, struct item, link);
	it = list_prev_entry(it, link);
	ASSERT_EQ(it->v, 3);
	list_for_each_entry_from_reverse(it, &a, link)
		rev[k++] = (char)('0' + it->v);
	ASSERT_EQ(strcmp(rev, "3210"), 0);

	/* list_move / list_move_tail */
	list_move(&items[4].link, &a);
	ASSERT_TRUE(check_order(&a, "40123"));
	list_move_tail(&items[0].link, &a);
	ASSERT_TRUE(check_order(&a, "41230"));

	/* list_cut_position: everything up to and including items[2] moves to b. */
	list_cut_position(&b, &a, &items[2].link);
	ASSERT_TRUE(check_order(&b, "412"));
	ASSERT_TRUE(check_order(&a, "30"));
	list_splice_tail_init(&b, &a);
	ASSERT_TRUE(list_empty(&b));
	ASSERT_TRUE(check_order(&a, "30412"));

	/* _safe with removal, list_next_entry_circular */
	it = list_last_entry(&a, struct item, link);
	ASSERT_EQ(list_next_entry_circular(it, &a, link)->v, 3);
	list_for_each_entry_safe(it, n, &a, link) {
		if (it->v % 2)
			list_del_init(&it->link);
	}
	ASSERT_TRUE(check_order(&a, "042"));
	list_rotate_left(&a);
	ASSERT_TRUE(check_order(&a, "420"));
	list_replace(&items[2].link, &items[1].link);
	ASSERT_TRUE(check_order(&a, "410"));
	ASSERT_FALSE(list_is_singular(&a));
	list_for_each_entry_safe_reverse(it, n, &a, link)
		list_del(&it->link);
	ASSERT_TRUE(list_empty(&a));
	ASSERT_NULL(list_first_entry_or_null(&a, struct item, link));
	return true;
}

static bool test_hlist(void)
{
	HLIST_HEAD(h);
	struct item items[3], *it;
	struct hlist_node *tmp;
	int sum = 0;

	for (int i = 0; i < 3; i++) {
		items[i].v = i + 1;
		INIT_HLIST_NODE(&items[i].hnode);
		ASSERT_TRUE(hlist_unhashed(&items[i].hnode));
		hlist_add_head(&items[i].hnode, &h);
	}
	hlist_for_each_entry(it, &h, hnode)
		sum = sum * 10 + it->v;
	ASSERT_EQ(sum, 321);
	hlist_for_each_entry_safe(it, tmp, &h, hnode) {
		if (it->v == 2)
			hlist_del_init(&it->hnode);
	}
	ASSERT_EQ(hlist_count_nodes(&h), 2);
	hlist_add_behind(&items[1].hnode, &items[2].hnode);
	sum = 0;
	hlist_for_each_entry(it, &h, hnode)
		sum = sum * 10 + it->v;
	ASSERT_EQ(sum, 321);
	return true;
}

static DEFINE_MUTEX(static_lock);

static bool test_locks_and_bugs(void)
{
	unsigned long w0 = gpuvm_warn_count();
	struct mutex m;

	mutex_init(&m);
	ASSERT_EQ(mutex_lock_interruptible(&m), 0);
	lockdep_assert_held(&m);
	ASSERT_EQ(gpuvm_warn_count(), w0);
	mutex_unlock(&m);
	lockdep_assert_held(&m); /* not held: one WARN */
	ASSERT_EQ(gpuvm_warn_count(), w0 + 1);
	lockdep_assert_not_held(&m);
	ASSERT_EQ(gpuvm_warn_count(), w0 + 1);
	mutex_destroy(&m);

	ASSERT_EQ(mutex_lock_killable(&static_lock), 0);
	ASSERT_TRUE(lockdep_is_held(&static_lock));
	mutex_unlock(&static_lock);

	/* WARN_ON_ONCE reports once but evaluates the condition every time. */
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(WARN_ON_ONCE(i >= 0));
	ASSERT_EQ(gpuvm_warn_count(), w0 + 2);
	ASSERT_TRUE(drm_WARN_ON(NULL, 1));
	ASSERT_FALSE(drm_WARN_ON(NULL, 0));
	ASSERT_EQ(gpuvm_warn_count(), w0 + 3);
	BUG_ON(false);
	BUILD_BUG_ON(sizeof(u64) != 8);
	return true;
}

/* Kernel GEM init: no device reference, obj->resv set beforehand is kept, fini undoes init. */
static bool test_gem_init_fini(void)
{
	long live0 = gpuvm_alloc_live();
	struct device parent = { .init_name = "gpu0" };
	struct drm_device *drm = drm_dev_alloc("compat");
	struct drm_gem_object vm_resv_obj, bo;
	int driver_data = 7;

	ASSERT_NONNULL(drm);
	drm->dev = &parent;
	drm->dev_private = &driver_data;
	ASSERT_EQ(strcmp(dev_name(drm->dev), "gpu0"), 0);
	ASSERT_TRUE(drm->dev_private == &driver_data);

	memset(&vm_resv_obj, 0, sizeof(vm_resv_obj));
	memset(&bo, 0, sizeof(bo));
	drm_gem_private_object_init(drm, &vm_resv_obj, 0);
	ASSERT_EQ(kref_read(&drm->ref), 1);
	/* A VM-private BO shares the VM's resv, set before init as drivers do. */
	bo.resv = vm_resv_obj.resv;
	ASSERT_EQ(drm_gem_object_init(drm, &bo, 0x10000), 0);
	ASSERT_TRUE(bo.resv == &vm_resv_obj._resv);
	ASSERT_TRUE(bo.dev == drm);
	/* A driver's init failing after the GEM init: fini, no put. */
	drm_gem_private_object_fini(&bo);
	drm_gem_private_object_fini(&vm_resv_obj);
	drm_dev_put(drm);
	ASSERT_EQ(gpuvm_alloc_live(), live0);
	return true;
}

int main(void)
{
	RUN(test_typed_allocs);
	RUN(test_gfp_flags);
	RUN(test_list_kernel_arities);
	RUN(test_hlist);
	RUN(test_locks_and_bugs);
	RUN(test_gem_init_fini);
	return harness_done();
}
