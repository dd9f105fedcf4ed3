/* cdef for pyhelpers: placeholder, written by another engineer */
