"""Batches: many map/unmap requests, one crossing of the cffi boundary.

A :class:`Batch` holds requests in the C layout that
``pygpuvm_vm_run_batch`` reads: :data:`Batch.WORDS` unsigned 64-bit words
per request, ``kind, addr, range, object index, offset``, where ``kind`` is
:data:`Batch.MAP` or :data:`Batch.UNMAP` and the object index is 0 for no
object or ``i`` for ``batch.objects[i - 1]``. Build it once (from tuples, with
:meth:`Batch.map` / :meth:`Batch.unmap`, or over any buffer of such words with
:meth:`Batch.from_buffer`, e.g. an ``array('Q')`` or a NumPy ``uint64`` array,
read in place) and run it with :meth:`pygpuvm.VM.run_batch`, as many times as
needed. Per request that costs what ``gpuvm-replay --bench`` pays per command,
plus one array read.

Requests added from Python get :meth:`pygpuvm.VM.map`'s argument checks
(TypeError/ValueError, :class:`~pygpuvm.InvalidRangeError` for a zero range)
when they are added; words from a buffer are checked in C when the batch runs
(an unknown kind, an object index past ``objects`` or a zero range make that
request fail with EINVAL).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from ._gpuvm import ffi, lib
from ._util import hexs, u64
from .errors import GpuvmError, InvalidRangeError, VMBusyError
from .gem import GemObject

__all__ = ["Batch", "BatchResult"]

_MAP = int(lib.GPUVM_BIND_MAP)
_UNMAP = int(lib.GPUVM_BIND_UNMAP)
_WORDS = int(lib.PYGPUVM_REQ_WORDS)


def _zero(what: str) -> InvalidRangeError:
    return InvalidRangeError(
        f"zero-sized {what} refused by pygpuvm's classes (the kernel accepts it; "
        "the raw API and `pygpuvm replay` show what it does)")


class Batch:
    """Map/unmap requests in C layout, for :meth:`pygpuvm.VM.run_batch`.

    ``requests``: ``("map", addr, range[, obj[, offset]])`` and
    ``("unmap", addr, range)`` tuples (the shape :meth:`pygpuvm.VM.bind_lock`
    takes). ``objects``: GEM objects to index up front (more are added as
    requests name them).
    """

    MAP = _MAP
    UNMAP = _UNMAP
    WORDS = _WORDS

    __slots__ = ("_words", "_buffer", "_objects", "_index", "_cobjs")

    def __init__(self, requests: Iterable[tuple[Any, ...]] = (),
                 objects: Iterable[GemObject] = ()) -> None:
        self._words = array("Q")
        self._buffer: Any = None
        self._objects: list[GemObject] = []
        self._index: dict[GemObject, int] = {}
        self._cobjs: Any = None
        for obj in objects:
            self.object_index(obj)
        self.extend(requests)

    @classmethod
    def from_buffer(cls, buffer: Any, objects: Iterable[GemObject] = ()) -> Batch:
        """A batch reading ``buffer`` in place: any object with the buffer protocol
        holding native-endian u64 words, :data:`WORDS` per request. ``objects``:
        the objects its indices refer to (index ``i`` is ``objects[i - 1]``).
        Adding requests later copies the words first."""
        nbytes = memoryview(buffer).nbytes
        if nbytes % (8 * _WORDS):
            raise ValueError(f"a batch buffer holds {_WORDS} u64 words per request "
                             f"({8 * _WORDS} bytes); got {nbytes} bytes")
        batch = cls(objects=objects)
        batch._buffer = buffer
        return batch

    # ------------------------------------------------------------ building

    @property
    def objects(self) -> tuple[GemObject, ...]:
        """The objects the requests index (index ``i`` is ``objects[i - 1]``)."""
        return tuple(self._objects)

    def object_index(self, obj: GemObject | None) -> int:
        """The index requests use for ``obj`` (0 for None), adding it if new."""
        if obj is None:
            return 0
        i = self._index.get(obj)
        if i is None:
            if not isinstance(obj, GemObject):
                raise TypeError(f"obj must be a GemObject or None, not {type(obj).__name__}")
            self._objects.append(obj)
            i = self._index[obj] = len(self._objects)
            self._cobjs = None
        return i

    def _own_words(self) -> array[int]:
        if self._buffer is not None:
            self._words = array("Q", memoryview(self._buffer).cast("B").cast("Q"))
            self._buffer = None
        return self._words

    def _add(self, words: tuple[int, ...]) -> None:
        try:
            self._own_words().extend(words)
        except BufferError:
            # run_batch reads the words in place (the array cannot grow meanwhile).
            raise VMBusyError("the batch is being run (VM.run_batch in another thread); "
                              "add requests before or after the run, or use a copy") from None

    def map(self, addr: int, range: int, obj: GemObject | None = None, offset: int = 0) -> None:
        """Append a map request (checked as :meth:`pygpuvm.VM.map` checks its arguments)."""
        addr, range_, offset = u64("addr", addr), u64("range", range), u64("offset", offset)
        if not range_:
            raise _zero("map")
        index = self.object_index(obj)
        self._add((_MAP, addr, range_, index, offset))

    def unmap(self, addr: int, range: int) -> None:
        """Append an unmap request."""
        addr, range_ = u64("addr", addr), u64("range", range)
        if not range_:
            raise _zero("unmap")
        self._add((_UNMAP, addr, range_, 0, 0))

    def append(self, request: tuple[Any, ...]) -> None:
        """Append ``("map", addr, range[, obj[, offset]])`` or ``("unmap", addr, range)``."""
        if not isinstance(request, tuple) or not request:
            raise TypeError("a request is a tuple ('map', addr, range[, obj[, offset]]) "
                            "or ('unmap', addr, range)")
        kind = request[0]
        if kind == "map":
            if not 3 <= len(request) <= 5:
                raise TypeError("a map request is ('map', addr, range[, obj[, offset]])")
            self.map(*request[1:])
        elif kind == "unmap":
            if len(request) != 3:
                raise TypeError("an unmap request is ('unmap', addr, range)")
            self.unmap(request[1], request[2])
        else:
            raise ValueError(f"unknown request kind {kind!r} (expected 'map' or 'unmap')")

    def extend(self, requests: Iterable[tuple[Any, ...]]) -> None:
        """Append every request; on a bad one, nothing of this call is kept."""
        words = self._own_words()
        mark = len(words)
        nobjs = len(self._objects)
        try:
            for request in requests:
                self.append(request)
        except BaseException:
            del words[mark:]
            for obj in self._objects[nobjs:]:
                del self._index[obj]
            del self._objects[nobjs:]
            self._cobjs = None
            raise

    def clear(self) -> None:
        """Remove every request (the objects stay indexed)."""
        self._buffer = None
        self._words = array("Q")

    # ------------------------------------------------------------ reading

    def _view(self) -> memoryview:
        if self._buffer is not None:
            return memoryview(self._buffer).cast("B").cast("Q")
        return memoryview(self._words)

    def __len__(self) -> int:
        if self._buffer is not None:
            return memoryview(self._buffer).nbytes // (8 * _WORDS)
        return len(self._words) // _WORDS

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        """Request ``i`` as a tuple (``("map", addr, range, obj, offset)`` or
        ``("unmap", addr, range)``; words that are not a valid request come back
        as ``(kind, addr, range, index, offset)`` integers)."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("batch request index out of range")
        kind, addr, range_, index, offset = self._view()[i * _WORDS:(i + 1) * _WORDS]
        if kind == _UNMAP:
            return ("unmap", addr, range_)
        if kind == _MAP and index <= len(self._objects):
            return ("map", addr, range_, self._objects[index - 1] if index else None, offset)
        return (kind, addr, range_, index, offset)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for i in range(len(self)):
            yield self[i]

    def _describe(self, i: int) -> str:
        req = self[i]
        if req[0] == "map":
            name = req[3].name if req[3] is not None else "-"
            return f"map {hexs(req[1])} {hexs(req[2])} {name} {hexs(req[4])}"
        if req[0] == "unmap":
            return f"unmap {hexs(req[1])} {hexs(req[2])}"
        return "invalid request words " + " ".join(hexs(w) for w in req)

    def _c_requests(self) -> Any:
        """The requests as a ``u64 *`` for one run; release it with ffi.release()."""
        if self._buffer is not None:
            c = ffi.from_buffer("u64[]", self._buffer)
            if int(ffi.cast("uintptr_t", c)) % 8:
                # Unaligned words (a sliced memoryview): C reads an aligned copy.
                ffi.release(c)
                c = ffi.new("u64[]", list(self._view()))
            return c
        return ffi.from_buffer("u64[]", self._words)

    def _c_objects(self) -> tuple[Any, int]:
        if not self._objects:
            return ffi.NULL, 0
        if self._cobjs is None:
            self._cobjs = ffi.new("struct drm_gem_object *[]", [o._ptr for o in self._objects])
        return self._cobjs, len(self._objects)

    def __copy__(self) -> Batch:
        """An independent batch with the same requests (its own words) and objects."""
        new = Batch(objects=self._objects)
        new._words = array("Q", self._view())
        return new

    def __deepcopy__(self, memo: dict[int, Any]) -> Batch:
        # The objects stand for C objects of this process: shared, not copied.
        return self.__copy__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("Batch objects cannot be pickled: their requests name GemObjects, "
                        "which stand for C objects of this process")

    def __repr__(self) -> str:
        return f"<Batch {len(self)} requests, {len(self._objects)} objects>"


class BatchResult:
    """What :meth:`pygpuvm.VM.run_batch` did.

    ``processed``: requests handled, in order (``[0, processed)`` were each
    applied entirely or refused; later ones were not looked at).
    ``errors``: ``(index, GpuvmError)`` for each refused request (it changed
    nothing). ``stopped``: the batch ended before its last request (an
    ENOMEM, or any error with ``stop_on_error``). ``ops``: ops applied in
    total; ``changed``: requests that applied at least one op.
    """

    __slots__ = ("processed", "total", "errors", "ops", "changed")

    def __init__(self, processed: int, total: int, errors: list[tuple[int, GpuvmError]],
                 ops: int, changed: int) -> None:
        self.processed = processed
        self.total = total
        self.errors = errors
        self.ops = ops
        self.changed = changed

    @property
    def stopped(self) -> bool:
        return self.processed < self.total

    @property
    def ok(self) -> bool:
        """Every request was applied."""
        return not self.errors and not self.stopped

    def raise_first(self) -> None:
        """Raise the first request's error, if any (the batch already ran)."""
        if self.errors:
            raise self.errors[0][1]

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"{len(self.errors)} errors" + (
            ", stopped" if self.stopped else "")
        return (f"<BatchResult {self.processed}/{self.total} processed, {self.ops} ops, "
                f"{state}>")
