/*
 * cffi declarations: fences and reservation objects
 * (csrc/include/linux/{dma-fence,dma-resv}.h).
 */

#define MAX_SCHEDULE_TIMEOUT ...

struct dma_fence;
struct dma_fence_cb;
typedef void (*dma_fence_func_t)(struct dma_fence *fence, struct dma_fence_cb *cb);

struct dma_fence_cb {
	struct list_head node;
	dma_fence_func_t func;
};

struct dma_fence {
	struct kref refcount;
	u64 context;
	u64 seqno;
	int error;
	struct list_head cb_list;
	...;
};

struct dma_fence *dma_fence_create(u64 context, u64 seqno);
u64 dma_fence_context_alloc(unsigned int num);
struct dma_fence *dma_fence_get(struct dma_fence *fence);
void dma_fence_put(struct dma_fence *fence);
int dma_fence_signal(struct dma_fence *fence);
bool dma_fence_is_signaled(struct dma_fence *fence);
void dma_fence_set_error(struct dma_fence *fence, int error);
long dma_fence_wait_timeout(struct dma_fence *fence, bool intr, long timeout_ns);
int dma_fence_add_callback(struct dma_fence *fence, struct dma_fence_cb *cb,
			   dma_fence_func_t func);
bool dma_fence_remove_callback(struct dma_fence *fence, struct dma_fence_cb *cb);

enum dma_resv_usage {
	DMA_RESV_USAGE_KERNEL,
	DMA_RESV_USAGE_WRITE,
	DMA_RESV_USAGE_READ,
	DMA_RESV_USAGE_BOOKKEEP,
	...
};

/* Take its address with ffi.addressof(lib, "reservation_ww_class"). */
extern struct ww_class reservation_ww_class;

struct dma_resv {
	struct ww_mutex lock;
	struct dma_fence **fences;
	enum dma_resv_usage *usages;
	unsigned int num_fences;
	unsigned int num_reserved;
	unsigned int max_fences;
};

void dma_resv_init(struct dma_resv *obj);
void dma_resv_fini(struct dma_resv *obj);
int dma_resv_lock(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
int dma_resv_lock_interruptible(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
void dma_resv_lock_slow(struct dma_resv *obj, struct ww_acquire_ctx *ctx);
bool dma_resv_trylock(struct dma_resv *obj);
void dma_resv_unlock(struct dma_resv *obj);
bool dma_resv_is_locked(const struct dma_resv *obj);
bool dma_resv_held(const struct dma_resv *obj);
void dma_resv_assert_held(const struct dma_resv *obj);
int dma_resv_reserve_fences(struct dma_resv *obj, unsigned int num_fences);
void dma_resv_add_fence(struct dma_resv *obj, struct dma_fence *fence,
			enum dma_resv_usage usage);
unsigned int dma_resv_fence_count(struct dma_resv *obj, enum dma_resv_usage usage);
bool dma_resv_test_signaled(struct dma_resv *obj, enum dma_resv_usage usage);
long dma_resv_wait_timeout(struct dma_resv *obj, enum dma_resv_usage usage, bool intr,
			   long timeout_ns);
