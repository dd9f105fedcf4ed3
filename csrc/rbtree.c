/* placeholder: written by another engineer */
typedef int placeholder_rbtree_t;
