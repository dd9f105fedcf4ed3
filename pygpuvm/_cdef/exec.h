/* cdef for exec: placeholder, written by another engineer */
