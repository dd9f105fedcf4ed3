/*
 * cffi declarations: binding helpers defined in pygpuvm/_gpuvm.csrc.c (not
 * kernel API) and the C -> Python callbacks (extern "Python").
 *
 * The helpers exist so that Python crosses into C once per operation: the
 * macros (iterators) become functions that fill caller-provided arrays, and the
 * multi-step driver sequences (obtain + extobj_add + apply + put under the right
 * locks) are single calls. Functions returning a count fill at most @max
 * entries and return the total, so the caller retries with a larger array.
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
/* Tear down: unlink, remove and free every VA (they are the library's), drop the ref. */
void pygpuvm_vm_release(struct drm_gpuvm *vm);
unsigned int pygpuvm_vm_refcount(struct drm_gpuvm *vm);
/* VAs overlapping [addr, addr+range) (whole: every VA) in address order. */
size_t pygpuvm_vm_collect(struct drm_gpuvm *vm, u64 addr, u64 range, bool whole,
			  bool skip_kernel, struct drm_gpuva **out, size_t max);

/* ---- library-owned VAs */
/* kzalloc a VA, insert it, link it to the (obtained) vm_bo of @obj. NULL + *err on failure. */
struct drm_gpuva *pygpuvm_va_insert(struct drm_gpuvm *vm, u64 addr, u64 range,
				    struct drm_gem_object *obj, u64 offset, int *err);
/* Unlink, remove and kfree a VA made by pygpuvm_va_insert or an apply. */
void pygpuvm_va_destroy(struct drm_gpuva *va);

/* ---- ops lists */
struct pygpuvm_piece {
	u64 addr;
	u64 range;
	u64 offset;
	struct drm_gem_object *obj;
};

/* One op, flattened: no pointers into the op survive the read. */
struct pygpuvm_op_rec {
	int op;                    /* enum drm_gpuva_op_type */
	bool keep;
	bool has_prev;
	bool has_next;
	bool is_kernel;            /* the VA is the VM's reserved node */
	struct drm_gpuva *va;      /* the existing VA (remap, unmap, prefetch), else NULL */
	unsigned int va_flags;
	struct pygpuvm_piece map;  /* map: the request; otherwise the existing VA's fields */
	struct pygpuvm_piece prev;
	struct pygpuvm_piece next;
};

struct drm_gpuva_ops *pygpuvm_sm_map_ops(struct drm_gpuvm *vm, u64 addr, u64 range,
					 struct drm_gem_object *obj, u64 offset, bool madvise);
size_t pygpuvm_ops_read(struct drm_gpuva_ops *ops, struct pygpuvm_op_rec *out, size_t max);
void pygpuvm_op_read(const struct drm_gpuva_op *op, struct pygpuvm_op_rec *out);
/* drm_gpuva_ops_free, then drop the VM reference the Ops owner took. */
void pygpuvm_ops_release(struct drm_gpuvm *vm, struct drm_gpuva_ops *ops);
int pygpuvm_sm_map_steps(struct drm_gpuvm *vm, void *handle, u64 addr, u64 range,
			 struct drm_gem_object *obj, u64 offset);

struct pygpuvm_apply_result {
	long inserted;  /* VAs inserted into the tree */
	long removed;   /* VAs removed and freed */
	long failed;    /* pieces whose insert failed (freed, not linked) */
	u64 *failed_out;    /* in: room for failed_max pieces (addr, range, offset, obj), or NULL */
	size_t failed_max;
};

/*
 * Apply @ops as docs/trace-format.md's driver: obtain the vm_bo of the list's map object
 * and add it to the extobj list, gpuvm_apply_ops() with the internally locking
 * link/unlink, put the vm_bo; the VM resv is held where RESV_PROTECTED needs
 * it; deferred cleanup in immediate mode. Insert failures are recorded in
 * res->failed_out and, when @handle is not NULL, passed to
 * _pygpuvm_insert_failed. 0 or -ENOMEM (nothing changed).
 */
int pygpuvm_apply(struct drm_gpuvm *vm, struct drm_gpuva_ops *ops, void *handle,
		  struct pygpuvm_apply_result *res);

/*
 * ---- flat records: what the classes read, one ffi.unpack() per call.
 *
 * VA record, PYGPUVM_VA_WORDS words: the VA's address (its identity), addr,
 * range, offset, GEM address (0: none), flags | PYGPUVM_VA_KERNEL for the
 * VM's reserved node.
 *
 * Op record, PYGPUVM_OP_WORDS words: [0] enum drm_gpuva_op_type |
 * PYGPUVM_OP_* bits; [1] the existing VA's address (remap, unmap, prefetch;
 * else 0); [2] its flags; [3..6] addr, range, offset, GEM of the map
 * request or of the existing VA; [7..10] remap prev; [11..14] remap next.
 *
 * Buffers of ops records start with PYGPUVM_HDR_WORDS header words.
 */
#define PYGPUVM_VA_WORDS 6
#define PYGPUVM_VA_KERNEL 4294967296
#define PYGPUVM_OP_WORDS 16
#define PYGPUVM_OP_KEEP 256
#define PYGPUVM_OP_PREV 512
#define PYGPUVM_OP_NEXT 1024
#define PYGPUVM_OP_KERNEL 2048
#define PYGPUVM_OP_HELD 4096
#define PYGPUVM_HDR_WORDS 20
#define PYGPUVM_FAILED_MAX 4

enum pygpuvm_kind {
	PYGPUVM_KIND_MAP = 1,
	PYGPUVM_KIND_UNMAP = 2,
	PYGPUVM_KIND_PREFETCH = 3,
	PYGPUVM_KIND_MADVISE = 4,
};

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

/*
 * The ops list of a request (sm_map, sm_unmap, prefetch, madvise) with a VM
 * reference taken for the caller, op records in @buf after the header
 * (buf[0]: op count). NULL with buf[0] = -errno on failure.
 */
struct drm_gpuva_ops *pygpuvm_ops_create(struct drm_gpuvm *vm, int kind, u64 addr, u64 range,
					 struct drm_gem_object *obj, u64 offset, u64 *buf,
					 size_t words);
/*
 * VM.map (PYGPUVM_KIND_MAP) / VM.unmap (PYGPUVM_KIND_UNMAP) in one call:
 * create, record, apply, free. Header: inserted, removed, failed, then
 * PYGPUVM_FAILED_MAX failed pieces (addr, range, offset, obj). GEMs of
 * removed VAs (other than @obj) are held (PYGPUVM_OP_HELD) until
 * pygpuvm_put_held(). More ops than fit in @words: nothing applied, the
 * count returned. Returns the op count | failed pieces << 32, or -errno
 * (nothing changed).
 */
long pygpuvm_vm_bind(struct drm_gpuvm *vm, int kind, u64 addr, u64 range,
		     struct drm_gem_object *obj, u64 offset, u64 *buf, size_t words);
void pygpuvm_put_held(u64 *recs, size_t n);

/* ---- batch: VM.run_batch */
#define PYGPUVM_REQ_WORDS 5
struct pygpuvm_batch_result {
	size_t processed;  /* requests handled (applied or refused) */
	size_t errors;     /* requests refused (errs[i] != 0) */
	size_t changed;    /* requests that applied at least one op */
	long ops;          /* ops applied */
	long inserted;
	long removed;
	long failed;
};
/*
 * Requests of PYGPUVM_REQ_WORDS words (kind, addr, range, object index: 0
 * none, i objs[i-1], offset) in order, under the caller's VM lock, without
 * calling Python (except _pygpuvm_insert_failed through @handle). errs[i]:
 * 0 or -errno (that request changed nothing). Stops after the first -ENOMEM
 * (or any error with @stop_on_error). Removed VAs found in the sorted @watch
 * set hit[i]. Returns the requests processed.
 */
size_t pygpuvm_vm_run_batch(struct drm_gpuvm *vm, const u64 *reqs, size_t n,
			    struct drm_gem_object *const *objs, size_t nobjs,
			    const u64 *watch, size_t nwatch, unsigned char *hit,
			    bool stop_on_error, int *errs, void *handle,
			    struct pygpuvm_batch_result *out);

/* ---- vm_bos (references are taken for every entry written to @out) */
struct drm_gpuvm_bo *pygpuvm_vm_bo_obtain(struct drm_gpuvm *vm, struct drm_gem_object *obj);
/* Drop a vm_bo reference safely from any context (VM resv taken if RESV_PROTECTED). */
void pygpuvm_vm_bo_release(struct drm_gpuvm_bo *vm_bo);
unsigned int pygpuvm_vm_bo_refcount(struct drm_gpuvm_bo *vm_bo);
void pygpuvm_vm_bo_evict(struct drm_gpuvm_bo *vm_bo, bool evict);
bool pygpuvm_vm_bo_on_extobj_list(struct drm_gpuvm_bo *vm_bo);
bool pygpuvm_vm_bo_on_evict_list(struct drm_gpuvm_bo *vm_bo);
/* VAs linked to @vm_bo in link order (no references: VAs have none). */
size_t pygpuvm_vm_bo_vas(struct drm_gpuvm_bo *vm_bo, struct drm_gpuva **out, size_t max);
size_t pygpuvm_gem_vm_bos(struct drm_gem_object *obj, struct drm_gpuvm_bo **out, size_t max);
size_t pygpuvm_vm_extobjs(struct drm_gpuvm *vm, struct drm_gpuvm_bo **out, size_t max);
size_t pygpuvm_vm_evicted(struct drm_gpuvm *vm, struct drm_gpuvm_bo **out, size_t max);
void pygpuvm_vm_deferred_cleanup(struct drm_gpuvm *vm);

/* ---- GEM */
unsigned int pygpuvm_gem_refcount(struct drm_gem_object *obj);
bool pygpuvm_gem_is_private_to(struct drm_gem_object *obj, struct drm_gpuvm *vm);

/* ---- exec: VM_BIND-style locking (pygpuvm/exec.py) */
struct pygpuvm_bind_op {
	int op;                      /* DRM_GPUVA_OP_MAP or DRM_GPUVA_OP_UNMAP */
	u64 addr;
	u64 range;
	struct drm_gem_object *obj;  /* map: the object, or NULL */
	u64 offset;                  /* map: offset into obj */
};
/*
 * One drm_exec transaction: the VM resv (@lock_vm), the sm_map/sm_unmap
 * exec-lock walk of every op, then @objs; then num_fences slots on every
 * locked object. 0 (all locked) or a negative errno (nothing locked).
 */
int pygpuvm_exec_lock_bind(struct drm_gpuvm_exec *vm_exec, const struct pygpuvm_bind_op *ops,
			   unsigned int num_ops, bool lock_vm, struct drm_gem_object **objs,
			   unsigned int num_objs);
