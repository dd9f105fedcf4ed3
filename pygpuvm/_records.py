"""The flat u64 records the C helpers fill, and their decoders.

This module owns the record layout on the Python side (the C side defines it
once, in ``_cdef/records.h``; cffi reads the constants below from there, so
they are never written twice) and is the one place of the package allowed to
be micro-optimised: the decoders run once per VA or op a call returns, so
they build wrappers with ``object.__new__`` and bound locals instead of the
classes' constructors.

Records (words are u64):

* VA record, ``VA_W`` words: the C VA's address (its identity, the VM cache
  key), addr, range, offset, GEM address (0: none), flags (``VA_KERNEL`` set
  for the VM's reserved node).
* Op record, ``OP_W`` words: ``[0]`` the op type | ``OP_*`` bits, ``[1]`` the
  existing VA's address (remap, unmap, prefetch), ``[2]`` its flags,
  ``[3..6]`` addr, range, offset, GEM of the map request or of the existing
  VA, ``[7..10]`` a remap's prev, ``[11..14]`` its next.
* A buffer of op records starts with ``HDR`` header words: inserted,
  removed, failed, one unused word, then ``FAILED_MAX`` failed pieces
  (addr, range, offset, GEM) of an apply.

Every decoder runs with the VM lock held (so the GEMs the records name are
alive) and keeps the VM's weak VA cache (``vm._vad``) up to date.
"""

from __future__ import annotations

import struct
import weakref
from typing import TYPE_CHECKING, Any

from ._gpuvm import ffi, lib
from ._util import hexs
from .gem import _gems, gem_from_addr
from .ops import MapOp, Op, Ops, Piece, PrefetchOp, RemapOp, UnmapOp
from .va import Va

if TYPE_CHECKING:
    from .gem import GemObject
    from .vm import VM

VA_W = int(lib.PYGPUVM_VA_WORDS)
VA_KERNEL = int(lib.PYGPUVM_VA_KERNEL)
OP_W = int(lib.PYGPUVM_OP_WORDS)
OP_KEEP = int(lib.PYGPUVM_OP_KEEP)
OP_PREV = int(lib.PYGPUVM_OP_PREV)
OP_NEXT = int(lib.PYGPUVM_OP_NEXT)
OP_KERNEL = int(lib.PYGPUVM_OP_KERNEL)
OP_HELD = int(lib.PYGPUVM_OP_HELD)
HDR = int(lib.PYGPUVM_HDR_WORDS)
FAILED_MAX = int(lib.PYGPUVM_FAILED_MAX)
BIND_WARNED = int(lib.PYGPUVM_BIND_WARNED)
BIND_DECODE = int(lib.PYGPUVM_BIND_DECODE)
# Each VM keeps one scratch buffer for the records of a call: room for the
# ops of any ordinary request (SCRATCH_OPS), or a few dozen VAs or table rows
# of a range query.
SCRATCH_OPS = 16
SCRATCH_WORDS = HDR + SCRATCH_OPS * OP_W


def new_scratch() -> tuple[Any, Any, memoryview]:
    """A scratch buffer: the cdata, its ``ffi.buffer`` (bytes slices) and a u64
    memoryview of it (single words, cheaper to index than the cdata)."""
    buf = ffi.new("u64[]", SCRATCH_WORDS)
    fb = ffi.buffer(buf)
    return buf, fb, memoryview(fb).cast("Q")

# The head of an unmap op record (type, VA, flags, addr, range, offset,
# GEM): the bytes a lazy one-op unmap keeps, decoded only when realised.
_unmap_rec = struct.Struct("7Q").unpack
_UNMAP_AT = HDR * 8
_UNMAP_END = _UNMAP_AT + 7 * 8
_VA_AT = HDR + int(lib.PYGPUVM_OP_VA)
_GEM_AT = HDR + int(lib.PYGPUVM_OP_MAP) + 3

_OP_MAP = int(lib.DRM_GPUVA_OP_MAP)
_OP_REMAP = int(lib.DRM_GPUVA_OP_REMAP)
_OP_UNMAP = int(lib.DRM_GPUVA_OP_UNMAP)
_OP_PREFETCH = int(lib.DRM_GPUVA_OP_PREFETCH)

# Records unpacked per ffi.unpack() when wrapping many VAs (bounds the
# temporary list of ints, not the number of calls that matters).
CHUNK = 4096

_I64_MIN = 1 << 63
_unpack = ffi.unpack
_tuple_new = tuple.__new__
_object_new = object.__new__
_ref = weakref.ref
_gems_get = _gems.get


def signed(v: int) -> int:
    """A u64 word holding a C long."""
    return v - (1 << 64) if v >= _I64_MIN else v


def make_va(vm: VM, key: int, addr: int, range_: int, offset: int, obj: GemObject | None,
            kernel: bool, flags: int, detached: bool) -> Va:
    """The one way a :class:`~pygpuvm.Va` wrapper is built (not cached here)."""
    va: Va = _object_new(Va)
    va._vm = vm
    va._key = key
    va.addr = addr
    va.range = range_
    va.offset = offset
    va.obj = obj
    va.kernel = kernel
    va._flags = flags
    va._detached = detached
    return va


def _gem(o: int, gems: dict[int, Any]) -> GemObject | None:
    if o in gems:
        obj: GemObject | None = gems[o]
        return obj
    obj = gems[o] = gem_from_addr(o)
    return obj


def vas(vm: VM, src: Any, n: int) -> list[Va]:
    """Wrappers of ``n`` VA records in ``src``: cached ones reused, new ones cached."""
    out: list[Va] = []
    append = out.append
    vad = vm._vad
    get = vad.get
    gems: dict[int, GemObject | None] = {0: None}
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        v = _unpack(src + start * VA_W if start else src, m * VA_W)
        for i in range(0, m * VA_W, VA_W):
            key = v[i]
            r = get(key)
            if r is not None:
                va = r()
                if va is not None:
                    append(va)
                    continue
            o = v[i + 4]
            obj = gems[o] if o in gems else _gem(o, gems)
            fl = v[i + 5]
            va = make_va(vm, key, v[i + 1], v[i + 2], v[i + 3], obj, fl >= VA_KERNEL,
                         fl & 0xFFFFFFFF, False)
            vad[key] = _ref(va)
            append(va)
    if len(vad) > vm._vas.sweep_at:
        vm._vas.sweep()
    return out


def va(vm: VM, key: int, src: Any) -> Va:
    """The wrapper of the VA ``key`` whose record is in ``src`` (cached one reused)."""
    vad = vm._vad
    r = vad.get(key)
    if r is not None:
        found: Va | None = r()
        if found is not None:
            return found
    v = _unpack(src, VA_W)
    o = v[4]
    g = _gems_get(o)
    obj = g() if g is not None else None
    if obj is None and o:
        obj = gem_from_addr(o)
    fl = v[5]
    new = make_va(vm, key, v[1], v[2], v[3], obj, fl >= VA_KERNEL, fl & 0xFFFFFFFF, False)
    vad[key] = _ref(new)
    if len(vad) > vm._vas.sweep_at:
        vm._vas.sweep()
    return new


def pieces(src: Any, n: int) -> list[Piece]:
    """:class:`~pygpuvm.Piece` snapshots of ``n`` VA records (no wrappers, no cache)."""
    out: list[Piece] = []
    append = out.append
    gems: dict[int, Any] = {0: None}
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        v = _unpack(src + start * VA_W if start else src, m * VA_W)
        for i in range(0, m * VA_W, VA_W):
            o = v[i + 4]
            obj = gems[o] if o in gems else _gem(o, gems)
            append(_tuple_new(Piece, (v[i + 1], v[i + 2], obj, v[i + 3])))
    return out


def ops(vm: VM, v: list[int], n: int, gems: dict[int, Any], applied: bool
        ) -> tuple[list[Op], int, int]:
    """Op snapshots of the ``n`` op records in ``v``.

    ``applied``: the ops were just applied, so the VAs they name are gone:
    their wrappers detach (or are made detached) and leave the cache.
    Otherwise new wrappers are cached. Returns the ops, the change in the
    VA count an apply of them makes (failed inserts not subtracted) and
    whether a record holds a GEM reference (``OP_HELD``).
    """
    out: list[Op] = []
    append = out.append
    vad = vm._vad
    delta = held = 0
    gems.setdefault(0, None)
    for j in range(0, n * OP_W, OP_W):
        t = v[j]
        typ = t & 0xFF
        o = v[j + 6]
        obj = gems[o] if o in gems else _gem(o, gems)
        if typ == _OP_MAP:
            append(_tuple_new(MapOp, (v[j + 3], v[j + 4], obj, v[j + 5])))
            delta += 1
            continue
        held |= t & OP_HELD
        key = v[j + 1]
        r = vad.get(key)
        va_ = r() if r is not None else None
        if va_ is None:
            va_ = make_va(vm, key, v[j + 3], v[j + 4], v[j + 5], obj, bool(t & OP_KERNEL),
                          v[j + 2], applied)
            if not applied:
                vad[key] = _ref(va_)
        elif applied:
            va_._detached = True
            del vad[key]
        if typ == _OP_REMAP:
            prev = nxt = None
            delta -= 1
            if t & OP_PREV:
                prev = _tuple_new(Piece, (v[j + 7], v[j + 8], obj, v[j + 9]))
                delta += 1
            if t & OP_NEXT:
                nxt = _tuple_new(Piece, (v[j + 11], v[j + 12], obj, v[j + 13]))
                delta += 1
            append(_tuple_new(RemapOp, (va_, bool(t & OP_KEEP), prev, nxt)))
        elif typ == _OP_UNMAP:
            delta -= 1
            append(_tuple_new(UnmapOp, (va_, bool(t & OP_KEEP))))
        elif typ == _OP_PREFETCH:
            append(_tuple_new(PrefetchOp, (va_,)))
        else:
            raise ValueError(f"unexpected op type {typ}")
    if not applied and len(vad) > vm._vas.sweep_at:
        vm._vas.sweep()
    return out, delta, held


# ---------------------------------------------------------------- one-op binds
# VM.map/VM.unmap whose C call made exactly one op, with nothing failed and no
# WARN queued (pygpuvm_vm_bind() returned 1): a map into a hole, or an unmap
# removing one whole VA. The state change is taken into account at once (the
# VA cache, held references); the op objects are only built if the caller
# looks at the returned Ops (its ``_lazy``, realised by ``Ops._ops``).


def lazy_ops(vm: VM, gen: int, kind: str, lazy: tuple[Any, ...]) -> Ops:
    """The applied :class:`~pygpuvm.Ops` of a one-op bind, realised from ``lazy``
    on first use (``Ops(vm, None, (), gen, kind, True, lazy)`` without the
    ``__init__`` call, which costs as much as the rest of this function)."""
    ops: Ops = _object_new(Ops)
    ops._vm = vm
    ops._ptr = None
    ops._items = None
    ops._lazy = lazy
    ops._gen = gen
    ops.kind = kind
    ops.applied = True
    return ops


def map_ops(addr: int, range_: int, obj: GemObject | None, offset: int) -> tuple[Op, ...]:
    return (_tuple_new(MapOp, (addr, range_, obj, offset)),)


def _unmap_ops(vm: VM, raw: bytes, obj: GemObject | None, va_: Va | None) -> tuple[Op, ...]:
    rec = _unmap_rec(raw)
    t = rec[0]
    if va_ is None:
        va_ = make_va(vm, rec[1], rec[3], rec[4], rec[5], obj, bool(t & OP_KERNEL), rec[2],
                      True)
    return (_tuple_new(UnmapOp, (va_, bool(t & OP_KEEP))),)


def one_unmap(vm: VM, scratch: tuple[Any, Any, memoryview]) -> tuple[Any, ...]:
    """The lazy ops of an applied one-op unmap request: pygpuvm_vm_bind()
    returned 1, so its one record is an unmap that holds no reference (the
    VA's GEM is alive until the caller releases the VM lock). Only the GEM
    and the VA wrapper are looked up now; the record's bytes wait for the
    caller to look at the ops."""
    words = scratch[2]
    vad = vm._vad
    va_ = None
    if vad:
        r = vad.pop(words[_VA_AT], None)
        if r is not None:
            va_ = r()
    raw = scratch[1][_UNMAP_AT:_UNMAP_END]
    if va_ is not None:
        va_._detached = True
        return (_unmap_ops, vm, raw, None, va_)
    o = words[_GEM_AT]
    obj = None
    if o:
        g = _gems_get(o)
        obj = g() if g is not None else None
        if obj is None:
            obj = gem_from_addr(o)
    return (_unmap_ops, vm, raw, obj, None)


def failed_text(addr: int, range_: int, obj: GemObject | None, offset: int) -> str:
    """The warning text of a piece whose insert failed in an apply."""
    name = obj.name if obj is not None else "-"
    return f"insert_failed {hexs(addr)} {hexs(range_)} {name} {hexs(offset)}"


def failed_pieces(v: list[int], failed: int, gems: dict[int, Any]) -> list[str]:
    """Warning texts of the failed pieces recorded in a header (words 4...)."""
    out = []
    for i in range(min(failed, FAILED_MAX)):
        a, r, off, o = v[4 + 4 * i:8 + 4 * i]
        obj = gems[o] if o in gems else gem_from_addr(o)
        out.append(failed_text(a, r, obj, off))
    if failed > FAILED_MAX:
        out.append(f"insert_failed: {failed - FAILED_MAX} more pieces")
    return out


def failed_list(v: list[int]) -> list[str]:
    """Warning texts of a flat list of failed pieces (addr, range, offset, GEM)*."""
    return [failed_text(v[i], v[i + 1], gem_from_addr(v[i + 3]), v[i + 2])
            for i in range(0, len(v), 4)]
