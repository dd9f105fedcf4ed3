"""GEM objects: the buffers that VAs map.

A :class:`GemObject` owns one C reference on its ``struct drm_gem_object``
(released by :func:`ffi.gc` with ``drm_gem_object_put``); vm_bos and the VMs
hold their own references, so the C object outlives the Python one as long as
it is mapped. The same C object always comes back as the same Python object
while that object is alive (a process-wide weak registry keyed by address).
"""

from __future__ import annotations

import itertools
import threading
from functools import partial
from typing import TYPE_CHECKING, Any

from . import _callbacks  # noqa: F401  (C callbacks and the WARN hook)
from ._gpuvm import ffi, lib
from ._util import WeakCache, addr_of, no_copy, retry, u64
from .errors import OutOfMemoryError

if TYPE_CHECKING:
    from .vm import VM
    from .vm_bo import VmBo

__all__ = ["GemObject"]

_names = itertools.count()
# Address -> wrapper. Lookups read _gems without the lock (one dict access);
# creating a wrapper takes the lock, so two threads cannot make two.
_registry: WeakCache[GemObject] = WeakCache()
_gems = _registry.data
_registry_lock = threading.Lock()


@no_copy
class GemObject:
    """A GEM object of ``size`` bytes with its own reservation object.

    Mapped into a VM it is an *external* object of that VM (it goes on the
    VM's extobj list). Objects that share a VM's reservation object (private
    objects) come from :meth:`pygpuvm.VM.new_private_object`.

    ``name`` labels the object in op and trace text (``bo<N>`` by default).
    The name lives on this Python object: if it is dropped while the C object
    stays alive (still mapped), the object comes back from ``va.obj`` or an
    op as a new wrapper with a generated name.
    """

    __slots__ = ("_ptr", "_key", "name", "size", "_vm", "__weakref__")

    def __init__(self, size: int = 0, name: str | None = None) -> None:
        self._init(size, name, None)

    def _init(self, size: int, name: str | None, vm: VM | None) -> None:
        size = u64("size", size)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        resv_obj = vm._r_obj() if vm is not None else ffi.NULL
        ptr = lib.drm_gem_object_create(ffi.NULL, size, resv_obj)
        if ptr == ffi.NULL:
            raise OutOfMemoryError("drm_gem_object_create")
        self._ptr = ffi.gc(ptr, lib.drm_gem_object_put)
        self._key = addr_of(ptr)
        self.name = name if name is not None else f"bo{next(_names)}"
        self.size = size
        # A private object keeps its VM's wrapper alive (child -> parent).
        self._vm = vm
        with _registry_lock:
            _registry.put(self._key, self)

    @classmethod
    def _from_ptr(cls, ptr: Any) -> GemObject | None:
        """The wrapper of a C object this caller knows to be alive (borrowed)."""
        if ptr == ffi.NULL:
            return None
        return gem_from_addr(addr_of(ptr))

    @property
    def refcount(self) -> int:
        """The C reference count (this object's own reference included)."""
        return int(lib.pygpuvm_gem_refcount(self._ptr))

    @property
    def private_vm(self) -> VM | None:
        """The VM whose reservation object this object shares, or None."""
        return self._vm

    @property
    def vm_bos(self) -> list[VmBo]:
        """Snapshot of this object's vm_bos, one per VM it is mapped in or obtained by.

        Taken under the object's gpuva lock; each returned :class:`VmBo` owns a
        reference. vm_bos of closed VMs are not listed.
        """
        from .vm import VM

        out: list[VmBo] = []
        n, arr = retry(partial(lib.gpuvm_driver_gem_vm_bos, self._ptr), 8,
                       lambda m: ffi.new("struct drm_gpuvm_bo *[]", max(1, m)))
        for i in range(n):
            vm = VM._from_ptr(arr[i].vm)
            if vm is None:
                lib.gpuvm_driver_bo_put(arr[i])
                continue
            wrapped = vm._adopt_vm_bo(arr[i])
            if wrapped is not None:
                out.append(wrapped)
        return out

    def __repr__(self) -> str:
        return f"<GemObject {self.name} size={self.size:#x}>"


def gem_from_addr(key: int) -> GemObject | None:
    """The wrapper of the C object at ``key`` (0: None), which the caller knows to be
    alive (borrowed: mapped by a VA of a locked VM, or held for the call)."""
    if not key:
        return None
    r = _gems.get(key)
    if r is not None:
        obj = r()
        if obj is not None:
            return obj
    with _registry_lock:
        obj = _registry.get(key)
        if obj is not None:
            return obj
        ptr = ffi.cast("struct drm_gem_object *", key)
        # Wrapping a borrowed pointer: take our own reference first.
        lib.drm_gem_object_get(ptr)
        obj = GemObject.__new__(GemObject)
        obj._ptr = ffi.gc(ptr, lib.drm_gem_object_put)
        obj._key = key
        obj.name = f"bo{next(_names)}"
        obj.size = int(ptr.size)
        obj._vm = None
        _registry.put(key, obj)
        return obj
