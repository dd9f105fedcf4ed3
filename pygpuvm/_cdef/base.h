/* cdef for base: placeholder, written by another engineer */
