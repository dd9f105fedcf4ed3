/* cdef for lock: placeholder, written by another engineer */
