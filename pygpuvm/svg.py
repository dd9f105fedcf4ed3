"""Pictures of an address space: SVG (and HTML around it), standard library only.

``pygpuvm show FILE --format svg|html``, :meth:`pygpuvm.VM.to_svg`, and the
Jupyter hooks ``VM._repr_svg_`` / ``VM._repr_html_`` all draw a
:class:`Snapshot` with :func:`render`.

The axis. Addresses are not drawn to a linear scale: the window is cut at
every mapping boundary, and each piece (a mapping, or a hole between
mappings) gets a width that grows with the logarithm of its size
(``1 + log2(size / 4 KiB)`` units; holes half of that). So a 4 KiB mapping
and a 1 TiB hole are both visible. Holes much larger than the typical mapping
("big holes") are drawn at a fixed, clearly compressed width with a broken-axis
mark (a zigzag) and their size written in; other holes are hatched. Hex ticks
give the real address at the piece boundaries, so the picture can always be
read exactly. :class:`Axis` is that mapping (``axis.x(addr)``), which the
tests use to check the geometry.

Scale. A mapping narrower than :data:`MIN_PX` pixels is not drawn alone:
consecutive narrow pieces are merged into one ``agg`` bar (coloured by the
object with most bytes in it, with the count in its tooltip and its
``data-count``), so 1e5 mappings make a file of a few hundred KiB. Zooming
(``start``/``end``) re-renders the window from the data.

SVG structure (for tools and tests): ``<rect class="va">`` per drawn mapping
with ``data-addr``, ``data-range``, ``data-obj``, ``data-offset`` (hex);
``class="reserved"`` for the kernel-reserved node; ``class="agg"`` with
``data-count``; ``class="gap"`` (``gap big`` for compressed ones) with
``data-addr``/``data-range``; ``<g id="axis">`` with ``class="tick"`` texts;
``<g id="legend">`` with one ``class="legend-entry"`` group per GEM object
(``data-obj``, ``data-ext``, ``data-evicted``, ``data-vas``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

if TYPE_CHECKING:
    from .replay import State
    from .vm import VM

__all__ = ["ObjInfo", "Snapshot", "Axis", "render", "html_page", "html_fragment", "height_of",
           "snapshot_from_state", "snapshot_from_vm", "MIN_PX", "color"]

U64 = 1 << 64
PAGE = 4096
MIN_PX = 1.0          # narrower mappings are aggregated
BIN_PX = 2.0          # an aggregate bar closes once it is this wide
GAP_WEIGHT = 0.5      # a hole's weight relative to a mapping of the same size
BIG_FACTOR = 64       # a hole this many times the median mapping is "big"
BIG_PX = 26.0         # base width of a big (compressed) hole
BIG_SHARE = 0.3       # at most this share of the width goes to big holes
MARGIN = 24
BAR_Y = 58
BAR_H = 46
AXIS_Y = BAR_Y + BAR_H + 6
TICK_GAP = 13.0       # minimum distance between tick labels (rotated text)
CHAR_W = 6.6          # approximate width of a character of the 11px label font

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
           "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#a0cbe8")
RESERVED_FILL = "url(#reserved)"
NO_OBJECT_FILL = "#ffffff"


def color(i: int) -> str:
    """The fill of object number ``i``: a fixed palette, then golden-angle hues."""
    if i < 0:
        return NO_OBJECT_FILL
    if i < len(PALETTE):
        return PALETTE[i]
    hue = (i * 137.508) % 360
    return f"hsl({hue:.0f},55%,58%)"


@dataclass
class ObjInfo:
    """A GEM object as the legend shows it: its vm_bo's state in the VM."""

    name: str
    ext: bool = False
    evicted: bool = False
    vas: int = 0


@dataclass
class Snapshot:
    """What is drawn: the VM window, the reserved node, and the mappings as columns
    sorted by address (``obj``: index into ``objects``, -1 for no object), clipped to
    the zoom window ``[lo, hi)``."""

    name: str
    start: int
    end: int                      # VM window end (may be 2**64)
    reserved: tuple[int, int] | None
    addr: Sequence[int]
    size: Sequence[int]
    offset: Sequence[int]
    obj: Sequence[int]
    objects: list[ObjInfo] = field(default_factory=list)
    lo: int = 0
    hi: int = U64
    total: int = 0                # mappings in the VM (not only in the window)


def _hex(v: int) -> str:
    return "2^64" if v == U64 else f"{v:#x}"


def size_text(n: int) -> str:
    """``n`` bytes as a short human size: 4 KiB, 1.5 GiB, 12 B."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    v = float(n)
    i = 0
    while v >= 1024 and i < len(units) - 1:
        v /= 1024
        i += 1
    if i == 0:
        return f"{n} B"
    digits = 0 if v >= 100 else 1 if v >= 10 else 2
    text = f"{v:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {units[i]}"


class Axis:
    """Piecewise-linear address -> x mapping: ``bounds[i]`` is drawn at ``xs[i]``."""

    def __init__(self, bounds: list[int], xs: list[float]) -> None:
        if len(bounds) != len(xs) or len(bounds) < 2:
            raise ValueError("an axis needs matching bounds and positions (at least two)")
        self.bounds = bounds
        self.xs = xs

    def x(self, addr: int) -> float:
        b = self.bounds
        if addr <= b[0]:
            return self.xs[0]
        if addr >= b[-1]:
            return self.xs[-1]
        i = bisect_right(b, addr) - 1
        x0 = self.xs[i]
        return x0 + (addr - b[i]) / (b[i + 1] - b[i]) * (self.xs[i + 1] - x0)


# A piece of the window: (addr, end, kind, index) with kind 0 gap, 1 mapping, 2 reserved.
_GAP, _VA, _RES = 0, 1, 2


def _pieces(s: Snapshot) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int]]]:
    """Pieces covering [lo, hi) in order, and the zero-sized mappings (addr, index).
    Mappings are sorted by address and do not overlap (a VM's); anything that
    would overlap the piece before it is clipped."""
    lo, hi = s.lo, s.hi
    out: list[tuple[int, int, int, int]] = []
    points: list[tuple[int, int]] = []
    put = out.append
    res_a = res_e = -1
    if s.reserved is not None and s.reserved[1]:
        res_a = max(s.reserved[0], lo)
        res_e = min(s.reserved[0] + s.reserved[1], hi)
        if res_a >= res_e:
            res_a = -1
    cur = lo
    for i, (a, n) in enumerate(zip(s.addr, s.size)):
        if not n:
            if lo <= a <= hi:
                points.append((a, i))
            continue
        e = a + n
        if res_a >= 0 and res_a <= a:
            if res_a > cur:
                put((cur, res_a, _GAP, -1))
            if res_e > max(res_a, cur):
                put((max(res_a, cur), res_e, _RES, -1))
                cur = res_e
            res_a = -1
        if a < cur:
            a = cur
        if e > hi:
            e = hi
        if a >= e:
            continue
        if a > cur:
            put((cur, a, _GAP, -1))
        put((a, e, _VA, i))
        cur = e
    if res_a >= 0:
        if res_a > cur:
            put((cur, res_a, _GAP, -1))
        if res_e > max(res_a, cur):
            put((max(res_a, cur), res_e, _RES, -1))
            cur = res_e
    if cur < hi:
        put((cur, hi, _GAP, -1))
    return out, points


def layout(s: Snapshot, width: int) -> tuple[Axis, list[tuple[int, int, int, int]], set[int]]:
    """The axis of ``s`` drawn ``width`` pixels wide, the pieces, and which pieces
    (indices) are big (given a fixed width; holes among them are drawn compressed)."""
    return _layout(s, width, _pieces(s)[0])


def _layout(s: Snapshot, width: int, pieces: list[tuple[int, int, int, int]]
            ) -> tuple[Axis, list[tuple[int, int, int, int]], set[int]]:
    plot = float(width - 2 * MARGIN)
    if not pieces:
        return Axis([s.lo, max(s.hi, s.lo + 1)], [MARGIN, MARGIN + plot]), pieces, set()
    sizes = sorted(e - a for a, e, k, _ in pieces if k != _GAP)
    median = sizes[len(sizes) // 2] if sizes else PAGE
    big: set[int] = set()
    if sizes:
        # Big pieces (holes, and the odd huge mapping or reserved node) get a
        # width of their own, whatever the number of small ones.
        cands = [(pieces[j][1] - pieces[j][0], j) for j in range(len(pieces))
                 if pieces[j][1] - pieces[j][0] >= BIG_FACTOR * median]
        # Mappings and the reserved node first, then the largest holes.
        cands.sort(key=lambda c: (pieces[c[1]][2] != _GAP, c[0]), reverse=True)
        room = int(BIG_SHARE * plot // (BIG_PX + 12))
        big = {j for _, j in cands[:room]}
    log2 = math.log2
    weights = [(1.0 + log2((e - a) / PAGE) if e - a > PAGE else 1.0)
               * (GAP_WEIGHT if k == _GAP else 1.0) for a, e, k, _ in pieces]
    minpx = {j: BIG_PX + 0.5 * math.log2(max(pieces[j][1] - pieces[j][0], PAGE) / PAGE)
             for j in big}
    if sum(minpx.values()) > 0.6 * plot:
        shrink = 0.6 * plot / sum(minpx.values())
        minpx = {j: v * shrink for j, v in minpx.items()}
    # Big pieces get at least their minimum width; the rest share what is left
    # by weight (a few rounds: fixing one piece shrinks the unit of the others).
    fixed: dict[int, float] = {}
    all_weight = sum(weights)
    unit = 0.0
    for _ in range(4):
        free = all_weight - sum(weights[j] for j in fixed)
        unit = (plot - sum(fixed.values())) / free if free else 0.0
        more = {j: v for j, v in minpx.items() if j not in fixed and weights[j] * unit < v}
        if not more:
            break
        fixed.update(more)
    if not any(j not in fixed for j in range(len(pieces))):
        scale_up = plot / sum(fixed.values())
        fixed = {j: v * scale_up for j, v in fixed.items()}
    bounds = [pieces[0][0]]
    xs = [float(MARGIN)]
    x = float(MARGIN)
    for j, (a, e, _, _) in enumerate(pieces):
        x += fixed[j] if j in fixed else weights[j] * unit
        bounds.append(e)
        xs.append(x)
    xs[-1] = MARGIN + plot
    return Axis(bounds, xs), pieces, big


def _f(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def render(s: Snapshot, width: int = 1200) -> str:
    """The SVG document of ``s`` (``width`` pixels wide)."""
    if width < 200:
        raise ValueError("width must be at least 200 pixels")
    pieces, points = _pieces(s)
    axis, _, big_pieces = _layout(s, width, pieces)
    big = {j for j in big_pieces if pieces[j][2] == _GAP}
    xs = axis.xs
    out: list[str] = []
    w = out.append
    names = [o.name for o in s.objects]

    def label_of(i: int) -> str:
        o = s.obj[i]
        return (names[o] if o >= 0 else "-") + f"+{s.offset[i]:#x}"

    def va_attrs(i: int) -> str:
        o = s.obj[i]
        return (f'data-addr="{s.addr[i]:#x}" data-range="{s.size[i]:#x}" '
                f'data-obj={quoteattr(names[o] if o >= 0 else "-")} '
                f'data-offset="{s.offset[i]:#x}"')

    bars: list[str] = []
    gaps: list[str] = []
    labels: list[str] = []
    marks: list[str] = []
    y, h = BAR_Y, BAR_H
    # Aggregation state: first piece index, mapping count, bytes per object.
    agg_first = -1
    agg_count = 0
    agg_bytes: Counter[int] = Counter()

    def flush(upto: int) -> None:
        nonlocal agg_first, agg_count
        if agg_first < 0:
            return
        x0, x1 = xs[agg_first], xs[upto]
        a, e = pieces[agg_first][0], pieces[upto - 1][1]
        if agg_count == 1 and upto - agg_first == 1 and pieces[agg_first][2] == _VA:
            draw_va(agg_first)
        elif agg_count:
            top = agg_bytes.most_common(1)[0][0]
            fill = RESERVED_FILL if top == -2 else color(top)
            bars.append(f'<rect class="agg" x="{_f(x0)}" y="{y}" width="{_f(x1 - x0)}" '
                        f'height="{h}" fill="{fill}" data-addr="{a:#x}" '
                        f'data-range="{e - a:#x}" data-count="{agg_count}">'
                        f'<title>{agg_count} mapping{"s" if agg_count != 1 else ""} in '
                        f'[{_hex(a)}, {_hex(e)}) (aggregated: each narrower than '
                        f'{MIN_PX:g} px)</title></rect>')
        agg_first = -1
        agg_count = 0
        agg_bytes.clear()

    def draw_va(j: int) -> None:
        a, e, kind, i = pieces[j]
        x0, x1 = xs[j], xs[j + 1]
        if kind == _RES:
            r0, r1 = s.reserved[0], s.reserved[0] + s.reserved[1]  # type: ignore[index]
            bars.append(f'<rect class="reserved" x="{_f(x0)}" y="{y}" width="{_f(x1 - x0)}" '
                        f'height="{h}" fill="{RESERVED_FILL}" stroke="#666" '
                        f'data-addr="{r0:#x}" data-range="{r1 - r0:#x}">'
                        f'<title>kernel-reserved node [{_hex(r0)}, {_hex(r1)}) '
                        f'{size_text(r1 - r0)}</title></rect>')
            if x1 - x0 >= 8 * CHAR_W:
                labels.append(f'<text class="label" x="{_f((x0 + x1) / 2)}" y="{y + h / 2 + 4}" '
                              f'text-anchor="middle">reserved</text>')
            return
        o = s.obj[i]
        fill = color(o)
        stroke = ' stroke="#333" stroke-dasharray="3,2"' if o < 0 else ' stroke="#fff"'
        end = s.addr[i] + s.size[i]
        tip = (f'{escape(label_of(i))}: [{_hex(s.addr[i])}, {_hex(end)}) '
               f'{size_text(s.size[i])}, object {escape(names[o] if o >= 0 else "none")} '
               f'offset {s.offset[i]:#x}')
        bars.append(f'<rect class="va" x="{_f(x0)}" y="{y}" width="{_f(x1 - x0)}" '
                    f'height="{h}" fill="{fill}"{stroke} stroke-width="0.5" {va_attrs(i)}>'
                    f'<title>{tip}</title></rect>')
        text = label_of(i)
        name = names[o] if o >= 0 else "-"
        off = f"+{s.offset[i]:#x}"
        room = x1 - x0 - 4
        cx = _f((x0 + x1) / 2)
        if len(text) * CHAR_W <= room:
            labels.append(f'<text class="label" x="{cx}" y="{y + h / 2 + 4}" '
                          f'text-anchor="middle">{escape(text)}</text>')
        elif max(len(name), len(off)) * CHAR_W <= room:
            labels.append(f'<text class="label" x="{cx}" y="{y + h / 2 - 3}" '
                          f'text-anchor="middle">{escape(name)}<tspan x="{cx}" dy="13">'
                          f'{off}</tspan></text>')
        elif len(name) * CHAR_W <= room:
            labels.append(f'<text class="label" x="{cx}" y="{y + h / 2 + 4}" '
                          f'text-anchor="middle">{escape(name)}</text>')

    for j, (a, e, kind, i) in enumerate(pieces):
        px = xs[j + 1] - xs[j]
        if kind == _GAP:
            if px < MIN_PX and agg_first >= 0:
                continue  # a narrow hole inside an aggregate
            flush(j)
            if j in big or px >= 3:
                cls = "gap big" if j in big else "gap"
                gaps.append(f'<rect class="{cls}" x="{_f(xs[j])}" y="{y}" width="{_f(px)}" '
                            f'height="{h}" fill="url(#hole)" data-addr="{a:#x}" '
                            f'data-range="{e - a:#x}"><title>hole [{_hex(a)}, {_hex(e)}) '
                            f'{size_text(e - a)}{" (compressed)" if j in big else ""}'
                            f'</title></rect>')
            if j in big:
                cx = (xs[j] + xs[j + 1]) / 2
                zig = " ".join(f"{_f(cx - 3 + (6 if k % 2 else 0))},{_f(y - 6 + k * 3.5)}"
                               for k in range(0, int((h + 12) / 3.5) + 1))
                marks.append(f'<polyline class="break" points="{zig}" fill="none" '
                             f'stroke="#444" stroke-width="1.2"/>')
                text = size_text(e - a)
                if len(text) * CHAR_W * 0.9 <= px - 2:
                    marks.append(f'<text class="gap-label" x="{_f(cx)}" y="{y - 8}" '
                                 f'text-anchor="middle">{escape(text)}</text>')
            continue
        if px >= MIN_PX:
            flush(j)
            draw_va(j)
            continue
        if agg_first < 0:
            agg_first = j
        agg_count += 1
        agg_bytes[-2 if kind == _RES else s.obj[i]] += e - a
        if xs[j + 1] - xs[agg_first] >= BIN_PX:
            flush(j + 1)
    flush(len(pieces))
    for a, i in points:
        x = axis.x(a)
        bars.append(f'<line class="va zero" x1="{_f(x)}" x2="{_f(x)}" y1="{y - 4}" '
                    f'y2="{y + h + 4}" stroke="#000" stroke-width="1.5" {va_attrs(i)}>'
                    f'<title>zero-sized mapping at {_hex(a)}</title></line>')

    # Ticks at piece boundaries, labelled greedily left to right (ends first).
    ticks: list[str] = []
    tick_lines: list[str] = []
    bounds = axis.bounds
    chosen: list[int] = [0, len(bounds) - 1] if len(bounds) > 1 else [0]
    last_x = xs[0]
    end_x = xs[-1]
    for k in range(1, len(bounds) - 1):
        if xs[k] - last_x >= TICK_GAP and end_x - xs[k] >= TICK_GAP:
            chosen.append(k)
            last_x = xs[k]
    for k in sorted(set(chosen)):
        x = xs[k]
        tick_lines.append(f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{AXIS_Y}" y2="{AXIS_Y + 5}" '
                          f'stroke="#333"/>')
        ticks.append(f'<text class="tick" x="{_f(x)}" y="{AXIS_Y + 9}" data-addr="{bounds[k]:#x}" '
                     f'transform="rotate(-60 {_f(x)} {AXIS_Y + 9})" '
                     f'text-anchor="end">{_hex(bounds[k])}</text>')
    tick_h = max((len(_hex(bounds[k])) for k in chosen), default=4) * CHAR_W * 0.87 + 14

    # Legend: one entry per GEM object.
    legend_y = AXIS_Y + tick_h + 24
    col_w = 300
    cols = max(1, (width - 2 * MARGIN) // col_w)
    legend: list[str] = []
    entries: list[tuple[str, str, str]] = [
        (color(k), o.name, f'{"extobj" if o.ext else "private"}'
                           f'{", evicted" if o.evicted else ""}, '
                           f'{o.vas} VA{"s" if o.vas != 1 else ""}')
        for k, o in enumerate(s.objects)]
    for k, (fill, name, text) in enumerate(entries):
        o = s.objects[k]
        lx = MARGIN + (k % cols) * col_w
        ly = legend_y + (k // cols) * 20
        legend.append(f'<g class="legend-entry" data-obj={quoteattr(name)} '
                      f'data-ext="{int(o.ext)}" data-evicted="{int(o.evicted)}" '
                      f'data-vas="{o.vas}"><rect x="{lx}" y="{ly - 10}" width="12" height="12" '
                      f'fill="{fill}" stroke="#333" stroke-width="0.5"/>'
                      f'<text x="{lx + 18}" y="{ly}"><tspan font-weight="bold">{escape(name)}'
                      f'</tspan> {escape(text)}</text></g>')
    extra_y = legend_y + ((len(entries) + cols - 1) // cols) * 20
    key = (f'<g class="key"><rect x="{MARGIN}" y="{extra_y - 10}" width="12" height="12" '
           f'fill="{RESERVED_FILL}" stroke="#666"/><text x="{MARGIN + 18}" y="{extra_y}">'
           f'kernel-reserved</text>'
           f'<rect x="{MARGIN + 140}" y="{extra_y - 10}" width="12" height="12" '
           f'fill="{NO_OBJECT_FILL}" stroke="#333" stroke-dasharray="3,2"/>'
           f'<text x="{MARGIN + 158}" y="{extra_y}">no object</text>'
           f'<rect x="{MARGIN + 250}" y="{extra_y - 10}" width="12" height="12" '
           f'fill="url(#hole)" stroke="#999"/><text x="{MARGIN + 268}" y="{extra_y}">hole '
           f'(zigzag: compressed)</text></g>')
    height = int(extra_y + 40)

    nmaps = len(s.addr)
    window = f"[{_hex(s.start)}, {_hex(s.end)})"
    head = f"VM {s.name} {window}: {s.total} mapping{'s' if s.total != 1 else ''}"
    if s.reserved is not None:
        r0, rr = s.reserved
        head += f", reserved [{_hex(r0)}, {_hex(r0 + rr)})"
    if (s.lo, s.hi) != (s.start, s.end):
        head += f"; view [{_hex(s.lo)}, {_hex(s.hi)}): {nmaps} mapping{'s' if nmaps != 1 else ''}"
    sub = ("axis: each mapping and hole drawn with a width growing with log2(size), "
           "not to scale; ticks give real addresses")

    w(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
      f'viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, monospace" '
      f'font-size="11">')
    w('<defs><pattern id="hole" width="6" height="6" patternUnits="userSpaceOnUse" '
      'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4f4f4"/>'
      '<line x1="0" y1="0" x2="0" y2="6" stroke="#d0d0d0" stroke-width="2"/></pattern>'
      '<pattern id="reserved" width="5" height="5" patternUnits="userSpaceOnUse">'
      '<rect width="5" height="5" fill="#9a9a9a"/><path d="M0,5 L5,0" stroke="#555" '
      'stroke-width="1"/></pattern></defs>')
    w(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    w(f'<text class="title" x="{MARGIN}" y="18" font-size="13">{escape(head)}</text>')
    w(f'<text class="subtitle" x="{MARGIN}" y="34" fill="#555" font-size="10">'
      f'{escape(sub)}</text>')
    w('<g id="gaps">' + "".join(gaps) + "</g>")
    w('<g id="mappings">' + "".join(bars) + "</g>")
    w('<g id="labels" fill="#111">' + "".join(labels) + "</g>")
    w('<g id="breaks" font-size="10">' + "".join(marks) + "</g>")
    w(f'<g id="axis" font-size="10"><line x1="{_f(xs[0])}" x2="{_f(xs[-1])}" y1="{AXIS_Y}" '
      f'y2="{AXIS_Y}" stroke="#333"/>' + "".join(tick_lines) + "".join(ticks) + "</g>")
    w('<g id="legend">' + "".join(legend) + key + "</g>")
    w("</svg>\n")
    return "".join(out)


def height_of(svg_text: str) -> int:
    """The pixel height a document made by :func:`render` declares."""
    head = svg_text[:400]
    i = head.index('height="') + len('height="')
    return int(head[i:head.index('"', i)])


_CSS = """
body { font-family: sans-serif; margin: 16px; color: #222; }
svg rect.va:hover, svg rect.agg:hover { stroke: #000; stroke-width: 1.5; }
table { border-collapse: collapse; font-family: monospace; font-size: 12px; }
td, th { padding: 1px 8px; text-align: left; border-bottom: 1px solid #eee; }
.note { color: #666; font-size: 12px; }
"""

_MAX_ROWS = 2000


def _rows_html(s: Snapshot) -> str:
    names = [o.name for o in s.objects]
    rows = []
    for i in range(min(len(s.addr), _MAX_ROWS)):
        o = s.obj[i]
        rows.append(f"<tr><td>{s.addr[i]:#x}</td><td>{_hex(s.addr[i] + s.size[i])}</td>"
                    f"<td>{s.size[i]:#x}</td><td>{escape(names[o] if o >= 0 else '-')}</td>"
                    f"<td>{s.offset[i]:#x}</td></tr>")
    more = (f'<p class="note">{len(s.addr) - _MAX_ROWS} more rows not listed</p>'
            if len(s.addr) > _MAX_ROWS else "")
    return ("<table><tr><th>start</th><th>end</th><th>size</th><th>object</th>"
            "<th>offset</th></tr>" + "".join(rows) + "</table>" + more)


def html_fragment(s: Snapshot, width: int = 1200) -> str:
    """The picture for a notebook cell: the SVG inline in a ``<div>``."""
    return f'<div class="pygpuvm-view">{render(s, width)}</div>'


def html_page(s: Snapshot, width: int = 1200) -> str:
    """A self-contained HTML page: the picture (hover for details) and the mappings."""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{escape(s.name)}: address space</title><style>{_CSS}</style></head>"
            f"<body>{render(s, width)}<h3>Mappings</h3>{_rows_html(s)}</body></html>\n")


def _window(start: int, end: int, lo: int | None, hi: int | None) -> tuple[int, int]:
    a = start if lo is None else lo
    b = end if hi is None else hi
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int) \
            or not isinstance(b, int):
        raise TypeError("start and end must be ints")
    if not 0 <= a < b <= U64:
        raise ValueError("the view needs 0 <= start < end <= 2**64")
    return a, b


def snapshot_from_state(state: State, start: int | None = None, end: int | None = None,
                        name: str = "trace") -> Snapshot:
    """The picture's data from a replay's final :class:`~pygpuvm.replay.State`."""
    vm_end = min(state.start + state.range, U64)
    lo, hi = _window(state.start, vm_end, start, end)
    names: list[bytes] = []
    index: dict[bytes, int] = {}
    objects: list[ObjInfo] = []

    def obj_index(name: bytes) -> int:
        if name not in index:
            index[name] = len(names)
            names.append(name)
            objects.append(ObjInfo(name.decode("utf-8", "replace")))
        return index[name]

    for vb in state.vm_bos:
        k = obj_index(vb.bo)
        objects[k].ext = vb.ext
        objects[k].vas = len(vb.vas)
    addr: list[int] = []
    size: list[int] = []
    offset: list[int] = []
    obj: list[int] = []
    for va in sorted(state.vas, key=lambda v: v.addr):
        if va.addr + va.range <= lo and va.range or va.addr >= hi:
            continue
        addr.append(va.addr)
        size.append(va.range)
        offset.append(va.offset)
        obj.append(-1 if va.bo is None else obj_index(va.bo))
    # A reserved node whose end overflows was never inserted: nothing to draw.
    reserved = state.reserved if state.reserved_inserted else None
    return Snapshot(name, state.start, vm_end, reserved, addr, size, offset, obj,
                    objects, lo, hi, len(state.vas))


def snapshot_from_vm(vm: VM, start: int | None = None, end: int | None = None) -> Snapshot:
    """The picture's data from a live :class:`~pygpuvm.VM` (one columnar query)."""
    vm_end = min(vm.start + vm.range, U64)
    lo, hi = _window(vm.start, vm_end, start, end)
    with vm._lock:
        whole = vm.table(objects=True)
        table = whole if (lo, hi) == (0, U64) else vm.table(lo, hi)
        objs = whole.objects()
        ids = whole.obj_id.tolist()
        counts = Counter(ids)
        extobjs = {v.obj for v in vm.extobjs if v.obj is not None}
        evicted = {v.obj for v in vm.evicted_bos if v.obj is not None}
        total = len(whole)
    order: dict[int, int] = {}
    objects: list[ObjInfo] = []
    for key in ids:
        if key and key not in order:
            order[key] = len(objects)
            g = objs[key]
            objects.append(ObjInfo(g.name, g in extobjs, g in evicted, counts[key]))
    for g in list(extobjs) + list(evicted):
        if g._key not in order:
            order[g._key] = len(objects)
            objects.append(ObjInfo(g.name, g in extobjs, g in evicted, 0))
    obj = [order[k] if k else -1 for k in table.obj_id.tolist()]
    return Snapshot(vm.name, vm.start, vm_end, vm.reserve, table.addr.tolist(),
                    table.range.tolist(), table.offset.tolist(), obj, objects, lo, hi, total)
