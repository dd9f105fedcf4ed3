"""Columnar snapshots of a VM's mappings: :meth:`pygpuvm.VM.table`.

A :class:`Table` holds the mappings overlapping a range as five columns of
unsigned 64-bit integers, filled by one C call (``gpuvm_va_table_fill``) into
one buffer the table owns:

=========  ==========================================================
``addr``   first byte of the mapping
``range``  its size in bytes
``offset`` offset into its GEM object
``obj_id`` the GEM object's id (its C address; 0: no object)
``flags``  ``drm_gpuva_flags`` | :data:`FLAG_KERNEL` for the reserved node
=========  ==========================================================

Each column is a ``memoryview`` of format ``"Q"`` over the table's buffer (no
copy); ``numpy.asarray(table.addr)`` is a zero-copy numpy view, and
:meth:`Table.to_numpy` returns all five (numpy is optional: only that method
needs it). :meth:`Table.objects` maps the ids to :class:`~pygpuvm.GemObject`
wrappers; it resolves them lazily, which is only safe while the VM has not
changed since the table was made, so it raises
:class:`~pygpuvm.StaleOpsError` after a change unless the objects were
resolved before (``vm.table(..., objects=True)`` resolves them at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .raw import ffi, lib
from .errors import StaleOpsError
from .gem import GemObject, gem_from_addr

if TYPE_CHECKING:
    from .vm import VM

__all__ = ["Table", "COLUMNS", "FLAG_KERNEL", "query"]

COLUMNS = ("addr", "range", "offset", "obj_id", "flags")
FLAG_KERNEL = int(lib.GPUVM_VA_TABLE_KERNEL)

_new = ffi.new
_U64S = ffi.typeof("u64[]")
_buffer = ffi.buffer
_fill = lib.gpuvm_va_table_fill
_tuple_new = tuple.__new__
_U64_MAX = (1 << 64) - 1
_2_64 = 1 << 64
# Room of a first attempt for a bounded range: most queries hit a few VAs.
_FIRST_ROOM = 16


class Table(tuple):  # type: ignore[type-arg]
    """The mappings of a VM overlapping ``[start, end)``, as columns (see the module).

    A tuple underneath (so that making one is a single allocation): treat it as
    opaque and use its methods and properties."""

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

    def column(self, name: str) -> memoryview:
        """The column ``name`` (one of :data:`COLUMNS`) as a ``memoryview`` of u64."""
        try:
            i = COLUMNS.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; columns: {', '.join(COLUMNS)}") from None
        s: int = self[2]
        return memoryview(_buffer(self[0])).cast("Q")[i * s:i * s + self[1]]

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
    lock = vm._lock
    lock.acquire()
    try:
        ptr = vm._ptr
        if ptr is None or vm._walking:
            from .vm import _busy, _closed

            raise _busy() if vm._walking else _closed(vm)
        room = vm._count + 2 if start == 0 and end == _2_64 else _FIRST_ROOM
        buf = _new(_U64S, 5 * room)
        n = _fill(ptr, start, end - 1, not reserved, buf, room) if end > start else 0
        if n > room:
            room = n
            buf = _new(_U64S, 5 * room)
            n = _fill(ptr, start, end - 1, not reserved, buf, room)
        t: Table = _tuple_new(Table, (buf, n, room, vm, vm._gen, start, end))
        if objects:
            t._objs = _resolve(t.column("obj_id"))
        return t
    finally:
        lock.release()
