"""Columnar snapshots of a VM's mappings: :meth:`pygpuvm.VM.table`.

A :class:`Table` holds the mappings overlapping a range as five columns of
unsigned 64-bit integers, filled by one C call (``gpuvm_va_table_fill``) into
one buffer the table owns (a small query's rows are copied out of the VM's
scratch buffer). ``vm.table(start, end)`` with two plain ints is answered by a
C method (pygpuvm/_tableq.c, installed as ``VM.table`` by :func:`install`)
that does what :func:`query` does in one call and gives the same Table; any
other call goes to :func:`query`:

=========  ==========================================================
``addr``   first byte of the mapping
``range``  its size in bytes
``offset`` offset into its GEM object
``obj_id`` the GEM object's id (its C address; 0: no object)
``flags``  ``drm_gpuva_flags`` | :data:`FLAG_KERNEL` for the reserved node
=========  ==========================================================

:meth:`pygpuvm.VM.tables` answers many ranges in one C call: a
:class:`Tables` whose columns hold every query's rows one after the other,
with ``counts`` per query and ``tables[i]`` a :class:`Table` view of query
``i``.

Each column is a read-only ``memoryview`` of format ``"Q"`` over the table's buffer (no
copy); ``numpy.asarray(table.addr)`` is a zero-copy numpy view, and
:meth:`Table.to_numpy` returns all five (numpy is optional: only that method
needs it). :meth:`Table.objects` maps the ids to :class:`~pygpuvm.GemObject`
wrappers; it resolves them lazily, which is only safe while the VM has not
changed since the table was made, so it raises
:class:`~pygpuvm.StaleOpsError` after a change unless the objects were
resolved before (``vm.table(..., objects=True)`` resolves them at once).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._records import SCRATCH_WORDS
from . import _tableq
from .raw import ffi, lib
from .errors import StaleOpsError
from .gem import GemObject, gem_from_addr

if TYPE_CHECKING:
    from .vm import VM

__all__ = ["Table", "Tables", "COLUMNS", "FLAG_KERNEL", "query", "query_many", "install"]

COLUMNS = ("addr", "range", "offset", "obj_id", "flags")
FLAG_KERNEL = int(lib.GPUVM_VA_TABLE_KERNEL)

_new = ffi.new
_U64S = ffi.typeof("u64[]")
_buffer = ffi.buffer
_fill = lib.pygpuvm_va_table
_fill_many = lib.pygpuvm_va_tables
_tuple_new = tuple.__new__
_U64_MAX = (1 << 64) - 1
_2_64 = 1 << 64
_NCOL = len(COLUMNS)
_ROW_BYTES = 8 * _NCOL


def _cast(data: Any) -> memoryview:
    return memoryview(data).toreadonly().cast("Q")


class _Columns:
    """The five columns of :class:`Table` and :class:`Tables`: ``_span()`` gives
    (data, stride, first row, rows) of the column-major u64 data."""

    __slots__ = ()

    def _span(self) -> tuple[Any, int, int, int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def column(self, name: str) -> memoryview:
        """The column ``name`` (one of :data:`COLUMNS`) as a read-only ``memoryview`` of u64."""
        try:
            i = COLUMNS.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; columns: {', '.join(COLUMNS)}") from None
        data, stride, first, n = self._span()
        at = i * stride + first
        return _cast(data)[at:at + n]

    @property
    def addr(self) -> memoryview:
        return self.column("addr")

    @property
    def range(self) -> memoryview:
        return self.column("range")

    @property
    def offset(self) -> memoryview:
        return self.column("offset")

    @property
    def obj_id(self) -> memoryview:
        return self.column("obj_id")

    @property
    def flags(self) -> memoryview:
        return self.column("flags")


def _table_column(i: int) -> Any:
    """Column ``i`` of a :class:`Table` as a property."""
    mview = memoryview

    def get(t: Any) -> memoryview:
        data = t[0]
        at = i * t[2] + t[7]
        if type(data) is bytes:  # already read-only
            return mview(data).cast("Q")[at:at + t[1]]
        return _cast(data)[at:at + t[1]]

    get.__name__ = COLUMNS[i]
    return property(get, doc=f"The {COLUMNS[i]!r} column (read-only u64 memoryview).")


class Table(_Columns, tuple):  # type: ignore[type-arg]
    """The mappings of a VM overlapping ``[start, end)``, as columns (see the module).

    A tuple underneath (so that making one is a single allocation): treat it as
    opaque and use its methods and properties. Its items: the data (a buffer of
    u64, column-major), the row count, the column stride, the VM, the VM's
    generation, start, end, and the first row's index in each column."""

    _objs: dict[int, GemObject]

    def __new__(cls, *args: Any) -> Table:
        raise TypeError("tables come from VM.table()")

    def __len__(self) -> int:
        n: int = self[1]
        return n

    def __iter__(self) -> Any:
        return iter(self.rows())

    def __repr__(self) -> str:
        return f"<Table {self[1]} rows [{self.start:#x}, {self.end:#x})>"

    @property
    def start(self) -> int:
        v: int = self[5]
        return v

    @property
    def end(self) -> int:
        v: int = self[6]
        return v

    def _span(self) -> tuple[Any, int, int, int]:
        return self[0], self[2], self[7], self[1]

    # The five columns again, each read without the generic column() lookup
    # (reading one column of a small table costs about what the query does).
    if TYPE_CHECKING:
        @property
        def addr(self) -> memoryview: ...

        @property
        def range(self) -> memoryview: ...

        @property
        def offset(self) -> memoryview: ...

        @property
        def obj_id(self) -> memoryview: ...

        @property
        def flags(self) -> memoryview: ...
    else:
        addr = _table_column(0)
        range = _table_column(1)
        offset = _table_column(2)
        obj_id = _table_column(3)
        flags = _table_column(4)

    def rows(self) -> list[tuple[int, int, int, int, int]]:
        """Every row as ``(addr, range, offset, obj_id, flags)`` tuples."""
        cols = [self.column(c).tolist() for c in COLUMNS]
        return list(zip(*cols))

    def to_numpy(self) -> dict[str, Any]:
        """The five columns as zero-copy numpy ``uint64`` arrays (needs numpy)."""
        try:
            import numpy as np  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise ImportError("Table.to_numpy() needs numpy (pip install numpy); the "
                              "columns themselves are memoryviews and need nothing") from exc
        return {c: np.asarray(self.column(c)) for c in COLUMNS}

    def objects(self) -> dict[int, GemObject]:
        """``obj_id -> GemObject`` for every object in the table (id 0 left out)."""
        try:
            return self._objs
        except AttributeError:
            pass
        vm: VM = self[3]
        with vm._lock:
            if vm._ptr is None or vm._gen != self[4]:
                raise StaleOpsError("the VM changed since this table was made: its object "
                                    "ids can no longer be resolved (use "
                                    "vm.table(..., objects=True))")
            objs = self._objs = _resolve(self.column("obj_id"))
        return objs

    def object(self, obj_id: int) -> GemObject | None:
        """The GEM object of ``obj_id`` (None for 0); KeyError if not in this table."""
        if obj_id == 0:
            return None
        return self.objects()[obj_id]


def _resolve(ids: memoryview) -> dict[int, GemObject]:
    # Caller holds the VM lock and the VM is unchanged: every id is mapped, alive.
    out: dict[int, GemObject] = {}
    for key in set(ids.tolist()):
        if key:
            obj = gem_from_addr(key)
            if obj is not None:
                out[key] = obj
    return out


def _locked_ptr(vm: VM) -> Any:
    """vm's lock taken (the caller releases it) and its C VM; raises (lock
    released) as every VM method does when the VM is closed or walking."""
    vm._lock.acquire()
    ptr = vm._ptr
    if ptr is None or vm._walking:
        vm._lock.release()
        from .vm import _busy, _closed

        raise _busy() if vm._walking else _closed(vm)
    return ptr


def query(vm: VM, start: int = 0, end: int = 1 << 64, *, reserved: bool = False,
          objects: bool = False) -> Table:
    """The mappings overlapping ``[start, end)`` as a columnar :class:`Table`
    (``addr``, ``range``, ``offset``, ``obj_id``, ``flags``: u64 memoryviews
    filled in one C call; ``end`` may be 2**64). ``reserved``: include the
    reserved node; ``objects``: resolve the object ids now (see
    :meth:`Table.objects`). Cost: O(log n + k) for k rows."""
    if (type(start) is not int or type(end) is not int or start < 0 or end < start
            or start > _U64_MAX or end > _2_64):
        from .vm import _range_args

        start, end = _range_args(start, end)
        end = max(start, end)
    # _locked_ptr(), inlined (the fixed cost of a small query is what matters).
    lock = vm._lock
    lock.acquire()
    ptr = vm._ptr
    if ptr is None or vm._walking:
        lock.release()
        _locked_ptr(vm)
    try:
        if end == start:
            data: Any = b""
            n = 0
        elif start == 0 and end == _2_64:
            # Everything: one walk into a buffer sized for it.
            room = vm._count + 2
            buf = _new(_U64S, _NCOL * room)
            n = _fill(ptr, 0, _U64_MAX, not reserved, buf, room)
            if n > room:
                buf = _new(_U64S, _NCOL * n)
                n = _fill(ptr, 0, _U64_MAX, not reserved, buf, n)
            data = _buffer(buf)
        else:
            # A range: the VM's scratch buffer first (the rows of a small query
            # are then copied out as bytes), a buffer of the right size if needed.
            scratch = vm._scratch
            vm._scratch = None
            if scratch is None:
                from .vm import _new_scratch

                scratch = _new_scratch()
            n = _fill(ptr, start, end - 1, not reserved, scratch[0], _ROOM)
            if n <= _ROOM:
                data = scratch[1][:_ROW_BYTES * n]
            else:
                buf = _new(_U64S, _NCOL * n)
                n = _fill(ptr, start, end - 1, not reserved, buf, n)
                data = _buffer(buf)
            vm._scratch = scratch
        t: Table = _tuple_new(Table, (data, n, n, vm, vm._gen, start, end, 0))
        if objects:
            t._objs = _resolve(t.column("obj_id"))
        return t
    finally:
        lock.release()


def install(vm_type: type) -> None:
    """Set ``vm_type.table`` (pygpuvm.VM's, once) to the C fast path of
    :func:`query` (pygpuvm/_tableq.c): ``vm.table(start, end)`` with two plain
    ints in u64 and ``start < end`` is answered there, in one C call; every
    other call, and every error, goes to :func:`query`, which gives the same
    Table."""
    the_lib: Any = lib  # ffi.addressof(lib, name): a function's address (the stub lacks it)
    fill = int(ffi.cast("uintptr_t", ffi.addressof(the_lib, "gpuvm_va_table_fill")))
    doc = ("table($self, /, start=0, end=18446744073709551616, *, reserved=False, "
           "objects=False)\n--\n\n" + (query.__doc__ or ""))
    rlock = type(threading.RLock())
    setattr(vm_type, "table", _tableq.install(vm_type, Table, query, fill, doc, rlock))


class Tables(_Columns):
    """The answers of :meth:`pygpuvm.VM.tables`: for each query range, in order,
    the mappings overlapping it.

    ``len()`` is the number of queries, ``counts`` their row counts, and
    ``tables[i]`` query ``i``'s :class:`Table` (a view into the shared columns,
    made on demand). The columns themselves (``addr``, ``range``, ``offset``,
    ``obj_id``, ``flags``, and ``column(name)``) hold the rows of every query
    one after the other, query 0's first; ``query`` gives each row's query index."""

    __slots__ = ("_data", "_room", "_total", "_counts", "_vm", "_gen", "_ranges", "_offsets")
    _data: Any
    _room: int
    _total: int
    _counts: bytes
    _vm: VM
    _gen: int
    _ranges: list[tuple[int, int]]
    _offsets: list[int] | None

    def __init__(self) -> None:
        raise TypeError("tables come from VM.tables()")

    def __len__(self) -> int:
        return len(self._ranges)

    @property
    def total(self) -> int:
        """Rows over all queries."""
        return self._total

    @property
    def counts(self) -> memoryview:
        """Rows of each query (u64 memoryview)."""
        return _cast(self._counts)

    def _offsets_list(self) -> list[int]:
        offs = self._offsets
        if offs is None:
            offs = []
            at = 0
            for n in _cast(self._counts).tolist():
                offs.append(at)
                at += n
            self._offsets = offs
        return offs

    def __getitem__(self, i: int) -> Table:
        start, end = self._ranges[i]
        end = max(start, end)
        t: Table = _tuple_new(Table, (self._data, _cast(self._counts)[i], self._room, self._vm,
                                      self._gen, start, end, self._offsets_list()[i]))
        return t

    def __iter__(self) -> Any:
        return (self[i] for i in range(len(self._ranges)))

    def __repr__(self) -> str:
        return f"<Tables {len(self._ranges)} queries, {self._total} rows>"

    def _span(self) -> tuple[Any, int, int, int]:
        return self._data, self._room, 0, self._total

    def objects(self) -> dict[int, GemObject]:
        """``obj_id -> GemObject`` over every query's rows (as :meth:`Table.objects`:
        :class:`~pygpuvm.StaleOpsError` once the VM has changed)."""
        vm = self._vm
        with vm._lock:
            if vm._ptr is None or vm._gen != self._gen:
                raise StaleOpsError("the VM changed since these tables were made: their "
                                    "object ids can no longer be resolved")
            return _resolve(self.column("obj_id"))

    @property
    def query(self) -> list[int]:
        """The query index of each row."""
        out: list[int] = []
        for q, n in enumerate(_cast(self._counts).tolist()):
            out.extend([q] * n)
        return out


def query_many(vm: VM, ranges: Iterable[tuple[int, int]], *, reserved: bool = False
               ) -> Tables:
    """What :func:`query` returns for each ``(start, end)`` of ``ranges``, in one C
    call under one hold of the VM lock (see :class:`Tables`). Ranges are
    checked as :func:`query` checks them (``end`` may be 2**64, an ``end``
    below ``start`` is an empty range) before anything runs."""
    if isinstance(ranges, (str, bytes)):
        raise TypeError("ranges must be an iterable of (start, end) pairs")
    pairs: list[tuple[int, int]] = list(ranges)
    nq = len(pairs)
    cranges = None
    exclusive = False
    if nq and _set(_map(type, pairs)) <= _PAIR_TYPES and _set(_map(len, pairs)) == _TWO:
        # The common case checked with C-level passes over the list: pairs of
        # plain ints within u64 (an end of 2**64, a bool, anything else: below).
        flat = list(_chain(pairs))
        if _set(_map(type, flat)) == _INT and min(flat) >= 0 and max(flat) <= _U64_MAX:
            cranges = _new(_U64S, flat)
            exclusive = True
    if cranges is None:
        checked: list[tuple[int, int]] = []
        flat = []
        put = flat.append
        for r in pairs:
            if not isinstance(r, (tuple, list)) or len(r) != 2:
                raise TypeError(f"ranges must hold (start, end) pairs, not {r!r}")
            from .vm import _range_args

            a, b = _range_args(r[0], r[1])
            b = max(a, b)
            checked.append((a, b))
            if b > a:
                put(a)
                put(b - 1)
            else:
                put(1)
                put(0)
        pairs = checked
        cranges = _new(_U64S, flat) if nq else _new(_U64S, 2)
    counts = _new(_U64S, max(1, nq))
    lock = vm._lock
    ptr = _locked_ptr(vm)
    try:
        room = 16 + 4 * nq
        while True:
            buf = _new(_U64S, _NCOL * room)
            total = _fill_many(ptr, cranges, nq, exclusive, not reserved, buf, room, counts)
            if total == _SIZE_MAX:
                from .errors import OutOfMemoryError

                raise OutOfMemoryError("vm.tables() temporary buffer")
            if total <= room:
                break
            room = total
        out: Tables = object.__new__(Tables)
        out._data = _buffer(buf)
        out._room = room
        out._total = total
        out._counts = _buffer(counts)[:8 * nq]
        out._vm = vm
        out._gen = vm._gen
        out._ranges = pairs
        out._offsets = None
        return out
    finally:
        lock.release()


_SIZE_MAX = int(ffi.cast("size_t", -1))
# Rows of a query that the VM's scratch buffer holds.
_ROOM = SCRATCH_WORDS // _NCOL
_set = set
_map = map
_chain = itertools.chain.from_iterable
_PAIR_TYPES = {tuple}
_TWO = {2}
_INT = {int}
