/* cdef for gem: placeholder, written by another engineer */
