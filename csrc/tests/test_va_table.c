// SPDX-License-Identifier: MIT
/*
 * Columnar VA query (csrc/driver/va_table.c): the rows against a walk of the
 * address-ordered list, ranges at the edges of the u64 space, the reserved
 * node, and the "total returned, at most @stride written" contract.
 */
#include <string.h>

#include "driver/va_table.h"
#include "linux/slab.h"

#include "harness.h"

#define P 0x1000ull
#define NVA 64

static void vm_free_embedded(struct drm_gpuvm *gpuvm)
{
	GPUVM_UNUSED(gpuvm);
}

static const struct drm_gpuvm_ops vm_ops = { .vm_free = vm_free_embedded };

struct fx {
	struct drm_device *drm;
	struct drm_gem_object *r_obj, *obj;
	struct drm_gpuvm vm;
	struct drm_gpuva *vas[NVA];
	long live0;
};

static bool fx_init(struct fx *fx, u64 start, u64 range)
{
	memset(fx, 0, sizeof(*fx));
	fx->live0 = gpuvm_alloc_live();
	fx->drm = drm_dev_alloc("test_va_table");
	ASSERT_NONNULL(fx->drm);
	fx->r_obj = drm_gpuvm_resv_object_alloc(fx->drm);
	ASSERT_NONNULL(fx->r_obj);
	fx->obj = drm_gem_object_create(fx->drm, 1 << 24, fx->r_obj);
	ASSERT_NONNULL(fx->obj);
	/* Reserved node: the first page of the window. */
	drm_gpuvm_init(&fx->vm, "t", 0, fx->drm, fx->r_obj, start, range, start, P, &vm_ops);
	return true;
}

/* VA i at start + (2i + 1) pages, one page long (i odd: no object). */
static bool fx_fill(struct fx *fx, u64 start, int n)
{
	for (int i = 0; i < n; i++) {
		struct drm_gpuva *va = kzalloc(sizeof(*va), GFP_KERNEL);

		ASSERT_NONNULL(va);
		va->va.addr = start + (2 * (u64)i + 1) * P;
		va->va.range = P;
		va->gem.obj = i % 2 ? NULL : fx->obj;
		va->gem.offset = (u64)i * P;
		ASSERT_EQ(drm_gpuva_insert(&fx->vm, va), 0);
		fx->vas[i] = va;
	}
	return true;
}

static bool fx_fini(struct fx *fx)
{
	for (int i = 0; i < NVA; i++) {
		if (fx->vas[i]) {
			drm_gpuva_remove(fx->vas[i]);
			kfree(fx->vas[i]);
		}
	}
	drm_gpuvm_put(&fx->vm);
	drm_gem_object_put(fx->obj);
	drm_gem_object_put(fx->r_obj);
	drm_dev_put(fx->drm);
	ASSERT_EQ(gpuvm_alloc_live(), fx->live0);
	return true;
}

static bool test_rows_and_columns(void)
{
	struct fx fx;
	u64 out[GPUVM_VA_TABLE_COLUMNS * NVA];
	size_t n;

	ASSERT_TRUE(fx_init(&fx, 0x100000, 0x1000000));
	ASSERT_TRUE(fx_fill(&fx, 0x100000, 10));

	/* Whole space, reserved node skipped: the ten VAs in address order. */
	n = gpuvm_va_table_fill(&fx.vm, 0, ~(u64)0, true, out, NVA);
	ASSERT_EQ(n, 10);
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ(out[i], fx.vas[i]->va.addr);
		ASSERT_EQ(out[NVA + i], P);
		ASSERT_EQ(out[2 * NVA + i], (u64)i * P);
		ASSERT_EQ(out[3 * NVA + i], (u64)(uintptr_t)fx.vas[i]->gem.obj);
		ASSERT_EQ(out[4 * NVA + i], (u64)fx.vas[i]->flags);
	}
	/* With the reserved node: it comes first, marked. */
	n = gpuvm_va_table_fill(&fx.vm, 0, ~(u64)0, false, out, NVA);
	ASSERT_EQ(n, 11);
	ASSERT_EQ(out[0], 0x100000);
	ASSERT_TRUE(out[4 * NVA] & GPUVM_VA_TABLE_KERNEL);
	ASSERT_FALSE(out[4 * NVA + 1] & GPUVM_VA_TABLE_KERNEL);

	/* A range: [addr of VA 2 + 1 byte, last byte of VA 4] overlaps VAs 2..4. */
	n = gpuvm_va_table_fill(&fx.vm, fx.vas[2]->va.addr + 1, fx.vas[4]->va.addr + P - 1, true,
				out, NVA);
	ASSERT_EQ(n, 3);
	ASSERT_EQ(out[0], fx.vas[2]->va.addr);
	ASSERT_EQ(out[2], fx.vas[4]->va.addr);
	/* A hole between two VAs: nothing. */
	n = gpuvm_va_table_fill(&fx.vm, fx.vas[2]->va.addr + P, fx.vas[3]->va.addr - 1, true,
				out, NVA);
	ASSERT_EQ(n, 0);
	/* last < first: nothing. */
	ASSERT_EQ(gpuvm_va_table_fill(&fx.vm, 0x200000, 0x1fffff, true, out, NVA), 0);
	/* A range ending at U64_MAX but not starting at 0 (its length wraps to 0 + 1). */
	ASSERT_EQ(gpuvm_va_table_fill(&fx.vm, 1, ~(u64)0, true, out, NVA), 10);
	return fx_fini(&fx);
}

static bool test_stride_limits_the_rows_written(void)
{
	struct fx fx;
	u64 out[GPUVM_VA_TABLE_COLUMNS * 4 + 1];

	ASSERT_TRUE(fx_init(&fx, 0, 0x10000000));
	ASSERT_TRUE(fx_fill(&fx, 0, NVA));
	out[GPUVM_VA_TABLE_COLUMNS * 4] = 0xdeadbeef;
	/* Total returned, only 4 rows (4 words a column) written. */
	ASSERT_EQ(gpuvm_va_table_fill(&fx.vm, 0, ~(u64)0, true, out, 4), NVA);
	ASSERT_EQ(out[GPUVM_VA_TABLE_COLUMNS * 4], 0xdeadbeef);
	ASSERT_EQ(out[3], fx.vas[3]->va.addr);
	ASSERT_EQ(out[4 * 4 + 3], (u64)fx.vas[3]->flags);
	ASSERT_EQ(gpuvm_va_table_fill(&fx.vm, P, 8 * P, true, out, 0), 4);
	return fx_fini(&fx);
}

int main(void)
{
	RUN(test_rows_and_columns);
	RUN(test_stride_limits_the_rows_written);
	return harness_done();
}
