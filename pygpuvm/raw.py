"""Raw cffi bindings of the C core: ``ffi`` and ``lib`` of the ``pygpuvm._gpuvm`` extension.

Everything declared in ``pygpuvm/_cdef/*.h`` is reachable as ``lib.<name>``:
every public function, struct, enum, flag and errno of the C API under its C
name, plus the binding helpers of ``_cdef/pyhelpers.h``. Importing this module
also installs the C -> Python callbacks and the WARN hook (C WARNs become
:class:`pygpuvm.GpuvmWarning`).
"""

from . import _callbacks  # noqa: F401  (defines the extern "Python" functions)
from ._gpuvm import ffi, lib

__all__ = ["ffi", "lib"]
