"""Columnar overlap queries against intervaltree, interleaved.

    python benchmarks/overlap_interleaved.py          # ROUNDS=15, CLOCK=cpu by default

The benchmark suite's VM (1e5 mappings, PYGPUVM_BENCH_QUICK=1: 2e4) and its
1,000 small random ranges; each round times 20 runs of pygpuvm's form, then
one run of intervaltree's on the same ranges, in thread CPU time (CLOCK=wall:
perf_counter), so that a busy machine's preemption, which a 30 ms run always
absorbs and a 0.5 ms run often escapes, cannot bias the ratio. Prints the
median per-query times and the median (min, max) of the per-round ratios for
single queries with len() read, the batched vm.tables() form, and single
queries with the addr column read (against intervaltree's begins sorted).
Needs intervaltree (pip install '.[bench]').
"""
import os
import random
import statistics
import time

import intervaltree

from pygpuvm._bench import bench_python as B

N = B.N
vm, _ = B._populate(N)
rng = random.Random(3)
qs = []
for _ in range(1000):
    a = B.BASE + rng.randrange(N * B.SLOT // B.PAGE) * B.PAGE
    qs.append((a, a + rng.randint(1, 4 * B.SLOT // B.PAGE) * B.PAGE))
it = intervaltree.IntervalTree.from_tuples((va.addr, va.end) for va in vm)
pairs = {
 "single, len()": (lambda: [len(vm.table(a, b)) for a, b in qs],
                   lambda: [len(it.overlap(a, b)) for a, b in qs]),
 "batched vm.tables, counts": (lambda: vm.tables(qs).counts.tolist(),
                   lambda: [len(it.overlap(a, b)) for a, b in qs]),
 "single, addr column": (lambda: [vm.table(a, b).addr.tolist() for a, b in qs],
                   lambda: [sorted([iv.begin for iv in it.overlap(a, b)]) for a, b in qs]),
}
assert pairs["single, len()"][0]() == pairs["single, len()"][1]()
assert pairs["single, addr column"][0]() == pairs["single, addr column"][1]()
R = int(os.environ.get("ROUNDS", "15"))
CLOCK = time.thread_time if os.environ.get("CLOCK", "cpu") == "cpu" else time.perf_counter
def t(f, reps=1):
    s = CLOCK()
    for _ in range(reps):
        f()
    return (CLOCK() - s) / reps
print(f"clock: {CLOCK.__name__}; load before: {os.getloadavg()}")
for name, (ours, ref) in pairs.items():
    ro, rr, ratios = [], [], []
    for _ in range(R):
        a = t(ours, 20); b = t(ref)
        ro.append(a); rr.append(b); ratios.append(b / a)
    print(f"{name:28s} ours {statistics.median(ro)*1e3:.3f} us/q  itree {statistics.median(rr)*1e3:.2f} us/q  "
          f"ratio median {statistics.median(ratios):.1f}x (min {min(ratios):.1f}, max {max(ratios):.1f})")
print(f"load after: {os.getloadavg()}")
