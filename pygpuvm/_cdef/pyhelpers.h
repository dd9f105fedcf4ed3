/*
 * cffi declarations: binding helpers defined in pygpuvm/_gpuvm.csrc.c (not
 * kernel API) and the C -> Python callbacks (extern "Python").
 *
 * The helpers exist so that Python crosses into C once per operation: the
 * VM type whose ops table calls into Python, function forms of macros, and
 * helpers that pack C state into flat u64 records (layout: _cdef/records.h,
 * whose values cffi reads through the `#define X ...` lines below). Functions
 * returning a count fill at most @max entries and return the total, so the
 * caller retries with a larger array.
 */

/* ---- callbacks into Python; payloads are ffi.new_handle() pointers */
extern "Python" void _pygpuvm_warn_hook(const char *file, int line, const char *msg,
					void *data);
extern "Python" int _pygpuvm_sm_step_map(struct drm_gpuva_op *op, void *priv);
extern "Python" int _pygpuvm_sm_step_remap(struct drm_gpuva_op *op, void *priv);
extern "Python" int _pygpuvm_sm_step_unmap(struct drm_gpuva_op *op, void *priv);
extern "Python" int _pygpuvm_vm_bo_validate(struct drm_gpuvm_bo *vm_bo, struct drm_exec *exec);
extern "Python" void _pygpuvm_insert_failed(const struct drm_gpuva_op_map *piece, void *priv);

/* Install _pygpuvm_warn_hook as the process-wide WARN hook. */
void pygpuvm_install_warn_hook(void);

/* ---- VM: a drm_gpuvm with pygpuvm's ops table (vm_free, Python sm_step_* and validate) */
struct drm_gpuvm *pygpuvm_vm_create(const char *name, u32 flags, u64 start, u64 range,
				    u64 reserve_offset, u64 reserve_range);
/* Payload handed to vm_bo_validate; set only around a drm_gpuvm_validate() call. */
void pygpuvm_vm_set_handle(struct drm_gpuvm *vm, void *handle);
void *pygpuvm_vm_get_handle(struct drm_gpuvm *vm);
/* gpuvm_driver_vm_release() with the default allocator: every VA is the library's. */
void pygpuvm_vm_release(struct drm_gpuvm *vm);

/* ---- function forms of kref_read() */
unsigned int pygpuvm_vm_refcount(struct drm_gpuvm *vm);
unsigned int pygpuvm_vm_bo_refcount(struct drm_gpuvm_bo *vm_bo);
unsigned int pygpuvm_gem_refcount(struct drm_gem_object *obj);

/* ---- flat records (_cdef/records.h) */
#define PYGPUVM_VA_WORDS ...
#define PYGPUVM_VA_KERNEL ...
#define PYGPUVM_OP_WORDS ...
#define PYGPUVM_OP_KEEP ...
#define PYGPUVM_OP_PREV ...
#define PYGPUVM_OP_NEXT ...
#define PYGPUVM_OP_KERNEL ...
#define PYGPUVM_OP_HELD ...
#define PYGPUVM_OP_VA ...
#define PYGPUVM_OP_MAP ...
#define PYGPUVM_OP_PREV_AT ...
#define PYGPUVM_OP_NEXT_AT ...
#define PYGPUVM_HDR_WORDS ...
#define PYGPUVM_FAILED_AT ...
#define PYGPUVM_FAILED_MAX ...
#define PYGPUVM_REQ_WORDS ...
#define PYGPUVM_BIND_WARNED ...
#define PYGPUVM_BIND_DECODE ...

void pygpuvm_op_rec(const struct drm_gpuva_op *op, u64 *out);
/* Records of every op of @ops (at most @max written); returns the op count. */
size_t pygpuvm_ops_recs(struct drm_gpuva_ops *ops, u64 *out, size_t max);
/* VA records of the VAs overlapping [addr, addr+range) (whole: all), address order. */
size_t pygpuvm_vm_collect_recs(struct drm_gpuvm *vm, u64 addr, u64 range, bool whole,
			       bool skip_kernel, u64 *out, size_t max);
/*
 * drm_gpuva_find (@how 0: a, b = addr, range), _find_first (1), _find_prev
 * (2: a = start), _find_next (3: a = end); the VA's record in @out. Returns
 * the VA's address, 0 for none.
 */
u64 pygpuvm_vm_find_rec(struct drm_gpuvm *vm, int how, u64 a, u64 b, u64 *out);
/* VA records of the VAs linked to @vm_bo, link order. */
size_t pygpuvm_vm_bo_va_recs(struct drm_gpuvm_bo *vm_bo, u64 *out, size_t max);

/* ---- ops lists */
/* gpuvm_driver_ops_create() of GPUVM_BIND_MAP, or GPUVM_BIND_MADVISE. */
struct drm_gpuva_ops *pygpuvm_sm_map_ops(struct drm_gpuvm *vm, u64 addr, u64 range,
					 struct drm_gem_object *obj, u64 offset, bool madvise);
/* drm_gpuva_ops_free, then drop the VM reference the Ops owner took. */
void pygpuvm_ops_release(struct drm_gpuvm *vm, struct drm_gpuva_ops *ops);
int pygpuvm_sm_map_steps(struct drm_gpuvm *vm, void *handle, u64 addr, u64 range,
			 struct drm_gem_object *obj, u64 offset);
/*
 * The ops list of a request (enum gpuvm_bind_op) with a VM reference taken
 * for the caller, op records in @buf after the header (buf[0]: op count).
 * NULL with buf[0] = -errno on failure.
 */
struct drm_gpuva_ops *pygpuvm_ops_create(struct drm_gpuvm *vm, int kind, u64 addr, u64 range,
					 struct drm_gem_object *obj, u64 offset, u64 *buf,
					 size_t words);

/* ---- applying */
struct pygpuvm_apply_result {
	long inserted;  /* VAs inserted into the tree */
	long removed;   /* VAs removed and freed */
	long failed;    /* pieces whose insert failed (freed, not linked) */
	u64 *failed_out;    /* in: room for failed_max pieces (addr, range, offset, obj), or NULL */
	size_t failed_max;
};
/*
 * gpuvm_driver_apply(); insert failures are recorded in res->failed_out
 * and, when @handle is not NULL, passed to _pygpuvm_insert_failed. 0 or
 * -ENOMEM/-EINVAL (nothing changed).
 */
int pygpuvm_apply(struct drm_gpuvm *vm, struct drm_gpuva_ops *ops, void *handle,
		  struct pygpuvm_apply_result *res);
/*
 * VM.map (GPUVM_BIND_MAP) / VM.unmap (GPUVM_BIND_UNMAP): gpuvm_driver_bind()
 * with the ops recorded in @buf. Header: inserted, removed, failed, then
 * PYGPUVM_FAILED_MAX failed pieces. GEMs of removed VAs (other than @obj)
 * are held (PYGPUVM_OP_HELD) until pygpuvm_put_held(). More ops than fit in
 * @words: nothing applied, the count returned. Returns the op count |
 * failed pieces << 32 | PYGPUVM_BIND_WARNED (WARNs are queued), or -errno
 * (nothing changed).
 */
long pygpuvm_vm_bind(struct drm_gpuvm *vm, int kind, u64 addr, u64 range,
		     struct drm_gem_object *obj, u64 offset, u64 *buf, size_t words);
/* Drop the held references of the first @n records of a pygpuvm_vm_bind() @buf. */
void pygpuvm_put_held(u64 *buf, size_t n);
/*
 * VM.run_batch: requests of PYGPUVM_REQ_WORDS words through
 * gpuvm_driver_bind_batch() under the caller's VM lock, without calling
 * Python (except _pygpuvm_insert_failed through @handle). Removed VAs found
 * in the sorted @watch set hit[i]. Returns the requests processed.
 */
size_t pygpuvm_vm_run_batch(struct drm_gpuvm *vm, const u64 *reqs, size_t n,
			    struct drm_gem_object *const *objs, size_t nobjs,
			    const u64 *watch, size_t nwatch, unsigned char *hit,
			    bool stop_on_error, int *errs, void *handle,
			    struct gpuvm_batch_result *out);

/* ---- columnar queries (VM.table, VM.tables; driver/va_table.h) */
/* gpuvm_va_table_fill(), the columns then packed (stride = count) if all fitted. */
size_t pygpuvm_va_table(struct drm_gpuvm *vm, u64 first, u64 last, bool skip_kernel,
			u64 *out, size_t room);
/*
 * The rows of @nq queries one after the other in @out's five columns of
 * @room rows; counts[i]: rows of query i. @ranges: (start, end) pairs with an
 * exclusive end if @exclusive, else inclusive (first, last) pairs; an empty
 * pair is no rows. Returns the total (rows past @room not written), or
 * (size_t)-1 on allocation failure.
 */
size_t pygpuvm_va_tables(struct drm_gpuvm *vm, const u64 *ranges, size_t nq, bool exclusive,
			 bool skip_kernel, u64 *out, size_t room, u64 *counts);
