/* placeholder: written by another engineer */
typedef int placeholder_dma_resv_t;
