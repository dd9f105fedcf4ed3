/* SPDX-License-Identifier: MIT */
/*
 * Run a function in a forked child with its stderr captured through a pipe,
 * so tests can check that a GPUVM_BUG / gpuvm_bug() really aborts with the
 * promised message without taking the test binary down.
 */
#ifndef PYGPUVM_TESTS_CHILD_H
#define PYGPUVM_TESTS_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct child_result {
	int term_signal; /* 0 if the child exited normally */
	int exit_code;   /* valid if term_signal == 0 */
	char err[2048];  /* start of the child's stderr, NUL-terminated */
};

/* Fork, run @fn(@arg) in the child, then _exit(0). Returns false if fork failed. */
static inline bool run_in_child(void (*fn)(void *), void *arg, struct child_result *res)
{
	int fds[2], status = 0;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (pipe(fds) != 0)
		return false;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return false;
	}
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		close(fds[1]);
		/* The expected abort must not leave a core file per test run. */
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGABRT, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	while (len < sizeof(res->err) - 1 &&
	       (n = read(fds[0], res->err + len, sizeof(res->err) - 1 - len)) > 0)
		len += (size_t)n;
	res->err[len] = '\0';
	/* Drain the rest so a chatty child cannot block on a full pipe. */
	{
		char scratch[256];

		while (read(fds[0], scratch, sizeof(scratch)) > 0)
			;
	}
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid)
		return false;
	if (WIFSIGNALED(status))
		res->term_signal = WTERMSIG(status);
	else
		res->exit_code = WEXITSTATUS(status);
	return true;
}

#endif
