"""Raw cffi bindings of the C core: ``ffi`` and ``lib`` of the ``pygpuvm._gpuvm`` extension.

Everything declared in ``pygpuvm/_cdef/*.h`` is reachable as ``lib.<name>``:
every public function, struct, enum, flag and errno of the C API under its C
name, plus the binding helpers of ``_cdef/pyhelpers.h``. Importing this module
also installs the C -> Python callbacks and the WARN hook (C WARNs become
:class:`pygpuvm.GpuvmWarning`).

C WARNs are queued in the thread that raised them and emitted once Python
code may safely run (never inside C, which may hold locks): the classes do
it after each of their calls; after ``lib`` calls, :func:`flush_warnings`
does it (else the next class call, or interpreter exit, does).
"""

from . import _callbacks
from ._gpuvm import ffi, lib

__all__ = ["ffi", "lib", "flush_warnings"]


def flush_warnings() -> None:
    """Emit this thread's queued C WARNs as :class:`pygpuvm.GpuvmWarning` now
    (raising, if a warning filter turns one into an exception)."""
    _callbacks.raise_pending()
