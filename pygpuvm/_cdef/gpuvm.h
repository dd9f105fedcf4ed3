/* cdef for gpuvm: placeholder, written by another engineer */
