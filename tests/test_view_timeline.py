"""The trace timeline (pygpuvm/timeline.py, ``show --format html``): its data
against the replay, a self-contained page, and the page rendered by a real
browser (headless Chromium: a screenshot that is not blank, the expected DOM)."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from pygpuvm import timeline
from pygpuvm.replay import replay

TRACES = Path(__file__).resolve().parent / "traces"


def lines(name: str) -> list[bytes]:
    return (TRACES / name).read_bytes().splitlines(keepends=True)


def test_record_matches_the_replay():
    data = timeline.record(lines("example1.trace"))
    assert [o["name"] for o in data["objects"]] == ["A", "B"]
    steps = data["steps"]
    assert [s["cmd"] for s in steps] == ["map 0x10000 0x8000 A 0x0", "map 0x12000 0x2000 B 0x40000",
                                         "map 0x12000 0x2000 A 0x2000", "map 0x10000 0x8000 A 0x0"]
    assert [[o["op"] for o in s["ops"]] for s in steps] == [
        ["map"], ["remap", "map"], ["unmap", "map"], ["unmap", "unmap", "unmap", "map"]]
    remap = steps[1]["ops"][0]
    assert remap["unmap"] == ["0x10000", "0x8000", 0, "0x0"] and not remap["keep"]
    assert remap["prev"] == ["0x10000", "0x2000", 0, "0x0"]
    assert remap["next"] == ["0x14000", "0x4000", 0, "0x4000"]
    assert all(o["keep"] for o in steps[3]["ops"][:3])
    assert steps[1]["before"] == [["0x10000", "0x8000", 0, "0x0"]]
    assert steps[1]["after"] == [["0x10000", "0x2000", 0, "0x0"], ["0x12000", "0x2000", 1, "0x40000"],
                                 ["0x14000", "0x4000", 0, "0x4000"]]


def test_every_golden_trace_records_the_replayed_ops():
    """Every op line `pygpuvm replay` prints is in the timeline, in order."""
    for trace in sorted(TRACES.glob("*.trace")):
        out = io.BytesIO()
        replay(trace.open("rb"), out, io.BytesIO())
        printed = [ln.split()[0] for ln in out.getvalue().decode().splitlines()
                   if ln.split() and ln.split()[0] in ("map", "remap", "unmap", "prefetch")]
        data = timeline.record(trace.read_bytes().splitlines(keepends=True))
        recorded = [o["op"] for s in data["steps"] for o in s["ops"]]
        assert recorded == printed, trace.name


def test_local_rows_beyond_the_cell_budget():
    text = [b"vm 0x0 0x100000000\n", b"bo A\n"]
    text += [b"map 0x%x 0x1000 A 0x0\n" % (0x100000 + i * 0x2000) for i in range(60)]
    data = timeline.record(text, max_cells=200)
    assert not data["steps"][0]["local"] and data["steps"][-1]["local"]
    # A local row keeps the VAs touching the request: here just the new one.
    assert data["steps"][-1]["after"] == [[hex(0x100000 + 59 * 0x2000), "0x1000", 0, "0x0"]]


def test_local_rows_equal_a_scan_of_every_va(monkeypatch):
    """Local rows find their VAs through the tree (_vas_from); they must keep
    exactly what scanning every VA keeps, zero-sized VAs and VAs at 0 included."""
    import random

    rng = random.Random(5)
    text = [b"vm 0x0 0x100000000 0x0 0x1000\n", b"bo A\n", b"bo B ext\n"]
    for _ in range(400):
        a = rng.choice((0, 0x1000, rng.randrange(1, 64) * 0x1000, rng.randrange(1, 4096)))
        n = rng.choice((0, 0x1000, 0x3000, rng.randrange(1, 16) * 0x1000, 1))
        if rng.random() < 0.7:
            text.append(b"map 0x%x 0x%x %s 0x0\n" % (a, n, rng.choice((b"A", b"B", b"-"))))
        else:
            text.append(b"unmap 0x%x 0x%x\n" % (a, n))
    traces = [text] + [lines(t) for t in ("zero_range.trace", "reserved.trace", "example1.trace")]
    fast = [timeline.record(t, max_cells=0) for t in traces]
    with monkeypatch.context() as m:
        m.setattr(timeline._Recorder, "_vas_from", lambda self, lo, hi: self.vas())
        slow = [timeline.record(t, max_cells=0) for t in traces]
    assert fast == slow
    assert any(s["local"] and s["before"] for s in fast[0]["steps"])


def test_page_is_self_contained(tmp_path):
    page = timeline.render_trace(lines("sm12_centered_keep.trace"), title="sm12")
    assert page.startswith("<!DOCTYPE html>")
    # No external resource: the only URL is the SVG namespace the script uses.
    assert set(re.findall(r"https?://[^\s\"')]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    blob = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert blob and json.loads(blob.group(1))["steps"]


def test_show_html_is_the_timeline_and_errors(tmp_path):
    out = tmp_path / "t.html"
    res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", "--format", "html", "-o",
                          str(out), str(TRACES / "example2.trace")], capture_output=True,
                         timeout=120, check=False, cwd=TRACES)
    assert (res.returncode, res.stderr) == (0, b"")
    assert "VM_BIND timeline" in out.read_text()
    res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", "--format", "html",
                          str(TRACES / "bad" / "unknown_command.trace")], capture_output=True,
                         timeout=120, check=False, cwd=TRACES)
    assert res.returncode == 2 and b"line 7: unknown command 'mapp'" in res.stderr


# ---------------------------------------------------------------- in a browser


def _browser() -> str | None:
    env = os.environ.get("PYGPUVM_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


BROWSER = _browser()
needs_browser = pytest.mark.skipif(
    BROWSER is None, reason="no headless Chromium on this machine (Debian: apt-get install "
    "chromium; or set PYGPUVM_CHROMIUM): the in-browser rendering test is skipped")


def _run_browser(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert BROWSER is not None
    cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", *args]
    # Not under the sanitizer runtime CI preloads into the Python it tests.
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS")}
    return subprocess.run(cmd, capture_output=True, timeout=120, check=False, env=env)


def png_pixels(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and unfiltered rows of an 8-bit RGB/RGBA PNG
    (standard library only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 4
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


@needs_browser
def test_timeline_in_headless_chromium(tmp_path):
    page = tmp_path / "timeline.html"
    page.write_text(timeline.render_trace(lines("example1.trace"), title="example1"))
    url = page.as_uri()

    res = _run_browser(tmp_path, "--dump-dom", url)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-2000:]
    dom = res.stdout.decode()
    # The script ran and drew every row from the embedded data.
    assert 'data-rendered="4"' in dom
    assert dom.count('class="step"') == 4
    assert dom.count('class="lanes"') == 4
    assert 'class="op op-remap"' in dom and 'class="keep"' in dom
    assert dom.count('class="op-new op-prev"') == 1 and dom.count('class="op-new op-next"') == 1
    assert re.search(r'class="va after"[^>]*data-addr="0x12000"[^>]*data-obj="B"', dom)
    assert 'class="tick"' in dom and ">0x14000<" in dom

    shot = tmp_path / "shot.png"
    res = _run_browser(tmp_path, f"--screenshot={shot}", "--window-size=1200,700",
                       "--hide-scrollbars", url)
    assert res.returncode == 0 and shot.exists(), res.stderr.decode(errors="replace")[-2000:]
    width, height, bpp, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1200, 700)
    colours = {row[i:i + 3] for row in rows[::4] for i in range(0, len(row), bpp * 9)}
    # Not blank: white background plus the palette's bar colours (A's blue at least).
    assert len(colours) > 20
    assert any(abs(c[0] - 0x4e) < 8 and abs(c[1] - 0x79) < 8 and abs(c[2] - 0xa7) < 8
               for c in colours)


@needs_browser
def test_show_png(tmp_path):
    out = tmp_path / "t.png"
    res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", "--format", "png", "-o",
                          str(out), str(TRACES / "sm11_centered_other_bo.trace")],
                         capture_output=True, timeout=180, check=False, cwd=TRACES)
    assert res.returncode == 0, res.stderr
    width, height, _, rows = png_pixels(out.read_bytes())
    assert width == 1240 and height == timeline.page_height(2)
    assert len({r for r in rows[::8]}) > 10


def test_show_png_needs_output():
    res = subprocess.run([sys.executable, "-m", "pygpuvm", "show", "--format", "png",
                          str(TRACES / "example1.trace")], capture_output=True, timeout=120,
                         check=False, cwd=TRACES)
    assert res.returncode == 2 and b"needs -o" in res.stderr
