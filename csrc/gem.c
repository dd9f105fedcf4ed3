/* placeholder: written by another engineer */
typedef int placeholder_gem_t;
