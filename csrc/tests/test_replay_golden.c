// SPDX-License-Identifier: MIT
/*
 * Runs the golden traces of tests/traces/ through gpuvm-replay, so that the
 * replay (and the core under it) also runs under `meson test`, i.e. under the
 * sanitizers of the ASan/UBSan build. tests/test_replay.py checks the same
 * files, plus the Python replay, from pytest.
 *
 * usage: test_replay_golden GPUVM_REPLAY TRACES_DIR
 *
 * Every <name>.trace must print exactly <name>.out with exit status 0 and
 * nothing on stderr (gpuvm-replay itself exits 1 on a leak or an unexpected
 * WARN); every bad/<name>.trace must print <name>.out, exit 2 and put exactly
 * "gpuvm-replay: " + <name>.err on stderr.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "linux/slab.h"

static const char *replay_exe;
static const char *traces_dir;

struct buf {
	char *data;
	size_t len;
};

static void buf_free(struct buf *b)
{
	kfree(b->data);
	b->data = NULL;
	b->len = 0;
}

/* Whole contents of @fd from its start; false on error. */
static bool read_fd(int fd, struct buf *b)
{
	size_t cap = 4096;
	ssize_t n;

	b->len = 0;
	b->data = kmalloc(cap, GFP_KERNEL);
	if (!b->data || lseek(fd, 0, SEEK_SET) < 0)
		return false;
	while ((n = read(fd, b->data + b->len, cap - b->len)) > 0) {
		b->len += (size_t)n;
		if (b->len == cap) {
			char *bigger = krealloc(b->data, cap * 2, GFP_KERNEL);

			if (!bigger)
				return false;
			b->data = bigger;
			cap *= 2;
		}
	}
	return n == 0;
}

static bool read_file(const char *path, struct buf *b)
{
	int fd = open(path, O_RDONLY);
	bool ok;

	if (fd < 0)
		return false;
	ok = read_fd(fd, b);
	close(fd);
	return ok;
}

static int scratch_file(void)
{
	char name[] = "/tmp/test_replay_golden.XXXXXX";
	int fd = mkstemp(name);

	if (fd >= 0)
		unlink(name);
	return fd;
}

/*
 * Run gpuvm-replay with @arg1 [@arg2] and @stdin_path as standard input (NULL:
 * /dev/null). Returns the exit status (-1: did not exit normally).
 */
static int run_replay(const char *arg1, const char *arg2, const char *stdin_path,
		      struct buf *out, struct buf *err)
{
	int out_fd = scratch_file(), err_fd = scratch_file();
	int status = -1;
	pid_t pid;

	out->data = err->data = NULL;
	if (out_fd < 0 || err_fd < 0)
		goto done;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int in = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);

		if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
			_exit(127);
		execl(replay_exe, replay_exe, arg1, arg2, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		goto done;
	status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (!read_fd(out_fd, out) || !read_fd(err_fd, err))
		status = -1;
done:
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	return status;
}

static bool same(const struct buf *a, const char *prefix, const struct buf *b)
{
	size_t plen = strlen(prefix);

	/* memcmp() must not see the NULL data of an empty buffer. */
	if (a->len != plen + b->len)
		return false;
	return !a->len || (!memcmp(a->data, prefix, plen) &&
			   (!b->len || !memcmp(a->data + plen, b->data, b->len)));
}

/* Checks one trace; prints what differs. @bad: a malformed trace. */
static bool check_trace(const char *dir, const char *name, bool bad)
{
	char trace[1024], path[1024];
	struct buf out, err, want_out = { 0 }, want_err = { 0 };
	size_t stem = strlen(name) - strlen(".trace");
	int status;
	bool ok = true;

	snprintf(trace, sizeof(trace), "%s/%s", dir, name);
	snprintf(path, sizeof(path), "%s/%.*s.out", dir, (int)stem, name);
	if (!read_file(path, &want_out)) {
		fprintf(stderr, "%s: cannot read\n", path);
		ok = false;
	}
	if (bad) {
		snprintf(path, sizeof(path), "%s/%.*s.err", dir, (int)stem, name);
		if (!read_file(path, &want_err)) {
			fprintf(stderr, "%s: cannot read\n", path);
			ok = false;
		}
	}
	status = run_replay(trace, NULL, NULL, &out, &err);
	if (status != (bad ? 2 : 0)) {
		fprintf(stderr, "%s: exit status %d\n", trace, status);
		ok = false;
	}
	if (ok && !same(&out, "", &want_out)) {
		fprintf(stderr, "%s: stdout differs from the .out file:\n%.*s\n", trace,
			(int)out.len, out.data);
		ok = false;
	}
	if (ok && !same(&err, bad ? "gpuvm-replay: " : "", &want_err)) {
		fprintf(stderr, "%s: unexpected stderr:\n%.*s\n", trace, (int)err.len, err.data);
		ok = false;
	}
	buf_free(&out);
	buf_free(&err);
	buf_free(&want_out);
	buf_free(&want_err);
	return ok;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Every *.trace of @dir; the number checked goes to *count. */
static bool check_dir(const char *dir, bool bad, unsigned int *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool ok = true;

	*count = 0;
	if (!d) {
		fprintf(stderr, "%s: cannot open\n", dir);
		return false;
	}
	while ((e = readdir(d))) {
		if (!ends_with(e->d_name, ".trace"))
			continue;
		ok &= check_trace(dir, e->d_name, bad);
		(*count)++;
	}
	closedir(d);
	return ok;
}

static bool test_golden_traces(void)
{
	long live = gpuvm_alloc_live();
	unsigned int n;

	ASSERT_TRUE(check_dir(traces_dir, false, &n));
	/* 3 examples + 15 kernel-doc cases + the edge cases */
	ASSERT_TRUE(n >= 18);
	ASSERT_EQ(gpuvm_alloc_live(), live);
	return true;
}

static bool test_malformed_traces(void)
{
	long live = gpuvm_alloc_live();
	char dir[1024];
	unsigned int n;

	snprintf(dir, sizeof(dir), "%s/bad", traces_dir);
	ASSERT_TRUE(check_dir(dir, true, &n));
	ASSERT_TRUE(n >= 9);
	ASSERT_EQ(gpuvm_alloc_live(), live);
	return true;
}

static bool test_stdin(void)
{
	long live = gpuvm_alloc_live();
	char trace[1024], path[1024];
	struct buf out, err, want = { 0 };
	int status;

	snprintf(trace, sizeof(trace), "%s/example3.trace", traces_dir);
	snprintf(path, sizeof(path), "%s/example3.out", traces_dir);
	ASSERT_TRUE(read_file(path, &want));
	status = run_replay("-", NULL, trace, &out, &err);
	ASSERT_EQ(status, 0);
	ASSERT_EQ(err.len, 0);
	ASSERT_TRUE(same(&out, "", &want));
	buf_free(&out);
	buf_free(&err);
	buf_free(&want);
	ASSERT_EQ(gpuvm_alloc_live(), live);
	return true;
}

/*
 * --bench over every golden trace: one "ops <n> ns_per_cmd <x>" line, n = the
 * commands after the last mark (none has a mark: all of them).
 */
static bool test_bench_line(void)
{
	long live = gpuvm_alloc_live();
	char trace[1024];
	struct buf out, err, text = { 0 };
	unsigned long n = 0, ops;
	double ns;
	char nl;
	int status;

	snprintf(trace, sizeof(trace), "%s/unmap_span.trace", traces_dir);
	ASSERT_TRUE(read_file(trace, &text));
	/* Commands = lines with a word before any '#'. */
	for (size_t i = 0; i < text.len;) {
		size_t j = i;
		bool word = false;

		while (j < text.len && text.data[j] != '\n' && text.data[j] != '#') {
			if (text.data[j] != ' ' && text.data[j] != '\t' && text.data[j] != '\r')
				word = true;
			j++;
		}
		n += word;
		while (j < text.len && text.data[j] != '\n')
			j++;
		i = j + 1;
	}
	buf_free(&text);

	status = run_replay("--bench", trace, NULL, &out, &err);
	ASSERT_EQ(status, 0);
	ASSERT_EQ(err.len, 0);
	ASSERT_TRUE(out.len > 0 && out.len < 100);
	out.data[out.len] = '\0'; /* read_fd() always leaves room for it */
	ASSERT_EQ(sscanf(out.data, "ops %lu ns_per_cmd %lf%c", &ops, &ns, &nl), 3);
	ASSERT_EQ(nl, '\n');
	ASSERT_EQ(ops, n);
	ASSERT_TRUE(ns >= 0);
	buf_free(&out);
	buf_free(&err);
	ASSERT_EQ(gpuvm_alloc_live(), live);
	return true;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s GPUVM_REPLAY TRACES_DIR\n", argv[0]);
		return 2;
	}
	replay_exe = argv[1];
	traces_dir = argv[2];
	RUN(test_golden_traces);
	RUN(test_malformed_traces);
	RUN(test_stdin);
	RUN(test_bench_line);
	return harness_done();
}
