/*
 * cffi declarations: the columnar VA query behind VM.table()
 * (csrc/driver/va_table.h; the caller holds the VM lock).
 */
#define GPUVM_VA_TABLE_COLUMNS 5
#define GPUVM_VA_TABLE_KERNEL 4294967296
size_t gpuvm_va_table_fill(struct drm_gpuvm *gpuvm, u64 first, u64 last, bool skip_kernel,
			   u64 *out, size_t stride);
