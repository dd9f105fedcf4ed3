/* cdef for alloc: placeholder, written by another engineer */
