/* cdef for vm_bo: placeholder, written by another engineer */
