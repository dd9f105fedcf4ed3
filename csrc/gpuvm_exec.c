/* placeholder: written by another engineer */
typedef int placeholder_gpuvm_exec_t;
