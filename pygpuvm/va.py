"""VAs: one mapping of a VM.

The C ``struct drm_gpuva`` belongs to its VM (pygpuvm allocates it when ops
are applied or on :meth:`pygpuvm.VM.insert`, and frees it when it is unmapped).
A :class:`Va` therefore holds its :class:`~pygpuvm.VM` (not the C memory): its
position fields are a snapshot taken when the wrapper was made (they never
change while the VA is mapped), and everything else is read from C under the VM
lock, only while the VA is still mapped. When the VA is removed its wrapper is
*detached*: it keeps its snapshot, says ``detached``, and never touches C again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._gpuvm import ffi, lib
from ._util import hexs, no_copy
from .errors import DetachedError

if TYPE_CHECKING:
    from .gem import GemObject
    from .vm import VM
    from .vm_bo import VmBo

__all__ = ["Va"]


@no_copy
class Va:
    """One mapping ``[addr, addr + range)`` of ``obj`` at ``offset`` (or of nothing).

    ``kernel`` is true for the VM's reserved node (it has no object and can
    never be removed). ``end`` is ``addr + range`` as a Python int (no wrap).
    """

    # _key: the C VA's address (the VM's cache key); the cdata pointer is only
    # made when C is touched, which the hot paths (find, iteration) never do.
    __slots__ = ("_vm", "_key", "addr", "range", "offset", "obj", "kernel", "_flags",
                 "_detached", "__weakref__")
    _vm: VM
    _key: int
    addr: int
    range: int
    offset: int
    obj: GemObject | None
    kernel: bool
    _flags: int
    _detached: bool

    def __init__(self, *args: Any) -> None:
        # Wrappers come from their VM (pygpuvm/_records.make_va, one per C VA).
        raise TypeError("Va objects come from a VM (vm.find, vm.vas, iteration, ops)")

    @property
    def _ptr(self) -> Any:
        """The C VA (None once detached); only valid under the VM lock."""
        if self._detached:
            return None
        return ffi.cast("struct drm_gpuva *", self._key)

    @property
    def end(self) -> int:
        return self.addr + self.range

    @property
    def vm(self) -> VM:
        return self._vm

    @property
    def mapped(self) -> bool:
        """True while the VA is in its VM's tree."""
        return not self._detached

    @property
    def detached(self) -> bool:
        """True once the VA was unmapped/removed (or its VM closed)."""
        return self._detached

    @property
    def flags(self) -> int:
        """``enum drm_gpuva_flags`` bits (the last value seen if detached)."""
        with self._vm._lock:
            if not self._detached:
                self._flags = int(self._ptr.flags)
            return self._flags

    @property
    def invalidated(self) -> bool:
        return bool(self.flags & lib.DRM_GPUVA_INVALIDATED)

    def invalidate(self, invalidate: bool = True) -> None:
        """``drm_gpuva_invalidate()``: set or clear DRM_GPUVA_INVALIDATED."""
        with self._vm._lock:
            self._check()
            ptr = self._ptr
            lib.drm_gpuva_invalidate(ptr, bool(invalidate))
            self._flags = int(ptr.flags)

    @property
    def vm_bo(self) -> VmBo | None:
        """The vm_bo this VA is linked to (None without an object or once detached)."""
        with self._vm._lock:
            if self._detached:
                return None
            ptr = self._ptr.vm_bo
            if ptr == ffi.NULL:
                return None
            return self._vm._wrap_vm_bo(ptr)

    def _check(self) -> None:
        if self._detached:
            raise DetachedError(f"{self!r} is no longer mapped")

    def _detach(self) -> None:
        self._detached = True

    def __repr__(self) -> str:
        name = self.obj.name if self.obj is not None else "-"
        state = " kernel" if self.kernel else ""
        state += " detached" if self._detached else ""
        return f"<Va {hexs(self.addr)} {hexs(self.range)} {name} {hexs(self.offset)}{state}>"
