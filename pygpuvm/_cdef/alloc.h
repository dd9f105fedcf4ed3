/* cffi declarations: the counting, failure-injecting allocator (csrc/include/linux/slab.h). */

void *kzalloc(size_t size);
void *kmalloc(size_t size);
void *krealloc(void *ptr, size_t size);
void kfree(const void *ptr);

void gpuvm_alloc_fail_nth(unsigned long n);
unsigned long gpuvm_alloc_count(void);
long gpuvm_alloc_live(void);
unsigned long gpuvm_alloc_failures(void);
