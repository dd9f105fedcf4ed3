/* SPDX-License-Identifier: MIT */
/*
 * Trace parser of gpuvm-replay (format: docs/trace-format.md). Reads one command at a
 * time, so a caller may execute each command as it comes (normal mode) or
 * gather a chunk first (benchmark mode); only the current line and the table
 * of declared bo names are kept in memory.
 *
 * Every malformed-input rule is checked here, including the ones that depend
 * on earlier lines (vm missing/repeated, unknown/duplicate bo), so a command
 * handed out is always executable.
 */
#ifndef GPUVM_REPLAY_TRACE_H
#define GPUVM_REPLAY_TRACE_H

#include <stdio.h>

#include "linux/types.h"

enum trace_kind {
	TRACE_VM,
	TRACE_BO,
	TRACE_MAP,
	TRACE_UNMAP,
	TRACE_BO_UNMAP,
	TRACE_PREFETCH,
	TRACE_DUMP,
	TRACE_MARK,
};

/* No object: the `-` of a map. */
#define TRACE_NO_BO (-1)

struct trace_cmd {
	enum trace_kind kind;
	unsigned long line;
	/*
	 * vm: start, range, roff, rrange (0, 0 when absent);
	 * map: addr, range, -, offset; unmap/prefetch: addr, range.
	 */
	u64 arg[4];
	/* map, bo_unmap, bo: index into the bo table, or TRACE_NO_BO. */
	int bo;
};

struct trace_bo {
	char *name;
	bool ext;
	unsigned long line;
};

struct trace_parser {
	FILE *in;
	char *buf;
	size_t cap;
	unsigned long line;
	unsigned long vm_line; /* 0 until the vm command was read */
	struct trace_bo *bos;
	size_t nbos, bos_cap;
	/* Open-addressing index of bos by name: slot = index + 1, 0 = empty. */
	u32 *hash;
	size_t hash_cap;
	/*
	 * Set when trace_next() returns TRACE_ERROR: the offending line, or 0 when
	 * the input could not be read at all (I/O error, out of memory).
	 */
	unsigned long err_line;
	char err[256];
};

enum trace_status {
	TRACE_ERROR = -1, /* err_line and err describe it */
	TRACE_EOF = 0,
	TRACE_CMD = 1,
};

void trace_parser_init(struct trace_parser *p, FILE *in);
void trace_parser_fini(struct trace_parser *p);

/*
 * Read the next command into @cmd. At the end of the input, a trace without a
 * vm command is an error (reported on the line after the last one).
 */
enum trace_status trace_next(struct trace_parser *p, struct trace_cmd *cmd);

#endif
