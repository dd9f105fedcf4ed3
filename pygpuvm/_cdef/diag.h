/* cffi declarations: diagnostics (csrc/include/linux/bug.h). */

typedef void (*gpuvm_warn_fn)(const char *file, int line, const char *msg, void *data);

void gpuvm_warn(const char *file, int line, const char *fmt, ...);
unsigned long gpuvm_warn_count(void);
void gpuvm_set_warn_hook(gpuvm_warn_fn fn, void *data);
/* Deferred WARNs: queued per thread, popped after the C call (see linux/bug.h). */
void gpuvm_warn_queue(bool on);
extern unsigned long gpuvm_warn_nqueued;
int gpuvm_warn_pop(const char **file, int *line, char *msg, size_t size);
/* Prints and aborts the process: only for demonstrating fatal checks. */
void gpuvm_bug(const char *file, int line, const char *fmt, ...);
