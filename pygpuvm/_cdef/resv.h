/* cdef for resv: placeholder, written by another engineer */
