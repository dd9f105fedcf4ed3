"""pygpuvm: a userspace port of the Linux kernel's DRM GPU VA manager (drm_gpuvm).

The classes::

    vm = pygpuvm.VM(start=0, range=1 << 48, reserve=(0, 0x1000))
    bo = pygpuvm.GemObject(size=1 << 21, name="A")
    ops = vm.map(0x1000, 0x4000, bo, 0)      # sm_map + apply; returns the ops
    print(ops)                               # map 0x1000 0x4000 A 0x0

The raw C API (every function, struct, flag and errno under its C name) is in
:mod:`pygpuvm.raw`: ``from pygpuvm.raw import ffi, lib``.

Kernel WARNs of the C core surface as :class:`GpuvmWarning`; C errors raise
:class:`GpuvmError` subclasses carrying ``errno``. Zero-sized requests, which
the kernel accepts, are refused by the classes (see :mod:`pygpuvm.vm`).
"""

import os as _os

# One version source: pygpuvm/VERSION, which meson.build's project() reads too.
with open(_os.path.join(_os.path.dirname(__file__), "VERSION"), encoding="ascii") as _f:
    __version__ = _f.read().strip()

try:
    from . import _gpuvm  # noqa: F401  (the compiled cffi extension)
except ImportError as _exc:
    # The source checkout's pygpuvm/ has no compiled extension. It is what
    # Python finds first when started in the repository root (the current
    # directory comes first on sys.path) without an editable install.
    _here = _os.path.dirname(_os.path.abspath(__file__))
    if _os.path.isfile(_os.path.join(_here, "_gpuvm.csrc.c")):
        raise ImportError(
            f"pygpuvm was imported from its source directory {_here}, which has no "
            "compiled extension. Install it (pip install .) and run Python from another "
            "directory, or use an editable install (pip install --no-build-isolation -e .)."
        ) from _exc
    raise

from . import _callbacks  # noqa: F401  (installs the WARN hook and the C callbacks)
from .batch import Batch, BatchResult
from .errors import (
    AlreadyLockedError,
    DeadlockError,
    DetachedError,
    GpuvmError,
    GpuvmWarning,
    InterruptedWaitError,
    InvalidRangeError,
    NotFoundError,
    NotSupportedError,
    OutOfMemoryError,
    OverlapError,
    StaleOpsError,
    VMBusyError,
    error_from_errno,
)
from .exec import Exec, ResvObject
from .fence import Fence, ResvUsage
from .gem import GemObject
from .ops import MapOp, Op, Ops, Piece, PrefetchOp, RemapOp, UnmapOp
from .va import Va
from .vm import VM
from .vm_bo import VmBo

__all__ = [
    "VM",
    "GemObject",
    "Va",
    "VmBo",
    "Ops",
    "Op",
    "MapOp",
    "RemapOp",
    "UnmapOp",
    "PrefetchOp",
    "Piece",
    "Batch",
    "BatchResult",
    "Exec",
    "ResvObject",
    "Fence",
    "ResvUsage",
    "GpuvmError",
    "InvalidRangeError",
    "OverlapError",
    "OutOfMemoryError",
    "DeadlockError",
    "AlreadyLockedError",
    "NotFoundError",
    "NotSupportedError",
    "InterruptedWaitError",
    "StaleOpsError",
    "DetachedError",
    "VMBusyError",
    "GpuvmWarning",
    "error_from_errno",
]
