"""Split/merge operations as Python snapshots.

An :class:`Ops` is what ``drm_gpuvm_*_ops_create()`` returned, read once into
immutable op objects (:class:`MapOp`, :class:`RemapOp`, :class:`UnmapOp`,
:class:`PrefetchOp`). It owns the C ``struct drm_gpuva_ops`` list and a VM
reference (both released together by ``drm_gpuva_ops_free`` + ``drm_gpuvm_put``),
so it can be applied with :meth:`pygpuvm.VM.apply` as long as the VM has not
changed since the list was made (otherwise :class:`~pygpuvm.StaleOpsError`).

``repr(op)`` is the op's line in docs/trace-format.md's output format, e.g.
``map 0x1000 0x4000 A 0x0``; ``str(ops)`` is all lines, one per op.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload

from ._gpuvm import ffi
from ._util import hexs, no_copy
from .errors import DetachedError

if TYPE_CHECKING:
    from .gem import GemObject
    from .va import Va
    from .vm import VM

__all__ = ["Piece", "MapOp", "RemapOp", "UnmapOp", "PrefetchOp", "Op", "Ops"]


def _name(obj: GemObject | None) -> str:
    return obj.name if obj is not None else "-"


class Piece(NamedTuple):
    """A mapping description: a MAP request, or a remap's ``prev``/``next``."""

    addr: int
    range: int
    obj: GemObject | None
    offset: int

    @property
    def end(self) -> int:
        return self.addr + self.range

    def trace(self) -> str:
        return f"{hexs(self.addr)},{hexs(self.range)},{_name(self.obj)},{hexs(self.offset)}"


class MapOp(NamedTuple):
    """Map ``[addr, addr+range)`` of ``obj`` at ``offset`` (always the last op of sm_map)."""

    addr: int
    range: int
    obj: GemObject | None
    offset: int

    @property
    def kind(self) -> Literal["map"]:
        return "map"

    @property
    def end(self) -> int:
        return self.addr + self.range

    def __repr__(self) -> str:
        return f"map {hexs(self.addr)} {hexs(self.range)} {_name(self.obj)} {hexs(self.offset)}"


class UnmapOp(NamedTuple):
    """Remove the existing ``va``; ``keep``: its backing lines up with the new map."""

    va: Va
    keep: bool

    @property
    def kind(self) -> Literal["unmap"]:
        return "unmap"

    @property
    def addr(self) -> int:
        return self.va.addr

    @property
    def range(self) -> int:
        return self.va.range

    @property
    def obj(self) -> GemObject | None:
        return self.va.obj

    @property
    def offset(self) -> int:
        return self.va.offset

    def __repr__(self) -> str:
        va = self.va
        return (f"unmap {hexs(va.addr)} {hexs(va.range)} {_name(va.obj)} {hexs(va.offset)}"
                f" keep={int(self.keep)}")


class RemapOp(NamedTuple):
    """Replace the existing ``va`` by what is left of it: ``prev`` and/or ``next``."""

    va: Va
    keep: bool
    prev: Piece | None
    next: Piece | None

    @property
    def kind(self) -> Literal["remap"]:
        return "remap"

    @property
    def addr(self) -> int:
        return self.va.addr

    @property
    def range(self) -> int:
        return self.va.range

    @property
    def obj(self) -> GemObject | None:
        return self.va.obj

    @property
    def offset(self) -> int:
        return self.va.offset

    def unmap_range(self) -> tuple[int, int]:
        """``drm_gpuva_op_remap_to_unmap_range()``: the hole (start, range) left by the remap."""
        va = self.va
        start = self.prev.end if self.prev is not None else va.addr
        end = self.next.addr if self.next is not None else va.end
        return start, end - start

    def __repr__(self) -> str:
        va = self.va
        prev = self.prev.trace() if self.prev is not None else "-"
        nxt = self.next.trace() if self.next is not None else "-"
        return (f"remap unmap={hexs(va.addr)},{hexs(va.range)},{_name(va.obj)},"
                f"{hexs(va.offset)},keep={int(self.keep)} prev={prev} next={nxt}")


class PrefetchOp(NamedTuple):
    """Prefetch the existing ``va`` (prefetch lists are never applied)."""

    va: Va

    @property
    def kind(self) -> Literal["prefetch"]:
        return "prefetch"

    @property
    def addr(self) -> int:
        return self.va.addr

    @property
    def range(self) -> int:
        return self.va.range

    @property
    def obj(self) -> GemObject | None:
        return self.va.obj

    @property
    def offset(self) -> int:
        return self.va.offset

    def __repr__(self) -> str:
        va = self.va
        kernel = " kernel" if va.kernel else ""
        return (f"prefetch {hexs(va.addr)} {hexs(va.range)} {_name(va.obj)}"
                f" {hexs(va.offset)}{kernel}")


Op = MapOp | RemapOp | UnmapOp | PrefetchOp

# Realising a lazy Ops (its first use) happens once, whichever thread gets there first.
_realise_lock = threading.Lock()


@no_copy
class Ops(Sequence[Op]):
    """A snapshot list of ops (see the module docstring).

    ``kind`` says what produced it: ``"map"``, ``"unmap"``, ``"prefetch"``,
    ``"madvise"``, ``"bo_unmap"`` (appliable lists) or ``"steps"`` (the ops a
    driver callback walk emitted: a record, not appliable).
    """

    # _items: the op tuple, or None until _lazy (``(fn, *args)``, fn(*args) -> the
    # tuple; see pygpuvm/_records.py) is realised on first use: VM.map/unmap
    # results that the caller drops never build their op objects.
    __slots__ = ("_vm", "_ptr", "_items", "_lazy", "_gen", "kind", "applied", "__weakref__")

    def __init__(self, vm: VM, ptr: Any, ops: Sequence[Op], gen: int, kind: str,
                 applied: bool = False) -> None:
        # @ptr: the C list with a VM reference taken for it, already under ffi.gc; or None
        # (steps records, and lists VM.map/unmap applied and freed in the same call).
        self._vm = vm
        self._ptr = ptr
        self._items: tuple[Op, ...] | None = tuple(ops)
        self._lazy: tuple[Any, ...] | None = None
        self._gen = gen
        self.kind = kind
        self.applied = applied

    @property
    def _ops(self) -> tuple[Op, ...]:
        items = self._items
        if items is not None:
            return items
        return self._realise()

    def _realise(self) -> tuple[Op, ...]:
        with _realise_lock:
            items = self._items
            if items is None:
                lazy = self._lazy
                assert lazy is not None
                items = self._items = lazy[0](*lazy[1:])
                self._lazy = None
            return items

    @property
    def vm(self) -> VM:
        return self._vm

    @property
    def stale(self) -> bool:
        """True once the VM changed after this list was created (it can no longer be applied)."""
        return self._gen != self._vm._gen

    def _release(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            ffi.release(ptr)

    def _live_ptr(self) -> Any:
        if self._ptr is None:
            raise DetachedError("the C ops list was released (its VM was closed)")
        return self._ptr

    def __len__(self) -> int:
        return len(self._ops)

    @overload
    def __getitem__(self, i: int) -> Op: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[Op]: ...

    def __getitem__(self, i: int | slice) -> Op | Sequence[Op]:
        return self._ops[i]

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops)

    def lines(self) -> list[str]:
        """The docs/trace-format.md op lines."""
        return [repr(op) for op in self._ops]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        body = "; ".join(self.lines())
        return f"<Ops {self.kind} [{body}]>"
