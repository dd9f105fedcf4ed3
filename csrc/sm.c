/* placeholder: written by another engineer */
typedef int placeholder_sm_t;
