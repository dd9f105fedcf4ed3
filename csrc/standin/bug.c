/* SPDX-License-Identifier: MIT */
/*
 * WARN and BUG reporting (linux/bug.h). The hook function and its data are
 * read together under one mutex, so a concurrent gpuvm_set_warn_hook() can
 * never pair the new function with the old data.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "linux/bug.h"

#define GPUVM_DIAG_MSG_MAX 512

static atomic_ulong warn_count;
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static gpuvm_warn_fn hook_fn;
static void *hook_data;

static void gpuvm_vwarn(const char *file, int line, const char *fmt, va_list ap)
	GPUVM_PRINTF(3, 0);

static void gpuvm_vwarn(const char *file, int line, const char *fmt, va_list ap)
{
	char msg[GPUVM_DIAG_MSG_MAX];
	gpuvm_warn_fn fn;
	void *data;

	vsnprintf(msg, sizeof(msg), fmt, ap);

	atomic_fetch_add_explicit(&warn_count, 1, memory_order_relaxed);

	pthread_mutex_lock(&hook_lock);
	fn = hook_fn;
	data = hook_data;
	pthread_mutex_unlock(&hook_lock);

	/* Called without hook_lock: the hook may itself WARN or reinstall a hook. */
	if (fn)
		fn(file, line, msg, data);
	else
		fprintf(stderr, "WARNING: %s:%d: %s\n", file, line, msg);
}

void gpuvm_warn(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gpuvm_vwarn(file, line, fmt, ap);
	va_end(ap);
}

int gpuvm_warn_true(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	gpuvm_vwarn(file, line, fmt, ap);
	va_end(ap);
	return 1;
}

unsigned long gpuvm_warn_count(void)
{
	return atomic_load_explicit(&warn_count, memory_order_relaxed);
}

void gpuvm_set_warn_hook(gpuvm_warn_fn fn, void *data)
{
	pthread_mutex_lock(&hook_lock);
	hook_fn = fn;
	hook_data = data;
	pthread_mutex_unlock(&hook_lock);
}

void gpuvm_bug(const char *file, int line, const char *fmt, ...)
{
	char msg[GPUVM_DIAG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	fprintf(stderr, "BUG: %s:%d: %s\n", file, line, msg);
	fflush(stderr);
	abort();
}
