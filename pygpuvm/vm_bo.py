"""vm_bos: the unique association of a VM and a GEM object.

A :class:`VmBo` owns one reference on its ``struct drm_gpuvm_bo``, released
through ``gpuvm_driver_bo_put`` (the plain, internally locking
``drm_gpuvm_bo_put``, with the VM resv held in RESV_PROTECTED mode), so the
last put can never free a lock its caller holds. It keeps its VM and GEM
wrappers alive. Closing the VM releases the reference early and detaches it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from . import _callbacks  # noqa: F401  (C callbacks and the WARN hook)
from . import _records
from ._gpuvm import ffi, lib
from ._util import gc_hold, gc_release, no_copy, retry
from .errors import DetachedError, VMBusyError

if TYPE_CHECKING:
    from ._gpuvm import CData
    from .gem import GemObject
    from .va import Va
    from .vm import VM

__all__ = ["VmBo"]


@no_copy
class VmBo:
    """The vm_bo of ``obj`` in ``vm`` (see :meth:`pygpuvm.VM.obtain`)."""

    __slots__ = ("_vm", "_ptr", "obj", "__weakref__")

    def __init__(self, vm: VM, ptr: Any, obj: GemObject) -> None:
        # @ptr carries a reference that this object now owns.
        self._vm = vm
        self._ptr: CData | None = ffi.gc(ptr, lib.gpuvm_driver_bo_put)
        self.obj = obj

    @property
    def vm(self) -> VM:
        return self._vm

    @property
    def detached(self) -> bool:
        return self._ptr is None

    def _live(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            raise DetachedError("vm_bo released (its VM was closed)")
        return ptr

    def _release(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            ffi.release(ptr)

    @property
    def vas(self) -> list[Va]:
        """The VAs linked to this vm_bo, in link order (docs/trace-format.md ``bova`` order)."""
        with self._vm._locked():
            ptr = self._live()
            gc_hold()
            try:
                n, arr = retry(partial(lib.pygpuvm_vm_bo_va_recs, ptr), 16,
                               lambda m: ffi.new("u64[]", max(1, m) * _records.VA_W))
                return _records.vas(self._vm, arr, n)
            finally:
                gc_release()

    @property
    def evicted(self) -> bool:
        """``drm_gpuvm_bo.evicted``: the last value given to :meth:`evict`."""
        with self._vm._lock:
            return bool(self._live().evicted)

    def evict(self, evict: bool = True) -> None:
        """``drm_gpuvm_bo_evict()`` with the GEM's resv held, as the kernel requires.

        In RESV_PROTECTED mode an *external* object's vm_bo only records the
        flag; it joins :attr:`pygpuvm.VM.evicted_bos` at the next
        ``drm_gpuvm_prepare_objects()`` (kernel behaviour).
        """
        with self._vm._locked():
            walk = self._vm._validating
            if walk is not None and (evict or walk.current is not self):
                raise VMBusyError(
                    "evict() during a validate walk of this VM: the walk is iterating over "
                    "the evict list, so only evict(False) of the vm_bo given to the callback "
                    "is allowed")
            lib.gpuvm_driver_bo_evict(self._live(), bool(evict))

    # The reads below take the VM lock (not only the C lock they need): a close()
    # of the VM in another thread releases this wrapper's reference under that
    # lock, so it cannot free the vm_bo between _live() and the C read.

    @property
    def on_extobj_list(self) -> bool:
        with self._vm._lock:
            return bool(lib.gpuvm_driver_bo_on_extobj_list(self._live()))

    @property
    def on_evict_list(self) -> bool:
        with self._vm._lock:
            return bool(lib.gpuvm_driver_bo_on_evict_list(self._live()))

    @property
    def refcount(self) -> int:
        """The C reference count (this object's reference included)."""
        with self._vm._lock:
            return int(lib.pygpuvm_vm_bo_refcount(self._live()))

    def __repr__(self) -> str:
        state = " detached" if self._ptr is None else ""
        return f"<VmBo {self.obj.name} in {self._vm.name}{state}>"
