/*
 * cffi declarations: owner-aware mutexes, spinlocks and wound/wait mutexes
 * (csrc/include/linux/{mutex,ww_mutex}.h). pthread and atomic members are left
 * to the compiler (`...`).
 */

uintptr_t gpuvm_current_thread(void);

struct mutex {
	...;
};
void mutex_init(struct mutex *lock);
void mutex_destroy(struct mutex *lock);
void mutex_lock(struct mutex *lock);
bool mutex_trylock(struct mutex *lock);
void mutex_unlock(struct mutex *lock);
int mutex_lock_interruptible(struct mutex *lock);
int mutex_lock_killable(struct mutex *lock);
bool mutex_is_locked(const struct mutex *lock);
bool mutex_held_by_me(const struct mutex *lock);

typedef struct {
	...;
} spinlock_t;
void spin_lock_init(spinlock_t *lock);
void spin_lock_destroy(spinlock_t *lock);
void spin_lock(spinlock_t *lock);
void spin_unlock(spinlock_t *lock);
bool spin_is_held_by_me(const spinlock_t *lock);

struct ww_class {
	const char *name;
	...;
};

struct ww_acquire_ctx {
	struct ww_class *ww_class;
	u64 stamp;
	unsigned int acquired;
	uintptr_t thread;
	bool done;
	unsigned long deadlocks;
	...;
};

struct ww_mutex {
	struct ww_class *ww_class;
	...;
};

void ww_mutex_init(struct ww_mutex *lock, struct ww_class *ww_class);
void ww_mutex_destroy(struct ww_mutex *lock);
void ww_acquire_init(struct ww_acquire_ctx *ctx, struct ww_class *ww_class);
void ww_acquire_done(struct ww_acquire_ctx *ctx);
void ww_acquire_fini(struct ww_acquire_ctx *ctx);
int ww_mutex_lock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
int ww_mutex_lock_interruptible(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
void ww_mutex_lock_slow(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
bool ww_mutex_trylock(struct ww_mutex *lock, struct ww_acquire_ctx *ctx);
void ww_mutex_unlock(struct ww_mutex *lock);
bool ww_mutex_is_locked(const struct ww_mutex *lock);
bool ww_mutex_held_by_me(const struct ww_mutex *lock);
