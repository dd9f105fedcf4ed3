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

Cost. Every method crosses into C once per operation: ``map``/``unmap``
create, record, apply and free the ops in one call
(``pygpuvm_vm_bind``), queries fill flat u64 records read with one
``ffi.unpack``. Wrappers come from weak per-VM caches keyed by C address;
:meth:`VM.run_batch` runs a whole array of requests in one call.
"""

from __future__ import annotations

import threading
import warnings
import weakref
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

from . import _callbacks, _records
from . import table as _table
from ._gpuvm import ffi, lib
from ._records import HDR, OP_W, VA_W
from ._util import WeakCache, addr_of, gc_hold, gc_release, hexs, no_copy, retry, u64
from .batch import Batch, BatchResult
from .errors import (
    DetachedError,
    GpuvmError,
    GpuvmWarning,
    InvalidRangeError,
    OutOfMemoryError,
    StaleOpsError,
    VMBusyError,
    error_from_errno,
)
from .gem import GemObject
from .ops import Op, Ops, Piece
from .va import Va
from .vm_bo import VmBo

if TYPE_CHECKING:
    from .exec import Exec

__all__ = ["VM"]

_vm_registry: weakref.WeakValueDictionary[int, VM] = weakref.WeakValueDictionary()
_vm_registry_lock = threading.Lock()

_KIND_MAP = int(lib.GPUVM_BIND_MAP)
_KIND_UNMAP = int(lib.GPUVM_BIND_UNMAP)
_KIND_PREFETCH = int(lib.GPUVM_BIND_PREFETCH)
_KIND_MADVISE = int(lib.GPUVM_BIND_MADVISE)

_SCRATCH_OPS = _records.SCRATCH_OPS
_SCRATCH_WORDS = _records.SCRATCH_WORDS
_SCRATCH_VAS = _SCRATCH_WORDS // VA_W

_U64_MAX = (1 << 64) - 1
_2_64 = 1 << 64
_NULL = ffi.NULL
_new = ffi.new
_unpack = ffi.unpack
_PENDING = _callbacks.PENDING
_raise_pending = _callbacks.raise_pending
_WARN_QUEUED = _callbacks.WARN_QUEUED
_collect_recs = lib.pygpuvm_vm_collect_recs
_vm_bind = lib.pygpuvm_vm_bind
# Flag bits of pygpuvm_vm_bind()'s return value.
_BIND_FLAGS = _records.BIND_WARNED | _records.BIND_DECODE
_map_ops = _records.map_ops
_one_unmap = _records.one_unmap
_lazy_ops = _records.lazy_ops


_new_scratch = _records.new_scratch


def _words(n: int) -> Any:
    return _new("u64[]", max(1, n))


def _op_words(n: int) -> Any:
    return _words(n * OP_W)


def _bind_words(n: int) -> Any:
    return _words(HDR + n * OP_W)


def _va_words(n: int) -> Any:
    return _words(n * VA_W)


def _vm_bo_ptrs(n: int) -> Any:
    return _new("struct drm_gpuvm_bo *[]", max(1, n))


def _busy() -> VMBusyError:
    return VMBusyError("the VM is walking (called from a driver callback)")


def _closed(vm: VM) -> DetachedError:
    return DetachedError(f"VM {vm.name!r} is closed")


class _Locked:
    """``with vm._locked() as ptr``: the VM lock, plus the closed/reentrancy checks."""

    __slots__ = ("_vm",)

    def __init__(self, vm: VM) -> None:
        self._vm = vm

    def __enter__(self) -> Any:
        return self._vm._enter()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self._vm._lock.release()
        if exc_type is None:
            _callbacks.raise_pending()


class _StepsPayload(_callbacks.Payload):
    __slots__ = ("vm", "steps", "ops", "buf")

    def __init__(self, vm: VM, steps: Any) -> None:
        super().__init__()
        self.vm = vm
        self.steps = steps
        self.ops: list[Op] = []
        self.buf = ffi.new("u64[]", OP_W)

    def step(self, cop: Any, name: str) -> int:
        fn = getattr(self.steps, name, None)
        if not callable(fn):
            raise TypeError(f"steps object {type(self.steps).__name__} has no {name}() method "
                            "(sm_map/sm_unmap steps need sm_step_map, sm_step_remap and "
                            "sm_step_unmap)")
        lib.pygpuvm_op_rec(cop, self.buf)
        op = _records.ops(self.vm, _unpack(self.buf, OP_W), 1, {}, False)[0][0]
        self.ops.append(op)
        return _callbacks.errno_result(name, fn(op))


class _ApplyPayload(_callbacks.Payload):
    __slots__ = ("failed",)

    def __init__(self) -> None:
        super().__init__()
        self.failed: list[str] = []

    def insert_failed(self, piece: Any) -> None:
        obj = GemObject._from_ptr(piece.gem.obj)
        self.failed.append(_records.failed_text(piece.va.addr, piece.va.range, obj,
                                                piece.gem.offset))


class _ValidatePayload(_callbacks.Payload):
    __slots__ = ("vm", "fn", "keep", "current")

    def __init__(self, vm: VM, fn: Any) -> None:
        super().__init__()
        self.vm = vm
        self.fn = fn
        # drm_gpuvm_validate's RESV_PROTECTED walk holds no vm_bo references,
        # and this thread holds the VM resv, so a wrapper dying inside the walk
        # (its last Python reference dropped by fn or by another thread) would
        # free its vm_bo under the walk. Everything on the evict list, and every
        # wrapper given to fn, stays referenced here until the payload dies,
        # after the walk.
        self.keep: list[VmBo] = vm.evicted_bos
        # The vm_bo fn is called for: the only one fn may evict(False), since
        # the C walk is iterating over the evict list (see VmBo.evict).
        self.current: VmBo | None = None

    def validate(self, cvm_bo: Any, exec_: Any) -> int:
        vm_bo = self.vm._wrap_vm_bo(cvm_bo)
        self.keep.append(vm_bo)
        self.current = vm_bo
        try:
            ret = self.fn(vm_bo)
        finally:
            self.current = None
        if ret is None:
            # Default driver behaviour: the object is back in place.
            lib.drm_gpuvm_bo_evict(cvm_bo, False)
            return 0
        return _callbacks.errno_result("the validate callback", ret)


def _range_args(start: Any, end: Any) -> tuple[int, int]:
    """``start``/``end`` of a range query checked: ``end`` may be 2**64."""
    start = u64("start", start)
    if isinstance(end, bool) or not isinstance(end, int):
        raise TypeError(f"end must be an int, not {type(end).__name__}")
    end = int(end)
    if end < 0 or end > _2_64:
        raise ValueError("end must be in [0, 2**64]")
    return start, end


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


@no_copy
class VM:
    """One GPU VA space ``[start, start + range)`` (a ``struct drm_gpuvm``).

    ``reserve``: ``(offset, range)`` of the kernel-reserved node, or None.
    ``immediate``: DRM_GPUVM_IMMEDIATE_MODE (GEM gpuva lists under their gpuva
    mutex; unlink is deferred and cleaned up after each apply).
    ``resv_protected``: DRM_GPUVM_RESV_PROTECTED (extobj/evict lists under the VM resv).

    Use as a context manager, or call :meth:`close`, for deterministic teardown;
    after close every method raises :class:`~pygpuvm.DetachedError`.
    """

    __slots__ = ("name", "start", "range", "reserve", "immediate", "resv_protected", "_lock",
                 "_walking", "_validating", "_gen", "_count", "_vas", "_vad", "_vm_bos", "_ops_lists", "_ptr",
                 "_addr", "_scratch", "_ops_free", "__weakref__")

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
        if "\0" in name:
            raise ValueError("name must not contain NUL characters")
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
        # The _ValidatePayload of the validate walk running on this VM, or None.
        self._validating: Any = None
        self._gen = 0
        self._count = 0
        # VA address -> Va wrapper (weak); _vad is its dict, read directly by hot paths.
        self._vas: WeakCache[Va] = WeakCache()
        self._vad = self._vas.data
        self._vm_bos: weakref.WeakValueDictionary[int, VmBo] = weakref.WeakValueDictionary()
        # Ops that own a C list (released by close()), keyed by id().
        self._ops_lists: WeakCache[Ops] = WeakCache()
        self._scratch: tuple[Any, Any, memoryview] | None = _new_scratch()
        self._ptr: Any = None
        ptr = lib.pygpuvm_vm_create(name.encode(), flags, start, range_, roff, rrange)
        if ptr == ffi.NULL:
            raise OutOfMemoryError("drm_gpuvm allocation")
        self._ptr = ffi.gc(ptr, lib.pygpuvm_vm_release)
        # Destructor of the ops lists this VM's Ops own (each holds a VM reference,
        # so the plain pointer stays valid for as long as any list needs it).
        self._ops_free = partial(lib.pygpuvm_ops_release, ptr)
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

    def _enter(self) -> Any:
        """The one guard: take the VM lock and return the C VM. Raises (lock
        released) VMBusyError from a driver callback of a walk on this VM, and
        DetachedError once the VM is closed. The caller releases ``_lock``."""
        self._lock.acquire()
        if self._walking or self._ptr is None:
            self._lock.release()
            raise _busy() if self._walking else _closed(self)
        return self._ptr

    def _locked(self) -> _Locked:
        """``with vm._locked() as ptr``: :meth:`_enter` as a context manager."""
        return _Locked(self)

    def _take_scratch(self) -> tuple[Any, Any, memoryview]:
        """The scratch buffer and its ``ffi.buffer``; given back by
        ``self._scratch = scratch``. Swapped out while in use: a reentrant call
        (a finalizer running Python code under this thread's RLock) gets a
        fresh one."""
        scratch = self._scratch
        self._scratch = None
        return scratch if scratch is not None else _new_scratch()

    def _r_obj(self) -> Any:
        with self._locked() as ptr:
            return ptr.r_obj

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
                lib.gpuvm_driver_bo_put(ptr)
                return None
            key = addr_of(ptr)
            vm_bo = self._vm_bos.get(key)
            if vm_bo is not None and vm_bo._ptr is not None:
                lib.gpuvm_driver_bo_put(ptr)
                return vm_bo
            vm_bo = VmBo(self, ptr, GemObject._from_ptr(ptr.obj))  # type: ignore[arg-type]
            self._vm_bos[key] = vm_bo
            return vm_bo

    def _own_ops(self, owned: Any, ops: Sequence[Op], kind: str) -> Ops:
        result = Ops(self, owned, ops, self._gen, kind)
        self._ops_lists.put(id(result), result)
        return result

    def _make_ops(self, cops: Any, kind: str) -> Ops:
        """Wrap a freshly created C ops list (caller holds the lock)."""
        if lib.IS_ERR(cops):
            raise error_from_errno(lib.PTR_ERR(cops), f"{kind} ops")
        lib.drm_gpuvm_get(self._ptr)
        gc_hold()
        try:
            owned = ffi.gc(cops, self._ops_free)
            n, recs = retry(partial(lib.pygpuvm_ops_recs, owned), 0, _op_words)
            ops = _records.ops(self, _unpack(recs, n * OP_W), n, {}, False)[0]
        finally:
            gc_release()
        return self._own_ops(owned, ops, kind)

    def _create(self, kind: int, name: str, addr: int, range_: int, obj: Any, cobj: Any,
                offset: int) -> Ops:
        """sm_map / sm_unmap / madvise / prefetch ops, not applied: one C call."""
        ptr = self._enter()
        gc_hold()
        try:
            scratch = self._take_scratch()
            buf = scratch[0]
            cops = lib.pygpuvm_ops_create(ptr, kind, addr, range_, cobj, offset, buf,
                                          _SCRATCH_WORDS)
            if cops == _NULL:
                self._scratch = scratch
                raise error_from_errno(_records.signed(buf[0]), f"{name} ops")
            owned = ffi.gc(cops, self._ops_free)
            n = buf[0]
            src = buf + HDR
            if n > _SCRATCH_OPS:
                n, src = retry(partial(lib.pygpuvm_ops_recs, owned), n, _op_words)
            gems = {obj._key: obj} if obj is not None else {}
            ops = _records.ops(self, _unpack(src, n * OP_W), n, gems, False)[0]
            self._scratch = scratch
            result = self._own_ops(owned, ops, name)
        finally:
            gc_release()
            self._lock.release()
        if _PENDING[0] or _WARN_QUEUED[0]:
            _raise_pending()
        return result

    def _bind(self, kind: int, addr: int, range_: int, obj: Any, cobj: Any, offset: int) -> Ops:
        """VM.map / VM.unmap: ops created, applied and freed in one C call."""
        # _enter(), inlined: this is the hottest path of the package.
        lock = self._lock
        lock.acquire()
        ptr = self._ptr
        if ptr is None or self._walking:
            lock.release()
            raise _busy() if self._walking else _closed(self)
        try:
            scratch = self._scratch
            self._scratch = None
            if scratch is None:
                scratch = _new_scratch()
            buf = scratch[0]
            ret = _vm_bind(ptr, kind, addr, range_, cobj, offset, buf, _SCRATCH_WORDS)
            if ret == 1:
                # One op, nothing failed or held, no WARN queued: a map into a hole
                # (the op is the request itself) or an unmap of one whole VA. The
                # ops are lazy.
                gen = self._gen
                self._gen = gen + 1
                if kind == _KIND_MAP:
                    self._count += 1
                    result = _lazy_ops(self, gen, "map", (_map_ops, addr, range_, obj, offset))
                else:
                    self._count -= 1
                    result = _lazy_ops(self, gen, "unmap", _one_unmap(self, scratch))
                self._scratch = scratch
                lock.release()
                if _PENDING[0]:
                    _raise_pending()
                return result
            result, warn = self._bind_slow(ret, scratch, ptr, kind, addr, range_, obj, cobj,
                                           offset)
        except BaseException:
            lock.release()
            raise
        lock.release()
        if warn:
            for text in warn:
                warnings.warn(GpuvmWarning(text), stacklevel=3)
        if _PENDING[0] or _WARN_QUEUED[0]:
            _raise_pending()
        return result

    def _bind_slow(self, ret: int, scratch: tuple[Any, Any, memoryview], ptr: Any, kind: int, addr: int,
                   range_: int, obj: Any, cobj: Any, offset: int
                   ) -> tuple[Ops, list[str] | None]:
        """The rest of _bind (caller holds the lock and took ``scratch``): retries with
        room for every record, errors, op snapshots, held references, failed inserts."""
        buf = src = scratch[0]
        # The WARN flag: the caller looks at the WARN queue itself.
        if ret > 0:
            ret &= ~_BIND_FLAGS
        if _SCRATCH_OPS < ret < (1 << 32):
            # More ops than records fit: nothing was applied; again with room.
            def fill(b: Any, n: int) -> int:
                r = int(_vm_bind(ptr, kind, addr, range_, cobj, offset, b, HDR + n * OP_W))
                return r & ~_BIND_FLAGS if r > 0 else r
            ret, src = retry(fill, ret, _bind_words)
        what = "map" if kind == _KIND_MAP else "unmap"
        if ret < 0:
            self._scratch = scratch
            raise error_from_errno(ret, what)
        n = ret & 0xFFFFFFFF
        failed = ret >> 32
        gen = self._gen
        gems = {obj._key: obj} if obj is not None else {}
        ops, delta, held = _records.ops(self, _unpack(src + HDR, n * OP_W), n, gems, True)
        # Names of failed pieces come from gems: every object involved is in it.
        warn = _records.failed_pieces(_unpack(src, HDR), failed, gems) if failed else None
        if held:
            lib.pygpuvm_put_held(src, n)
        self._scratch = scratch
        if n:
            self._gen = gen + 1
            self._count += delta - failed
        return Ops(self, None, ops, gen, what, True), warn

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
        if ops._ptr is None:
            raise DetachedError("the C ops list was released")
        res = ffi.new("struct pygpuvm_apply_result *")
        # At most two new pieces per op (a remap's prev and next).
        room = 2 * len(ops)
        fbuf = ffi.new("u64[]", 4 * room)
        res.failed_out = fbuf
        res.failed_max = room
        ret = lib.pygpuvm_apply(vmp, ops._ptr, ffi.NULL, res)
        if ret:
            raise error_from_errno(ret, "apply")
        self._gen += 1
        self._count += res.inserted - res.removed
        ops.applied = True
        vad = self._vad
        for op in ops:
            if op.kind != "map":
                va = op.va
                va._detach()
                r = vad.get(va._key)
                if r is not None and r() is va:
                    del vad[va._key]
        failed = int(res.failed)
        if failed:
            # The pieces' objects are alive: the ops hold their wrappers.
            for text in _records.failed_list(_unpack(fbuf, 4 * min(failed, room))):
                warnings.warn(GpuvmWarning(text), stacklevel=3)

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
            raise _closed(self)
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

    def _find(self, how: int, a: int, b: int) -> Va | None:
        ptr = self._enter()
        try:
            scratch = self._take_scratch()
            buf = scratch[0]
            key = lib.pygpuvm_vm_find_rec(ptr, how, a, b, buf)
            if key:
                r = self._vad.get(key)
                va = r() if r is not None else None
                if va is None:
                    # A new wrapper: no collection (finalizers) until it is made.
                    gc_hold()
                    try:
                        va = _records.va(self, key, buf)
                    finally:
                        gc_release()
            else:
                va = None
            self._scratch = scratch
        finally:
            self._lock.release()
        if _PENDING[0] or _WARN_QUEUED[0]:
            _raise_pending()
        return va

    def find(self, addr: int, range: int) -> Va | None:
        """``drm_gpuva_find()``: the VA exactly at ``[addr, addr+range)``."""
        if (type(addr) is not int or type(range) is not int or addr < 0 or range < 0
                or (addr | range) >> 64):
            addr, range = u64("addr", addr), u64("range", range)
        return self._find(0, addr, range)

    def find_first(self, addr: int, range: int) -> Va | None:
        """``drm_gpuva_find_first()``: the lowest VA overlapping the range (reserved node included)."""
        if (type(addr) is not int or type(range) is not int or addr < 0 or range < 0
                or (addr | range) >> 64):
            addr, range = u64("addr", addr), u64("range", range)
        return self._find(1, addr, range)

    def find_prev(self, start: int) -> Va | None:
        """``drm_gpuva_find_prev()`` with the kernel's quirks."""
        return self._find(2, u64("start", start), 0)

    def find_next(self, end: int) -> Va | None:
        """``drm_gpuva_find_next()`` with the kernel's quirks."""
        return self._find(3, u64("end", end), 0)

    def _collect(self, addr: int, range_: int, whole: bool, skip_kernel: bool,
                 pieces: bool = False) -> list[Any]:
        ptr = self._enter()
        # From the C fill to the last wrapper: no collection, so no finalizer
        # can change the VM (same thread, reentrant lock) under the records.
        gc_hold()
        try:
            scratch = self._take_scratch()
            buf = scratch[0]
            if whole:
                # Everything: the array is O(n) anyway, so size it for one walk.
                size = self._count + 2
                src = _va_words(size)
            else:
                # A range: start small so a query stays O(log n + k).
                size, src = _SCRATCH_VAS, buf
            n = _collect_recs(ptr, addr, range_, whole, skip_kernel, src, size)
            if n > size:
                n, src = retry(partial(_collect_recs, ptr, addr, range_, whole, skip_kernel), n,
                               _va_words)
            if not n:
                out: list[Any] = []
            elif pieces:
                out = _records.pieces(src, n)
            else:
                out = _records.vas(self, src, n)
            self._scratch = scratch
        finally:
            gc_release()
            self._lock.release()
        if _PENDING[0] or _WARN_QUEUED[0]:
            _raise_pending()
        return out

    def __iter__(self) -> Iterator[Va]:
        """Snapshot of the mapped VAs in address order (the reserved node excluded)."""
        return iter(self._collect(0, 0, True, True))

    def vas(self, start: int = 0, end: int = 1 << 64, *, reserved: bool = False) -> list[Va]:
        """VAs overlapping ``[start, end)`` in address order (``end`` may be 2**64).

        ``reserved=True`` also lists the reserved node, as the kernel's
        iteration macros do. Cost: O(log n + k) for k results.
        """
        if (type(start) is not int or type(end) is not int or start < 0
                or start > _U64_MAX or end > _2_64):
            start, end = _range_args(start, end)
        if end <= start:
            return []
        if start == 0 and end == _2_64:
            return self._collect(0, 0, True, not reserved)
        return self._collect(start, end - start, False, not reserved)

    def spans(self, start: int = 0, end: int = 1 << 64, *, reserved: bool = False
              ) -> list[Piece]:
        """What :meth:`vas` returns, as plain :class:`~pygpuvm.Piece` snapshots
        ``(addr, range, obj, offset)``: no wrapper identity, no C handle, so
        cheaper per hit (an interval query like ``intervaltree``'s)."""
        if (type(start) is not int or type(end) is not int or start < 0
                or start > _U64_MAX or end > _2_64):
            start, end = _range_args(start, end)
        if end <= start:
            return []
        if start == 0 and end == _2_64:
            return self._collect(0, 0, True, not reserved, True)
        return self._collect(start, end - start, False, not reserved, True)

    # The columnar query (pygpuvm/table.py): a plain function used as a method,
    # so that a small query pays no extra Python frame; _table.install() below
    # puts its C fast path (pygpuvm/_tableq.c) in its place.
    table = _table.query
    tables = _table.query_many

    def to_svg(self, start: int | None = None, end: int | None = None,
               width: int = 1200) -> str:
        """An SVG picture of the address space (see :mod:`pygpuvm.svg`); ``start``
        and ``end`` zoom into a window."""
        from . import svg

        return svg.render(svg.snapshot_from_vm(self, start, end), width)

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _repr_html_(self) -> str:
        from . import svg

        return svg.html_fragment(svg.snapshot_from_vm(self, None, None))

    @property
    def extobjs(self) -> list[VmBo]:
        """Snapshot of the extobj list (vm_bos of external objects), in list order."""
        return self._vm_bo_list(lib.gpuvm_driver_vm_extobjs)

    @property
    def evicted_bos(self) -> list[VmBo]:
        """Snapshot of the evict list, in list order."""
        return self._vm_bo_list(lib.gpuvm_driver_vm_evicted)

    def _vm_bo_list(self, fn: Any) -> list[VmBo]:
        with self._locked() as ptr:
            n, arr = retry(partial(fn, ptr), 8, _vm_bo_ptrs)
            out = []
            for i in range(n):
                vm_bo = self._adopt_vm_bo(arr[i])
                if vm_bo is not None:
                    out.append(vm_bo)
            return out

    def dump(self, bos: Sequence[GemObject] = ()) -> str:
        """The VM in docs/trace-format.md's ``dump`` format (without the ``> dump`` header).

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
               steps: object | None = None) -> Ops:
        """The ops that mapping ``obj`` at ``[addr, addr+range)`` takes (nothing applied).

        With ``steps``, run ``drm_gpuvm_sm_map()`` calling the driver callbacks
        instead (see the module docstring); the returned Ops records the steps.
        """
        if (type(addr) is not int or type(range) is not int or type(offset) is not int
                or addr < 0 or range <= 0 or offset < 0 or addr > _U64_MAX or range > _U64_MAX
                or offset > _U64_MAX):
            addr, range = _request(addr, range, "map")
            offset = u64("offset", offset)
        cobj = _gem_arg(obj)
        if steps is not None:
            return self._walk(steps, lib.pygpuvm_sm_map_steps, addr, range, cobj, offset)
        return self._create(_KIND_MAP, "map", addr, range, obj, cobj, offset)

    def sm_unmap(self, addr: int, range: int, steps: object | None = None) -> Ops:
        """The ops that unmapping ``[addr, addr+range)`` takes (nothing applied)."""
        addr, range_ = _request(addr, range, "unmap")
        if steps is not None:
            return self._walk(steps, lib.drm_gpuvm_sm_unmap, addr, range_)
        return self._create(_KIND_UNMAP, "unmap", addr, range_, None, _NULL, 0)

    def madvise(self, addr: int, range: int, obj: GemObject | None = None,
                offset: int = 0) -> Ops:
        """``drm_gpuvm_madvise_ops_create()``: split VAs without an object at the range's edges."""
        addr, range_ = _request(addr, range, "madvise")
        offset = u64("offset", offset)
        cobj = _gem_arg(obj)
        return self._create(_KIND_MADVISE, "madvise", addr, range_, obj, cobj, offset)

    def prefetch(self, addr: int, range: int) -> Ops:
        """``drm_gpuvm_prefetch_ops_create()``: one op per VA in the range (reserved node
        included, no validation); never applied."""
        addr, range_ = _request(addr, range, "prefetch")
        return self._create(_KIND_PREFETCH, "prefetch", addr, range_, None, _NULL, 0)

    def bo_unmap(self, obj: GemObject) -> Ops:
        """``drm_gpuvm_bo_unmap_ops_create()`` for ``obj``'s vm_bo: an unmap per linked VA
        in link order; empty if ``obj`` has no vm_bo in this VM."""
        cobj = _gem_arg(obj)
        if cobj == ffi.NULL:
            raise TypeError("bo_unmap needs a GemObject")
        with self._locked() as ptr:
            cvm_bo = lib.drm_gpuvm_bo_find(ptr, cobj)
            if cvm_bo == ffi.NULL:
                return self._own_ops(None, (), "bo_unmap")
            try:
                return self._make_ops(lib.drm_gpuvm_bo_unmap_ops_create(cvm_bo), "bo_unmap")
            finally:
                lib.gpuvm_driver_bo_put(cvm_bo)

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
        """Apply ``ops`` as docs/trace-format.md's driver does (library-owned VAs linked to vm_bos).

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
        """:meth:`sm_map` + :meth:`apply` under one hold of the VM lock (one C call);
        returns the ops (applied: their C list is already freed)."""
        if (type(addr) is not int or type(range) is not int or type(offset) is not int
                or addr < 0 or range <= 0 or offset < 0 or addr > _U64_MAX or range > _U64_MAX
                or offset > _U64_MAX):
            addr, range = _request(addr, range, "map")
            offset = u64("offset", offset)
        if obj is None:
            cobj = _NULL
        elif type(obj) is GemObject:
            cobj = obj._ptr
        else:
            cobj = _gem_arg(obj)
        return self._bind(_KIND_MAP, addr, range, obj, cobj, offset)

    def unmap(self, addr: int, range: int) -> Ops:
        """:meth:`sm_unmap` + :meth:`apply` under one hold of the VM lock (one C call);
        returns the ops."""
        if (type(addr) is not int or type(range) is not int or addr < 0 or range <= 0
                or addr > _U64_MAX or range > _U64_MAX):
            addr, range = _request(addr, range, "unmap")
        return self._bind(_KIND_UNMAP, addr, range, None, _NULL, 0)

    def run_batch(self, requests: Batch | Iterable[tuple[Any, ...]], *,
                  stop_on_error: bool = False) -> BatchResult:
        """Run map/unmap requests in order, in one C call under one hold of the VM lock.

        ``requests``: a :class:`~pygpuvm.Batch` (built once, reusable: the fast
        path) or an iterable of ``("map", addr, range[, obj[, offset]])`` /
        ``("unmap", addr, range)`` tuples. Each request does what
        :meth:`map`/:meth:`unmap` would (same ops, same final state) but no
        ops are returned. Malformed Python requests raise TypeError/ValueError
        before anything runs.

        Errors do not raise: a request that fails (EINVAL: invalid or zero-sized
        range, unknown object index, the reserved node) changes nothing, is
        recorded in ``result.errors`` and the batch goes on; an ENOMEM (or any
        error with ``stop_on_error=True``) stops the batch after that request.
        So requests ``[0, result.processed)`` were each applied entirely or
        refused, and the rest were not looked at. Wrappers of VAs a request
        removes are detached; the generation is bumped once if anything
        changed (any Ops made before are then stale).
        """
        batch = requests if isinstance(requests, Batch) else Batch(requests)
        n = len(batch)
        objs, nobjs = batch._c_objects()
        reqs = batch._c_requests() if n else _NULL
        payload = _ApplyPayload()
        handle = ffi.new_handle(payload)
        res = ffi.new("struct gpuvm_batch_result *")
        errs = ffi.new("int[]", max(1, n))
        try:
            ptr = self._enter()
            try:
                # Only VAs with live wrappers need to be reported back.
                live = self._vas.items()
                nwatch = len(live)
                if nwatch:
                    live.sort(key=lambda kv: kv[0])
                    watch = ffi.new("u64[]", [k for k, _ in live])
                    hit = ffi.new("unsigned char[]", nwatch)
                else:
                    watch = hit = _NULL
                done = lib.pygpuvm_vm_run_batch(ptr, reqs, n, objs, nobjs, watch, nwatch, hit,
                                                bool(stop_on_error), errs, handle, res)
                if res.changed:
                    self._gen += 1
                    self._count += res.inserted - res.removed
                if nwatch and res.removed:
                    for i, flag in enumerate(_unpack(hit, nwatch)):
                        if flag:
                            key, va = live[i]
                            va._detach()
                            self._vas.discard(key, va)
                errors: list[tuple[int, GpuvmError]] = []
                if res.errors:
                    for i, err in enumerate(_unpack(errs, done)):
                        if err:
                            errors.append((i, error_from_errno(err, f"batch request {i}: "
                                                               f"{batch._describe(i)}")))
                result = BatchResult(done, n, errors, int(res.ops), int(res.changed))
            finally:
                self._lock.release()
        finally:
            if n:
                ffi.release(reqs)
        for text in payload.failed:
            warnings.warn(GpuvmWarning(text), stacklevel=2)
        payload.reraise()
        _callbacks.raise_pending()
        return result

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
            cva = lib.gpuvm_driver_va_insert(ptr, addr, range_, cobj, offset, err)
            if cva == ffi.NULL:
                raise error_from_errno(err[0], f"insert {hexs(addr)} {hexs(range_)}")
            self._gen += 1
            self._count += 1
            va = _records.make_va(self, addr_of(cva), addr, range_, offset, obj, False,
                                  int(cva.flags), False)
            self._vas.put(va._key, va)
            return va

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
            lib.gpuvm_driver_va_destroy(va._ptr)
            self._gen += 1
            self._count -= 1
            va._detach()
            self._vas.discard(va._key, va)

    # ------------------------------------------------------------ vm_bos and objects

    def obtain(self, obj: GemObject) -> VmBo:
        """The vm_bo of ``obj`` (``drm_gpuvm_bo_obtain``: found or created), added to the
        extobj list if ``obj`` is external."""
        cobj = _gem_arg(obj)
        if cobj == ffi.NULL:
            raise TypeError("obtain needs a GemObject")
        with self._locked() as ptr:
            cvm_bo = lib.gpuvm_driver_bo_obtain(ptr, cobj)
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
            if self._validating is not None:
                raise VMBusyError("deferred_cleanup() during a validate walk would free "
                                  "vm_bos of the evict list being walked")
            lib.gpuvm_driver_deferred_cleanup(ptr)

    def validate(self, ex: Exec | Callable[[VmBo], int | None] | None = None,
                 fn: Callable[[VmBo], int | None] | None = None) -> None:
        """``drm_gpuvm_validate()``: call ``fn(vm_bo)`` for every evicted vm_bo.

        ``ex``: an :class:`~pygpuvm.exec.Exec` of this VM held by this thread
        (``with vm.exec_lock() as ex: vm.validate(ex, fn)``); without it, the
        transaction this thread holds on this VM, else a fresh
        :meth:`exec_lock` taken for the call. ``fn`` returning None marks the
        vm_bo valid again (``drm_gpuvm_bo_evict(vm_bo, False)``); a negative
        errno or an exception stops the walk and is raised. Without ``fn``
        every evicted vm_bo is simply marked valid. RESV_PROTECTED: external
        objects evicted since the last prepare join the list at the exec lock;
        zombies are skipped. ``vm.validate(fn)`` also works.
        """
        from . import exec as _exec

        if ex is not None and not isinstance(ex, _exec.Exec):
            if fn is not None or not callable(ex):
                raise TypeError(f"expected an Exec, not {type(ex).__name__}")
            ex, fn = None, ex
        _exec.validate(self, ex, fn)

    # ------------------------------------------------------------ exec locks

    def exec_lock(self, num_fences: int = 1, objects: Sequence[GemObject] = (),
                  interruptible: bool = False, ignore_duplicates: bool = True) -> Exec:
        """``with vm.exec_lock(...) as ex``: ``drm_gpuvm_exec_lock[_array]()``.

        Locks the VM resv, every external object's resv and ``objects``
        (reserving ``num_fences`` fence slots on each) in one C call, with the
        VM lock held for the whole block. See :mod:`pygpuvm.exec` for the
        lock order and what the block may do.
        """
        from . import exec as _exec

        return _exec.exec_lock(self, num_fences, objects, interruptible, ignore_duplicates)

    def exec_lock_range(self, addr: int, range: int, num_fences: int = 1,
                        interruptible: bool = False, ignore_duplicates: bool = True) -> Exec:
        """``drm_gpuvm_exec_lock_range()``: lock only the objects mapped in the range
        (not the VM resv, not other extobjs; VAs without an object and the
        reserved node are skipped). Unvalidated, as the kernel."""
        from . import exec as _exec

        return _exec.exec_lock_range(self, addr, range, num_fences, interruptible,
                                     ignore_duplicates)

    def bind_lock(self, binds: Sequence[tuple[Any, ...]], num_fences: int = 1,
                  lock_vm: bool = True, objects: Sequence[GemObject] = (),
                  interruptible: bool = False) -> Exec:
        """VM_BIND locking: everything the ``binds`` will touch, in one transaction.

        ``binds``: ``("map", addr, range[, obj[, offset]])`` and
        ``("unmap", addr, range)`` tuples. With ``lock_vm`` this is
        ``drm_gpuvm_exec_lock`` (the VM resv and every external object);
        then, in the same transaction, ``drm_gpuvm_sm_map_exec_lock`` /
        ``drm_gpuvm_sm_unmap_exec_lock`` for each bind in order (the map's
        object and the object of every VA a bind would split or remove), then
        ``objects``; every locked object
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
            if self._validating is not None:
                raise VMBusyError("close() during a validate walk of this VM (from its "
                                  "callback, or from a finalizer or hook it ran)")
            ptr = self._ptr
            if ptr is None:
                return
            for va in self._vas.values():
                va._detach()
            self._vas.clear()
            for ops in self._ops_lists.values():
                ops._release()
            self._ops_lists.clear()
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


_table.install(VM)
