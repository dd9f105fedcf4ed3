"""``pygpuvm replay``: run a trace (docs/trace-format.md) and print its canonical result.

This is a second, independent implementation of the trace replay, written in
Python over the raw bindings (``from pygpuvm.raw import ffi, lib``): the
parser, the printing and the application of the ops lists (``drm_gpuva_map``,
``drm_gpuva_remap``, ``drm_gpuva_unmap``, ``drm_gpuva_link_locked``,
``drm_gpuva_unlink_locked``, exactly as docs/trace-format.md's application rules say) are
all here. The C program ``gpuvm-replay`` applies the same lists through
``gpuvm_apply_ops()``; the test suite compares the two outputs, so each checks
the other. The error messages are the C program's, word for word.

Everything is bytes: bo names are printed as they were written, whatever
their encoding, and words are split on ASCII whitespace as in C.

Exit status: 0 ok, 2 malformed trace (one message naming the line on stderr;
output of earlier lines stays), 1 internal failure (an unexpected kernel
WARN, a leak at teardown).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterable, Iterator

from .raw import ffi, lib

__all__ = ["TraceError", "Command", "VaInfo", "VmBoInfo", "State", "parse", "replay",
           "replay_state", "run", "main"]

PROG = "pygpuvm replay"
U64 = 1 << 64

_NUMBER = re.compile(rb"0x[0-9a-fA-F]+|[0-9]+")
# Longest error message (bytes), as csrc/replay/trace.h's err[256] holds.
_MSG_MAX = 255
# Decimal digits of 2**64 - 1: a longer decimal (leading zeros aside) is out
# of range; checked before int(), which refuses more than 4300 digits.
_U64_DIGITS = 20

# name: (words after the command: allowed counts, their text for the message)
_SYNTAX: dict[bytes, tuple[tuple[int, ...], str]] = {
    b"vm": ((2, 4), "2 or 4"),
    b"bo": ((1, 2), "1 or 2"),
    b"map": ((4,), "4"),
    b"unmap": ((2,), "2"),
    b"bo_unmap": ((1,), "1"),
    b"prefetch": ((2,), "2"),
    b"dump": ((0,), "0"),
    b"mark": ((0,), "0"),
}

# A line is split into at most this many words (the longest command plus
# one more, enough to tell a wrong count); the rest is only counted, so a
# line of a million words costs a copy of the line, not a million objects.
_MAX_WORDS = 1 + max(max(counts) for counts, _ in _SYNTAX.values()) + 1
# bytes.split()'s whitespace -> b" ", every other byte -> b"x": words are the
# b"x" runs (counted without making them).
_WORD_MAP = bytes(0x20 if c in b" \t\n\v\f\r" else 0x78 for c in range(256))


def _count_words(text: bytes) -> int:
    marks = text.translate(_WORD_MAP)
    return marks.count(b" x") + (marks[:1] == b"x")


_ERRNO_NAMES = ("EINVAL", "ENOMEM", "EEXIST", "ENOENT", "EDEADLK", "EALREADY", "EBUSY",
                "EINTR", "EOPNOTSUPP")


class TraceError(Exception):
    """A malformed trace: ``line`` (0 when no line is to blame) and ``message``."""

    def __init__(self, line: int, message: str) -> None:
        # Cut as the C parser's fixed message buffer cuts it (255 bytes), so a
        # huge word in a malformed line gives a short message in both tools.
        raw = message.encode("utf-8", "surrogateescape")
        if len(raw) > _MSG_MAX:
            message = raw[:_MSG_MAX].decode("utf-8", "surrogateescape")
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Command:
    """One parsed command. ``args`` are numbers; ``bo`` indexes the bo table or is None."""

    name: bytes
    line: int
    args: tuple[int, ...] = ()
    bo: int | None = None


@dataclass(frozen=True)
class VaInfo:
    """One mapping after a replay: its range, bo name (None: no object) and offset."""

    addr: int
    range: int
    bo: bytes | None
    offset: int


@dataclass(frozen=True)
class VmBoInfo:
    """A bo's vm_bo: whether it is on the extobj list and its mappings in link order."""

    bo: bytes
    ext: bool
    vas: tuple[VaInfo, ...]


@dataclass(frozen=True)
class State:
    """The VM at the end of a trace (what ``dump`` prints, plus the VM's geometry)."""

    start: int
    range: int
    reserved: tuple[int, int] | None  # (addr, range) of the reserved node, if any
    reserved_inserted: bool
    vas: tuple[VaInfo, ...]
    vm_bos: tuple[VmBoInfo, ...]


class Parser:
    """Turns trace lines into commands, checking every rule of docs/trace-format.md.

    Checks run in the C parser's order: command name, word count, the words
    themselves, then what depends on earlier lines (vm, bo names).
    """

    def __init__(self) -> None:
        self.line = 0
        self.vm_line = 0
        self.bos: list[tuple[bytes, bool]] = []  # (name, ext) in declaration order
        self._bo_index: dict[bytes, int] = {}
        self._bo_line: list[int] = []

    def _number(self, word: bytes) -> int:
        if not _NUMBER.fullmatch(word):
            raise TraceError(self.line, f"bad number '{_text(word)}'")
        if word.startswith(b"0x"):
            value = int(word, 16)      # power-of-two base: no digit limit
        else:
            digits = word.lstrip(b"0") or b"0"
            value = int(digits) if len(digits) <= _U64_DIGITS else U64
        if value >= U64:
            raise TraceError(self.line, f"number out of range '{_text(word)}' (must be < 2^64)")
        return value

    def feed(self, raw: bytes) -> Command | None:
        """Parse one line (with or without its newline); None for blank lines."""
        self.line += 1
        if b"\0" in raw:
            raise TraceError(self.line, "NUL byte in line")
        words = raw.split(b"#", 1)[0].split(None, _MAX_WORDS - 1)
        if not words:
            return None
        name, rest = words[0], words[1:]
        syntax = _SYNTAX.get(name)
        if syntax is None:
            raise TraceError(self.line, f"unknown command '{_text(name)}'")
        counts, expected = syntax
        if len(rest) not in counts:
            got = len(rest)
            if len(words) == _MAX_WORDS:   # the last item holds the unsplit rest
                got += _count_words(words[-1]) - 1
            raise TraceError(self.line, f"wrong number of arguments for '{_text(name)}': "
                                        f"expected {expected}, got {got}")
        args: tuple[int, ...] = ()
        bo_name = None
        ext = False
        if name == b"vm":
            args = tuple(self._number(w) for w in rest)
            if len(args) == 2:
                args += (0, 0)
        elif name == b"bo":
            if rest[0] == b"-":
                raise TraceError(self.line, "bo name '-' is reserved (it means no object)")
            if len(rest) == 2 and rest[1] != b"ext":
                raise TraceError(self.line, f"bad bo flag '{_text(rest[1])}' (expected 'ext')")
            bo_name, ext = rest[0], len(rest) == 2
        elif name == b"map":
            args = (self._number(rest[0]), self._number(rest[1]), 0, self._number(rest[3]))
            if rest[2] != b"-":
                bo_name = rest[2]
        elif name in (b"unmap", b"prefetch"):
            args = (self._number(rest[0]), self._number(rest[1]))
        elif name == b"bo_unmap":
            bo_name = rest[0]

        if name == b"vm":
            if self.vm_line:
                raise TraceError(self.line, f"'vm' repeated (first on line {self.vm_line})")
            self.vm_line = self.line
            return Command(name, self.line, args)
        if not self.vm_line:
            raise TraceError(self.line, "'vm' missing: the first command must be 'vm'")
        bo = None
        if name == b"bo":
            assert bo_name is not None
            dup = self._bo_index.get(bo_name)
            if dup is not None:
                raise TraceError(self.line, f"duplicate bo '{_text(bo_name)}' "
                                            f"(first declared on line {self._bo_line[dup]})")
            bo = len(self.bos)
            self.bos.append((bo_name, ext))
            self._bo_index[bo_name] = bo
            self._bo_line.append(self.line)
        elif bo_name is not None:
            bo = self._bo_index.get(bo_name)
            if bo is None:
                raise TraceError(self.line, f"unknown bo '{_text(bo_name)}'")
        return Command(name, self.line, args, bo)

    def finish(self) -> None:
        """End of input: a trace without a vm command is an error."""
        if not self.vm_line:
            raise TraceError(self.line + 1, "'vm' missing: the trace has no 'vm' command")


def _text(word: bytes) -> str:
    # Messages quote the word as written (bytes that are not UTF-8 included).
    return word.decode("utf-8", "surrogateescape")


def parse(lines: Iterable[bytes], parser: Parser | None = None) -> Iterator[Command]:
    """Yield the commands of a trace one by one (so a caller can run each as it
    comes); raises :class:`TraceError` at the first malformed line."""
    p = parser or Parser()
    for raw in lines:
        cmd = p.feed(raw.rstrip(b"\n"))
        if cmd is not None:
            yield cmd
    p.finish()


# ---------------------------------------------------------------------------
# Execution over the raw bindings


def _container(ptr: Any, ctype: str, *member: str) -> Any:
    """container_of(): the struct of type @ctype holding the list node @ptr."""
    return ffi.cast(ctype + " *", ffi.cast("char *", ptr) - ffi.offsetof(ctype, *member))


def _list(head: Any, ctype: str, *member: str) -> list[Any]:
    """Every entry of a kernel list, in list order (a snapshot)."""
    out = []
    node = head.next
    while node != head:
        out.append(_container(node, ctype, *member))
        node = node.next
    return out


class _Replayer:
    """Runs commands the way docs/trace-format.md's staged-mode driver does."""

    def __init__(self, out: IO[bytes], err: IO[bytes], parser: Parser) -> None:
        self.out = out
        self.err = err
        self.parser = parser
        self.line = 0
        self.vm: Any = ffi.NULL
        self.kernel_node: Any = ffi.NULL
        self.drm: Any = ffi.NULL
        self.r_obj: Any = ffi.NULL
        self.objs: list[Any] = []
        self.names: dict[int, bytes] = {}  # GEM address -> bo name
        self.in_vm_init = False
        self.limit_warns = 0
        self.unexpected_warns = 0
        # Strings and tables C keeps pointers to must outlive the VM.
        self._keep: list[Any] = []
        self._vm_free = ffi.callback("void(struct drm_gpuvm *)", self._on_vm_free)
        self._warn_hook = ffi.callback("gpuvm_warn_fn", self._on_warn)

    # -- callbacks

    @staticmethod
    def _on_vm_free(gpuvm: Any) -> None:
        lib.kfree(gpuvm)

    def _on_warn(self, file: Any, line: int, msg: Any, data: Any) -> None:
        text = ffi.string(msg) if msg != ffi.NULL else b""
        # drm_gpuvm_init()'s overflow WARN: "GPUVA address limited to %zu bytes."
        if self.in_vm_init and b"GPUVA address limited to" in text:
            self.limit_warns += 1
            return
        self.unexpected_warns += 1
        where = ffi.string(file) if file != ffi.NULL else b"?"
        self.out.flush()
        self.err.write(b"%s: line %d: unexpected WARN at %s:%d: %s\n"
                       % (PROG.encode(), self.line, where, line, text))

    # -- output

    def _name(self, obj: Any) -> bytes:
        if obj == ffi.NULL:
            return b"-"
        return self.names[int(ffi.cast("uintptr_t", obj))]

    def _piece(self, addr: int, range_: int, obj: Any, offset: int, sep: bytes) -> bytes:
        return sep.join((b"0x%x" % addr, b"0x%x" % range_, self._name(obj), b"0x%x" % offset))

    def _va(self, va: Any, sep: bytes = b" ") -> bytes:
        return self._piece(va.va.addr, va.va.range, va.gem.obj, va.gem.offset, sep)

    def _op_map(self, m: Any, sep: bytes = b" ") -> bytes:
        return self._piece(m.va.addr, m.va.range, m.gem.obj, m.gem.offset, sep)

    def _error(self, err: int) -> None:
        code = -err
        for name in _ERRNO_NAMES:
            if getattr(lib, name, None) == code:
                self.out.write(b"error %s\n" % name.encode())
                return
        self.out.write(b"error %d\n" % code)

    def _header(self, cmd: Command) -> None:
        words = [cmd.name]
        if cmd.name == b"map":
            addr, range_, _, offset = cmd.args
            bo = b"-" if cmd.bo is None else self.parser.bos[cmd.bo][0]
            words += [b"0x%x" % addr, b"0x%x" % range_, bo, b"0x%x" % offset]
        elif cmd.name == b"bo_unmap":
            assert cmd.bo is not None
            words.append(self.parser.bos[cmd.bo][0])
        else:
            words += [b"0x%x" % a for a in cmd.args]
        self.out.write(b"> " + b" ".join(words) + b"\n")

    def _print_ops(self, ops: list[Any]) -> None:
        w = self.out.write
        for op in ops:
            kind = op.op
            if kind == lib.DRM_GPUVA_OP_MAP:
                w(b"map " + self._op_map(op.map) + b"\n")
            elif kind == lib.DRM_GPUVA_OP_REMAP:
                r = op.remap
                prev = self._op_map(r.prev, b",") if r.prev != ffi.NULL else b"-"
                nxt = self._op_map(r.next, b",") if r.next != ffi.NULL else b"-"
                w(b"remap unmap=%s,keep=%d prev=%s next=%s\n"
                  % (self._va(r.unmap.va, b","), r.unmap.keep, prev, nxt))
            elif kind == lib.DRM_GPUVA_OP_UNMAP:
                w(b"unmap %s keep=%d\n" % (self._va(op.unmap.va), op.unmap.keep))
            elif kind == lib.DRM_GPUVA_OP_PREFETCH:
                kernel = b" kernel" if op.prefetch.va == self.kernel_node else b""
                w(b"prefetch " + self._va(op.prefetch.va) + kernel + b"\n")
            else:
                w(b"op %d\n" % kind)

    # -- applying ops (docs/trace-format.md "How ops are applied")

    def _new_va(self) -> Any:
        va = lib.kzalloc(ffi.sizeof("struct drm_gpuva"), lib.GFP_KERNEL)
        if va == ffi.NULL:
            raise MemoryError("kzalloc(struct drm_gpuva)")
        return ffi.cast("struct drm_gpuva *", va)

    def _insert_failed(self, piece: Any) -> None:
        self.out.write(b"warn insert_failed " + self._op_map(piece) + b"\n")

    def _apply(self, ops: list[Any], vm_bo: Any) -> None:
        for op in ops:
            kind = op.op
            if kind == lib.DRM_GPUVA_OP_MAP:
                va = self._new_va()
                lib.drm_gpuva_map(self.vm, va, ffi.addressof(op[0], "map"))
                # drm_gpuva_insert() sets va->vm only on success.
                if va.vm == ffi.NULL:
                    self._insert_failed(op.map)
                    lib.kfree(va)
                elif va.gem.obj != ffi.NULL:
                    lib.drm_gpuva_link_locked(va, vm_bo)
            elif kind == lib.DRM_GPUVA_OP_REMAP:
                r = op.remap
                old = r.unmap.va
                pieces = [(self._new_va() if p != ffi.NULL else ffi.NULL, p)
                          for p in (r.prev, r.next)]
                lib.drm_gpuva_remap(pieces[0][0], pieces[1][0], ffi.addressof(op[0], "remap"))
                # The new pieces hold their vm_bo reference before the old VA
                # drops its own, so the vm_bo cannot die in between.
                for va, piece in pieces:
                    if piece == ffi.NULL:
                        continue
                    if va.vm == ffi.NULL:
                        self._insert_failed(piece)
                        lib.kfree(va)
                    elif old.vm_bo != ffi.NULL:
                        lib.drm_gpuva_link_locked(va, old.vm_bo)
                lib.drm_gpuva_unlink_locked(old)
                lib.kfree(old)
            elif kind == lib.DRM_GPUVA_OP_UNMAP:
                va = op.unmap.va
                lib.drm_gpuva_unlink_locked(va)
                lib.drm_gpuva_unmap(ffi.addressof(op[0], "unmap"))
                lib.kfree(va)

    def _run_ops(self, ops: Any, vm_bo: Any, apply: bool = True) -> None:
        if lib.IS_ERR(ops):
            self._error(lib.PTR_ERR(ops))
            return
        try:
            op_list = _list(ffi.addressof(ops[0], "list"), "struct drm_gpuva_op", "entry")
            self._print_ops(op_list)
            if apply:
                self._apply(op_list, vm_bo)
        finally:
            lib.drm_gpuva_ops_free(self.vm, ops)

    # -- commands

    def _cmd_vm(self, cmd: Command) -> None:
        start, range_, roff, rrange = cmd.args
        expected = (start + range_ >= U64) + (rrange != 0 and roff + rrange >= U64)
        name = ffi.new("char[]", b"pygpuvm-replay")
        vm_ops = ffi.new("struct drm_gpuvm_ops *")
        vm_ops.vm_free = self._vm_free
        self._keep += [name, vm_ops]
        self.drm = lib.drm_dev_alloc(name)
        self.r_obj = lib.drm_gpuvm_resv_object_alloc(self.drm)
        vm = lib.kzalloc(ffi.sizeof("struct drm_gpuvm"), lib.GFP_KERNEL)
        if self.drm == ffi.NULL or lib.IS_ERR_OR_NULL(self.r_obj) or vm == ffi.NULL:
            lib.kfree(vm)
            raise MemoryError("vm setup")
        self.vm = ffi.cast("struct drm_gpuvm *", vm)
        self.kernel_node = ffi.addressof(self.vm[0], "kernel_alloc_node")
        # Single-threaded: holding every resv from creation to teardown is
        # the same as holding them around each command.
        lib.dma_resv_lock(self.r_obj.resv, ffi.NULL)
        self.in_vm_init = True
        self.limit_warns = 0
        try:
            lib.drm_gpuvm_init(self.vm, name, 0, self.drm, self.r_obj, start, range_, roff,
                               rrange, vm_ops)
        finally:
            self.in_vm_init = False
        if self.limit_warns != expected:
            self.unexpected_warns += 1
            self.err.write(b"%s: line %d: drm_gpuvm_init() reported %d overflow WARNs, "
                           b"expected %d\n" % (PROG.encode(), cmd.line, self.limit_warns,
                                               expected))
        self.out.write(b"warn GPUVA address limited to 8 bytes.\n" * self.limit_warns)

    def _cmd_bo(self, cmd: Command) -> None:
        assert cmd.bo is not None
        name, ext = self.parser.bos[cmd.bo]
        obj = lib.drm_gem_object_create(self.drm, 0, ffi.NULL if ext else self.r_obj)
        if obj == ffi.NULL:
            raise MemoryError("drm_gem_object_create")
        if ext:
            lib.dma_resv_lock(obj.resv, ffi.NULL)
        self.objs.append(obj)
        self.names[int(ffi.cast("uintptr_t", obj))] = name

    def _cmd_map(self, cmd: Command) -> None:
        addr, range_, _, offset = cmd.args
        obj = ffi.NULL if cmd.bo is None else self.objs[cmd.bo]
        vm_bo = ffi.NULL
        if obj != ffi.NULL:
            vm_bo = lib.drm_gpuvm_bo_obtain_locked(self.vm, obj)
            if lib.IS_ERR_OR_NULL(vm_bo):
                self._error(lib.PTR_ERR(vm_bo) if vm_bo != ffi.NULL else -lib.ENOMEM)
                return
            lib.drm_gpuvm_bo_extobj_add(vm_bo)
        try:
            req = ffi.new("struct drm_gpuvm_map_req *")
            req.map.va.addr = addr
            req.map.va.range = range_
            req.map.gem.obj = obj
            req.map.gem.offset = offset
            self._run_ops(lib.drm_gpuvm_sm_map_ops_create(self.vm, req), vm_bo)
        finally:
            # A failed map leaves no vm_bo behind: this drops a new one again.
            if vm_bo != ffi.NULL:
                lib.drm_gpuvm_bo_put_locked(vm_bo)

    def _cmd_unmap(self, cmd: Command) -> None:
        self._run_ops(lib.drm_gpuvm_sm_unmap_ops_create(self.vm, *cmd.args), ffi.NULL)

    def _cmd_prefetch(self, cmd: Command) -> None:
        self._run_ops(lib.drm_gpuvm_prefetch_ops_create(self.vm, *cmd.args), ffi.NULL,
                      apply=False)

    def _cmd_bo_unmap(self, cmd: Command) -> None:
        assert cmd.bo is not None
        vm_bo = lib.drm_gpuvm_bo_find_locked(self.vm, self.objs[cmd.bo])
        if vm_bo == ffi.NULL:
            return
        try:
            self._run_ops(lib.drm_gpuvm_bo_unmap_ops_create_locked(vm_bo), vm_bo)
        finally:
            lib.drm_gpuvm_bo_put_locked(vm_bo)

    def _cmd_dump(self, cmd: Command) -> None:
        w = self.out.write
        for va in self.vas():
            if va != self.kernel_node:
                w(b"va " + self._va(va) + b"\n")
        for obj in self.objs:
            vm_bo = lib.drm_gpuvm_bo_find_locked(self.vm, obj)
            if vm_bo == ffi.NULL:
                continue
            try:
                vas = _list(ffi.addressof(vm_bo[0], "list", "gpuva"), "struct drm_gpuva",
                            "gem", "entry")
                # extobj_add only adds a vm_bo whose node is not on a list.
                on_extobj = not lib.list_empty(ffi.addressof(vm_bo[0], "list", "entry",
                                                             "extobj"))
                w(b"vm_bo %s %d%s\n" % (self._name(obj), len(vas), b" ext" if on_extobj else b""))
                for va in vas:
                    w(b"bova 0x%x 0x%x 0x%x\n" % (va.va.addr, va.va.range, va.gem.offset))
            finally:
                lib.drm_gpuvm_bo_put_locked(vm_bo)
        w(b"end\n")

    def _va_info(self, va: Any) -> VaInfo:
        bo = None if va.gem.obj == ffi.NULL else self._name(va.gem.obj)
        return VaInfo(va.va.addr, va.va.range, bo, va.gem.offset)

    def snapshot(self) -> State:
        """The current state, as :class:`State` (same content as ``dump``)."""
        vm = self.vm
        node = vm.kernel_alloc_node
        reserved = (node.va.addr, node.va.range) if node.va.range else None
        vas = tuple(self._va_info(va) for va in self.vas() if va != self.kernel_node)
        vm_bos = []
        for obj in self.objs:
            vm_bo = lib.drm_gpuvm_bo_find_locked(vm, obj)
            if vm_bo == ffi.NULL:
                continue
            try:
                linked = _list(ffi.addressof(vm_bo[0], "list", "gpuva"), "struct drm_gpuva",
                               "gem", "entry")
                ext = not lib.list_empty(ffi.addressof(vm_bo[0], "list", "entry", "extobj"))
                vm_bos.append(VmBoInfo(self._name(obj), ext,
                                       tuple(self._va_info(va) for va in linked)))
            finally:
                lib.drm_gpuvm_bo_put_locked(vm_bo)
        return State(vm.mm_start, vm.mm_range, reserved, bool(vm.kernel_alloc_node_inserted),
                     vas, tuple(vm_bos))

    def vas(self) -> list[Any]:
        return _list(ffi.addressof(self.vm[0], "rb", "list"), "struct drm_gpuva", "rb", "entry")

    def execute(self, cmd: Command) -> None:
        self.line = cmd.line
        if cmd.name not in (b"vm", b"bo", b"mark"):
            self._header(cmd)
        handler: Callable[[Command], None] | None = {
            b"vm": self._cmd_vm,
            b"bo": self._cmd_bo,
            b"map": self._cmd_map,
            b"unmap": self._cmd_unmap,
            b"bo_unmap": self._cmd_bo_unmap,
            b"prefetch": self._cmd_prefetch,
            b"dump": self._cmd_dump,
        }.get(cmd.name)
        if handler is not None:
            handler(cmd)

    def teardown(self) -> None:
        """Unmap everything and drop every reference."""
        if self.vm != ffi.NULL:
            for va in self.vas():
                if va == self.kernel_node:
                    continue
                lib.drm_gpuva_unlink_locked(va)
                lib.drm_gpuva_remove(va)
                lib.kfree(va)
            lib.drm_gpuvm_put(self.vm)
            self.vm = ffi.NULL
        # Unlock first: a GEM must not be freed under its own lock.
        for obj, (_, ext) in zip(self.objs, self.parser.bos):
            if ext:
                lib.dma_resv_unlock(obj.resv)
        if self.r_obj != ffi.NULL and not lib.IS_ERR(self.r_obj):
            if lib.dma_resv_held(self.r_obj.resv):
                lib.dma_resv_unlock(self.r_obj.resv)
        for obj in self.objs:
            lib.drm_gem_object_put(obj)
        self.objs = []
        if self.r_obj != ffi.NULL and not lib.IS_ERR(self.r_obj):
            lib.drm_gem_object_put(self.r_obj)
        self.r_obj = ffi.NULL
        lib.drm_dev_put(self.drm)
        self.drm = ffi.NULL


def _restore_warn_hook() -> None:
    # The classes install their hook when pygpuvm._callbacks is imported.
    if "pygpuvm._callbacks" in sys.modules:
        lib.pygpuvm_install_warn_hook()
        lib.gpuvm_warn_queue(True)
    else:
        lib.gpuvm_set_warn_hook(ffi.cast("gpuvm_warn_fn", 0), ffi.NULL)


def _replay(lines: Iterable[bytes], out: IO[bytes], err: IO[bytes], prog: str,
            at_end: Callable[[_Replayer], None] | None = None) -> int:
    parser = Parser()
    r = _Replayer(out, err, parser)
    live0 = lib.gpuvm_alloc_live()
    status = 0
    # The replay sees every WARN itself, at once (pygpuvm's classes queue them).
    lib.gpuvm_warn_queue(False)
    lib.gpuvm_set_warn_hook(r._warn_hook, ffi.NULL)
    try:
        for cmd in parse(lines, parser):
            r.execute(cmd)
        if at_end is not None:
            at_end(r)
    except TraceError as exc:
        out.flush()
        err.write(b"%s: %s\n" % (prog.encode(), str(exc).encode("utf-8", "surrogateescape")))
        status = 2
    finally:
        r.teardown()
        _restore_warn_hook()
    leaked = lib.gpuvm_alloc_live() - live0
    if leaked > 0:
        err.write(b"%s: leak: %d allocations still live after teardown\n"
                  % (prog.encode(), leaked))
        status = status or 1
    if r.unexpected_warns:
        status = status or 1
    out.flush()
    return status


def replay(lines: Iterable[bytes], out: IO[bytes], err: IO[bytes],
           prog: str = PROG) -> int:
    """Replay a trace read from @lines (bytes), writing the result to @out and
    messages to @err (both binary). Returns the exit status (0, 1 or 2).

    For its duration the replay owns the process-wide WARN hook (a WARN from
    another thread meanwhile would count as unexpected); pygpuvm's own hook is
    reinstalled afterwards."""
    return _replay(lines, out, err, prog)


def replay_state(lines: Iterable[bytes], out: IO[bytes], err: IO[bytes],
                 prog: str = PROG) -> tuple[int, State | None]:
    """Like :func:`replay`, and also return the final :class:`State` (None if
    the trace is malformed)."""
    states: list[State] = []
    status = _replay(lines, out, err, prog, lambda r: states.append(r.snapshot()))
    return status, (states[0] if states and status != 2 else None)


def run(path: str, out: IO[bytes] | None = None, err: IO[bytes] | None = None,
        prog: str = PROG) -> int:
    """Replay the trace file @path ('-': standard input)."""
    out = out if out is not None else sys.stdout.buffer
    err = err if err is not None else sys.stderr.buffer
    if path == "-":
        return replay(sys.stdin.buffer, out, err, prog)
    try:
        f = open(path, "rb")
    except OSError as exc:
        err.write(b"%s: %s: %s\n" % (prog.encode(), path.encode(), (exc.strerror or str(exc)).encode()))
        return 2
    with f:
        return replay(f, out, err, prog)


def main(argv: list[str] | None = None) -> int:
    """``python -m pygpuvm.replay [FILE|-]`` (the CLI's ``replay`` subcommand)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        sys.stderr.write(f"usage: {PROG} [FILE|-]\n")
        return 2
    return run(args[0] if args else "-")


if __name__ == "__main__":
    sys.exit(main())
