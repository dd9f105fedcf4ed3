"""Pictures of the address space (pygpuvm/svg.py, ``show --format``): the SVG is
parsed and its geometry checked against the axis mapping."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import pygpuvm
from pygpuvm import svg

TRACES = Path(__file__).resolve().parent / "traces"
NS = "{http://www.w3.org/2000/svg}"
KIB, MIB, GIB, TIB = 1 << 10, 1 << 20, 1 << 30, 1 << 40


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == NS + "svg"
    return root


def rects(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(NS + "rect") if cls in (e.get("class") or "").split()]


def texts(root: ET.Element, cls: str | None = None) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(NS + "text")
            if cls is None or e.get("class") == cls]


def h(v: str | None) -> int:
    assert v is not None
    return int(v, 16)


def check_geometry(root: ET.Element, snap: svg.Snapshot, width: int) -> svg.Axis:
    """Every bar and hole sits exactly where the axis puts its addresses."""
    axis, _, _ = svg.layout(snap, width)
    lo, hi = snap.lo, snap.hi
    for r in rects(root, "va") + rects(root, "reserved") + rects(root, "gap") + \
            rects(root, "agg"):
        a, size = h(r.get("data-addr")), h(r.get("data-range"))
        x0, x1 = axis.x(max(a, lo)), axis.x(min(a + size, hi))
        assert float(r.get("x", "nan")) == pytest.approx(x0, abs=0.01)
        assert float(r.get("width", "nan")) == pytest.approx(x1 - x0, abs=0.02)
    # The axis is monotonic and spans the plot.
    assert axis.xs == sorted(axis.xs)
    assert axis.xs[0] == svg.MARGIN and axis.xs[-1] == width - svg.MARGIN
    return axis


@pytest.fixture
def small_vm():
    vm = pygpuvm.VM(start=0, range=1 << 48, reserve=(0, 0x10000), name="small")
    a = pygpuvm.GemObject(size=1 << 24, name="A")
    b = vm.new_private_object(1 << 24, name="B")
    c = pygpuvm.GemObject(size=1 << 24, name="C")
    vm.map(0x100000, 4 * KIB, a, 0x3000)          # a 4 KiB mapping ...
    vm.map(0x100000 + TIB, 2 * MIB, b, 0)         # ... a 1 TiB hole, then B
    vm.map(0x100000 + TIB + 2 * MIB, 64 * KIB, None, 0)  # sparse, no object
    vm.map(0x100000 + TIB + 4 * MIB, 64 * KIB, c, 0x10000)
    vm.map(0x100000 + TIB + 8 * MIB, 64 * KIB, c, 0x20000)
    vm.find_vm_bo(c).evict()
    yield vm, (a, b, c)
    vm.close()


def test_vm_svg_bars_labels_gaps_legend(small_vm):
    vm, (a, b, c) = small_vm
    text = vm.to_svg(width=1000)
    root = parse(text)
    snap = svg.snapshot_from_vm(vm)
    axis = check_geometry(root, snap, 1000)
    vas = rects(root, "va")
    assert [(h(r.get("data-addr")), h(r.get("data-range")), r.get("data-obj"),
             h(r.get("data-offset"))) for r in vas] == \
        [(va.addr, va.range, va.obj.name if va.obj else "-", va.offset) for va in vm]
    # Bars coloured by object: both C bars share a colour, the others differ.
    fill = {r.get("data-addr"): r.get("fill") for r in vas}
    fills = [r.get("fill") for r in vas]
    assert fills[3] == fills[4] and len({fills[0], fills[1], fills[2], fills[3]}) == 4
    assert fill[hex(0x100000 + TIB + 2 * MIB)] == svg.NO_OBJECT_FILL
    # The 4 KiB mapping and the 1 TiB hole are both visible.
    assert float(vas[0].get("width", "0")) >= 5
    holes = {h(g.get("data-addr")): g for g in rects(root, "gap")}
    tib_hole = holes[0x101000]
    assert h(tib_hole.get("data-range")) == TIB - 4 * KIB
    assert "big" in (tib_hole.get("class") or "").split()
    assert float(tib_hole.get("width", "0")) >= svg.BIG_PX
    # Compressed holes carry a break mark and their size.
    assert len(list(root.iter(NS + "polyline"))) == len(rects(root, "big"))
    assert "1024 GiB" in texts(root, "gap-label")
    # Labels: object + offset where it fits.
    labels = texts(root, "label")
    assert "B+0x0" in labels and "C+0x10000" in labels
    # The reserved node.
    (res,) = rects(root, "reserved")
    assert (h(res.get("data-addr")), h(res.get("data-range"))) == (0, 0x10000)
    assert axis.x(0) == svg.MARGIN
    # Hex ticks, the ends included.
    ticks = texts(root, "tick")
    assert ticks[0] == "0x0" and ticks[-1] == hex(1 << 48)
    assert all(t.startswith("0x") for t in ticks)
    # Legend with the vm_bo state.
    legend = {e.get("data-obj"): e for e in root.iter(NS + "g")
              if e.get("class") == "legend-entry"}
    assert set(legend) == {"A", "B", "C"}
    assert (legend["A"].get("data-ext"), legend["A"].get("data-vas")) == ("1", "1")
    assert (legend["B"].get("data-ext"), legend["B"].get("data-evicted")) == ("0", "0")
    assert (legend["C"].get("data-evicted"), legend["C"].get("data-vas")) == ("1", "2")
    assert "C extobj, evicted, 2 VAs" in texts(root)


def test_zoom_rerenders_the_window(small_vm):
    vm, _ = small_vm
    lo, hi = 0x100000 + TIB, 0x100000 + TIB + 6 * MIB
    root = parse(vm.to_svg(lo, hi, width=800))
    snap = svg.snapshot_from_vm(vm, lo, hi)
    check_geometry(root, snap, 800)
    vas = rects(root, "va")
    assert [h(r.get("data-addr")) for r in vas] == [lo, lo + 2 * MIB, lo + 4 * MIB]
    ticks = texts(root, "tick")
    assert ticks[0] == hex(lo) and ticks[-1] == hex(hi)
    assert "view [" in texts(root, "title")[0]
    with pytest.raises(ValueError):
        vm.to_svg(hi, lo)


def test_jupyter_hooks(small_vm):
    vm, _ = small_vm
    parse(vm._repr_svg_())
    html = vm._repr_html_()
    assert html.startswith('<div class="pygpuvm-view"><svg')


def test_aggregation_at_scale():
    n = 20_000
    vm = pygpuvm.VM(start=0, range=1 << 48, reserve=(0, 1 << 32), name="big")
    bos = [pygpuvm.GemObject(size=1 << 32, name=f"b{i}") for i in range(3)]
    batch = pygpuvm.Batch(("map", (1 << 32) + i * 0x20000, 0x10000, bos[i % 3], 0)
                          for i in range(n))
    assert vm.run_batch(batch).ok
    text = vm.to_svg(width=1200)
    root = parse(text)
    check_geometry(root, svg.snapshot_from_vm(vm), 1200)
    aggs = rects(root, "agg")
    vas = rects(root, "va")
    # Every mapping (and the reserved node) is drawn once: alone or in an aggregate.
    alone = len(vas) + len(rects(root, "reserved"))
    assert sum(int(r.get("data-count", "0")) for r in aggs) + alone == n + 1
    assert len(aggs) <= 1200
    assert len(text) < 1_000_000
    # Aggregates tile the mappings' span without overlapping.
    spans = sorted((h(r.get("data-addr")), h(r.get("data-range")))
                   for r in aggs + vas + rects(root, "reserved"))
    for (a0, r0), (a1, _) in zip(spans, spans[1:]):
        assert a0 + r0 <= a1
    # A zoom on 40 mappings shows them one by one again.
    lo = (1 << 32) + 100 * 0x20000
    root = parse(vm.to_svg(lo, lo + 40 * 0x20000))
    assert len(rects(root, "va")) == 40 and not rects(root, "agg")
    vm.close()


def test_show_format_svg_and_html(tmp_path):
    trace = TRACES / "example1.trace"
    res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", "--format", "svg",
                          str(trace)], capture_output=True, timeout=120, check=False,
                         cwd=TRACES)
    assert (res.returncode, res.stderr) == (0, b"")
    root = parse(res.stdout.decode())
    assert [r.get("data-obj") for r in rects(root, "va")] == ["A"]
    out = tmp_path / "x.html"
    res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", "--format", "html",
                          "--final", "-o", str(out), str(trace)], capture_output=True,
                         timeout=120, check=False, cwd=TRACES)
    assert (res.returncode, res.stderr) == (0, b"")
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    # Text stays the default.
    res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", str(trace)],
                         capture_output=True, timeout=120, check=False, cwd=TRACES)
    assert res.stdout.startswith(b"VM [0x0, 0x100000)")


def test_show_svg_from_state_every_golden_trace():
    import io

    from pygpuvm.replay import replay_state

    for trace in sorted(TRACES.glob("*.trace")):
        status, state = replay_state(trace.open("rb"), io.BytesIO(), io.BytesIO())
        assert state is not None, trace
        snap = svg.snapshot_from_state(state)
        root = parse(svg.render(snap, 900))
        check_geometry(root, snap, 900)
        drawn = len(rects(root, "va")) + sum(int(r.get("data-count", "0"))
                                             for r in rects(root, "agg"))
        zero = sum(1 for e in root.iter(NS + "line") if "zero" in (e.get("class") or ""))
        assert drawn + zero >= len(state.vas), trace


def test_show_bad_view_arguments():
    trace = str(TRACES / "example1.trace")
    for args in (["--start", "0x2000", "--end", "0x1000"], ["--width", "50"],
                 ["--start", "zz"]):
        res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", "--format", "svg",
                              *args, trace], capture_output=True, timeout=120, check=False,
                             cwd=TRACES)
        assert res.returncode == 2, args
        assert res.stderr


def test_render_refuses_tiny_width(small_vm):
    vm, _ = small_vm
    with pytest.raises(ValueError):
        vm.to_svg(width=10)


REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not (REPO / "docs" / "images" / "split.svg").exists(),
                    reason="not a source checkout (docs/images missing)")
def test_docs_picture_is_what_the_named_command_makes():
    """docs/images/split.svg is exactly what the command docs/visualization.md names
    prints today (regenerate it with that command after changing the drawing)."""
    doc = (REPO / "docs" / "visualization.md").read_text()
    cmd = "pygpuvm show --format svg tests/traces/sm11_centered_other_bo.trace -o docs/images/split.svg"
    assert cmd in doc
    assert "pygpuvm show --format png tests/traces/sm11_centered_other_bo.trace" in \
        (REPO / "README.md").read_text()
    res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", "--format", "svg",
                          str(TRACES / "sm11_centered_other_bo.trace")], capture_output=True,
                         timeout=120, check=False, cwd=TRACES)
    assert res.returncode == 0
    assert res.stdout.decode() == (REPO / "docs" / "images" / "split.svg").read_text(), \
        "docs/images/split.svg is stale: " + cmd
