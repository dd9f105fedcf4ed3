/* SPDX-License-Identifier: MIT */
/*
 * gpuvm-replay as a function (csrc/replay/gpuvm_replay.c), for its main() and
 * the fuzz targets (csrc/fuzz), which build that file with
 * -DGPUVM_REPLAY_NO_MAIN.
 */
#ifndef GPUVM_REPLAY_REPLAY_H
#define GPUVM_REPLAY_REPLAY_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Replay the trace read from @in (benchmark mode if @bench), printing the
 * result to @out and diagnostics to @err. Returns the program's exit
 * status: 0 ok, 2 malformed trace, 1 internal failure (unexpected WARN, leak
 * at teardown, out of memory, I/O error). Owns the process's WARN hook while
 * it runs; @in and @out stay open.
 */
int gpuvm_replay_stream(FILE *in, FILE *out, FILE *err, bool bench);

#endif
