"""Raw cffi bindings of the C core: ``ffi`` and ``lib`` of the ``pygpuvm._gpuvm`` extension.

Everything declared in ``pygpuvm/_cdef/*.h`` is reachable as ``lib.<name>``.
"""

from ._gpuvm import ffi, lib

__all__ = ["ffi", "lib"]
