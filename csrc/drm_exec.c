/* placeholder: written by another engineer */
typedef int placeholder_drm_exec_t;
