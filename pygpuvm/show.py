"""``pygpuvm show``: draw a VM's address space as text (from a replay's final state).

Layout::

    VM [0x0, 0x100000): 4 mappings, reserved [0x0, 0x10000)

              0x0                                       0x100000
    overview  |*****A..AAAAbb.....~~............................|

    start      end        size       bo      offset
    0x0        0x10000    0x10000    kernel             |****.........|
    0x10000    0x18000    0x8000     A       0x0        |....A........|
    ...
    vm_bos (mappings in link order):
      A  private  2: 0x10000+0x8000@0x0, ...

The window ``[start, start+range)`` is scaled to the bar width; every mapping
covers at least one column. Each bo has a one-character symbol (its name's
first character when that is unambiguous), ``*`` is the kernel-reserved node,
``~`` a mapping without object, ``+`` a column shared by several symbols, and
``|`` a zero-sized mapping.
"""

from __future__ import annotations

import shutil
import string

from .replay import State, VaInfo

__all__ = ["render"]

U64 = 1 << 64
RESERVED = "*"
NO_OBJECT = "~"
SHARED = "+"
ZERO = "|"
FREE = "."


def _symbols(state: State) -> dict[bytes, str]:
    """A distinct printable character per bo name seen in the state."""
    names: list[bytes] = []
    for va in state.vas:
        if va.bo is not None and va.bo not in names:
            names.append(va.bo)
    for vb in state.vm_bos:
        if vb.bo not in names:
            names.append(vb.bo)
    taken = {RESERVED, NO_OBJECT, SHARED, ZERO, FREE}
    out: dict[bytes, str] = {}
    pending = []
    for name in names:
        first = chr(name[0]) if name and 33 <= name[0] < 127 else ""
        if first and first not in taken:
            out[name] = first
            taken.add(first)
        else:
            pending.append(name)
    spare = (c for c in string.ascii_letters + string.digits + "#@%&$=" if c not in taken)
    for name in pending:
        out[name] = next(spare, "?")
    return out


def _text(name: bytes | None) -> str:
    return "-" if name is None else name.decode("utf-8", "replace")


class _Scale:
    def __init__(self, start: int, range_: int, width: int) -> None:
        self.lo = start
        self.hi = min(start + range_, U64)  # the window end may overflow u64 (WARNed)
        self.span = max(self.hi - self.lo, 1)
        self.width = width

    def columns(self, addr: int, range_: int) -> tuple[int, int] | str:
        """First and last column of [addr, addr+range), or '<'/'>' when outside."""
        end = min(addr + range_, U64)
        if range_ and end <= self.lo:
            return "<"
        if addr >= self.hi and not (range_ == 0 and addr == self.hi):
            return ">"
        first = max(addr - self.lo, 0) * self.width // self.span
        last = -(-(min(end, self.hi) - self.lo) * self.width // self.span) - 1
        first = min(first, self.width - 1)
        return first, max(first, min(last, self.width - 1))

    def paint(self, row: list[str], addr: int, range_: int, sym: str) -> None:
        """Mark every column [addr, addr+range) touches (one mapping per row)."""
        cols = self.columns(addr, range_)
        if isinstance(cols, str):
            row[0 if cols == "<" else -1] = cols
            return
        for c in range(cols[0], cols[1] + 1):
            row[c] = ZERO if range_ == 0 else sym

    def overview(self, items: list[tuple[int, int, str]]) -> list[str]:
        """One row for all mappings: each column shows the symbol covering most
        of it, SHARED when no symbol covers half of a column shared by several."""
        cover: list[dict[str, int]] = [{} for _ in range(self.width)]
        row = [FREE] * self.width
        for addr, range_, sym in items:
            cols = self.columns(addr, range_)
            if isinstance(cols, str):
                row[0 if cols == "<" else -1] = cols
                continue
            if range_ == 0:
                cover[cols[0]].setdefault(ZERO, 0)
                continue
            # Columns in units of (address - lo) * width: column c is
            # [c * span, (c + 1) * span).
            a = (max(addr, self.lo) - self.lo) * self.width
            e = (min(addr + range_, self.hi) - self.lo) * self.width
            for c in range(cols[0], cols[1] + 1):
                part = min(e, (c + 1) * self.span) - max(a, c * self.span)
                cover[c][sym] = cover[c].get(sym, 0) + max(part, 1)
        for c, syms in enumerate(cover):
            if not syms or row[c] != FREE:
                continue
            best = max(syms, key=lambda k: syms[k])
            several = len(syms) > 1 and 2 * syms[best] < self.span
            row[c] = SHARED if several else best
        return row


def render(state: State, width: int | None = None) -> str:
    """The drawing of @state; @width is the bar width (default: fit the terminal)."""
    syms = _symbols(state)
    rows: list[tuple[int, int, str, str, str]] = []  # start, range, bo, offset, symbol
    entries: list[tuple[int, int, VaInfo | None]] = [(va.addr, i + 1, va)
                                                     for i, va in enumerate(state.vas)]
    if state.reserved is not None:
        entries.append((state.reserved[0], 0, None))
    for _, _, va in sorted(entries, key=lambda e: (e[0], e[1])):
        if va is None:
            assert state.reserved is not None
            a, r = state.reserved
            rows.append((a, r, "kernel", "", RESERVED))
        else:
            sym = NO_OBJECT if va.bo is None else syms[va.bo]
            rows.append((va.addr, va.range, _text(va.bo), f"{va.offset:#x}", sym))

    def hexw(v: int) -> str:
        # Ends past u64 are shown unwrapped: the kernel would see v - 2^64.
        if v >= U64:
            return "2^64" + (f"+{v - U64:#x}" if v > U64 else "")
        return f"{v:#x}"

    col_start = max([len("start")] + [len(hexw(r[0])) for r in rows])
    col_end = max([len("end")] + [len(hexw(r[0] + r[1])) for r in rows])
    col_size = max([len("size")] + [len(hexw(r[1])) for r in rows])
    col_bo = max([len("bo")] + [len(r[2]) for r in rows])
    col_off = max([len("offset")] + [len(r[3]) for r in rows])
    fixed = col_start + col_end + col_size + col_bo + col_off + 5 * 2 + 2
    if width is None:
        cols = shutil.get_terminal_size((100, 24)).columns
        width = max(16, min(64, cols - fixed - 1))
    scale = _Scale(state.start, state.range, width)

    lines = []
    end = state.start + state.range
    window = f"[{state.start:#x}, {end:#x})" if end < U64 else \
        f"[{state.start:#x}, 2^64)" if end == U64 else \
        f"[{state.start:#x}, {end % U64:#x}) (end wraps past 2^64)"
    head = f"VM {window}: {len(state.vas)} mapping{'s' if len(state.vas) != 1 else ''}"
    if state.reserved is not None:
        a, r = state.reserved
        head += f", reserved [{a:#x}, {(a + r) % U64:#x})"
        if not state.reserved_inserted:
            head += " (not in the tree: its end overflows)"
    lines.append(head)
    lines.append("")

    overview = scale.overview([(a, r, sym) for a, r, _, _, sym in rows])
    lo_label = f"{scale.lo:#x}"
    hi_label = f"{scale.hi:#x}" if scale.hi < U64 else "2^64"
    pad = "overview  "
    lines.append(" " * len(pad) + lo_label.ljust(width + 2 - len(hi_label)) + hi_label)
    lines.append(pad + "|" + "".join(overview) + "|")
    lines.append("")

    lines.append(f"{'start':<{col_start}}  {'end':<{col_end}}  {'size':<{col_size}}  "
                 f"{'bo':<{col_bo}}  {'offset':<{col_off}}")
    for a, r, bo, off, sym in rows:
        bar = [FREE] * width
        scale.paint(bar, a, r, sym)
        lines.append(f"{hexw(a):<{col_start}}  {hexw(a + r):<{col_end}}  "
                     f"{hexw(r):<{col_size}}  {bo:<{col_bo}}  {off:<{col_off}}  "
                     f"|{''.join(bar)}|")
    if not rows:
        lines.append("(no mappings)")
    lines.append("")

    if state.vm_bos:
        lines.append("vm_bos (mappings in link order):")
        name_w = max(len(_text(vb.bo)) for vb in state.vm_bos)
        for vb in state.vm_bos:
            kind = "ext    " if vb.ext else "private"
            n = len(vb.vas)
            vas = ", ".join(f"{va.addr:#x}+{va.range:#x}@{va.offset:#x}" for va in vb.vas)
            lines.append(f"  {_text(vb.bo):<{name_w}}  ({syms[vb.bo]})  {kind}  "
                         f"{n} mapping{'s' if n != 1 else ''}{': ' if n else ''}{vas}")
    else:
        lines.append("vm_bos: none")
    legend = f"legend: {RESERVED} kernel-reserved, {NO_OBJECT} no object, " \
             f"{SHARED} several in one column, {ZERO} zero-sized, {FREE} free"
    lines.append(legend)
    return "".join(line.rstrip() + "\n" for line in lines)
