/* SPDX-License-Identifier: MIT */
/*
 * WARN and BUG reporting (linux/bug.h). The hook function and its data are
 * read together under one mutex, so a concurrent gpuvm_set_warn_hook() can
 * never pair the new function with the old data.
 *
 * Deferred WARNs: with the queue on, each thread stores its WARNs in a
 * fixed-size per-thread ring (no allocation, no lock, no callback: safe with
 * any lock held); gpuvm_warn_pop() hands them out later. A thread that exits
 * with entries queued prints them to stderr (a pthread key destructor), so
 * nothing is lost silently and gpuvm_warn_nqueued returns to zero.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/bug.h"

#define GPUVM_DIAG_MSG_MAX 512

static atomic_ulong warn_count;
static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static gpuvm_warn_fn hook_fn;
static void *hook_data;

#define GPUVM_WARN_QUEUE_LEN 16

struct warn_entry {
	const char *file;
	int line;
	char msg[GPUVM_DIAG_MSG_MAX];
};

struct warn_queue {
	bool keyed;
	unsigned int head;
	unsigned int len;
	unsigned long dropped;
	struct warn_entry e[GPUVM_WARN_QUEUE_LEN];
};

static atomic_bool wq_on;
static _Thread_local struct warn_queue wq;
static pthread_key_t wq_key;
static pthread_once_t wq_once = PTHREAD_ONCE_INIT;

/* Read by the bindings without a lock; written with atomic builtins. */
unsigned long gpuvm_warn_nqueued;

static void nqueued_add(long d)
{
	__atomic_add_fetch(&gpuvm_warn_nqueued, (unsigned long)d, __ATOMIC_RELAXED);
}

/* Thread exit: whatever is still queued goes to stderr. */
static void wq_exit(void *arg)
{
	struct warn_queue *q = arg;

	while (q->len) {
		struct warn_entry *e = &q->e[q->head];

		fprintf(stderr, "WARNING: %s:%d: %s\n", e->file, e->line, e->msg);
		q->head = (q->head + 1) % GPUVM_WARN_QUEUE_LEN;
		q->len--;
		nqueued_add(-1);
	}
	if (q->dropped) {
		fprintf(stderr, "WARNING: %lu more WARNs were not queued\n", q->dropped);
		q->dropped = 0;
		nqueued_add(-1);
	}
}

static void wq_key_init(void)
{
	GPUVM_BUG_ON(pthread_key_create(&wq_key, wq_exit) != 0);
}

void gpuvm_warn_queue(bool on)
{
	atomic_store(&wq_on, on);
}

static void wq_push(const char *file, int line, const char *msg)
{
	struct warn_entry *e;

	if (!wq.keyed) {
		pthread_once(&wq_once, wq_key_init);
		GPUVM_BUG_ON(pthread_setspecific(wq_key, &wq) != 0);
		wq.keyed = true;
	}
	if (wq.len == GPUVM_WARN_QUEUE_LEN) {
		if (!wq.dropped++)
			nqueued_add(1);
		return;
	}
	e = &wq.e[(wq.head + wq.len) % GPUVM_WARN_QUEUE_LEN];
	e->file = file;
	e->line = line;
	snprintf(e->msg, sizeof(e->msg), "%s", msg);
	wq.len++;
	nqueued_add(1);
}

int gpuvm_warn_pop(const char **file, int *line, char *msg, size_t size)
{
	if (wq.len) {
		struct warn_entry *e = &wq.e[wq.head];

		*file = e->file;
		*line = e->line;
		if (size)
			snprintf(msg, size, "%s", e->msg);
		wq.head = (wq.head + 1) % GPUVM_WARN_QUEUE_LEN;
		wq.len--;
		nqueued_add(-1);
		return 1;
	}
	if (wq.dropped) {
		*file = __FILE__;
		*line = 0;
		if (size)
			snprintf(msg, size, "%lu more WARNs were not queued (queue full)", wq.dropped);
		wq.dropped = 0;
		nqueued_add(-1);
		return 1;
	}
	return 0;
}

static void gpuvm_vwarn(const char *file, int line, const char *fmt, va_list ap)
	GPUVM_PRINTF(3, 0);

static void gpuvm_vwarn(const char *file, int line, const char *fmt, va_list ap)
{
	char msg[GPUVM_DIAG_MSG_MAX];
	gpuvm_warn_fn fn;
	void *data;

	vsnprintf(msg, sizeof(msg), fmt, ap);

	atomic_fetch_add_explicit(&warn_count, 1, memory_order_relaxed);

	if (atomic_load(&wq_on)) {
		wq_push(file, line, msg);
		return;
	}

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
