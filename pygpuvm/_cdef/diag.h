/* cdef for diag: placeholder, written by another engineer */
