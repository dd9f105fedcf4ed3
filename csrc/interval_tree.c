/* placeholder: written by another engineer */
typedef int placeholder_interval_tree_t;
