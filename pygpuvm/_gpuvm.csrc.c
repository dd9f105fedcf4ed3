/* SPDX-License-Identifier: MIT */
/*
 * C prelude of the cffi extension pygpuvm._gpuvm (input of
 * `cffi-gen-src read-sources`; pasted verbatim at the top of the generated
 * _gpuvm.c). It includes every public header, so everything the cdef
 * (the fragments in pygpuvm/_cdef) names is declared, and defines the binding helpers of
 * _cdef/pyhelpers.h: function forms of macros, batch reads that fill arrays
 * (one C call per operation, not one per field), and the driver sequences the
 * Python classes run, with the locks the kernel's rules require.
 *
 * Include dirs: csrc/include (public) and csrc (private), both -iquote.
 */
#include <string.h>

#include "linux/types.h"
#include "linux/err.h"
#include "linux/bug.h"
#include "linux/slab.h"
#include "linux/list.h"
#include "linux/llist.h"
#include "linux/kref.h"
#include "linux/mutex.h"
#include "linux/ww_mutex.h"
#include "linux/dma-fence.h"
#include "linux/dma-resv.h"
#include "linux/rbtree_types.h"
#include "drm/drm_device.h"
#include "drm/drm_gem.h"
#include "drm/drm_exec.h"
#include "drm/drm_gpuvm.h"
#include "drm/gpuvm_apply.h"
#include "driver/va_table.h"
#include "gpuvm/gem_gpuva_lock.h"

/*
 * The extern "Python" functions are defined by cffi after this prelude; C
 * code here that takes their address needs these declarations.
 */
static void _pygpuvm_warn_hook(const char *file, int line, const char *msg, void *data);
static int _pygpuvm_sm_step_map(struct drm_gpuva_op *op, void *priv);
static int _pygpuvm_sm_step_remap(struct drm_gpuva_op *op, void *priv);
static int _pygpuvm_sm_step_unmap(struct drm_gpuva_op *op, void *priv);
static int _pygpuvm_vm_bo_validate(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec);
static void _pygpuvm_insert_failed(const struct drm_gpuva_op_map *piece, void *priv);

struct pygpuvm_piece {
	u64 addr;
	u64 range;
	u64 offset;
	struct drm_gem_object *obj;
};

struct pygpuvm_op_rec {
	int op;
	bool keep;
	bool has_prev;
	bool has_next;
	bool is_kernel;
	struct drm_gpuva *va;
	unsigned int va_flags;
	struct pygpuvm_piece map;
	struct pygpuvm_piece prev;
	struct pygpuvm_piece next;
};

struct pygpuvm_apply_result {
	long inserted;
	long removed;
	long failed;
	u64 *failed_out;
	size_t failed_max;
};

static void pygpuvm_install_warn_hook(void)
{
	gpuvm_set_warn_hook(_pygpuvm_warn_hook, NULL);
}

/* ------------------------------------------------------------------ locks */

/*
 * Take @resv unless this thread already holds it (e.g. inside a drm_exec
 * transaction, or a private object's resv that is the VM's). Without an
 * acquire context the lock blocks and cannot fail.
 */
static bool pyg_resv_lock(struct dma_resv *resv)
{
	if (dma_resv_held(resv))
		return false;
	GPUVM_BUG_ON(dma_resv_lock(resv, NULL) != 0);
	return true;
}

static void pyg_resv_unlock(struct dma_resv *resv, bool taken)
{
	if (taken)
		dma_resv_unlock(resv);
}

/* RESV_PROTECTED VMs guard their extobj/evict lists with the VM resv. */
static bool pyg_vm_lists_lock(struct drm_gpuvm *vm, spinlock_t *lock)
{
	if (drm_gpuvm_resv_protected(vm))
		return pyg_resv_lock(drm_gpuvm_resv(vm));
	spin_lock(lock);
	return true;
}

static void pyg_vm_lists_unlock(struct drm_gpuvm *vm, spinlock_t *lock, bool taken)
{
	if (drm_gpuvm_resv_protected(vm))
		pyg_resv_unlock(drm_gpuvm_resv(vm), taken);
	else
		spin_unlock(lock);
}

/* -------------------------------------------------------------------- VM */

struct pygpuvm_vm {
	struct drm_gpuvm base;
	/* Payload of _pygpuvm_vm_bo_validate; only set around drm_gpuvm_validate(). */
	void *handle;
	char name[]; /* drm_gpuvm keeps a pointer, so the name lives with the VM */
};

static struct pygpuvm_vm *to_pyvm(struct drm_gpuvm *vm)
{
	return container_of(vm, struct pygpuvm_vm, base);
}

static void pyg_vm_free(struct drm_gpuvm *vm)
{
	kfree(to_pyvm(vm));
}

static const struct drm_gpuvm_ops pygpuvm_vm_ops = {
	.vm_free = pyg_vm_free,
	.vm_bo_validate = _pygpuvm_vm_bo_validate,
	.sm_step_map = _pygpuvm_sm_step_map,
	.sm_step_remap = _pygpuvm_sm_step_remap,
	.sm_step_unmap = _pygpuvm_sm_step_unmap,
};

static struct drm_gpuvm *pygpuvm_vm_create(const char *name, u32 flags, u64 start, u64 range,
					   u64 reserve_offset, u64 reserve_range)
{
	size_t len = strlen(name);
	struct pygpuvm_vm *pvm = kzalloc(sizeof(*pvm) + len + 1, GFP_KERNEL);
	struct drm_gem_object *r_obj;

	if (!pvm)
		return NULL;
	memcpy(pvm->name, name, len + 1);
	r_obj = drm_gpuvm_resv_object_alloc(NULL);
	if (!r_obj) {
		kfree(pvm);
		return NULL;
	}
	drm_gpuvm_init(&pvm->base, pvm->name, (enum drm_gpuvm_flags)flags, NULL, r_obj, start,
		       range, reserve_offset, reserve_range, &pygpuvm_vm_ops);
	/* The VM holds its own reference, as drivers do after init. */
	drm_gem_object_put(r_obj);
	return &pvm->base;
}

static void pygpuvm_vm_set_handle(struct drm_gpuvm *vm, void *handle)
{
	to_pyvm(vm)->handle = handle;
}

static void *pygpuvm_vm_get_handle(struct drm_gpuvm *vm)
{
	return to_pyvm(vm)->handle;
}

static unsigned int pygpuvm_vm_refcount(struct drm_gpuvm *vm)
{
	return kref_read(&vm->kref);
}

static bool pyg_is_kernel_node(const struct drm_gpuva *va)
{
	return va->vm && va == &va->vm->kernel_alloc_node;
}

static void pygpuvm_vm_deferred_cleanup(struct drm_gpuvm *vm)
{
	/* The cleanup takes the VM resv itself in RESV_PROTECTED mode. */
	if (drm_gpuvm_resv_protected(vm) && drm_gpuvm_resv_held(vm))
		return;
	drm_gpuvm_bo_deferred_cleanup(vm);
}

static void pygpuvm_vm_release(struct drm_gpuvm *vm)
{
	struct drm_gpuva *va, *next;
	bool taken = false;

	/* Unlinking may drop a vm_bo's last reference: the lists need the VM resv. */
	if (drm_gpuvm_resv_protected(vm))
		taken = pyg_resv_lock(drm_gpuvm_resv(vm));
	drm_gpuvm_for_each_va_safe(va, next, vm) {
		if (va == &vm->kernel_alloc_node)
			continue;
		drm_gpuva_unlink(va);
		drm_gpuva_remove(va);
		kfree(va);
	}
	if (drm_gpuvm_resv_protected(vm))
		pyg_resv_unlock(drm_gpuvm_resv(vm), taken);
	if (drm_gpuvm_immediate_mode(vm))
		pygpuvm_vm_deferred_cleanup(vm);
	drm_gpuvm_put(vm);
}

static size_t pygpuvm_vm_collect(struct drm_gpuvm *vm, u64 addr, u64 range, bool whole,
				 bool skip_kernel, struct drm_gpuva **out, size_t max)
{
	struct drm_gpuva *va;
	size_t n = 0;

	if (whole) {
		drm_gpuvm_for_each_va(va, vm) {
			if (skip_kernel && va == &vm->kernel_alloc_node)
				continue;
			if (n < max)
				out[n] = va;
			n++;
		}
		return n;
	}
	drm_gpuvm_for_each_va_range(va, vm, addr, addr + range) {
		if (skip_kernel && va == &vm->kernel_alloc_node)
			continue;
		if (n < max)
			out[n] = va;
		n++;
	}
	return n;
}

/* ---------------------------------------------------------------- vm_bos */

static void pygpuvm_vm_bo_release(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *vm = vm_bo->vm;
	bool taken;

	if (!drm_gpuvm_resv_protected(vm)) {
		drm_gpuvm_bo_put(vm_bo);
		return;
	}
	/* The put may destroy the vm_bo, and with it our only hold on the VM. */
	drm_gpuvm_get(vm);
	taken = pyg_resv_lock(drm_gpuvm_resv(vm));
	drm_gpuvm_bo_put(vm_bo);
	pyg_resv_unlock(drm_gpuvm_resv(vm), taken);
	drm_gpuvm_put(vm);
}

static struct drm_gpuvm_bo *pygpuvm_vm_bo_obtain(struct drm_gpuvm *vm, struct drm_gem_object *obj)
{
	struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_obtain(vm, obj);
	bool taken = false;

	if (!vm_bo)
		return ERR_PTR(-ENOMEM);
	if (IS_ERR(vm_bo))
		return vm_bo;
	if (drm_gpuvm_resv_protected(vm))
		taken = pyg_resv_lock(drm_gpuvm_resv(vm));
	drm_gpuvm_bo_extobj_add(vm_bo);
	if (drm_gpuvm_resv_protected(vm))
		pyg_resv_unlock(drm_gpuvm_resv(vm), taken);
	return vm_bo;
}

static unsigned int pygpuvm_vm_bo_refcount(struct drm_gpuvm_bo *vm_bo)
{
	return kref_read(&vm_bo->kref);
}

static void pygpuvm_vm_bo_evict(struct drm_gpuvm_bo *vm_bo, bool evict)
{
	/* vm_bo->evicted is protected by the GEM's resv. */
	bool taken = pyg_resv_lock(vm_bo->obj->resv);

	drm_gpuvm_bo_evict(vm_bo, evict);
	pyg_resv_unlock(vm_bo->obj->resv, taken);
}

static bool pygpuvm_vm_bo_on_extobj_list(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *vm = vm_bo->vm;
	bool taken = pyg_vm_lists_lock(vm, &vm->extobj.lock);
	bool on = !list_empty(&vm_bo->list.entry.extobj);

	pyg_vm_lists_unlock(vm, &vm->extobj.lock, taken);
	return on;
}

static bool pygpuvm_vm_bo_on_evict_list(struct drm_gpuvm_bo *vm_bo)
{
	struct drm_gpuvm *vm = vm_bo->vm;
	bool taken = pyg_vm_lists_lock(vm, &vm->evict.lock);
	bool on = !list_empty(&vm_bo->list.entry.evict);

	pyg_vm_lists_unlock(vm, &vm->evict.lock, taken);
	return on;
}

static size_t pygpuvm_vm_bo_vas(struct drm_gpuvm_bo *vm_bo, struct drm_gpuva **out, size_t max)
{
	bool taken = gpuvm_gem_gpuva_lock(vm_bo->vm, vm_bo->obj);
	struct drm_gpuva *va;
	size_t n = 0;

	drm_gpuvm_bo_for_each_va(va, vm_bo) {
		if (n < max)
			out[n] = va;
		n++;
	}
	gpuvm_gem_gpuva_unlock(vm_bo->vm, vm_bo->obj, taken);
	return n;
}

/*
 * Snapshot a vm_bo list with references: count first and fill only if @max
 * is large enough, so a too-small array never leaves references behind.
 */
static size_t pyg_snapshot(struct list_head *head, size_t entry_offset,
			   struct drm_gpuvm_bo **out, size_t max)
{
	struct list_head *pos;
	size_t n = 0;

	list_for_each(pos, head)
		n++;
	if (n > max)
		return n;
	n = 0;
	list_for_each(pos, head) {
		struct drm_gpuvm_bo *vm_bo = (struct drm_gpuvm_bo *)(void *)((char *)pos - entry_offset);

		/* Zombies (deferred destruction pending) are skipped. */
		if (kref_get_unless_zero(&vm_bo->kref))
			out[n++] = vm_bo;
	}
	return n;
}

static size_t pygpuvm_gem_vm_bos(struct drm_gem_object *obj, struct drm_gpuvm_bo **out,
				 size_t max)
{
	/*
	 * The list is guarded by the resv (staged VMs) or the gpuva mutex
	 * (immediate VMs); holding both covers either mode. Order: resv, mutex.
	 */
	bool resv_taken = pyg_resv_lock(obj->resv);
	bool mutex_taken = false;
	size_t n;

	if (!mutex_held_by_me(&obj->gpuva.lock)) {
		mutex_lock(&obj->gpuva.lock);
		mutex_taken = true;
	}
	n = pyg_snapshot(&obj->gpuva.list, offsetof(struct drm_gpuvm_bo, list.entry.gem), out, max);
	if (mutex_taken)
		mutex_unlock(&obj->gpuva.lock);
	pyg_resv_unlock(obj->resv, resv_taken);
	return n;
}

static size_t pygpuvm_vm_extobjs(struct drm_gpuvm *vm, struct drm_gpuvm_bo **out, size_t max)
{
	bool taken = pyg_vm_lists_lock(vm, &vm->extobj.lock);
	size_t n = pyg_snapshot(&vm->extobj.list, offsetof(struct drm_gpuvm_bo, list.entry.extobj),
				out, max);

	pyg_vm_lists_unlock(vm, &vm->extobj.lock, taken);
	return n;
}

static size_t pygpuvm_vm_evicted(struct drm_gpuvm *vm, struct drm_gpuvm_bo **out, size_t max)
{
	bool taken = pyg_vm_lists_lock(vm, &vm->evict.lock);
	size_t n = pyg_snapshot(&vm->evict.list, offsetof(struct drm_gpuvm_bo, list.entry.evict),
				out, max);

	pyg_vm_lists_unlock(vm, &vm->evict.lock, taken);
	return n;
}

/* ------------------------------------------------------------------- VAs */

static struct drm_gpuva *pygpuvm_va_insert(struct drm_gpuvm *vm, u64 addr, u64 range,
					   struct drm_gem_object *obj, u64 offset, int *err)
{
	struct drm_gpuvm_bo *vm_bo = NULL;
	struct drm_gpuva *va = kzalloc(sizeof(*va), GFP_KERNEL);
	int ret;

	if (!va) {
		*err = -ENOMEM;
		return NULL;
	}
	drm_gpuva_init_lists(va);
	va->va.addr = addr;
	va->va.range = range;
	va->gem.obj = obj;
	va->gem.offset = offset;
	if (obj) {
		vm_bo = pygpuvm_vm_bo_obtain(vm, obj);
		if (IS_ERR(vm_bo)) {
			kfree(va);
			*err = (int)PTR_ERR(vm_bo);
			return NULL;
		}
	}
	ret = drm_gpuva_insert(vm, va);
	if (ret) {
		if (vm_bo)
			pygpuvm_vm_bo_release(vm_bo);
		kfree(va);
		*err = ret;
		return NULL;
	}
	if (vm_bo) {
		drm_gpuva_link(va, vm_bo);
		pygpuvm_vm_bo_release(vm_bo);
	}
	*err = 0;
	return va;
}

static void pygpuvm_va_destroy(struct drm_gpuva *va)
{
	struct drm_gpuvm *vm = va->vm;
	bool taken = false;

	drm_gpuvm_get(vm);
	if (drm_gpuvm_resv_protected(vm))
		taken = pyg_resv_lock(drm_gpuvm_resv(vm));
	drm_gpuva_unlink(va);
	drm_gpuva_remove(va);
	if (drm_gpuvm_resv_protected(vm))
		pyg_resv_unlock(drm_gpuvm_resv(vm), taken);
	kfree(va);
	drm_gpuvm_put(vm);
}

/* ------------------------------------------------------------------- ops */

static void pyg_piece(struct pygpuvm_piece *p, const struct drm_gpuva_op_map *m)
{
	p->addr = m->va.addr;
	p->range = m->va.range;
	p->offset = m->gem.offset;
	p->obj = m->gem.obj;
}

static void pygpuvm_op_read(const struct drm_gpuva_op *op, struct pygpuvm_op_rec *out)
{
	struct drm_gpuva *va = NULL;

	memset(out, 0, sizeof(*out));
	out->op = (int)op->op;
	switch (op->op) {
	case DRM_GPUVA_OP_MAP:
		pyg_piece(&out->map, &op->map);
		return;
	case DRM_GPUVA_OP_REMAP:
		va = op->remap.unmap->va;
		out->keep = op->remap.unmap->keep;
		if (op->remap.prev) {
			out->has_prev = true;
			pyg_piece(&out->prev, op->remap.prev);
		}
		if (op->remap.next) {
			out->has_next = true;
			pyg_piece(&out->next, op->remap.next);
		}
		break;
	case DRM_GPUVA_OP_UNMAP:
		va = op->unmap.va;
		out->keep = op->unmap.keep;
		break;
	case DRM_GPUVA_OP_PREFETCH:
		va = op->prefetch.va;
		break;
	default:
		return;
	}
	if (!va)
		return;
	out->va = va;
	out->va_flags = (unsigned int)va->flags;
	out->is_kernel = pyg_is_kernel_node(va);
	out->map.addr = va->va.addr;
	out->map.range = va->va.range;
	out->map.offset = va->gem.offset;
	out->map.obj = va->gem.obj;
}

static size_t pygpuvm_ops_read(struct drm_gpuva_ops *ops, struct pygpuvm_op_rec *out, size_t max)
{
	struct drm_gpuva_op *op;
	size_t n = 0;

	drm_gpuva_for_each_op(op, ops) {
		if (n < max)
			pygpuvm_op_read(op, &out[n]);
		n++;
	}
	return n;
}

static struct drm_gpuva_ops *pygpuvm_sm_map_ops(struct drm_gpuvm *vm, u64 addr, u64 range,
						struct drm_gem_object *obj, u64 offset,
						bool madvise)
{
	struct drm_gpuvm_map_req req = {
		.map = { .va = { .addr = addr, .range = range },
			 .gem = { .offset = offset, .obj = obj } },
	};

	if (madvise)
		return drm_gpuvm_madvise_ops_create(vm, &req);
	return drm_gpuvm_sm_map_ops_create(vm, &req);
}

static void pygpuvm_ops_release(struct drm_gpuvm *vm, struct drm_gpuva_ops *ops)
{
	drm_gpuva_ops_free(vm, ops);
	drm_gpuvm_put(vm);
}

static int pygpuvm_sm_map_steps(struct drm_gpuvm *vm, void *handle, u64 addr, u64 range,
				struct drm_gem_object *obj, u64 offset)
{
	struct drm_gpuvm_map_req req = {
		.map = { .va = { .addr = addr, .range = range },
			 .gem = { .offset = offset, .obj = obj } },
	};

	return drm_gpuvm_sm_map(vm, handle, &req);
}

struct pyg_apply_priv {
	struct pygpuvm_apply_result *res;
	void *handle;
	/* Sorted addresses of VAs that have live Python wrappers (batch path). */
	const u64 *watch;
	size_t nwatch;
	unsigned char *hit;
};

static void pyg_insert_failed(const struct drm_gpuva_op_map *piece, void *priv)
{
	struct pyg_apply_priv *p = priv;
	struct pygpuvm_apply_result *res = p->res;

	/* Recorded so the caller can name the piece without a callback. */
	if (res->failed_out && (size_t)res->failed < res->failed_max) {
		u64 *f = res->failed_out + 4 * (size_t)res->failed;

		f[0] = piece->va.addr;
		f[1] = piece->va.range;
		f[2] = piece->gem.offset;
		f[3] = (u64)(uintptr_t)piece->gem.obj;
	}
	res->failed++;
	if (p->handle)
		_pygpuvm_insert_failed(piece, p->handle);
}

static void pyg_va_removed(struct drm_gpuva *va, void *priv)
{
	struct pyg_apply_priv *p = priv;
	u64 key = (u64)(uintptr_t)va;
	size_t lo = 0, hi = p->nwatch;

	p->res->removed++;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->watch[mid] < key) {
			lo = mid + 1;
		} else if (p->watch[mid] > key) {
			hi = mid;
		} else {
			p->hit[mid] = 1;
			break;
		}
	}
}

/* pygpuvm_apply() without resetting the counters (the batch accumulates them). */
static int pyg_apply(struct drm_gpuvm *vm, struct drm_gpuva_ops *ops, struct pyg_apply_priv *priv)
{
	struct pygpuvm_apply_result *res = priv->res;
	struct gpuvm_apply_ctx ctx = {
		.flags = 0,
		.insert_failed = pyg_insert_failed,
		.va_removed = pyg_va_removed,
		.priv = priv,
	};
	struct drm_gem_object *map_obj = NULL;
	struct drm_gpuvm_bo *vm_bo = NULL;
	struct drm_gpuva_op *op;
	long pieces = 0, failed = res->failed;
	bool taken = false;
	int ret;

	drm_gpuva_for_each_op(op, ops) {
		if (op->op == DRM_GPUVA_OP_MAP) {
			pieces++;
			if (!map_obj)
				map_obj = op->map.gem.obj;
		} else if (op->op == DRM_GPUVA_OP_REMAP) {
			pieces += (op->remap.prev != NULL) + (op->remap.next != NULL);
		}
	}
	/* Held until every op is applied, so the map's vm_bo cannot die midway. */
	if (map_obj) {
		vm_bo = pygpuvm_vm_bo_obtain(vm, map_obj);
		if (IS_ERR(vm_bo))
			return (int)PTR_ERR(vm_bo);
	}
	/* Unlinking may destroy vm_bos: RESV_PROTECTED lists need the VM resv. */
	if (drm_gpuvm_resv_protected(vm))
		taken = pyg_resv_lock(drm_gpuvm_resv(vm));
	ret = gpuvm_apply_ops(vm, vm_bo, ops, &ctx);
	if (drm_gpuvm_resv_protected(vm))
		pyg_resv_unlock(drm_gpuvm_resv(vm), taken);
	if (vm_bo)
		pygpuvm_vm_bo_release(vm_bo);
	if (drm_gpuvm_immediate_mode(vm))
		pygpuvm_vm_deferred_cleanup(vm);
	if (!ret)
		res->inserted += pieces - (res->failed - failed);
	return ret;
}

static int pygpuvm_apply(struct drm_gpuvm *vm, struct drm_gpuva_ops *ops, void *handle,
			 struct pygpuvm_apply_result *res)
{
	struct pyg_apply_priv priv = { .res = res, .handle = handle };

	res->inserted = 0;
	res->removed = 0;
	res->failed = 0;
	return pyg_apply(vm, ops, &priv);
}

/* ----------------------------------------------------------- flat records */

/*
 * The classes read C state as flat u64 records, fetched with one
 * ffi.unpack() per call instead of one cdata access per field, and key their
 * wrapper caches by the addresses in them. Layouts: see _cdef/pyhelpers.h.
 */
#define PYGPUVM_VA_WORDS 6
#define PYGPUVM_VA_KERNEL (1ull << 32)
#define PYGPUVM_OP_WORDS 16
#define PYGPUVM_OP_KEEP (1u << 8)
#define PYGPUVM_OP_PREV (1u << 9)
#define PYGPUVM_OP_NEXT (1u << 10)
#define PYGPUVM_OP_KERNEL (1u << 11)
#define PYGPUVM_OP_HELD (1u << 12)
#define PYGPUVM_HDR_WORDS 20
#define PYGPUVM_FAILED_MAX 4

/* Request kinds of pygpuvm_ops_create(), pygpuvm_vm_bind() and the batch. */
enum pygpuvm_kind {
	PYGPUVM_KIND_MAP = 1,
	PYGPUVM_KIND_UNMAP = 2,
	PYGPUVM_KIND_PREFETCH = 3,
	PYGPUVM_KIND_MADVISE = 4,
};

static u64 pyg_addr(const void *p)
{
	return (u64)(uintptr_t)p;
}

static void pyg_va_rec(u64 *out, const struct drm_gpuva *va)
{
	out[0] = pyg_addr(va);
	out[1] = va->va.addr;
	out[2] = va->va.range;
	out[3] = va->gem.offset;
	out[4] = pyg_addr(va->gem.obj);
	out[5] = (u64)va->flags | (pyg_is_kernel_node(va) ? PYGPUVM_VA_KERNEL : 0);
}

static void pyg_piece_rec(u64 *out, const struct drm_gpuva_op_map *m)
{
	out[0] = m->va.addr;
	out[1] = m->va.range;
	out[2] = m->gem.offset;
	out[3] = pyg_addr(m->gem.obj);
}

static void pygpuvm_op_rec(const struct drm_gpuva_op *op, u64 *out)
{
	const struct drm_gpuva *va = NULL;
	u64 bits = (u64)op->op;

	memset(out, 0, PYGPUVM_OP_WORDS * sizeof(*out));
	switch (op->op) {
	case DRM_GPUVA_OP_MAP:
		pyg_piece_rec(out + 3, &op->map);
		break;
	case DRM_GPUVA_OP_REMAP:
		va = op->remap.unmap->va;
		if (op->remap.unmap->keep)
			bits |= PYGPUVM_OP_KEEP;
		if (op->remap.prev) {
			bits |= PYGPUVM_OP_PREV;
			pyg_piece_rec(out + 7, op->remap.prev);
		}
		if (op->remap.next) {
			bits |= PYGPUVM_OP_NEXT;
			pyg_piece_rec(out + 11, op->remap.next);
		}
		break;
	case DRM_GPUVA_OP_UNMAP:
		va = op->unmap.va;
		if (op->unmap.keep)
			bits |= PYGPUVM_OP_KEEP;
		break;
	case DRM_GPUVA_OP_PREFETCH:
		va = op->prefetch.va;
		break;
	default:
		break;
	}
	if (va) {
		if (pyg_is_kernel_node(va))
			bits |= PYGPUVM_OP_KERNEL;
		out[1] = pyg_addr(va);
		out[2] = (u64)va->flags;
		out[3] = va->va.addr;
		out[4] = va->va.range;
		out[5] = va->gem.offset;
		out[6] = pyg_addr(va->gem.obj);
	}
	out[0] = bits;
}

static size_t pygpuvm_ops_recs(struct drm_gpuva_ops *ops, u64 *out, size_t max)
{
	struct drm_gpuva_op *op;
	size_t n = 0;

	drm_gpuva_for_each_op(op, ops) {
		if (n < max)
			pygpuvm_op_rec(op, out + n * PYGPUVM_OP_WORDS);
		n++;
	}
	return n;
}

/* Last VA of the range walk: an inclusive bound, so an end of 2^64 works. */
static size_t pygpuvm_vm_collect_recs(struct drm_gpuvm *vm, u64 addr, u64 range, bool whole,
				      bool skip_kernel, u64 *out, size_t max)
{
	struct drm_gpuva *va;
	u64 last = addr + range - 1;
	size_t n = 0;

	if (whole) {
		drm_gpuvm_for_each_va(va, vm) {
			if (skip_kernel && va == &vm->kernel_alloc_node)
				continue;
			if (n < max)
				pyg_va_rec(out + n * PYGPUVM_VA_WORDS, va);
			n++;
		}
		return n;
	}
	if (!range)
		return 0;
	for (va = drm_gpuva_find_first(vm, addr, range); va && va->va.addr <= last;
	     va = __drm_gpuva_next(va)) {
		if (skip_kernel && va == &vm->kernel_alloc_node)
			continue;
		if (n < max)
			pyg_va_rec(out + n * PYGPUVM_VA_WORDS, va);
		n++;
	}
	return n;
}

static u64 pygpuvm_vm_find_rec(struct drm_gpuvm *vm, int how, u64 a, u64 b, u64 *out)
{
	struct drm_gpuva *va;

	switch (how) {
	case 0:
		va = drm_gpuva_find(vm, a, b);
		break;
	case 1:
		va = drm_gpuva_find_first(vm, a, b);
		break;
	case 2:
		va = drm_gpuva_find_prev(vm, a);
		break;
	case 3:
		va = drm_gpuva_find_next(vm, a);
		break;
	default:
		va = NULL;
		break;
	}
	if (!va)
		return 0;
	pyg_va_rec(out, va);
	return out[0];
}

static size_t pygpuvm_vm_bo_va_recs(struct drm_gpuvm_bo *vm_bo, u64 *out, size_t max)
{
	bool taken = gpuvm_gem_gpuva_lock(vm_bo->vm, vm_bo->obj);
	struct drm_gpuva *va;
	size_t n = 0;

	drm_gpuvm_bo_for_each_va(va, vm_bo) {
		if (n < max)
			pyg_va_rec(out + n * PYGPUVM_VA_WORDS, va);
		n++;
	}
	gpuvm_gem_gpuva_unlock(vm_bo->vm, vm_bo->obj, taken);
	return n;
}

/* ------------------------------------------------------ one call per request */

static struct drm_gpuva_ops *pyg_ops_create(struct drm_gpuvm *vm, int kind, u64 addr, u64 range,
					    struct drm_gem_object *obj, u64 offset)
{
	switch (kind) {
	case PYGPUVM_KIND_MAP:
		return pygpuvm_sm_map_ops(vm, addr, range, obj, offset, false);
	case PYGPUVM_KIND_UNMAP:
		return drm_gpuvm_sm_unmap_ops_create(vm, addr, range);
	case PYGPUVM_KIND_PREFETCH:
		return drm_gpuvm_prefetch_ops_create(vm, addr, range);
	case PYGPUVM_KIND_MADVISE:
		return pygpuvm_sm_map_ops(vm, addr, range, obj, offset, true);
	default:
		return ERR_PTR(-EINVAL);
	}
}

/*
 * The ops of a request (enum pygpuvm_kind) with a VM reference for the caller's Ops owner, and
 * their records in @buf after PYGPUVM_HDR_WORDS header words (buf[0]: the
 * op count, or -errno when NULL is returned). Records beyond @words are
 * left out: read them with pygpuvm_ops_recs().
 */
static struct drm_gpuva_ops *pygpuvm_ops_create(struct drm_gpuvm *vm, int kind, u64 addr,
						u64 range, struct drm_gem_object *obj,
						u64 offset, u64 *buf, size_t words)
{
	struct drm_gpuva_ops *ops = pyg_ops_create(vm, kind, addr, range, obj, offset);

	if (IS_ERR(ops)) {
		buf[0] = (u64)PTR_ERR(ops);
		return NULL;
	}
	buf[0] = pygpuvm_ops_recs(ops, buf + PYGPUVM_HDR_WORDS,
				  (words - PYGPUVM_HDR_WORDS) / PYGPUVM_OP_WORDS);
	drm_gpuvm_get(vm);
	return ops;
}

/* Drop the references pygpuvm_vm_bind() took (records marked PYGPUVM_OP_HELD). */
static void pygpuvm_put_held(u64 *recs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		u64 *r = recs + i * PYGPUVM_OP_WORDS;

		if (r[0] & PYGPUVM_OP_HELD) {
			r[0] &= ~(u64)PYGPUVM_OP_HELD;
			drm_gem_object_put((struct drm_gem_object *)(uintptr_t)r[6]);
		}
	}
}

/*
 * VM.map / VM.unmap: create the ops, record them, apply them as
 * pygpuvm_apply() does and free the list, in one call. Header words of @buf:
 * inserted, removed, failed, then the first PYGPUVM_FAILED_MAX failed
 * pieces (addr, range, offset, obj). The GEM objects of the VAs the ops
 * remove may lose their last reference in the apply: each distinct one gets
 * a reference here (PYGPUVM_OP_HELD in its first record) that the caller
 * drops with pygpuvm_put_held() once it has wrapped them. When the records
 * do not fit in @words nothing is applied (the caller retries with room for
 * the returned count). Returns the op count | failed pieces << 32, or -errno
 * (nothing changed).
 */
static long pygpuvm_vm_bind(struct drm_gpuvm *vm, int kind, u64 addr, u64 range,
			    struct drm_gem_object *obj, u64 offset, u64 *buf, size_t words)
{
	struct pygpuvm_apply_result res = {
		.failed_out = buf + 4,
		.failed_max = PYGPUVM_FAILED_MAX,
	};
	struct pyg_apply_priv priv = { .res = &res };
	size_t max = (words - PYGPUVM_HDR_WORDS) / PYGPUVM_OP_WORDS;
	u64 *recs = buf + PYGPUVM_HDR_WORDS;
	struct drm_gpuva_ops *ops;
	size_t n, i, j;
	int ret = 0;

	if (kind != PYGPUVM_KIND_MAP && kind != PYGPUVM_KIND_UNMAP)
		return -EINVAL;
	ops = pyg_ops_create(vm, kind, addr, range, obj, offset);
	if (IS_ERR(ops))
		return PTR_ERR(ops);
	n = pygpuvm_ops_recs(ops, recs, max);
	if (n <= max) {
		for (i = 0; i < n; i++) {
			u64 *r = recs + i * PYGPUVM_OP_WORDS;
			struct drm_gem_object *o = (struct drm_gem_object *)(uintptr_t)r[6];

			if (!r[1] || !o || o == obj)
				continue;
			for (j = 0; j < i; j++)
				if ((recs[j * PYGPUVM_OP_WORDS] & PYGPUVM_OP_HELD) &&
				    recs[j * PYGPUVM_OP_WORDS + 6] == r[6])
					break;
			if (j == i) {
				drm_gem_object_get(o);
				r[0] |= PYGPUVM_OP_HELD;
			}
		}
		if (n)
			ret = pyg_apply(vm, ops, &priv);
		if (ret)
			pygpuvm_put_held(recs, n);
	}
	drm_gpuva_ops_free(vm, ops);
	buf[0] = (u64)res.inserted;
	buf[1] = (u64)res.removed;
	buf[2] = (u64)res.failed;
	/* The failed count rides along: a plain map then needs no buffer read. */
	return ret ? ret : (long)n | (res.failed << 32);
}

/* ------------------------------------------------------------------ batch */

#define PYGPUVM_REQ_WORDS 5

struct pygpuvm_batch_result {
	size_t processed;
	size_t errors;
	size_t changed;
	long ops;
	long inserted;
	long removed;
	long failed;
};

static int pyg_batch_one(struct drm_gpuvm *vm, const u64 *r, struct drm_gem_object *const *objs,
			 size_t nobjs, struct pyg_apply_priv *priv, long *nops)
{
	struct drm_gem_object *obj = NULL;
	struct drm_gpuva_ops *ops;
	struct drm_gpuva_op *op;
	long n = 0;
	int ret = 0;

	/* Zero-sized requests are refused, as the classes refuse them. */
	if (!r[2])
		return -EINVAL;
	if (r[0] == PYGPUVM_KIND_MAP) {
		if (r[3] > nobjs)
			return -EINVAL;
		if (r[3])
			obj = objs[r[3] - 1];
	} else if (r[0] != PYGPUVM_KIND_UNMAP) {
		return -EINVAL;
	}
	ops = pyg_ops_create(vm, (int)r[0], r[1], r[2], obj, r[4]);
	if (IS_ERR(ops))
		return (int)PTR_ERR(ops);
	drm_gpuva_for_each_op(op, ops)
		n++;
	if (n)
		ret = pyg_apply(vm, ops, priv);
	drm_gpuva_ops_free(vm, ops);
	if (!ret)
		*nops = n;
	return ret;
}

/*
 * VM.run_batch: each request of @reqs (PYGPUVM_REQ_WORDS words: kind, addr,
 * range, object index (0: none, i: objs[i - 1]), offset) in order, as
 * pygpuvm_vm_bind() would run it, with no call into Python except
 * _pygpuvm_insert_failed (@handle may be NULL). errs[i] gets 0 or the
 * request's -errno (a failed request changes nothing). The batch stops after
 * the first -ENOMEM, or the first error at all with @stop_on_error. VAs
 * listed in the sorted @watch (live Python wrappers) get hit[i] = 1 when they
 * are removed. Returns the number of requests processed.
 */
static size_t pygpuvm_vm_run_batch(struct drm_gpuvm *vm, const u64 *reqs, size_t n,
				   struct drm_gem_object *const *objs, size_t nobjs,
				   const u64 *watch, size_t nwatch, unsigned char *hit,
				   bool stop_on_error, int *errs, void *handle,
				   struct pygpuvm_batch_result *out)
{
	struct pygpuvm_apply_result res = { 0 };
	struct pyg_apply_priv priv = {
		.res = &res, .handle = handle, .watch = watch, .nwatch = nwatch, .hit = hit,
	};
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		long nops = 0;
		int ret = pyg_batch_one(vm, reqs + i * PYGPUVM_REQ_WORDS, objs, nobjs, &priv, &nops);

		errs[i] = ret;
		if (ret) {
			out->errors++;
			if (ret == -ENOMEM || stop_on_error) {
				i++;
				break;
			}
			continue;
		}
		out->ops += nops;
		if (nops)
			out->changed++;
	}
	out->processed = i;
	out->inserted = res.inserted;
	out->removed = res.removed;
	out->failed = res.failed;
	return i;
}

/* ------------------------------------------------------------------- GEM */

static unsigned int pygpuvm_gem_refcount(struct drm_gem_object *obj)
{
	return kref_read(&obj->refcount);
}

static bool pygpuvm_gem_is_private_to(struct drm_gem_object *obj, struct drm_gpuvm *vm)
{
	return obj->resv == drm_gpuvm_resv(vm);
}

/* ------------------------------------------------------------------ exec */

struct pygpuvm_bind_op {
	int op;
	u64 addr;
	u64 range;
	struct drm_gem_object *obj;
	u64 offset;
};

static int pyg_bind_lock_pass(struct drm_gpuvm_exec *vm_exec, const struct pygpuvm_bind_op *ops,
			      unsigned int num_ops, bool lock_vm, struct drm_gem_object **objs,
			      unsigned int num_objs)
{
	struct drm_exec *exec = &vm_exec->exec;
	unsigned int i;
	int ret;

	if (lock_vm) {
		ret = drm_gpuvm_prepare_vm(vm_exec->vm, exec, vm_exec->num_fences);
		if (ret)
			return ret;
	}
	for (i = 0; i < num_ops; i++) {
		const struct pygpuvm_bind_op *b = &ops[i];

		if (b->op == DRM_GPUVA_OP_MAP) {
			struct drm_gpuvm_map_req req = {
				.map = { .va = { .addr = b->addr, .range = b->range },
					 .gem = { .offset = b->offset, .obj = b->obj } },
			};

			ret = drm_gpuvm_sm_map_exec_lock(vm_exec->vm, exec, vm_exec->num_fences,
							 &req);
		} else if (b->op == DRM_GPUVA_OP_UNMAP) {
			ret = drm_gpuvm_sm_unmap_exec_lock(vm_exec->vm, exec, b->addr, b->range);
		} else {
			ret = -EINVAL;
		}
		if (ret)
			return ret;
	}
	return drm_exec_prepare_array(exec, objs, num_objs, vm_exec->num_fences);
}

/*
 * VM_BIND-style locking in one drm_exec transaction (flags and num_fences
 * from @vm_exec): the VM resv if @lock_vm, the objects every bind op's
 * sm_map/sm_unmap walk touches, then @objs. The walks reserve fence slots
 * only for a map's own object; afterwards every locked object
 * gets num_fences slots, so a fence can be added to all of them. 0 with
 * everything locked, or an error with nothing locked.
 */
static int pygpuvm_exec_lock_bind(struct drm_gpuvm_exec *vm_exec,
				  const struct pygpuvm_bind_op *ops, unsigned int num_ops,
				  bool lock_vm, struct drm_gem_object **objs, unsigned int num_objs)
{
	struct drm_exec *exec = &vm_exec->exec;
	struct drm_gem_object *obj;
	unsigned int index;
	int ret = 0;

	drm_exec_init(exec, vm_exec->flags, 0);
	drm_exec_until_all_locked(exec) {
		ret = pyg_bind_lock_pass(vm_exec, ops, num_ops, lock_vm, objs, num_objs);
		drm_exec_retry_on_contention(exec);
		if (ret)
			goto err;
	}
	if (vm_exec->num_fences) {
		drm_exec_for_each_locked_object(exec, index, obj) {
			ret = dma_resv_reserve_fences(obj->resv, vm_exec->num_fences);
			if (ret)
				goto err;
		}
	}
	return 0;

err:
	drm_exec_fini(exec);
	return ret;
}
