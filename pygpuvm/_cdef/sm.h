/* cdef for sm: placeholder, written by another engineer */
