// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: gpuvm-replay's parser and executor on any bytes, through
 * gpuvm_replay_stream() (csrc/replay/gpuvm_replay.c built without its main).
 * Every input must come out as exit status 0 (a valid trace) or 2 (malformed,
 * with one "line N: ..." message); 1 means an unexpected WARN, a leak at
 * teardown or another internal failure, and is reported as a crash, as is
 * anything the sanitizers see. A valid trace must also be valid in benchmark
 * mode (which parses ahead in chunks).
 */
#include <stdio.h>
#include <string.h>

#include "fuzz_input.h"
#include "replay/replay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay(const uint8_t *data, size_t size, bool bench, FILE *out, char *msg,
		  size_t msg_size)
{
	/* fmemopen() refuses a zero size: an empty input is one byte-less read. */
	static const uint8_t empty[1];
	FILE *in = fmemopen((void *)(size ? data : empty), size ? size : 1, "r");
	FILE *err = fmemopen(msg, msg_size, "w");
	int status;

	FUZZ_CHECK(in && err);
	if (!size)
		fgetc(in); /* now at EOF */
	status = gpuvm_replay_stream(in, out, err, bench);
	fclose(err);
	fclose(in);
	return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *out;
	static char msg[4096];
	int status;

	if (!out)
		out = fopen("/dev/null", "w");
	FUZZ_CHECK(out);
	memset(msg, 0, sizeof(msg));
	status = replay(data, size, false, out, msg, sizeof(msg) - 1);
	if (status != 0 && status != 2)
		fprintf(stderr, "status %d: %s", status, msg);
	FUZZ_CHECK(status == 0 || status == 2);
	if (status == 2)
		FUZZ_CHECK(!strncmp(msg, "gpuvm-replay: line ", 19));
	if (status == 0) {
		status = replay(data, size, true, out, msg, sizeof(msg) - 1);
		if (status)
			fprintf(stderr, "bench status %d: %s", status, msg);
		FUZZ_CHECK(status == 0);
	}
	return 0;
}
