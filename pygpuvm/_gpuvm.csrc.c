/* SPDX-License-Identifier: MIT */
/*
 * C prelude of the cffi extension pygpuvm._gpuvm (input of
 * `cffi-gen-src read-sources`; pasted verbatim at the top of the generated
 * _gpuvm.c). It includes every public header, so everything the cdef (the
 * fragments in pygpuvm/_cdef) names is declared, and defines what only the
 * binding needs: the VM type whose ops table calls back into Python, function
 * forms of macros, and the packing of C state into the flat u64 records of
 * _cdef/records.h (one C call per operation, not one per field). The driver
 * sequences themselves (binds, batches, vm_bos, teardown, exec locking) are
 * the core's (drm/gpuvm_driver.h); the helpers here only pack their inputs
 * and results.
 *
 * Include dirs: csrc/include (public), csrc (private) and pygpuvm/_cdef
 * (records.h), all -iquote.
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
#include "drm/gpuvm_driver.h"
#include "driver/va_table.h"
#include "gpuvm/gem_gpuva_lock.h"

#include "records.h"

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

static void pygpuvm_install_warn_hook(void)
{
	gpuvm_set_warn_hook(_pygpuvm_warn_hook, NULL);
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

/* The destructor of VM._ptr: every VA is the library's (default allocator). */
static void pygpuvm_vm_release(struct drm_gpuvm *vm)
{
	gpuvm_driver_vm_release(vm, NULL);
}

static void pygpuvm_vm_set_handle(struct drm_gpuvm *vm, void *handle)
{
	to_pyvm(vm)->handle = handle;
}

static void *pygpuvm_vm_get_handle(struct drm_gpuvm *vm)
{
	return to_pyvm(vm)->handle;
}

/* ------------------------------------------------- function forms of macros */

static unsigned int pygpuvm_vm_refcount(struct drm_gpuvm *vm)
{
	return kref_read(&vm->kref);
}

static unsigned int pygpuvm_vm_bo_refcount(struct drm_gpuvm_bo *vm_bo)
{
	return kref_read(&vm_bo->kref);
}

static unsigned int pygpuvm_gem_refcount(struct drm_gem_object *obj)
{
	return kref_read(&obj->refcount);
}

/* ----------------------------------------------------------- flat records */

static u64 pyg_addr(const void *p)
{
	return (u64)(uintptr_t)p;
}

static void pyg_va_rec(u64 *out, const struct drm_gpuva *va)
{
	bool kernel = va->vm && va == &va->vm->kernel_alloc_node;

	out[0] = pyg_addr(va);
	out[1] = va->va.addr;
	out[2] = va->va.range;
	out[3] = va->gem.offset;
	out[4] = pyg_addr(va->gem.obj);
	out[5] = (u64)va->flags | (kernel ? PYGPUVM_VA_KERNEL : 0);
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
		pyg_piece_rec(out + PYGPUVM_OP_MAP, &op->map);
		break;
	case DRM_GPUVA_OP_REMAP:
		va = op->remap.unmap->va;
		if (op->remap.unmap->keep)
			bits |= PYGPUVM_OP_KEEP;
		if (op->remap.prev) {
			bits |= PYGPUVM_OP_PREV;
			pyg_piece_rec(out + PYGPUVM_OP_PREV_AT, op->remap.prev);
		}
		if (op->remap.next) {
			bits |= PYGPUVM_OP_NEXT;
			pyg_piece_rec(out + PYGPUVM_OP_NEXT_AT, op->remap.next);
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
		if (va->vm && va == &va->vm->kernel_alloc_node)
			bits |= PYGPUVM_OP_KERNEL;
		out[PYGPUVM_OP_VA] = pyg_addr(va);
		out[PYGPUVM_OP_VA + 1] = (u64)va->flags;
		out[PYGPUVM_OP_MAP] = va->va.addr;
		out[PYGPUVM_OP_MAP + 1] = va->va.range;
		out[PYGPUVM_OP_MAP + 2] = va->gem.offset;
		out[PYGPUVM_OP_MAP + 3] = pyg_addr(va->gem.obj);
	}
	out[0] = bits;
}

/* Records of every op of @ops (at most @max written); returns the op count. */
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
	u64 last = addr + range - 1;
	struct drm_gpuva *va;
	size_t n = 0;

	if (whole)
		va = list_first_entry_or_null(&vm->rb.list, struct drm_gpuva, rb.entry);
	else
		va = range ? drm_gpuva_find_first(vm, addr, range) : NULL;
	for (; va && (whole || va->va.addr <= last); va = __drm_gpuva_next(va)) {
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

/* ------------------------------------------------------------- ops lists */

static struct drm_gpuva_ops *pygpuvm_sm_map_ops(struct drm_gpuvm *vm, u64 addr, u64 range,
						struct drm_gem_object *obj, u64 offset,
						bool madvise)
{
	const struct gpuvm_bind_req req = {
		.op = madvise ? GPUVM_BIND_MADVISE : GPUVM_BIND_MAP,
		.addr = addr, .range = range, .obj = obj, .offset = offset,
	};

	return gpuvm_driver_ops_create(vm, &req);
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

/*
 * The ops of a request with a VM reference for the caller's Ops owner, and
 * their records in @buf after the header (buf[0]: the op count, or -errno
 * when NULL is returned). Records beyond @words are left out: read them with
 * pygpuvm_ops_recs().
 */
static struct drm_gpuva_ops *pygpuvm_ops_create(struct drm_gpuvm *vm, int kind, u64 addr,
						u64 range, struct drm_gem_object *obj,
						u64 offset, u64 *buf, size_t words)
{
	const struct gpuvm_bind_req req = {
		.op = (u32)kind, .addr = addr, .range = range, .obj = obj, .offset = offset,
	};
	struct drm_gpuva_ops *ops = gpuvm_driver_ops_create(vm, &req);

	if (IS_ERR(ops)) {
		buf[0] = (u64)PTR_ERR(ops);
		return NULL;
	}
	buf[0] = pygpuvm_ops_recs(ops, buf + PYGPUVM_HDR_WORDS,
				  (words - PYGPUVM_HDR_WORDS) / PYGPUVM_OP_WORDS);
	drm_gpuvm_get(vm);
	return ops;
}

/* --------------------------------------------------------------- applying */

struct pygpuvm_apply_result {
	long inserted;
	long removed;
	long failed;
	u64 *failed_out;
	size_t failed_max;
};

/* What the apply callbacks record for the Python side. */
struct pyg_apply_priv {
	u64 *failed_out; /* failed pieces, 4 words each */
	size_t failed_max;
	size_t nfailed;
	void *handle; /* _pygpuvm_insert_failed payload, or NULL */
	/* Sorted addresses of VAs that have live Python wrappers (batch path). */
	const u64 *watch;
	size_t nwatch;
	unsigned char *hit;
};

static void pyg_insert_failed(const struct drm_gpuva_op_map *piece, void *priv)
{
	struct pyg_apply_priv *p = priv;

	if (p->failed_out && p->nfailed < p->failed_max)
		pyg_piece_rec(p->failed_out + 4 * p->nfailed, piece);
	p->nfailed++;
	if (p->handle)
		_pygpuvm_insert_failed(piece, p->handle);
}

static void pyg_va_removed(struct drm_gpuva *va, void *priv)
{
	struct pyg_apply_priv *p = priv;
	u64 key = pyg_addr(va);
	size_t lo = 0, hi = p->nwatch;

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

static struct gpuvm_apply_ctx pyg_apply_ctx(struct pyg_apply_priv *priv)
{
	return (struct gpuvm_apply_ctx){
		.insert_failed = pyg_insert_failed,
		.va_removed = priv->nwatch ? pyg_va_removed : NULL,
		.priv = priv,
	};
}

/* Ops.apply(): gpuvm_driver_apply() with the failed pieces recorded in @res. */
static int pygpuvm_apply(struct drm_gpuvm *vm, struct drm_gpuva_ops *ops, void *handle,
			 struct pygpuvm_apply_result *res)
{
	struct pyg_apply_priv priv = {
		.failed_out = res->failed_out, .failed_max = res->failed_max, .handle = handle,
	};
	struct gpuvm_apply_ctx ctx = pyg_apply_ctx(&priv);
	struct gpuvm_bind_stats st = { 0 };
	int ret = gpuvm_driver_apply(vm, ops, &ctx, &st);

	res->inserted = st.inserted;
	res->removed = st.removed;
	res->failed = st.failed;
	return ret;
}

/*
 * Drop the references pygpuvm_vm_bind() took (records marked PYGPUVM_OP_HELD)
 * in the first @n records of its buffer @buf (header included).
 */
static void pygpuvm_put_held(u64 *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		u64 *r = buf + PYGPUVM_HDR_WORDS + i * PYGPUVM_OP_WORDS;

		if (r[0] & PYGPUVM_OP_HELD) {
			r[0] &= ~(u64)PYGPUVM_OP_HELD;
			drm_gem_object_put((struct drm_gem_object *)(uintptr_t)r[PYGPUVM_OP_MAP + 3]);
		}
	}
}

struct pyg_bind_priv {
	u64 *recs;
	size_t max;
	size_t n;
	struct drm_gem_object *obj;
	bool decode; /* PYGPUVM_BIND_DECODE */
};

/*
 * Does the GEM of @va outlive an apply of @nops ops with no reference of
 * ours? Yes when @va's vm_bo has more VAs linked than the list has ops: one
 * of them stays, so the vm_bo (which holds the GEM) stays, and only calls
 * holding this VM's lock (as the caller does until it has read the records)
 * can unlink it. Longer lists are not counted: their GEMs are held.
 */
static bool pyg_gem_stays(const struct drm_gpuva *va, size_t nops)
{
	const struct list_head *head, *pos;
	size_t n = 0;

	if (!va->vm_bo || nops > 4)
		return false;
	head = &va->vm_bo->list.gpuva;
	for (pos = head->next; pos != head; pos = pos->next)
		if (++n > nops)
			return true;
	return false;
}

/*
 * Record the ops before they are applied; skip the apply (return 1) when
 * they do not fit. The GEM objects of the VAs the ops remove may lose their
 * last reference in the apply: each distinct one but the map's own, unless
 * pyg_gem_stays(), gets a reference (PYGPUVM_OP_HELD in its first record).
 */
static int pyg_bind_record(struct drm_gpuva_ops *ops, void *priv)
{
	struct pyg_bind_priv *b = priv;
	u64 *recs = b->recs;
	size_t i, j;

	b->n = pygpuvm_ops_recs(ops, recs, b->max);
	if (b->n > b->max)
		return 1;
	for (i = 0; i < b->n; i++) {
		u64 *r = recs + i * PYGPUVM_OP_WORDS;
		u64 o = r[PYGPUVM_OP_MAP + 3];
		u64 type = r[0] & 0xff;

		if (type != DRM_GPUVA_OP_MAP && type != DRM_GPUVA_OP_UNMAP)
			b->decode = true;
		if (!r[PYGPUVM_OP_VA] || !o || o == pyg_addr(b->obj) ||
		    pyg_gem_stays((const struct drm_gpuva *)(uintptr_t)r[PYGPUVM_OP_VA], b->n))
			continue;
		for (j = 0; j < i; j++)
			if ((recs[j * PYGPUVM_OP_WORDS] & PYGPUVM_OP_HELD) &&
			    recs[j * PYGPUVM_OP_WORDS + PYGPUVM_OP_MAP + 3] == o)
				break;
		if (j == i) {
			drm_gem_object_get((struct drm_gem_object *)(uintptr_t)o);
			r[0] |= PYGPUVM_OP_HELD;
			b->decode = true;
		}
	}
	return 0;
}

/*
 * VM.map / VM.unmap: gpuvm_driver_bind() with the ops recorded in @buf (after
 * the header: inserted, removed, failed, the first failed pieces). GEMs of
 * removed VAs (other than @obj) are held (PYGPUVM_OP_HELD) until
 * pygpuvm_put_held(). When the records do not fit in @words nothing is
 * applied (the caller retries with room for the returned count). Returns the
 * op count | failed pieces << 32 | PYGPUVM_BIND_WARNED if WARNs are queued |
 * PYGPUVM_BIND_DECODE if an op is not a map or an unmap or a GEM is held, or
 * -errno (nothing changed).
 */
static long pygpuvm_vm_bind(struct drm_gpuvm *vm, int kind, u64 addr, u64 range,
			    struct drm_gem_object *obj, u64 offset, u64 *buf, size_t words)
{
	const struct gpuvm_bind_req req = {
		.op = (u32)kind, .addr = addr, .range = range, .obj = obj, .offset = offset,
	};
	struct pyg_apply_priv priv = {
		.failed_out = buf + PYGPUVM_FAILED_AT, .failed_max = PYGPUVM_FAILED_MAX,
	};
	struct gpuvm_apply_ctx ctx = pyg_apply_ctx(&priv);
	struct pyg_bind_priv rec = {
		.recs = buf + PYGPUVM_HDR_WORDS,
		.max = (words - PYGPUVM_HDR_WORDS) / PYGPUVM_OP_WORDS,
		.obj = obj,
	};
	const struct gpuvm_bind_ctx bctx = {
		.apply = &ctx, .ops_created = pyg_bind_record, .priv = &rec,
	};
	struct gpuvm_bind_stats st = { 0 };
	int ret;

	if (kind != GPUVM_BIND_MAP && kind != GPUVM_BIND_UNMAP)
		return -EINVAL;
	ret = gpuvm_driver_bind(vm, &req, &bctx, &st);
	buf[0] = (u64)st.inserted;
	buf[1] = (u64)st.removed;
	buf[2] = (u64)st.failed;
	if (ret < 0) {
		if (rec.n <= rec.max)
			pygpuvm_put_held(buf, rec.n);
		return ret;
	}
	/*
	 * The failed count and the flags ride along: a return of 1 (one map or
	 * unmap op, nothing failed or held, no WARN queued) is the fast path of
	 * VM.map/VM.unmap.
	 */
	return (long)rec.n | (st.failed << 32) | (rec.decode ? PYGPUVM_BIND_DECODE : 0) |
	       (__atomic_load_n(&gpuvm_warn_nqueued, __ATOMIC_RELAXED) ? PYGPUVM_BIND_WARNED : 0);
}

/* ------------------------------------------------------------------ batch */

/*
 * VM.run_batch: the requests of @reqs (PYGPUVM_REQ_WORDS words each) through
 * gpuvm_driver_bind_batch(), converted a chunk at a time (no allocation), with
 * no call into Python except _pygpuvm_insert_failed (@handle may be NULL).
 * VAs listed in the sorted @watch (live Python wrappers) get hit[i] = 1 when
 * they are removed. Returns the number of requests processed.
 */
static size_t pygpuvm_vm_run_batch(struct drm_gpuvm *vm, const u64 *reqs, size_t n,
				   struct drm_gem_object *const *objs, size_t nobjs,
				   const u64 *watch, size_t nwatch, unsigned char *hit,
				   bool stop_on_error, int *errs, void *handle,
				   struct gpuvm_batch_result *out)
{
	struct pyg_apply_priv priv = {
		.handle = handle, .watch = watch, .nwatch = nwatch, .hit = hit,
	};
	struct gpuvm_apply_ctx ctx = pyg_apply_ctx(&priv);
	struct gpuvm_bind_req chunk[64];
	size_t done = 0;

	*out = (struct gpuvm_batch_result){ 0 };
	while (done < n) {
		size_t m = n - done < 64 ? n - done : 64;
		struct gpuvm_batch_result part;
		size_t i;

		for (i = 0; i < m; i++) {
			const u64 *r = reqs + (done + i) * PYGPUVM_REQ_WORDS;
			struct gpuvm_bind_req *q = &chunk[i];

			*q = (struct gpuvm_bind_req){
				.op = (u32)r[0], .addr = r[1], .range = r[2], .offset = r[4],
			};
			/* Only maps name objects; a bad index makes the request invalid. */
			if (r[0] == GPUVM_BIND_MAP && r[3] > nobjs)
				q->op = 0;
			else if (r[0] == GPUVM_BIND_MAP && r[3])
				q->obj = objs[r[3] - 1];
		}
		gpuvm_driver_bind_batch(vm, chunk, m, stop_on_error, errs + done, &ctx, &part);
		done += part.processed;
		out->errors += part.errors;
		out->changed += part.changed;
		out->ops += part.ops;
		out->inserted += part.inserted;
		out->removed += part.removed;
		out->failed += part.failed;
		/* The driver stopped early, or at the chunk's last request. */
		if (part.processed < m || errs[done - 1] == -ENOMEM ||
		    (stop_on_error && errs[done - 1]))
			break;
	}
	out->processed = done;
	return done;
}

/* ------------------------------------------------------------ va tables */

/*
 * VM.table(): gpuvm_va_table_fill() into @out (room for @room rows a
 * column), then, when every row fitted, the columns moved together (stride =
 * the row count) so the caller copies 5 * count words. Returns the count.
 */
static size_t pygpuvm_va_table(struct drm_gpuvm *vm, u64 first, u64 last, bool skip_kernel,
			       u64 *out, size_t room)
{
	size_t n = gpuvm_va_table_fill(vm, first, last, skip_kernel, out, room);
	size_t c;

	if (n < room)
		for (c = 1; c < GPUVM_VA_TABLE_COLUMNS; c++)
			memmove(out + c * n, out + c * room, n * sizeof(*out));
	return n;
}

#define PYG_TABLES_TMP 16

/*
 * VM.tables(): the rows of @nq queries one after the other in the five
 * columns of @out (@room rows a column); counts[i] = the rows of query i.
 * @ranges: (start, end) pairs, end exclusive, when @exclusive, else
 * inclusive (first, last) pairs; end <= start, or last < first, is an empty
 * query. Rows beyond @room are counted, not written. Returns the total, or
 * (size_t)-1 when a temporary buffer could not be allocated.
 */
static size_t pygpuvm_va_tables(struct drm_gpuvm *vm, const u64 *ranges, size_t nq,
				bool exclusive, bool skip_kernel, u64 *out, size_t room,
				u64 *counts)
{
	u64 tmp[GPUVM_VA_TABLE_COLUMNS * PYG_TABLES_TMP];
	size_t total = 0, i, c;

	for (i = 0; i < nq; i++) {
		u64 first = ranges[2 * i], last = ranges[2 * i + 1];
		u64 *src = tmp;
		size_t n;

		if (exclusive) {
			if (last <= first) {
				counts[i] = 0;
				continue;
			}
			last--;
		}
		if (last < first) {
			counts[i] = 0;
			continue;
		}
		n = gpuvm_va_table_fill(vm, first, last, skip_kernel, tmp, PYG_TABLES_TMP);
		counts[i] = n;
		if (n && total + n <= room) {
			size_t stride = PYG_TABLES_TMP;

			if (n > PYG_TABLES_TMP) {
				src = kmalloc_array(GPUVM_VA_TABLE_COLUMNS * n, sizeof(*src),
						    GFP_KERNEL);
				if (!src)
					return (size_t)-1;
				gpuvm_va_table_fill(vm, first, last, skip_kernel, src, n);
				stride = n;
			}
			for (c = 0; c < GPUVM_VA_TABLE_COLUMNS; c++)
				memcpy(out + c * room + total, src + c * stride, n * sizeof(*out));
			if (src != tmp)
				kfree(src);
		}
		total += n;
	}
	return total;
}
