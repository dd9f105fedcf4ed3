/* placeholder: written by another engineer */
typedef int placeholder_vm_bo_t;
