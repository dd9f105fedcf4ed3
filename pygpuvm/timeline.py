"""A trace as a timeline: ``pygpuvm show FILE --format html``.

The trace is replayed exactly as ``pygpuvm replay`` does (same replayer, same
ops), and for each command that asks something of the VM (``map``, ``unmap``,
``bo_unmap``, ``prefetch``) a row records the request, the address space
before and after it, and the ops it produced: ``unmap`` (with ``keep``),
``remap`` (the VA it splits and its ``prev``/``next`` pieces) and ``map``.

The page is one self-contained file (inline CSS and JavaScript, no network):
every row is drawn from the embedded data over one shared axis (the same
log-scaled, hole-compressing axis as :mod:`pygpuvm.svg`), so the pieces line
up from one command to the next. Hovering shows address, range, object and
offset; dragging across a row (or typing addresses) zooms, and the drawing is
redone from the data. In each row the VAs an op removes are outlined in the
"before" lane, the pieces it inserts in the "after" lane (map: green, remap
prev/next: orange), and ``keep`` is marked.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import IO, Any
from xml.sax.saxutils import escape

from .raw import ffi, lib
from .replay import (Command, Parser, TraceError, _container, _Replayer, _restore_warn_hook,
                     parse)

__all__ = ["TimelineError", "record", "render_trace", "MAX_CELLS"]

U64 = 1 << 64
_VA = "struct drm_gpuva"
# Rows store the VAs before and after each command. Beyond this many stored
# VAs in total, rows keep only the VAs near their request (and say so).
MAX_CELLS = 200_000

_ROW_COMMANDS = (b"map", b"unmap", b"bo_unmap", b"prefetch")


class TimelineError(Exception):
    """The trace could not be replayed (``status`` 2: malformed, 1: internal)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


Piece = list[Any]  # [addr hex, range hex, object index (-1 none), offset hex]


class _Recorder(_Replayer):
    """The replay's own driver, also keeping the ops of the current command."""

    def __init__(self, out: IO[bytes], err: IO[bytes], parser: Parser) -> None:
        super().__init__(out, err, parser)
        self.ops: list[dict[str, Any]] = []
        self.error: str | None = None
        self.failed: list[Piece] = []
        self.obj_index: dict[bytes, int] = {}

    def _oi(self, obj: Any) -> int:
        if obj == ffi.NULL:
            return -1
        return self.obj_index[self._name(obj)]

    def _p(self, addr: int, range_: int, obj: Any, offset: int) -> Piece:
        return [f"{addr:#x}", f"{range_:#x}", self._oi(obj), f"{offset:#x}"]

    def _pm(self, m: Any) -> Piece:
        return self._p(m.va.addr, m.va.range, m.gem.obj, m.gem.offset)

    def _pv(self, va: Any) -> Piece:
        return self._p(va.va.addr, va.va.range, va.gem.obj, va.gem.offset)

    def _print_ops(self, ops: list[Any]) -> None:
        for op in ops:
            kind = op.op
            if kind == lib.DRM_GPUVA_OP_MAP:
                self.ops.append({"op": "map", "map": self._pm(op.map)})
            elif kind == lib.DRM_GPUVA_OP_REMAP:
                r = op.remap
                self.ops.append({
                    "op": "remap", "unmap": self._pv(r.unmap.va), "keep": bool(r.unmap.keep),
                    "prev": self._pm(r.prev) if r.prev != ffi.NULL else None,
                    "next": self._pm(r.next) if r.next != ffi.NULL else None})
            elif kind == lib.DRM_GPUVA_OP_UNMAP:
                self.ops.append({"op": "unmap", "unmap": self._pv(op.unmap.va),
                                 "keep": bool(op.unmap.keep)})
            elif kind == lib.DRM_GPUVA_OP_PREFETCH:
                self.ops.append({"op": "prefetch", "va": self._pv(op.prefetch.va),
                                 "kernel": op.prefetch.va == self.kernel_node})
        super()._print_ops(ops)

    def _error(self, err: int) -> None:
        super()._error(err)
        code = -err
        self.error = next((n for n in ("EINVAL", "ENOMEM", "EEXIST", "ENOENT", "EBUSY")
                           if getattr(lib, n, None) == code), str(code))

    def _insert_failed(self, piece: Any) -> None:
        super()._insert_failed(piece)
        self.failed.append(self._pm(piece))

    def pieces(self, lo: int, hi: int) -> list[Piece]:
        out = []
        for va in (self.vas() if lo == 0 else self._vas_from(lo, hi)):
            if va == self.kernel_node:
                continue
            a, r = int(va.va.addr), int(va.va.range)
            if (a < hi and a + r > lo) or (r == 0 and lo <= a < hi):
                out.append(self._pv(va))
        return out

    def _vas_from(self, lo: int, hi: int) -> list[Any]:
        """The VAs, in address order, from the first one ending after ``lo``
        (or a zero-sized one at ``lo``) up to the last one starting below
        ``hi``: a superset of what ``pieces(lo, hi)`` keeps, found through the
        tree rather than by walking every VA (a local row of a long trace)."""
        head = ffi.addressof(self.vm[0], "rb", "list")
        # First VA overlapping [lo, 2**64): every VA of non-zero size that starts
        # at or after lo, or contains lo; zero-sized ones at lo come just before it.
        va = lib.drm_gpuva_find_first(self.vm, lo, U64 - lo)
        node = head if va == ffi.NULL else ffi.addressof(va[0], "rb", "entry")
        while node.prev != head and int(_container(node.prev, _VA, "rb", "entry").va.addr) >= lo:
            node = node.prev
        out = []
        while node != head:
            va = _container(node, _VA, "rb", "entry")
            if int(va.va.addr) >= hi:
                break
            out.append(va)
            node = node.next
        return out


def _request(r: _Recorder, cmd: Command) -> dict[str, Any]:
    if cmd.name == b"map":
        addr, range_, _, offset = cmd.args
        obj = -1 if cmd.bo is None else r.obj_index[r.parser.bos[cmd.bo][0]]
        return {"kind": "map", "addr": f"{addr:#x}", "range": f"{range_:#x}", "obj": obj,
                "offset": f"{offset:#x}"}
    if cmd.name == b"bo_unmap":
        assert cmd.bo is not None
        return {"kind": "bo_unmap", "obj": r.obj_index[r.parser.bos[cmd.bo][0]]}
    addr, range_ = cmd.args[:2]
    return {"kind": cmd.name.decode(), "addr": f"{addr:#x}", "range": f"{range_:#x}"}


def _text(cmd: Command, r: _Recorder) -> str:
    words = [cmd.name.decode()]
    if cmd.name == b"map":
        addr, range_, _, offset = cmd.args
        bo = "-" if cmd.bo is None else r.parser.bos[cmd.bo][0].decode("utf-8", "replace")
        words += [f"{addr:#x}", f"{range_:#x}", bo, f"{offset:#x}"]
    elif cmd.name == b"bo_unmap":
        assert cmd.bo is not None
        words.append(r.parser.bos[cmd.bo][0].decode("utf-8", "replace"))
    else:
        words += [f"{a:#x}" for a in cmd.args]
    return " ".join(words)


def record(lines: Iterable[bytes], max_cells: int = MAX_CELLS) -> dict[str, Any]:
    """Replay ``lines`` and return the timeline's data (what the page embeds)."""
    parser = Parser()
    out = io.BytesIO()
    err = io.BytesIO()
    r = _Recorder(out, err, parser)
    steps: list[dict[str, Any]] = []
    cells = 0
    local = False
    vm: dict[str, Any] = {}
    lib.gpuvm_warn_queue(False)   # the replay sees its WARNs at once (see replay._replay)
    lib.gpuvm_set_warn_hook(r._warn_hook, ffi.NULL)
    try:
        for cmd in parse(iter(lines), parser):
            if cmd.name == b"bo":
                assert cmd.bo is not None
                name = parser.bos[cmd.bo][0]
                r.obj_index.setdefault(name, len(r.obj_index))
            if cmd.name not in _ROW_COMMANDS:
                r.execute(cmd)
                if cmd.name == b"vm":
                    start, range_, roff, rrange = cmd.args
                    vm = {"start": f"{start:#x}", "end": f"{min(start + range_, U64):#x}",
                          "reserved": [f"{roff:#x}", f"{rrange:#x}"] if rrange else None}
                continue
            req = _request(r, cmd)
            if "addr" in req and not local:
                lo, hi = 0, U64
            elif "addr" in req:
                a, n = int(req["addr"], 16), int(req["range"], 16)
                lo, hi = max(a - 1, 0), min(a + n + 1, U64)
            else:
                lo, hi = 0, U64
            before = r.pieces(lo, hi)
            r.ops, r.error, r.failed = [], None, []
            r.execute(cmd)
            after = r.pieces(lo, hi)
            cells += len(before) + len(after)
            if cells > max_cells:
                local = True
            steps.append({"line": cmd.line, "cmd": _text(cmd, r), "req": req, "before": before,
                          "after": after, "ops": r.ops, "error": r.error, "failed": r.failed,
                          "local": bool(lo or hi != U64)})
    except TraceError as exc:
        raise TimelineError(str(exc)) from None
    finally:
        r.teardown()
        _restore_warn_hook()
    if r.unexpected_warns:
        raise TimelineError(err.getvalue().decode("utf-8", "replace").strip(), 1)
    names = sorted(r.obj_index, key=lambda k: r.obj_index[k])
    objects = [{"name": n.decode("utf-8", "replace"),
                "ext": next(ext for bo, ext in parser.bos if bo == n)} for n in names]
    return {"vm": vm, "objects": objects, "steps": steps}


def render_trace(lines: Iterable[bytes], width: int = 1200, start: int | None = None,
                 end: int | None = None, title: str = "trace") -> str:
    """The self-contained HTML timeline of a trace (``start``/``end``: initial zoom)."""
    data = record(lines)
    data["view"] = [f"{start:#x}" if start is not None else None,
                    f"{end:#x}" if end is not None else None]
    data["width"] = width
    if start is not None and end is not None and not start < end:
        raise TimelineError("the view needs start < end")
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (_PAGE.replace("@TITLE@", escape(title))
            .replace("@CSS@", _CSS).replace("@JS@", _JS).replace("@DATA@", blob))


_CSS = """
body { font-family: sans-serif; margin: 12px 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 4px 0; }
.note { color: #555; font-size: 12px; }
#controls { margin: 8px 0; font-size: 13px; }
#controls input { font-family: monospace; width: 170px; }
.step { border-top: 1px solid #ddd; padding: 6px 0 4px 0; }
.step-head { font-family: monospace; font-size: 13px; margin-bottom: 2px; }
.step-head .line { color: #888; margin-right: 8px; }
.step-head .err { color: #b00; font-weight: bold; margin-left: 8px; }
.ops { font-family: monospace; font-size: 12px; margin: 2px 0 0 92px; }
.op { display: inline-block; margin: 1px 6px 1px 0; padding: 1px 5px; border-radius: 3px; }
.op-map { background: #dff3dc; } .op-remap { background: #fde6cc; }
.op-unmap { background: #f8d7d7; } .op-prefetch { background: #e4e4f7; }
.keep { font-weight: bold; color: #7a3e00; }
svg.lanes { display: block; cursor: crosshair; }
svg .va:hover { stroke: #000; stroke-width: 1.5; }
#tip { position: fixed; pointer-events: none; background: #fffbe6; border: 1px solid #999;
       padding: 3px 6px; font-family: monospace; font-size: 12px; display: none;
       white-space: pre; z-index: 10; }
#legend span.sw { display: inline-block; width: 11px; height: 11px; margin: 0 4px 0 10px;
                  border: 1px solid #333; vertical-align: -1px; }
"""

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>@TITLE@: timeline</title>
<style>@CSS@</style></head>
<body>
<h1>@TITLE@: VM_BIND timeline</h1>
<div class="note">One row per command: the address space before it, the request, and
after it; the ops it produced below. Outlined in <i>before</i>: VAs an op removes (a
remap's split VA); in <i>after</i>: new pieces (green: map, orange: remap prev/next).
Axis: widths grow with log2(size), holes hatched (zigzag: compressed); ticks are real
addresses. Hover for details; drag across a row to zoom.</div>
<div id="controls">view <input id="lo"> &ndash; <input id="hi">
<button id="zoom">zoom</button> <button id="reset">reset</button>
<span id="legend"></span></div>
<div id="steps"></div>
<div id="tip"></div>
<script type="application/json" id="data">@DATA@</script>
<script>@JS@</script>
</body></html>
"""

_JS = r"""
(function () {
"use strict";
var D = JSON.parse(document.getElementById("data").textContent);
var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
  "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6", "#d37295", "#a0cbe8"];
var W = D.width || 1200, LEFT = 92, RIGHT = 16, LANE = 18, PAGE = 4096n;
var NS = "http://www.w3.org/2000/svg";
function color(i) {
  if (i < 0) return "#ffffff";
  if (i < PALETTE.length) return PALETTE[i];
  return "hsl(" + Math.round((i * 137.508) % 360) + ",55%,58%)";
}
function big(h) { return BigInt(h); }
function hex(v) { return "0x" + v.toString(16); }
function objName(i) { return i < 0 ? "-" : D.objects[i].name; }
function size(n) {
  var u = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], v = Number(n), i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2))
    .replace(/\.?0+$/, "") : String(n)) + " " + u[i];
}
var vmLo = big(D.vm.start), vmHi = big(D.vm.end);
var lo = D.view[0] ? big(D.view[0]) : vmLo, hi = D.view[1] ? big(D.view[1]) : vmHi;

// Every piece of every row, to build one shared axis.
function eachPiece(f) {
  var res = D.vm.reserved;
  if (res) f(big(res[0]), big(res[1]), true);
  D.steps.forEach(function (s) {
    s.before.forEach(function (p) { f(big(p[0]), big(p[1]), true); });
    s.after.forEach(function (p) { f(big(p[0]), big(p[1]), true); });
    if (s.req.addr) f(big(s.req.addr), big(s.req.range), false);
  });
}
function log2(n) { return Math.log2(Math.max(Number(n), 4096) / 4096); }
function buildAxis() {
  var set = new Map(), covered = [];
  function add(v) { if (v >= lo && v <= hi) set.set(v.toString(), v); }
  add(lo); add(hi);
  eachPiece(function (a, r, mapped) {
    add(a); add(a + r);
    if (mapped && r > 0n) covered.push([a, a + r]);
  });
  var b = Array.from(set.values()).sort(function (x, y) { return x < y ? -1 : x > y ? 1 : 0; });
  var segs = [], sizes = [];
  for (var i = 0; i + 1 < b.length; i++) {
    var a = b[i], e = b[i + 1], mid = a, hole = true;
    for (var k = 0; k < covered.length; k++) {
      if (covered[k][0] <= mid && mid < covered[k][1]) { hole = false; break; }
    }
    segs.push({a: a, e: e, hole: hole});
    if (!hole) sizes.push(Number(e - a));
  }
  sizes.sort(function (x, y) { return x - y; });
  var median = sizes.length ? sizes[sizes.length >> 1] : 4096;
  var plot = W - LEFT - RIGHT, fixed = 0, wsum = 0;
  segs.forEach(function (s) {
    s.big = s.hole && Number(s.e - s.a) >= 64 * median;
    s.w = (1 + log2(s.e - s.a)) * (s.hole ? 0.5 : 1);
    if (s.big) { s.px = 26 + 0.5 * log2(s.e - s.a); fixed += s.px; } else wsum += s.w;
  });
  if (fixed > 0.6 * plot) {
    segs.forEach(function (s) { if (s.big) s.px *= 0.6 * plot / fixed; });
    fixed = 0.6 * plot;
  }
  var unit = wsum ? (plot - fixed) / wsum : 0, x = LEFT;
  if (!wsum && fixed) segs.forEach(function (s) { s.px *= plot / fixed; });
  segs.forEach(function (s) { s.x = x; if (!s.big) s.px = s.w * unit; x += s.px; });
  return {b: b, segs: segs};
}
var AX = null;
function X(v) {
  if (v <= AX.b[0]) return LEFT;
  var segs = AX.segs;
  if (!segs.length || v >= AX.b[AX.b.length - 1]) return W - RIGHT;
  var l = 0, h = segs.length - 1;
  while (l < h) { var m = (l + h + 1) >> 1; if (segs[m].a <= v) l = m; else h = m - 1; }
  var s = segs[l];
  return s.x + Number(v - s.a) / Number(s.e - s.a) * s.px;
}
function addrAt(x) {
  var segs = AX.segs;
  for (var i = 0; i < segs.length; i++) {
    var s = segs[i];
    if (x < s.x + s.px || i === segs.length - 1) {
      var f = Math.min(Math.max((x - s.x) / (s.px || 1), 0), 1);
      var span = s.e - s.a;
      var off = BigInt(Math.floor(f * Number(span)));
      if (off > span) off = span;
      var v = s.a + off;
      return v - (v % PAGE);
    }
  }
  return hi;
}
function el(tag, attrs, parent) {
  var e = document.createElementNS(NS, tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function tipText(kind, p) {
  var a = big(p[0]), r = big(p[1]);
  return kind + "\naddress " + hex(a) + " .. " + hex(a + r) + "\nrange   " + hex(r) +
    " (" + size(r) + ")\nobject  " + objName(p[2]) + "\noffset  " + p[3];
}
function bar(g, p, y, cls, extra) {
  var a = big(p[0]), r = big(p[1]), e = a + r;
  if (e <= lo && r > 0n || a >= hi) return null;
  var x0 = X(a < lo ? lo : a), x1 = X(e > hi ? hi : e);
  var at = {"class": "va " + cls, x: x0.toFixed(2), y: y, width: Math.max(x1 - x0, 0.8).toFixed(2),
    height: LANE, fill: color(p[2]), stroke: p[2] < 0 ? "#333" : "#fff",
    "stroke-width": 0.5, "data-addr": p[0], "data-range": p[1], "data-obj": objName(p[2]),
    "data-offset": p[3], "data-tip": tipText(extra || "mapping", p)};
  if (p[2] < 0) at["stroke-dasharray"] = "3,2";
  var rect = el("rect", at, g);
  var label = objName(p[2]) + "+" + p[3];
  if ((x1 - x0) > label.length * 6.6 + 4) {
    var t = el("text", {x: ((x0 + x1) / 2).toFixed(2), y: y + 13, "text-anchor": "middle",
      "class": "label", "pointer-events": "none", "font-size": 11}, g);
    t.textContent = label;
  }
  return rect;
}
function outline(g, p, y, stroke, cls, tip) {
  var a = big(p[0]), r = big(p[1]), e = a + r;
  if (e <= lo || a >= hi) return;
  var x0 = X(a < lo ? lo : a), x1 = X(e > hi ? hi : e);
  el("rect", {"class": cls, x: (x0 + 1).toFixed(2), y: y + 1, width: Math.max(x1 - x0 - 2, 1).toFixed(2),
    height: LANE - 2, fill: "none", stroke: stroke, "stroke-width": 2.5,
    "data-addr": p[0], "data-range": p[1], "data-tip": tipText(tip, p)}, g);
}
function holes(g, y) {
  AX.segs.forEach(function (s) {
    if (!s.hole || s.px < 2) return;
    el("rect", {"class": "gap" + (s.big ? " big" : ""), x: s.x.toFixed(2), y: y, width: s.px.toFixed(2),
      height: LANE, fill: "url(#hole)", "data-tip": "hole " + hex(s.a) + " .. " + hex(s.e) +
      "\n" + size(s.e - s.a) + (s.big ? " (compressed)" : "")}, g);
    if (s.big) {
      var cx = s.x + s.px / 2, pts = [];
      for (var k = 0; k <= 7; k++) pts.push((cx - 3 + (k % 2 ? 6 : 0)).toFixed(1) + "," + (y - 1 + k * 3));
      el("polyline", {"class": "break", points: pts.join(" "), fill: "none", stroke: "#444"}, g);
    }
  });
}
function defs(svg) {
  var d = el("defs", {}, svg);
  var p = el("pattern", {id: "hole", width: 6, height: 6, patternUnits: "userSpaceOnUse",
    patternTransform: "rotate(45)"}, d);
  el("rect", {width: 6, height: 6, fill: "#f4f4f4"}, p);
  el("line", {x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#d0d0d0", "stroke-width": 2}, p);
  var q = el("pattern", {id: "reserved", width: 5, height: 5, patternUnits: "userSpaceOnUse"}, d);
  el("rect", {width: 5, height: 5, fill: "#9a9a9a"}, q);
  el("path", {d: "M0,5 L5,0", stroke: "#555"}, q);
}
function lanes(s, idx) {
  var H = 3 * (LANE + 4) + 2;
  var svg = el("svg", {"class": "lanes", width: W, height: H, "data-step": idx});
  defs(svg);
  var names = ["before", "request", "after"];
  for (var k = 0; k < 3; k++) {
    var y = 1 + k * (LANE + 4);
    var t = el("text", {x: 4, y: y + 13, "font-size": 11, fill: "#555"}, svg);
    t.textContent = names[k];
    var g = el("g", {"class": "lane lane-" + names[k]}, svg);
    holes(g, y);
    if (D.vm.reserved && k !== 1) {
      var ra = big(D.vm.reserved[0]), rr = big(D.vm.reserved[1]);
      if (ra + rr > lo && ra < hi) {
        var x0 = X(ra < lo ? lo : ra), x1 = X(ra + rr > hi ? hi : ra + rr);
        el("rect", {"class": "reserved", x: x0, y: y, width: Math.max(x1 - x0, 0.8), height: LANE,
          fill: "url(#reserved)", "data-tip": "kernel-reserved " + hex(ra) + " .. " + hex(ra + rr)}, g);
      }
    }
    if (k === 0) s.before.forEach(function (p) { bar(g, p, y, "before"); });
    if (k === 2) s.after.forEach(function (p) { bar(g, p, y, "after"); });
    if (k === 1 && s.req.addr) {
      var rq = [s.req.addr, s.req.range, s.req.obj === undefined ? -1 : s.req.obj,
        s.req.offset || "0x0"];
      var r = bar(g, rq, y, "request", s.req.kind + " request");
      if (r && s.req.kind !== "map") { r.setAttribute("fill", "#fff"); r.setAttribute("stroke", "#b00");
        r.setAttribute("stroke-dasharray", "4,2"); r.setAttribute("stroke-width", 1.5); }
    }
    if (k === 0) s.ops.forEach(function (o) {
      if (o.op === "unmap" || o.op === "remap")
        outline(g, o.unmap, y, o.keep ? "#7a3e00" : "#c00", "op-old",
          o.op + " removes" + (o.keep ? " (keep)" : ""));
    });
    if (k === 2) s.ops.forEach(function (o) {
      if (o.op === "map") outline(g, o.map, y, "#1a8a1a", "op-new op-map", "map inserts");
      if (o.op === "remap") {
        if (o.prev) outline(g, o.prev, y, "#e07b00", "op-new op-prev", "remap prev");
        if (o.next) outline(g, o.next, y, "#e07b00", "op-new op-next", "remap next");
      }
    });
  }
  var x0 = null, sel = null;
  svg.addEventListener("mousedown", function (ev) {
    x0 = ev.offsetX;
    sel = el("rect", {x: x0, y: 0, width: 0, height: H, fill: "rgba(0,0,200,0.12)"}, svg);
  });
  svg.addEventListener("mousemove", function (ev) {
    if (sel) { var a = Math.min(x0, ev.offsetX); sel.setAttribute("x", a);
      sel.setAttribute("width", Math.abs(ev.offsetX - x0)); }
  });
  svg.addEventListener("mouseup", function (ev) {
    if (sel) { sel.remove(); sel = null; }
    if (x0 !== null && Math.abs(ev.offsetX - x0) > 4) {
      var a = addrAt(Math.min(x0, ev.offsetX)), b = addrAt(Math.max(x0, ev.offsetX)) + PAGE;
      if (b > a) zoom(a, b);
    }
    x0 = null;
  });
  return svg;
}
function axisRow() {
  var svg = el("svg", {"class": "axis", width: W, height: 84});
  el("line", {x1: LEFT, x2: W - RIGHT, y1: 2, y2: 2, stroke: "#333"}, svg);
  var last = -1e9, b = AX.b;
  for (var i = 0; i < b.length; i++) {
    var x = X(b[i]);
    if (i !== b.length - 1 && i !== 0 && (x - last < 13 || W - RIGHT - x < 13)) continue;
    last = x;
    el("line", {x1: x, x2: x, y1: 2, y2: 7, stroke: "#333"}, svg);
    var t = el("text", {"class": "tick", x: x, y: 11, "font-size": 10, "text-anchor": "end",
      "font-family": "monospace", transform: "rotate(-60 " + x + " 11)"}, svg);
    t.textContent = hex(b[i]);
  }
  return svg;
}
function opText(o) {
  function pc(p) { return p ? p[0] + "," + p[1] + "," + objName(p[2]) + "," + p[3] : "-"; }
  var span = document.createElement("span");
  span.className = "op op-" + o.op;
  if (o.op === "map") span.textContent = "map " + pc(o.map);
  else if (o.op === "remap") span.textContent = "remap unmap=" + pc(o.unmap) + " prev=" + pc(o.prev) + " next=" + pc(o.next);
  else if (o.op === "unmap") span.textContent = "unmap " + pc(o.unmap);
  else span.textContent = "prefetch " + pc(o.va) + (o.kernel ? " kernel" : "");
  if (o.keep) { var k = document.createElement("span"); k.className = "keep"; k.textContent = " keep";
    span.appendChild(k); }
  return span;
}
function render() {
  AX = buildAxis();
  document.getElementById("lo").value = hex(lo);
  document.getElementById("hi").value = hex(hi);
  var root = document.getElementById("steps");
  root.textContent = "";
  root.appendChild(axisRow());
  D.steps.forEach(function (s, i) {
    var div = document.createElement("div");
    div.className = "step";
    div.setAttribute("data-cmd", s.req.kind);
    var head = document.createElement("div");
    head.className = "step-head";
    head.innerHTML = "<span class='line'>line " + s.line + "</span>";
    head.appendChild(document.createTextNode(s.cmd));
    if (s.error) { var e = document.createElement("span"); e.className = "err";
      e.textContent = "error " + s.error; head.appendChild(e); }
    if (s.local) { var n = document.createElement("span"); n.className = "note";
      n.textContent = "  (only the VAs near the request are stored for this row)"; head.appendChild(n); }
    div.appendChild(head);
    div.appendChild(lanes(s, i));
    var ops = document.createElement("div");
    ops.className = "ops";
    if (!s.ops.length) ops.textContent = s.error ? "" : "(no ops)";
    s.ops.forEach(function (o) { ops.appendChild(opText(o)); });
    s.failed.forEach(function (p) { var f = document.createElement("span"); f.className = "op";
      f.textContent = "warn insert_failed " + p.join(","); ops.appendChild(f); });
    div.appendChild(ops);
    root.appendChild(div);
  });
}
function zoom(a, b) {
  if (a < vmLo) a = vmLo;
  if (b > vmHi) b = vmHi;
  if (b <= a) return;
  lo = a; hi = b; render();
}
document.getElementById("zoom").onclick = function () {
  try { zoom(big(document.getElementById("lo").value), big(document.getElementById("hi").value)); }
  catch (e) { alert("addresses: hex (0x...) or decimal"); }
};
document.getElementById("reset").onclick = function () { zoom(vmLo, vmHi); };
var leg = document.getElementById("legend");
D.objects.forEach(function (o, i) {
  var sw = document.createElement("span"); sw.className = "sw"; sw.style.background = color(i);
  leg.appendChild(sw); leg.appendChild(document.createTextNode(o.name + (o.ext ? " (ext)" : "")));
});
var tip = document.getElementById("tip");
document.addEventListener("mousemove", function (ev) {
  var t = ev.target && ev.target.getAttribute && ev.target.getAttribute("data-tip");
  if (t) { tip.textContent = t; tip.style.display = "block";
    tip.style.left = (ev.clientX + 14) + "px"; tip.style.top = (ev.clientY + 14) + "px"; }
  else tip.style.display = "none";
});
render();
document.body.setAttribute("data-rendered", String(D.steps.length));
})();
"""


# ---------------------------------------------------------------- pictures (PNG)


def browser() -> str | None:
    """A headless-capable Chromium: $PYGPUVM_CHROMIUM, else chromium on PATH."""
    import os
    import shutil

    env = os.environ.get("PYGPUVM_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def page_height(steps: int) -> int:
    """A window height that holds a timeline page of ``steps`` rows."""
    return 200 + 124 * steps


def screenshot(text: str, suffix: str, width: int, height: int, out: str) -> None:
    """Render ``text`` (an HTML page or an SVG document, by ``suffix``) with headless
    Chromium into the PNG file ``out``. Raises TimelineError without a browser."""
    import os
    import subprocess
    import tempfile

    exe = browser()
    if exe is None:
        raise TimelineError("PNG output needs a headless Chromium (Debian: apt-get install "
                            "chromium; or set PYGPUVM_CHROMIUM); use --format svg or html")
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS")}
    with tempfile.TemporaryDirectory(prefix="pygpuvm-shot-") as tmp:
        src = os.path.join(tmp, "page" + suffix)
        with open(src, "w", encoding="utf-8") as f:
            f.write(text)
        target = os.path.abspath(out)
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", "--hide-scrollbars",
               f"--user-data-dir={os.path.join(tmp, 'profile')}",
               f"--window-size={width},{height}", f"--screenshot={target}",
               "file://" + src]
        try:
            res = subprocess.run(cmd, capture_output=True, timeout=120, check=False, env=env)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TimelineError(f"{exe}: {exc}", 1) from None
        if res.returncode != 0 or not os.path.exists(target):
            tail = res.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise TimelineError(f"{exe} failed to take the screenshot: " + " | ".join(tail), 1)
