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
