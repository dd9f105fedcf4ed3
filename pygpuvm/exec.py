"""Locking a VM's reservation objects: drm_exec transactions, validate, fences.

An :class:`Exec` is one ``struct drm_gpuvm_exec`` transaction. Three kinds,
made by the VM's methods (see each for details)::

    with vm.exec_lock(num_fences=1, objects=[bo]) as ex:   # VM resv + extobjs + bo
        vm.validate(ex, fn)                                 # evicted vm_bos -> fn(vm_bo)
        ex.add_fence(fence)                                 # every locked object

    with vm.exec_lock_range(addr, range) as ex:             # only objects mapped there
        ...

    with vm.bind_lock([("map", addr, range, bo, offset),    # VM_BIND: everything the
                       ("unmap", addr2, range2)]) as ex:    # binds will touch
        vm.map(addr, range, bo, offset)                     # (or ex.bind())
        vm.unmap(addr2, range2)
        ex.add_fence(fence)

Each kind locks in ONE C call: the retry-until-all-locked loop of drm_exec
runs in C, without the GIL, under a ww acquire context. Contention with
other threads (or C code) is resolved there by wait-die back-off; the number
of back-offs is :attr:`Exec.backoffs`.

Lock order and deadlock safety. Taking an exec lock first takes the VM's
Python lock (the lock every VM method takes, see :mod:`pygpuvm.vm`), then the
reservation objects; both are held until the ``with`` block ends (also when it
ends with an exception). Hence, for a Python user:

* Inside the block the same thread may call every method of that VM. The
  internally locking paths (``vm.map``, ``vm.unmap``, ``vm_bo.evict``, ...)
  see that the thread already holds a resv and use it as is (C rule:
  csrc/gpuvm/gem_gpuva_lock.h), and the VM lock is reentrant.
* Other threads block on that VM until the block ends, so the set of objects
  a :meth:`~pygpuvm.VM.bind_lock` walk found cannot change before the binds
  are applied: the walk and the maps run under one hold of the VM lock.
* Threads locking different VMs that share objects meet only at the
  reservation objects, inside C, where wait-die cannot deadlock.
* One transaction per thread: locking a second one while holding one raises
  RuntimeError (it would take a VM lock while holding resvs, the inverse of
  the order above).
* Inside a block, touch only objects the block locked. Locking anything
  else (a plain lock: another VM's methods, ``fence_count`` of an unlocked
  object, a ``vm.map`` of an object the block did not lock) waits outside
  the ww protocol and can deadlock against a transaction that waits for
  this thread's locks. :meth:`~pygpuvm.VM.bind_lock` exists to lock exactly
  what the binds touch.
* Objects private to a VM (sharing its resv) belong in that VM's
  transactions only. The internally locking paths of a RESV_PROTECTED VM
  hold its resv while taking object resvs with plain locks; a transaction of
  another VM that locked one of those objects and waits for that VM's resv
  would wait for them forever.

A transaction belongs to the thread that locked it (ww contexts are per
thread): using or unlocking it from another thread raises RuntimeError. A
locked :class:`Exec` is kept alive by this module until it is unlocked, so
its C state never dangles; forgetting to unlock leaves its locks held.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Callable

from . import _callbacks
from ._gpuvm import ffi, lib
from ._util import no_copy, u64
from .errors import DetachedError, error_from_errno
from .fence import Fence, ResvUsage, _usage
from .gem import GemObject

if TYPE_CHECKING:
    from .ops import Ops
    from .vm import VM
    from .vm_bo import VmBo

__all__ = ["Exec", "ResvObject", "exec_lock", "exec_lock_range", "bind_lock", "validate"]

_OP_MAP = int(lib.GPUVM_BIND_MAP)
_OP_UNMAP = int(lib.GPUVM_BIND_UNMAP)

_tls = threading.local()
# Strong references to every locked Exec: its C acquire context is named by
# the locks it holds, so it must not be freed before they are released.
_held: set[Exec] = set()
_held_lock = threading.Lock()


def _held_by_this_thread() -> Exec | None:
    return getattr(_tls, "held", None)


class ResvObject:
    """A locked object without a :class:`~pygpuvm.GemObject`: a VM's resv object.

    The VM's reservation object (``drm_gpuvm_resv_obj``) is what
    ``drm_gpuvm_prepare_vm`` locks; private objects share its resv and, being
    duplicates, do not appear in :attr:`Exec.locked_objects` themselves.
    """

    __slots__ = ("vm",)

    def __init__(self, vm: VM) -> None:
        self.vm = vm

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResvObject) and other.vm is self.vm

    def __hash__(self) -> int:
        return hash((ResvObject, id(self.vm)))

    def __repr__(self) -> str:
        return f"<ResvObject of VM {self.vm.name!r}>"


def _gem_list(objects: Iterable[Any]) -> list[GemObject]:
    if isinstance(objects, GemObject):
        raise TypeError("objects must be a sequence of GemObject, not one GemObject")
    out = list(objects)
    for obj in out:
        if not isinstance(obj, GemObject):
            raise TypeError(f"objects must be GemObjects, not {type(obj).__name__}")
    return out


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 16:
        raise ValueError(f"{name} must be an int in [0, 65536)")
    return value


@no_copy
class Exec:
    """One drm_exec transaction over a VM's reservation objects.

    Made by :meth:`pygpuvm.VM.exec_lock`, :meth:`~pygpuvm.VM.exec_lock_range`
    and :meth:`~pygpuvm.VM.bind_lock`; locked on ``with`` entry (or
    :meth:`lock`), unlocked on exit (or :meth:`unlock`). May be locked again
    after an unlock.
    """

    __slots__ = ("_vm", "kind", "num_fences", "flags", "_objects", "_range", "_binds",
                 "_lock_vm", "_vm_exec", "_vmp", "_owner", "__weakref__")

    def __init__(self, vm: VM, kind: str, *, num_fences: int, interruptible: bool,
                 ignore_duplicates: bool, objects: Sequence[GemObject] = (),
                 range_: tuple[int, int] | None = None,
                 binds: list[tuple[Any, ...]] | None = None, lock_vm: bool = True) -> None:
        self._vm = vm
        self.kind = kind
        self.num_fences = _count("num_fences", num_fences)
        flags = 0
        if interruptible:
            flags |= int(lib.DRM_EXEC_INTERRUPTIBLE_WAIT)
        if ignore_duplicates:
            flags |= int(lib.DRM_EXEC_IGNORE_DUPLICATES)
        self.flags = flags
        self._objects = objects
        self._range = range_
        self._binds = binds or []
        self._lock_vm = bool(lock_vm)
        self._vm_exec: Any = ffi.new("struct drm_gpuvm_exec *")
        self._vmp: Any = None
        self._owner: int | None = None

    # ------------------------------------------------------------ state

    @property
    def vm(self) -> VM:
        return self._vm

    @property
    def locked(self) -> bool:
        return self._owner is not None

    @property
    def backoffs(self) -> int:
        """Passes the last locking restarted because of contention (``num_backoffs``)."""
        return int(self._vm_exec.exec.num_backoffs)

    def _check_owner(self) -> None:
        if self._owner is None:
            raise RuntimeError("the exec transaction is not locked")
        if self._owner != threading.get_ident():
            raise RuntimeError("the exec transaction belongs to another thread")

    @property
    def _exec(self) -> Any:
        return ffi.addressof(self._vm_exec, "exec")

    @property
    def locked_objects(self) -> list[GemObject | ResvObject]:
        """The objects locked, in locking order (``drm_exec_for_each_locked_object``).

        The VM's own reservation object appears as a :class:`ResvObject`.
        """
        self._check_owner()
        ex = self._vm_exec.exec
        r_obj = self._vmp.r_obj
        out: list[GemObject | ResvObject] = []
        for ptr in ffi.unpack(ex.objects, int(ex.num_objects)):
            if ptr == r_obj:
                out.append(ResvObject(self._vm))
            else:
                out.append(GemObject._from_ptr(ptr))  # type: ignore[arg-type]
        return out

    def is_locked(self, obj: GemObject) -> bool:
        """True if this thread holds ``obj``'s reservation object (``dma_resv_held``)."""
        if not isinstance(obj, GemObject):
            raise TypeError(f"expected a GemObject, not {type(obj).__name__}")
        return bool(lib.dma_resv_held(obj._ptr.resv))

    # ------------------------------------------------------------ locking

    def lock(self) -> Exec:
        """Take the VM's Python lock, then every reservation object of this transaction.

        Errors (:class:`~pygpuvm.InvalidRangeError` from a bind walk,
        :class:`~pygpuvm.AlreadyLockedError` for a duplicate without
        ``ignore_duplicates``, :class:`~pygpuvm.OutOfMemoryError`) leave
        nothing locked.
        """
        if self._owner is not None:
            raise RuntimeError("the exec transaction is already locked")
        if _held_by_this_thread() is not None:
            raise RuntimeError("this thread already holds an exec transaction; "
                               "unlock it before locking another one")
        vm = self._vm
        vmp = vm._enter()
        try:
            self._lock_c(vmp)
        except BaseException:
            vm._lock.release()
            raise
        self._owner = threading.get_ident()
        _tls.held = self
        with _held_lock:
            _held.add(self)
        try:
            _callbacks.raise_pending()
        except BaseException:
            self.unlock()
            raise
        return self

    def _lock_c(self, vmp: Any) -> None:
        vm_exec = self._vm_exec
        vm_exec.vm = vmp
        vm_exec.flags = self.flags
        vm_exec.num_fences = self.num_fences
        vm_exec.extra.fn = ffi.NULL
        vm_exec.extra.priv = ffi.NULL
        # A closed VM must stay valid until the transaction (which names it) ends.
        lib.drm_gpuvm_get(vmp)
        ret = -errno.ENOMEM
        try:
            if self.kind == "range":
                addr, range_ = self._range  # type: ignore[misc]
                ret = lib.drm_gpuvm_exec_lock_range(vm_exec, addr, range_)
            elif self.kind == "bind":
                ret = self._lock_bind(vm_exec)
            elif self._objects:
                arr = ffi.new("struct drm_gem_object *[]", [o._ptr for o in self._objects])
                if self.num_fences:
                    ret = lib.drm_gpuvm_exec_lock_array(vm_exec, arr, len(self._objects))
                else:
                    # drm_gpuvm_exec_lock_array() reserves 0 slots on the objects,
                    # a kernel WARN that fails the lock (EINVAL). The driver layer's
                    # bind locking without binds locks the same, in the same order.
                    ret = lib.gpuvm_driver_exec_lock_binds(vm_exec, ffi.NULL, 0, True, arr,
                                                           len(self._objects))
            else:
                ret = lib.drm_gpuvm_exec_lock(vm_exec)
        finally:
            if ret:
                lib.drm_gpuvm_put(vmp)
        if ret:
            raise error_from_errno(ret, f"{self.kind} lock")
        self._vmp = vmp

    def _lock_bind(self, vm_exec: Any) -> int:
        binds = self._binds
        cops = ffi.new("struct gpuvm_bind_req[]", max(len(binds), 1))
        for i, b in enumerate(binds):
            c = cops[i]
            c.addr, c.range = b[1], b[2]
            if b[0] == "map":
                c.op = _OP_MAP
                c.obj = b[3]._ptr if b[3] is not None else ffi.NULL
                c.offset = b[4]
            else:
                c.op = _OP_UNMAP
        objs = ffi.new("struct drm_gem_object *[]", [o._ptr for o in self._objects] or 1)
        return lib.gpuvm_driver_exec_lock_binds(vm_exec, cops, len(binds), self._lock_vm, objs,
                                                len(self._objects))

    def unlock(self) -> None:
        """Release every reservation object, then the VM's Python lock. Idempotent."""
        if self._owner is None:
            return
        self._check_owner()
        vmp, self._vmp = self._vmp, None
        lib.drm_gpuvm_exec_unlock(self._vm_exec)
        self._vm_exec.vm = ffi.NULL
        # After the unlock: the last VM reference frees the VM, resv object included.
        lib.drm_gpuvm_put(vmp)
        self._owner = None
        _tls.held = None
        with _held_lock:
            _held.discard(self)
        self._vm._lock.release()
        _callbacks.raise_pending()

    def __enter__(self) -> Exec:
        return self.lock()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.unlock()
            return
        # Unlock even if a pending WARN exception would be raised: the block's
        # own exception is the one to propagate.
        try:
            self.unlock()
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------ use

    def add_fence(self, fence: Fence, private_usage: int = ResvUsage.BOOKKEEP,
                  extobj_usage: int = ResvUsage.BOOKKEEP) -> None:
        """``drm_gpuvm_resv_add_fence``: add ``fence`` to every locked object.

        External objects of this VM get it with ``extobj_usage``, everything
        else (the VM resv, which private objects share, and locked objects
        foreign to the VM) with ``private_usage``. Each object
        needs a reserved slot (``num_fences``); adding without one is a kernel
        WARN (:class:`~pygpuvm.GpuvmWarning`) and that object is skipped.
        """
        if not isinstance(fence, Fence):
            raise TypeError(f"expected a Fence, not {type(fence).__name__}")
        p = _usage("private_usage", private_usage)
        e = _usage("extobj_usage", extobj_usage)
        self._check_owner()
        lib.drm_gpuvm_resv_add_fence(self._vmp, self._exec, fence._ptr, p, e)
        _callbacks.raise_pending()

    def validate(self, fn: Callable[[VmBo], int | None] | None = None) -> None:
        """``vm.validate(self, fn)``: see :meth:`pygpuvm.VM.validate`."""
        validate(self._vm, self, fn)

    def bind(self) -> list[Ops]:
        """Apply the binds of a :meth:`~pygpuvm.VM.bind_lock` in order (``vm.map`` /
        ``vm.unmap``); returns their ops. Stops at the first error."""
        if self.kind != "bind":
            raise ValueError("bind() needs a transaction made by VM.bind_lock")
        self._check_owner()
        out = []
        for b in self._binds:
            if b[0] == "map":
                out.append(self._vm.map(b[1], b[2], b[3], b[4]))
            else:
                out.append(self._vm.unmap(b[1], b[2]))
        return out

    def __repr__(self) -> str:
        if self._owner is None:
            state = "unlocked"
        else:
            state = f"locked {int(self._vm_exec.exec.num_objects)} objects"
        return f"<Exec {self.kind} {self._vm.name!r} {state} backoffs={self.backoffs}>"


# ---------------------------------------------------------------- constructors


def exec_lock(vm: VM, num_fences: int = 1, objects: Iterable[GemObject] = (),
              interruptible: bool = False, ignore_duplicates: bool = True) -> Exec:
    """See :meth:`pygpuvm.VM.exec_lock`."""
    return Exec(vm, "vm", num_fences=num_fences, interruptible=interruptible,
                ignore_duplicates=ignore_duplicates, objects=_gem_list(objects))


def exec_lock_range(vm: VM, addr: int, range: int, num_fences: int = 1,
                    interruptible: bool = False, ignore_duplicates: bool = True) -> Exec:
    """See :meth:`pygpuvm.VM.exec_lock_range`."""
    return Exec(vm, "range", num_fences=num_fences, interruptible=interruptible,
                ignore_duplicates=ignore_duplicates,
                range_=(u64("addr", addr), u64("range", range)))


def _parse_binds(binds: Iterable[Any]) -> list[tuple[Any, ...]]:
    from .vm import _gem_arg, _request

    out: list[tuple[Any, ...]] = []
    for b in binds:
        if not isinstance(b, tuple) or not b:
            raise TypeError("a bind is a tuple ('map', addr, range[, obj[, offset]]) "
                            "or ('unmap', addr, range)")
        kind = b[0]
        if kind == "map":
            if not 3 <= len(b) <= 5:
                raise TypeError("a map bind is ('map', addr, range[, obj[, offset]])")
            addr, range_ = _request(b[1], b[2], "map")
            obj = b[3] if len(b) > 3 else None
            _gem_arg(obj)
            offset = u64("offset", b[4]) if len(b) > 4 else 0
            out.append(("map", addr, range_, obj, offset))
        elif kind == "unmap":
            if len(b) != 3:
                raise TypeError("an unmap bind is ('unmap', addr, range)")
            addr, range_ = _request(b[1], b[2], "unmap")
            out.append(("unmap", addr, range_))
        else:
            raise ValueError(f"unknown bind kind {kind!r} (expected 'map' or 'unmap')")
    return out


def bind_lock(vm: VM, binds: Iterable[Any], num_fences: int = 1, lock_vm: bool = True,
              objects: Iterable[GemObject] = (), interruptible: bool = False) -> Exec:
    """See :meth:`pygpuvm.VM.bind_lock`."""
    return Exec(vm, "bind", num_fences=num_fences, interruptible=interruptible,
                ignore_duplicates=True, objects=_gem_list(objects), binds=_parse_binds(binds),
                lock_vm=lock_vm)


# ---------------------------------------------------------------- validate


def validate(vm: VM, ex: Exec | None = None,
             fn: Callable[[VmBo], int | None] | None = None) -> None:
    """See :meth:`pygpuvm.VM.validate`."""
    from .errors import VMBusyError
    from .vm import _ValidatePayload

    if vm._validating is not None and vm._lock._is_owned():  # type: ignore[attr-defined]
        raise VMBusyError("validate() from a validate callback of the same VM (the C walk "
                          "of its evict list is running)")
    if ex is None:
        held = _held_by_this_thread()
        if held is not None and held._vm is vm:
            ex = held
        else:
            with exec_lock(vm, num_fences=0) as own:
                validate(vm, own, fn)
            return
    if not isinstance(ex, Exec):
        raise TypeError(f"expected an Exec, not {type(ex).__name__}")
    if fn is not None and not callable(fn):
        raise TypeError(f"fn must be callable, not {type(fn).__name__}")
    if ex._vm is not vm:
        raise ValueError("the exec transaction belongs to another VM")
    ex._check_owner()
    vmp = vm._ptr
    if vmp is None:
        raise DetachedError(f"VM {vm.name!r} is closed")
    if vm.resv_protected and not lib.dma_resv_held(vmp.r_obj.resv):
        raise ValueError("validate on a RESV_PROTECTED VM needs the VM resv locked "
                         "(exec_lock, or bind_lock with lock_vm=True)")
    payload = _ValidatePayload(vm, fn if fn is not None else (lambda vm_bo: None))
    handle = ffi.new_handle(payload)
    lib.pygpuvm_vm_set_handle(vmp, handle)
    vm._validating = payload
    try:
        ret = lib.drm_gpuvm_validate(vmp, ex._exec)
    finally:
        vm._validating = None
        lib.pygpuvm_vm_set_handle(vmp, ffi.NULL)
    payload.reraise()
    if ret:
        raise error_from_errno(ret, "validate")
    _callbacks.raise_pending()

