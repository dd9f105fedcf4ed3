/* placeholder: written by another engineer */
typedef int placeholder_ww_mutex_t;
