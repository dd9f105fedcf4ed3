"""The VM: one GPU address space, as a driver using drm_gpuvm would drive it.

Locking. cffi releases the GIL around every C call, so threads really run in
the C core at the same time. Each :class:`VM` has an ``RLock`` that plays the
driver's VM lock: it serialises every tree operation (find, ops creation,
apply, insert/remove) of that VM. GEM vm_bo lists and the extobj/evict lists
are protected in C (the internally locking functions take the GEM's gpuva lock
themselves; RESV_PROTECTED VMs get their resv taken by the helpers). Lock order:
VM lock, then the VM resv, then GEM resvs, then GEM gpuva mutexes.

Zero-sized requests. The kernel accepts ``range == 0`` (it splits the VA that
spans the address, and inserts a degenerate VA that blocks later inserts;
``pygpuvm replay`` shows exactly that). The classes refuse it: every request
method raises :class:`~pygpuvm.InvalidRangeError` for a zero range. Queries
(``find*``, ``interval_empty``, ``range_valid``) pass it through unchanged, so
the kernel's quirks stay observable there.

Driver callbacks. ``sm_map(..., steps=obj)`` / ``sm_unmap(..., steps=obj)`` run
the kernel's callback walk and call ``obj.sm_step_map(op)``,
``obj.sm_step_remap(op)``, ``obj.sm_step_unmap(op)`` with snapshot ops. A step
returns None or 0 to continue, or a negative errno to stop the walk (which is
then raised as the matching :class:`~pygpuvm.GpuvmError`); an exception stops
the walk and is re-raised from ``sm_map`` with its traceback. Steps observe:
they may record ops, read the VAs they are given and compute, but must not use
the walking VM (its lock is held by the walk): doing so raises
:class:`~pygpuvm.VMBusyError` instead of deadlocking.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

from . import _callbacks
from ._gpuvm import ffi, lib
from ._util import addr_of, hexs, u64
from .errors import (
    DetachedError,
    GpuvmWarning,
    InvalidRangeError,
    OutOfMemoryError,
    StaleOpsError,
    VMBusyError,
    error_from_errno,
)
from .gem import GemObject
from .ops import MapOp, Op, Ops, Piece, PrefetchOp, RemapOp, UnmapOp
from .va import Va
from .vm_bo import VmBo

__all__ = ["VM"]

_vm_registry: weakref.WeakValueDictionary[int, VM] = weakref.WeakValueDictionary()
_vm_registry_lock = threading.Lock()

_OP_MAP = int(lib.DRM_GPUVA_OP_MAP)
_OP_REMAP = int(lib.DRM_GPUVA_OP_REMAP)
_OP_UNMAP = int(lib.DRM_GPUVA_OP_UNMAP)
_OP_PREFETCH = int(lib.DRM_GPUVA_OP_PREFETCH)


class _Locked:
    """``with vm._locked() as ptr``: the VM lock, plus the closed/reentrancy checks."""

    __slots__ = ("_vm",)

    def __init__(self, vm: VM) -> None:
        self._vm = vm

    def __enter__(self) -> Any:
        vm = self._vm
        vm._lock.acquire()
        if vm._walking:
            vm._lock.release()
            raise VMBusyError("the VM is walking (called from a driver callback)")
        if vm._ptr is None:
            vm._lock.release()
            raise DetachedError(f"VM {vm.name!r} is closed")
        return vm._ptr

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._vm._lock.release()
        if exc_type is None:
            _callbacks.raise_pending()


class _StepsPayload(_callbacks.Payload):
    __slots__ = ("vm", "steps", "ops")

    def __init__(self, vm: VM, steps: Any) -> None:
        super().__init__()
        self.vm = vm
        self.steps = steps
        self.ops: list[Op] = []

    def step(self, cop: Any, name: str) -> int:
        rec = ffi.new("struct pygpuvm_op_rec *")
        lib.pygpuvm_op_read(cop, rec)
        op = self.vm._op_from_rec(rec)
        self.ops.append(op)
        ret = getattr(self.steps, name)(op)
        if ret is None:
            return 0
        if isinstance(ret, bool) or not isinstance(ret, int):
            raise TypeError(f"{name} must return None or an int errno, not {type(ret).__name__}")
        return ret


class _ApplyPayload(_callbacks.Payload):
    __slots__ = ("failed",)

    def __init__(self) -> None:
        super().__init__()
        self.failed: list[str] = []

    def insert_failed(self, piece: Any) -> None:
        obj = GemObject._from_ptr(piece.gem.obj)
        name = obj.name if obj is not None else "-"
        self.failed.append(f"insert_failed {hexs(piece.va.addr)} {hexs(piece.va.range)} "
                           f"{name} {hexs(piece.gem.offset)}")


class _ValidatePayload(_callbacks.Payload):
    __slots__ = ("vm", "fn")

    def __init__(self, vm: VM, fn: Any) -> None:
        super().__init__()
        self.vm = vm
        self.fn = fn

    def validate(self, cvm_bo: Any, exec_: Any) -> int:
        vm_bo = self.vm._wrap_vm_bo(cvm_bo)
        ret = self.fn(vm_bo)
        if ret is None:
            # Default driver behaviour: the object is back in place.
            lib.drm_gpuvm_bo_evict(cvm_bo, False)
            return 0
        return int(ret)


def _request(addr: Any, range_: Any, what: str) -> tuple[int, int]:
    addr = u64("addr", addr)
    range_ = u64("range", range_)
    if range_ == 0:
        raise InvalidRangeError(
            f"zero-sized {what} refused by pygpuvm's classes (the kernel accepts it; "
            "the raw API and `pygpuvm replay` show what it does)")
    return addr, range_


def _gem_arg(obj: Any) -> Any:
    if obj is None:
        return ffi.NULL
    if not isinstance(obj, GemObject):
        raise TypeError(f"obj must be a GemObject or None, not {type(obj).__name__}")
    return obj._ptr


class VM:
    """One GPU VA space ``[start, start + range)`` (a ``struct drm_gpuvm``).

    ``reserve``: ``(offset, range)`` of the kernel-reserved node, or None.
    ``immediate``: DRM_GPUVM_IMMEDIATE_MODE (GEM gpuva lists under their gpuva
    mutex; unlink is deferred and cleaned up after each apply).
    ``resv_protected``: DRM_GPUVM_RESV_PROTECTED (extobj/evict lists under the VM resv).

    Use as a context manager, or call :meth:`close`, for deterministic teardown;
    after close every method raises :class:`~pygpuvm.DetachedError`.
    """

    def __init__(self, start: int = 0, range: int = 1 << 48,
                 reserve: tuple[int, int] | None = (0, 0x1000), name: str = "vm0",
                 immediate: bool = False, resv_protected: bool = False) -> None:
        start = u64("start", start)
        range_ = u64("range", range)
        if reserve is None:
            roff, rrange = 0, 0
        else:
            if not isinstance(reserve, tuple) or len(reserve) != 2:
                raise TypeError("reserve must be an (offset, range) tuple or None")
            roff, rrange = u64("reserve offset", reserve[0]), u64("reserve range", reserve[1])
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, not {type(name).__name__}")
        flags = 0
        if immediate:
            flags |= int(lib.DRM_GPUVM_IMMEDIATE_MODE)
        if resv_protected:
            flags |= int(lib.DRM_GPUVM_RESV_PROTECTED)

        self.name = name
        self.start = start
        self.range = range_
        self.reserve = (roff, rrange) if rrange else None
        self.immediate = bool(immediate)
        self.resv_protected = bool(resv_protected)
        self._lock = threading.RLock()
        self._walking = False
        self._gen = 0
        self._count = 0
        self._vas: weakref.WeakValueDictionary[int, Va] = weakref.WeakValueDictionary()
        self._vm_bos: weakref.WeakValueDictionary[int, VmBo] = weakref.WeakValueDictionary()
        self._ops_lists: weakref.WeakSet[Ops] = weakref.WeakSet()
        self._ptr: Any = None
        ptr = lib.pygpuvm_vm_create(name.encode(), flags, start, range_, roff, rrange)
        if ptr == ffi.NULL:
            raise OutOfMemoryError("drm_gpuvm allocation")
        self._ptr = ffi.gc(ptr, lib.pygpuvm_vm_release)
        self._addr = addr_of(ptr)
        with _vm_registry_lock:
            _vm_registry[self._addr] = self
        _callbacks.raise_pending()

    # ------------------------------------------------------------ plumbing

    @classmethod
    def _from_ptr(cls, ptr: Any) -> VM | None:
        with _vm_registry_lock:
            vm = _vm_registry.get(addr_of(ptr))
        if vm is None or vm._ptr is None:
            return None
        return vm

    def _locked(self) -> _Locked:
        return _Locked(self)

    def _r_obj(self) -> Any:
        with self._locked() as ptr:
            return ptr.r_obj

    def _wrap_va(self, ptr: Any) -> Va:
        """The wrapper of a VA of this VM (caller holds the lock; the VA is mapped)."""
        key = addr_of(ptr)
        va = self._vas.get(key)
        if va is not None:
            return va
        kernel = ptr == ffi.addressof(self._ptr, "kernel_alloc_node")
        va = Va(self, ptr, int(ptr.va.addr), int(ptr.va.range), int(ptr.gem.offset),
                GemObject._from_ptr(ptr.gem.obj), bool(kernel), int(ptr.flags))
        self._vas[key] = va
        return va

    def _wrap_va_rec(self, rec: Any) -> Va:
        key = addr_of(rec.va)
        va = self._vas.get(key)
        if va is not None:
            return va
        m = rec.map
        va = Va(self, rec.va, int(m.addr), int(m.range), int(m.offset),
                GemObject._from_ptr(m.obj), bool(rec.is_kernel), int(rec.va_flags))
        self._vas[key] = va
        return va

    def _wrap_vm_bo(self, ptr: Any) -> VmBo:
        """Wrapper of a vm_bo the caller keeps alive; takes a reference for a new wrapper."""
        key = addr_of(ptr)
        vm_bo = self._vm_bos.get(key)
        if vm_bo is not None and vm_bo._ptr is not None:
            return vm_bo
        lib.drm_gpuvm_bo_get(ptr)
        vm_bo = VmBo(self, ptr, GemObject._from_ptr(ptr.obj))  # type: ignore[arg-type]
        self._vm_bos[key] = vm_bo
        return vm_bo

    def _adopt_vm_bo(self, ptr: Any) -> VmBo | None:
        """Wrapper of a vm_bo whose reference the caller hands over."""
        with self._lock:
            if self._ptr is None:
                lib.pygpuvm_vm_bo_release(ptr)
                return None
            key = addr_of(ptr)
            vm_bo = self._vm_bos.get(key)
            if vm_bo is not None and vm_bo._ptr is not None:
                lib.pygpuvm_vm_bo_release(ptr)
                return vm_bo
            vm_bo = VmBo(self, ptr, GemObject._from_ptr(ptr.obj))  # type: ignore[arg-type]
            self._vm_bos[key] = vm_bo
            return vm_bo

    def _piece(self, p: Any) -> Piece:
        return Piece(int(p.addr), int(p.range), GemObject._from_ptr(p.obj), int(p.offset))

    def _op_from_rec(self, rec: Any) -> Op:
        t = rec.op
        if t == _OP_MAP:
            m = rec.map
            return MapOp(int(m.addr), int(m.range), GemObject._from_ptr(m.obj), int(m.offset))
        va = self._wrap_va_rec(rec)
        if t == _OP_REMAP:
            return RemapOp(va, bool(rec.keep),
                           self._piece(rec.prev) if rec.has_prev else None,
                           self._piece(rec.next) if rec.has_next else None)
        if t == _OP_UNMAP:
            return UnmapOp(va, bool(rec.keep))
        if t == _OP_PREFETCH:
            return PrefetchOp(va)
        raise ValueError(f"unexpected op type {t}")

    def _make_ops(self, cops: Any, kind: str) -> Ops:
        """Wrap a freshly created C ops list (caller holds the lock)."""
        if lib.IS_ERR(cops):
            raise error_from_errno(lib.PTR_ERR(cops), f"{kind} ops")
        lib.drm_gpuvm_get(self._ptr)
        owned = ffi.gc(cops, partial(lib.pygpuvm_ops_release, ffi.cast("struct drm_gpuvm *", self._ptr)))
        size = 8
        while True:
            recs = ffi.new("struct pygpuvm_op_rec[]", size)
            n = lib.pygpuvm_ops_read(owned, recs, size)
            if n <= size:
                break
            size = n
        ops = Ops(self, owned, [self._op_from_rec(recs[i]) for i in range(n)], self._gen, kind)
        self._ops_lists.add(ops)
        return ops

    def _apply_locked(self, vmp: Any, ops: Ops) -> None:
        if ops._vm is not self:
            raise ValueError("these ops belong to another VM")
        if ops.kind == "steps":
            raise ValueError("ops recorded from driver callbacks have no ops list to apply")
        if ops._gen != self._gen:
            raise StaleOpsError("the VM changed since these ops were created")
        if ops.kind == "prefetch" or not len(ops):
            # Nothing to change: the VM (and its generation) stays as it is.
            ops.applied = ops.kind != "prefetch"
            return
        payload = _ApplyPayload()
        handle = ffi.new_handle(payload)
        res = ffi.new("struct pygpuvm_apply_result *")
        if ops._ptr is None:
            raise DetachedError("the C ops list was released")
        ret = lib.pygpuvm_apply(vmp, ops._ptr, handle, res)
        if ret:
            payload.reraise()
            raise error_from_errno(ret, "apply")
        self._gen += 1
        self._count += res.inserted - res.removed
        ops.applied = True
        for op in ops:
            if op.kind != "map":
                va = op.va  # type: ignore[union-attr]
                key = addr_of(va._ptr) if va._ptr is not None else None
                va._detach()
                if key is not None and self._vas.get(key) is va:
                    del self._vas[key]
        for text in payload.failed:
            warnings.warn(GpuvmWarning(text), stacklevel=3)
        payload.reraise()

    # ------------------------------------------------------------ queries

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @property
    def flags(self) -> int:
        with self._locked() as ptr:
            return int(ptr.flags)

    @property
    def refcount(self) -> int:
        """The C VM reference count (VAs, vm_bos and ops lists each hold one)."""
        with self._locked() as ptr:
            return int(lib.pygpuvm_vm_refcount(ptr))

    @property
    def generation(self) -> int:
        """Bumped by every change of the VA tree."""
        return self._gen

    def __len__(self) -> int:
        """Number of mapped VAs (the reserved node excluded)."""
        if self._ptr is None:
            raise DetachedError(f"VM {self.name!r} is closed")
        return self._count

    def range_valid(self, addr: int, range: int) -> bool:
        """``drm_gpuvm_range_valid()`` (zero ranges passed through)."""
        addr, range_ = u64("addr", addr), u64("range", range)
        with self._locked() as ptr:
            return bool(lib.drm_gpuvm_range_valid(ptr, addr, range_))

    def interval_empty(self, addr: int, range: int) -> bool:
        """``drm_gpuvm_interval_empty()``: the reserved node counts as occupied."""
        addr, range_ = u64("addr", addr), u64("range", range)
        with self._locked() as ptr:
            return bool(lib.drm_gpuvm_interval_empty(ptr, addr, range_))

    def _find(self, fn: Any, *args: int) -> Va | None:
        with self._locked() as ptr:
            va = fn(ptr, *args)
            if va == ffi.NULL:
                return None
            return self._wrap_va(va)

    def find(self, addr: int, range: int) -> Va | None:
        """``drm_gpuva_find()``: the VA exactly at ``[addr, addr+range)``."""
        return self._find(lib.drm_gpuva_find, u64("addr", addr), u64("range", range))

    def find_first(self, addr: int, range: int) -> Va | None:
        """``drm_gpuva_find_first()``: the lowest VA overlapping the range (reserved node included)."""
        return self._find(lib.drm_gpuva_find_first, u64("addr", addr), u64("range", range))

    def find_prev(self, start: int) -> Va | None:
        """``drm_gpuva_find_prev()`` with the kernel's quirks (reference §3.2)."""
        return self._find(lib.drm_gpuva_find_prev, u64("start", start))

    def find_next(self, end: int) -> Va | None:
        """``drm_gpuva_find_next()`` with the kernel's quirks (reference §3.2)."""
        return self._find(lib.drm_gpuva_find_next, u64("end", end))

    def _collect(self, addr: int, range_: int, whole: bool, skip_kernel: bool) -> list[Va]:
        with self._locked() as ptr:
            size = self._count + 2
            while True:
                arr = ffi.new("struct drm_gpuva *[]", size)
                n = lib.pygpuvm_vm_collect(ptr, addr, range_, whole, skip_kernel, arr, size)
                if n <= size:
                    break
                size = n
            return [self._wrap_va(arr[i]) for i in range(n)]

    def __iter__(self) -> Iterator[Va]:
        """Snapshot of the mapped VAs in address order (the reserved node excluded)."""
        return iter(self._collect(0, 0, True, True))

    def vas(self, start: int = 0, end: int = 1 << 64, *, reserved: bool = False) -> list[Va]:
        """VAs overlapping ``[start, end)`` in address order (``end`` may be 2**64).

        ``reserved=True`` also lists the reserved node, as the kernel's
        iteration macros do.
        """
        start = u64("start", start)
        if isinstance(end, bool) or not isinstance(end, int):
            raise TypeError(f"end must be an int, not {type(end).__name__}")
        if end < 0 or end > 1 << 64:
            raise ValueError("end must be in [0, 2**64]")
        if end <= start:
            return []
        if start == 0 and end == 1 << 64:
            return self._collect(0, 0, True, not reserved)
        return self._collect(start, end - start, False, not reserved)

    @property
    def extobjs(self) -> list[VmBo]:
        """Snapshot of the extobj list (vm_bos of external objects), in list order."""
        return self._vm_bo_list(lib.pygpuvm_vm_extobjs)

    @property
    def evicted_bos(self) -> list[VmBo]:
        """Snapshot of the evict list, in list order."""
        return self._vm_bo_list(lib.pygpuvm_vm_evicted)

    def _vm_bo_list(self, fn: Any) -> list[VmBo]:
        with self._locked() as ptr:
            size = 8
            while True:
                arr = ffi.new("struct drm_gpuvm_bo *[]", size)
                n = fn(ptr, arr, size)
                if n <= size:
                    break
                size = n
            out = []
            for i in range(n):
                vm_bo = self._adopt_vm_bo(arr[i])
                if vm_bo is not None:
                    out.append(vm_bo)
            return out

    def dump(self, bos: Sequence[GemObject] = ()) -> str:
        """The VM in TRACE.md's ``dump`` format (without the ``> dump`` header).

        ``bos``: the objects to report vm_bo lines for, in that order.
        """
        with self._locked():
            lines = []
            for va in self:
                lines.append(f"va {hexs(va.addr)} {hexs(va.range)} "
                             f"{va.obj.name if va.obj is not None else '-'} {hexs(va.offset)}")
            for bo in bos:
                vm_bo = self.find_vm_bo(bo)
                if vm_bo is None:
                    continue
                vas = vm_bo.vas
                ext = " ext" if vm_bo.on_extobj_list else ""
                lines.append(f"vm_bo {bo.name} {len(vas)}{ext}")
                for va in vas:
                    lines.append(f"bova {hexs(va.addr)} {hexs(va.range)} {hexs(va.offset)}")
            lines.append("end")
            return "\n".join(lines)

    # ------------------------------------------------------------ ops lists

    def sm_map(self, addr: int, range: int, obj: GemObject | None = None, offset: int = 0,
               steps: Any = None) -> Ops:
        """The ops that mapping ``obj`` at ``[addr, addr+range)`` takes (nothing applied).

        With ``steps``, run ``drm_gpuvm_sm_map()`` calling the driver callbacks
        instead (see the module docstring); the returned Ops records the steps.
        """
        addr, range_ = _request(addr, range, "map")
        offset = u64("offset", offset)
        cobj = _gem_arg(obj)
        if steps is not None:
            return self._walk(steps, lib.pygpuvm_sm_map_steps, addr, range_, cobj, offset)
        with self._locked() as ptr:
            return self._make_ops(lib.pygpuvm_sm_map_ops(ptr, addr, range_, cobj, offset, False),
                                  "map")

    def sm_unmap(self, addr: int, range: int, steps: Any = None) -> Ops:
        """The ops that unmapping ``[addr, addr+range)`` takes (nothing applied)."""
        addr, range_ = _request(addr, range, "unmap")
        if steps is not None:
            return self._walk(steps, lib.drm_gpuvm_sm_unmap, addr, range_)
        with self._locked() as ptr:
            return self._make_ops(lib.drm_gpuvm_sm_unmap_ops_create(ptr, addr, range_), "unmap")

    def madvise(self, addr: int, range: int, obj: GemObject | None = None,
                offset: int = 0) -> Ops:
        """``drm_gpuvm_madvise_ops_create()``: split VAs without an object at the range's edges."""
        addr, range_ = _request(addr, range, "madvise")
        offset = u64("offset", offset)
        cobj = _gem_arg(obj)
        with self._locked() as ptr:
            return self._make_ops(lib.pygpuvm_sm_map_ops(ptr, addr, range_, cobj, offset, True),
                                  "madvise")

    def prefetch(self, addr: int, range: int) -> Ops:
        """``drm_gpuvm_prefetch_ops_create()``: one op per VA in the range (reserved node
        included, no validation); never applied."""
        addr, range_ = _request(addr, range, "prefetch")
        with self._locked() as ptr:
            return self._make_ops(lib.drm_gpuvm_prefetch_ops_create(ptr, addr, range_),
                                  "prefetch")

    def bo_unmap(self, obj: GemObject) -> Ops:
        """``drm_gpuvm_bo_unmap_ops_create()`` for ``obj``'s vm_bo: an unmap per linked VA
        in link order; empty if ``obj`` has no vm_bo in this VM."""
        cobj = _gem_arg(obj)
        if cobj == ffi.NULL:
            raise TypeError("bo_unmap needs a GemObject")
        with self._locked() as ptr:
            cvm_bo = lib.drm_gpuvm_bo_find(ptr, cobj)
            if cvm_bo == ffi.NULL:
                ops = Ops(self, None, (), self._gen, "bo_unmap")
                self._ops_lists.add(ops)
                return ops
            try:
                return self._make_ops(lib.drm_gpuvm_bo_unmap_ops_create(cvm_bo), "bo_unmap")
            finally:
                lib.pygpuvm_vm_bo_release(cvm_bo)

    def _walk(self, steps: Any, fn: Any, *args: Any) -> Ops:
        payload = _StepsPayload(self, steps)
        handle = ffi.new_handle(payload)
        with self._locked() as ptr:
            self._walking = True
            try:
                ret = fn(ptr, handle, *args)
            finally:
                self._walking = False
            payload.reraise()
            if ret:
                raise error_from_errno(ret, "sm walk")
            return Ops(self, None, payload.ops, self._gen, "steps")

    # ------------------------------------------------------------ changes

    def apply(self, ops: Ops) -> None:
        """Apply ``ops`` as TRACE.md's driver does (library-owned VAs linked to vm_bos).

        Raises :class:`~pygpuvm.StaleOpsError` if the VM changed since ``ops``
        was created, :class:`~pygpuvm.OutOfMemoryError` (nothing applied).
        Inserts that fail inside ``drm_gpuva_map/remap`` (kernel semantics: the
        piece silently does not appear) are reported as :class:`~pygpuvm.GpuvmWarning`.
        VAs removed by the ops are detached.
        """
        if not isinstance(ops, Ops):
            raise TypeError(f"expected Ops, not {type(ops).__name__}")
        with self._locked() as ptr:
            self._apply_locked(ptr, ops)

    def map(self, addr: int, range: int, obj: GemObject | None = None, offset: int = 0) -> Ops:
        """:meth:`sm_map` + :meth:`apply` under one hold of the VM lock; returns the ops."""
        addr, range_ = _request(addr, range, "map")
        offset = u64("offset", offset)
        cobj = _gem_arg(obj)
        with self._locked() as ptr:
            ops = self._make_ops(lib.pygpuvm_sm_map_ops(ptr, addr, range_, cobj, offset, False),
                                 "map")
            self._apply_or_release(ptr, ops)
            return ops

    def unmap(self, addr: int, range: int) -> Ops:
        """:meth:`sm_unmap` + :meth:`apply` under one hold of the VM lock; returns the ops."""
        addr, range_ = _request(addr, range, "unmap")
        with self._locked() as ptr:
            ops = self._make_ops(lib.drm_gpuvm_sm_unmap_ops_create(ptr, addr, range_), "unmap")
            self._apply_or_release(ptr, ops)
            return ops

    def _apply_or_release(self, ptr: Any, ops: Ops) -> None:
        try:
            self._apply_locked(ptr, ops)
        except BaseException:
            ops._release()
            raise

    def insert(self, addr: int, range: int, obj: GemObject | None = None,
               offset: int = 0) -> Va:
        """``drm_gpuva_insert()`` of a library-owned VA, linked to ``obj``'s vm_bo.

        :class:`~pygpuvm.InvalidRangeError` / :class:`~pygpuvm.OverlapError` as the kernel.
        """
        addr, range_ = _request(addr, range, "insert")
        offset = u64("offset", offset)
        cobj = _gem_arg(obj)
        err = ffi.new("int *")
        with self._locked() as ptr:
            cva = lib.pygpuvm_va_insert(ptr, addr, range_, cobj, offset, err)
            if cva == ffi.NULL:
                raise error_from_errno(err[0], f"insert {hexs(addr)} {hexs(range_)}")
            self._gen += 1
            self._count += 1
            return self._wrap_va(cva)

    def remove(self, va: Va) -> None:
        """Unlink, ``drm_gpuva_remove()`` and free a mapped VA of this VM; it detaches."""
        if not isinstance(va, Va):
            raise TypeError(f"expected Va, not {type(va).__name__}")
        with self._locked():
            if va._vm is not self:
                raise ValueError("this VA belongs to another VM")
            va._check()
            if va.kernel:
                raise ValueError("the reserved node cannot be removed")
            key = addr_of(va._ptr)
            lib.pygpuvm_va_destroy(va._ptr)
            self._gen += 1
            self._count -= 1
            va._detach()
            if self._vas.get(key) is va:
                del self._vas[key]

    # ------------------------------------------------------------ vm_bos and objects

    def obtain(self, obj: GemObject) -> VmBo:
        """The vm_bo of ``obj`` (``drm_gpuvm_bo_obtain``: found or created), added to the
        extobj list if ``obj`` is external."""
        cobj = _gem_arg(obj)
        if cobj == ffi.NULL:
            raise TypeError("obtain needs a GemObject")
        with self._locked() as ptr:
            cvm_bo = lib.pygpuvm_vm_bo_obtain(ptr, cobj)
            if lib.IS_ERR(cvm_bo):
                raise error_from_errno(lib.PTR_ERR(cvm_bo), "obtain")
            return self._adopt_vm_bo(cvm_bo)  # type: ignore[return-value]

    def find_vm_bo(self, obj: GemObject) -> VmBo | None:
        """``drm_gpuvm_bo_find()``: ``obj``'s vm_bo in this VM, or None."""
        cobj = _gem_arg(obj)
        if cobj == ffi.NULL:
            raise TypeError("find_vm_bo needs a GemObject")
        with self._locked() as ptr:
            cvm_bo = lib.drm_gpuvm_bo_find(ptr, cobj)
            if cvm_bo == ffi.NULL:
                return None
            return self._adopt_vm_bo(cvm_bo)

    def is_extobj(self, obj: GemObject) -> bool:
        """``drm_gpuvm_is_extobj()``: ``obj`` does not share this VM's resv."""
        cobj = _gem_arg(obj)
        with self._locked() as ptr:
            return bool(lib.drm_gpuvm_is_extobj(ptr, cobj))

    def new_private_object(self, size: int, name: str | None = None) -> GemObject:
        """A GEM object sharing this VM's reservation object (never an extobj of this VM)."""
        obj = GemObject.__new__(GemObject)
        obj._init(size, name, self)
        return obj

    def deferred_cleanup(self) -> None:
        """``drm_gpuvm_bo_deferred_cleanup()``: free zombie vm_bos (immediate mode)."""
        with self._locked() as ptr:
            lib.pygpuvm_vm_deferred_cleanup(ptr)

    def validate(self, ex: Any = None, fn: Any = None) -> None:
        """``drm_gpuvm_validate()``: call ``fn(vm_bo)`` for every evicted vm_bo.

        ``ex``: an :class:`~pygpuvm.exec.Exec` of this VM held by this thread
        (``with vm.exec_lock() as ex: vm.validate(ex, fn)``); without it, the
        transaction this thread holds on this VM, else a fresh
        :meth:`exec_lock` taken for the call. ``fn`` returning None marks the
        vm_bo valid again (``drm_gpuvm_bo_evict(vm_bo, False)``); a negative
        errno or an exception stops the walk and is raised. Without ``fn``
        every evicted vm_bo is simply marked valid. RESV_PROTECTED: external
        objects evicted since the last prepare join the list at the exec lock
        (kernel §5.2); zombies are skipped. ``vm.validate(fn)`` also works.
        """
        from . import exec as _exec

        if fn is None and ex is not None and not isinstance(ex, _exec.Exec) and callable(ex):
            ex, fn = None, ex
        _exec.validate(self, ex, fn)

    # ------------------------------------------------------------ exec locks

    def exec_lock(self, num_fences: int = 1, objects: Sequence[GemObject] = (),
                  interruptible: bool = False, ignore_duplicates: bool = True) -> Any:
        """``with vm.exec_lock(...) as ex``: ``drm_gpuvm_exec_lock[_array]()``.

        Locks the VM resv, every external object's resv and ``objects``
        (reserving ``num_fences`` fence slots on each) in one C call, with the
        VM lock held for the whole block. See :mod:`pygpuvm.exec` for the
        lock order and what the block may do.
        """
        from . import exec as _exec

        return _exec.exec_lock(self, num_fences, objects, interruptible, ignore_duplicates)

    def exec_lock_range(self, addr: int, range: int, num_fences: int = 1,
                        interruptible: bool = False, ignore_duplicates: bool = True) -> Any:
        """``drm_gpuvm_exec_lock_range()``: lock only the objects mapped in the range
        (not the VM resv, not other extobjs; VAs without an object and the
        reserved node are skipped). Unvalidated, as the kernel."""
        from . import exec as _exec

        return _exec.exec_lock_range(self, addr, range, num_fences, interruptible,
                                     ignore_duplicates)

    def bind_lock(self, binds: Sequence[tuple[Any, ...]], num_fences: int = 1,
                  lock_vm: bool = True, objects: Sequence[GemObject] = (),
                  interruptible: bool = False) -> Any:
        """VM_BIND locking: everything the ``binds`` will touch, in one transaction.

        ``binds``: ``("map", addr, range[, obj[, offset]])`` and
        ``("unmap", addr, range)`` tuples. Locks the VM resv (``lock_vm``),
        runs ``drm_gpuvm_sm_map_exec_lock`` / ``drm_gpuvm_sm_unmap_exec_lock``
        for each bind in order (the map's object and the object of every VA
        a bind would split or remove), then ``objects``; every locked object
        gets ``num_fences`` fence slots. The VM lock is held from here to the
        end of the block, so the binds (``vm.map``/``vm.unmap``, or
        ``ex.bind()``) touch exactly what was locked.
        """
        from . import exec as _exec

        return _exec.bind_lock(self, binds, num_fences, lock_vm, objects, interruptible)

    # ------------------------------------------------------------ teardown

    def close(self) -> None:
        """Tear down now: release every vm_bo and ops list the wrappers own, unmap and
        free every VA (their wrappers detach), drop the VM reference."""
        with self._lock:
            if self._walking:
                raise VMBusyError("close() from a driver callback")
            ptr = self._ptr
            if ptr is None:
                return
            for va in list(self._vas.values()):
                va._detach()
            self._vas.clear()
            for ops in list(self._ops_lists):
                ops._release()
            for vm_bo in list(self._vm_bos.values()):
                vm_bo._release()
            self._vm_bos.clear()
            self._ptr = None
            self._count = 0
            self._gen += 1
            ffi.release(ptr)
            with _vm_registry_lock:
                if _vm_registry.get(self._addr) is self:
                    del _vm_registry[self._addr]
        _callbacks.raise_pending()

    def __enter__(self) -> VM:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._ptr is None:
            return f"<VM {self.name!r} closed>"
        return (f"<VM {self.name!r} [{hexs(self.start)}, +{hexs(self.range)}) "
                f"{self._count} VAs>")

