/* cffi declarations: the counting, failure-injecting allocator (csrc/include/linux/slab.h). */

void *kzalloc(size_t size, gfp_t flags);
void *kmalloc(size_t size, gfp_t flags);
void *krealloc(const void *ptr, size_t new_size, gfp_t flags);
void kfree(const void *ptr);
void kfree_sensitive(const void *ptr);
void *kmemdup(const void *src, size_t len, gfp_t gfp);
char *kstrdup(const char *s, gfp_t gfp);
void *kmalloc_array(size_t n, size_t size, gfp_t flags);
void *kcalloc(size_t n, size_t size, gfp_t flags);
void *krealloc_array(void *p, size_t new_n, size_t new_size, gfp_t flags);
void *kvmalloc(size_t size, gfp_t flags);
void *kvzalloc(size_t size, gfp_t flags);
void *kvmalloc_array(size_t n, size_t size, gfp_t flags);
void *kvcalloc(size_t n, size_t size, gfp_t flags);
void kvfree(const void *addr);

void gpuvm_alloc_fail_nth(unsigned long n);
unsigned long gpuvm_alloc_count(void);
long gpuvm_alloc_live(void);
unsigned long gpuvm_alloc_failures(void);
