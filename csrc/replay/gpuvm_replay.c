// SPDX-License-Identifier: MIT
/*
 * gpuvm-replay [--bench] [FILE|-]
 *
 * Runs a trace (docs/trace-format.md) through a drm_gpuvm as a staged-mode
 * driver would and prints the canonical result, or in benchmark mode one
 * timing line.
 *
 * Written against the kernel's drm_gpuvm API only, so the same file builds two
 * programs: `gpuvm-replay` over our port (csrc/gpuvm) and `gpuvm-replay-kernel`
 * over a kernel tree's own drivers/gpu/drm/drm_gpuvm.c (csrc/kernel). The
 * driver work itself (binds, applying ops lists, batches, the VM teardown)
 * is the reference driver's (csrc/driver), compiled the same two ways; this
 * file parses, prints and owns the objects. Where kernel versions differ,
 * csrc/kernel/meson.build probes the tree's header and defines GPUVM_HAVE_*
 * (see csrc/driver/kapi.h); our port always has the newest form. Both link
 * the same stand-ins (csrc/standin: allocation counter, WARN hook, resv, GEM
 * objects), which are not gpuvm API.
 *
 * Exit status: 0 ok, 2 malformed trace or bad usage, 1 internal failure (an
 * unexpected kernel WARN, a leak at teardown, out of memory, I/O error).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver/kapi.h"

#include "drm/gpuvm_driver.h"

#include "replay.h"
#include "trace.h"
#include "va_pool.h"

#ifndef PROG
#define PROG "gpuvm-replay"
#endif

/* Benchmark mode parses this many commands, then executes them. */
#define BENCH_CHUNK 4096

struct replay {
	struct trace_parser parser;
	bool bench;
	FILE *out;
	FILE *err; /* diagnostics */

	struct drm_device *drm;
	struct drm_gpuvm *vm;
	struct drm_gem_object *r_obj;
	/* GEM objects by bo index, in declaration order. */
	struct drm_gem_object **objs;
	size_t nobjs, objs_cap;
	/* Every VA of the VM comes from here (see va_pool.h). */
	struct va_pool vas;
	/*
	 * How the reference driver applies ops lists here: every resv is held
	 * (see exec_vm()), VAs come from @vas, failed inserts are printed.
	 */
	struct gpuvm_apply_ctx apply;
	struct gpuvm_bind_ctx bind;
	/* Benchmark: a run of map/unmap commands, as one batch. */
	struct gpuvm_bind_req *batch;
	int *batch_errs;

	/* Line being executed, for diagnostics. */
	unsigned long line;
	/* drm_gpuvm_init() is running: its overflow WARNs are trace output. */
	bool in_vm_init;
	unsigned int limit_warns;
	unsigned long unexpected_warns;

	/* Benchmark: execution time and commands since the last mark. */
	u64 timed_ns;
	unsigned long timed_cmds;
};

/* ------------------------------------------------------------------ output */

static void put_hex(FILE *f, u64 v)
{
	char buf[2 + 16];
	char *p = buf + sizeof(buf);

	do {
		*--p = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	*--p = 'x';
	*--p = '0';
	fwrite(p, 1, (size_t)(buf + sizeof(buf) - p), f);
}

static const char *obj_name(const struct drm_gem_object *obj)
{
	/* priv holds the bo's name (see exec_bo()); no object is "-". */
	return obj ? obj->priv : "-";
}

static const char *bo_name(const struct replay *r, int bo)
{
	return bo == TRACE_NO_BO ? "-" : r->parser.bos[bo].name;
}

/* "<addr><sep><range><sep><bo><sep><offset>" */
static void put_piece(FILE *f, u64 addr, u64 range, const struct drm_gem_object *obj,
		      u64 offset, char sep)
{
	put_hex(f, addr);
	putc(sep, f);
	put_hex(f, range);
	putc(sep, f);
	fputs(obj_name(obj), f);
	putc(sep, f);
	put_hex(f, offset);
}

static void put_va(FILE *f, const struct drm_gpuva *va, char sep)
{
	put_piece(f, va->va.addr, va->va.range, va->gem.obj, va->gem.offset, sep);
}

static void put_op_map(FILE *f, const struct drm_gpuva_op_map *m, char sep)
{
	put_piece(f, m->va.addr, m->va.range, m->gem.obj, m->gem.offset, sep);
}

static void print_header(struct replay *r, const struct trace_cmd *c)
{
	FILE *f = r->out;

	switch (c->kind) {
	case TRACE_MAP:
		fputs("> map ", f);
		put_hex(f, c->arg[0]);
		putc(' ', f);
		put_hex(f, c->arg[1]);
		putc(' ', f);
		fputs(bo_name(r, c->bo), f);
		putc(' ', f);
		put_hex(f, c->arg[3]);
		break;
	case TRACE_UNMAP:
	case TRACE_PREFETCH:
		fputs(c->kind == TRACE_UNMAP ? "> unmap " : "> prefetch ", f);
		put_hex(f, c->arg[0]);
		putc(' ', f);
		put_hex(f, c->arg[1]);
		break;
	case TRACE_BO_UNMAP:
		fputs("> bo_unmap ", f);
		fputs(bo_name(r, c->bo), f);
		break;
	case TRACE_DUMP:
		fputs("> dump", f);
		break;
	default:
		return;
	}
	putc('\n', f);
}

static const char *errno_name(int err)
{
	switch (err) {
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EEXIST: return "EEXIST";
	case ENOENT: return "ENOENT";
	case EDEADLK: return "EDEADLK";
	case EALREADY: return "EALREADY";
	case EBUSY: return "EBUSY";
	case EINTR: return "EINTR";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return NULL;
	}
}

static void print_error(struct replay *r, int err)
{
	const char *name = errno_name(-err);

	if (r->bench)
		return;
	if (name)
		fprintf(r->out, "error %s\n", name);
	else
		fprintf(r->out, "error %d\n", -err);
}

static void print_ops(struct replay *r, struct drm_gpuva_ops *ops)
{
	struct drm_gpuva_op *op;
	FILE *f = r->out;

	drm_gpuva_for_each_op(op, ops) {
		switch (op->op) {
		case DRM_GPUVA_OP_MAP:
			fputs("map ", f);
			put_op_map(f, &op->map, ' ');
			break;
		case DRM_GPUVA_OP_REMAP:
			fputs("remap unmap=", f);
			put_va(f, op->remap.unmap->va, ',');
			fprintf(f, ",keep=%d prev=", op->remap.unmap->keep);
			if (op->remap.prev)
				put_op_map(f, op->remap.prev, ',');
			else
				putc('-', f);
			fputs(" next=", f);
			if (op->remap.next)
				put_op_map(f, op->remap.next, ',');
			else
				putc('-', f);
			break;
		case DRM_GPUVA_OP_UNMAP:
			fputs("unmap ", f);
			put_va(f, op->unmap.va, ' ');
			fprintf(f, " keep=%d", op->unmap.keep);
			break;
		case DRM_GPUVA_OP_PREFETCH:
			fputs("prefetch ", f);
			put_va(f, op->prefetch.va, ' ');
			if (op->prefetch.va == &r->vm->kernel_alloc_node)
				fputs(" kernel", f);
			break;
		default:
			fprintf(f, "op %d", (int)op->op);
			break;
		}
		putc('\n', f);
	}
}

/* ---------------------------------------------------------------- WARN hook */

static void on_warn(const char *file, int line, const char *msg, void *data)
{
	struct replay *r = data;

	/* drm_gpuvm_init()'s overflow WARN: "GPUVA address limited to %zu bytes." */
	if (r->in_vm_init && strstr(msg, "GPUVA address limited to")) {
		r->limit_warns++;
		return;
	}
	r->unexpected_warns++;
	fflush(r->out);
	fprintf(r->err, PROG ": line %lu: unexpected WARN at %s:%d: %s\n", r->line, file, line,
		msg);
}

/* ---------------------------------------------------------------- commands */

static void vm_free(struct drm_gpuvm *gpuvm)
{
	kfree(gpuvm);
}

static const struct drm_gpuvm_ops replay_vm_ops = {
	.vm_free = vm_free,
};

static bool add_overflows(u64 a, u64 b)
{
	return a + b < a;
}

static int exec_vm(struct replay *r, const struct trace_cmd *c)
{
	unsigned int expected = add_overflows(c->arg[0], c->arg[1]) +
				(c->arg[3] && add_overflows(c->arg[2], c->arg[3]));

	r->drm = drm_dev_alloc(PROG);
	if (!r->drm)
		return -ENOMEM;
	r->r_obj = drm_gpuvm_resv_object_alloc(r->drm);
	if (IS_ERR_OR_NULL(r->r_obj)) {
		r->r_obj = NULL;
		return -ENOMEM;
	}
	r->vm = kzalloc(sizeof(*r->vm), GFP_KERNEL);
	if (!r->vm)
		return -ENOMEM;
	/*
	 * Single-threaded, so holding every resv from its creation to the
	 * teardown is the same as holding them around each command, without
	 * a per-command cost that grows with the number of objects.
	 */
	GPUVM_BUG_ON(dma_resv_lock(r->r_obj->resv, NULL) != 0);

	r->in_vm_init = true;
	r->limit_warns = 0;
	drm_gpuvm_init(r->vm, PROG, 0, r->drm, r->r_obj, c->arg[0], c->arg[1], c->arg[2],
		       c->arg[3], &replay_vm_ops);
	r->in_vm_init = false;

	if (r->limit_warns != expected) {
		r->unexpected_warns++;
		fprintf(r->err, PROG ": line %lu: drm_gpuvm_init() reported %u overflow WARNs, expected %u\n",
			r->line, r->limit_warns, expected);
	}
	if (!r->bench)
		for (unsigned int i = 0; i < r->limit_warns; i++)
			fputs("warn GPUVA address limited to 8 bytes.\n", r->out);
	return 0;
}

static int exec_bo(struct replay *r, const struct trace_cmd *c)
{
	const struct trace_bo *bo = &r->parser.bos[c->bo];
	struct drm_gem_object *obj;

	if (r->nobjs == r->objs_cap) {
		size_t cap = r->objs_cap ? 2 * r->objs_cap : 16;
		struct drm_gem_object **objs = krealloc(r->objs, cap * sizeof(*objs), GFP_KERNEL);

		if (!objs)
			return -ENOMEM;
		r->objs = objs;
		r->objs_cap = cap;
	}
	obj = drm_gem_object_create(r->drm, 0, bo->ext ? NULL : r->r_obj);
	if (!obj)
		return -ENOMEM;
	/* The name string lives in the parser's table until the end. */
	obj->priv = bo->name;
	/* Without an acquire context this is a plain blocking lock: it cannot fail. */
	if (bo->ext)
		GPUVM_BUG_ON(dma_resv_lock(obj->resv, NULL) != 0);
	r->objs[r->nobjs++] = obj;
	return 0;
}

/* ------------------------------------------------- the reference driver */

static struct drm_gpuva *replay_va_alloc(void *priv)
{
	struct replay *r = priv;

	return va_pool_alloc(&r->vas);
}

static void replay_va_free(struct drm_gpuva *va, void *priv)
{
	struct replay *r = priv;

	va_pool_free(&r->vas, va);
}

/* A piece drm_gpuva_map()/drm_gpuva_remap() could not insert (it is dropped). */
static void report_insert_failed(const struct drm_gpuva_op_map *piece, void *priv)
{
	struct replay *r = priv;

	if (r->bench)
		return;
	fputs("warn insert_failed ", r->out);
	put_op_map(r->out, piece, ' ');
	putc('\n', r->out);
}

/* Between ops create and apply: print the list; a prefetch stops there. */
static int ops_created(struct drm_gpuva_ops *ops, void *priv)
{
	struct replay *r = priv;
	const struct drm_gpuva_op *op;

	if (!r->bench)
		print_ops(r, ops);
	if (list_empty(&ops->list))
		return 0;
	op = list_first_entry(&ops->list, struct drm_gpuva_op, entry);
	return op->op == DRM_GPUVA_OP_PREFETCH;
}

static void replay_driver_init(struct replay *r)
{
	r->apply = (struct gpuvm_apply_ctx){
		/* Single-threaded with every resv held: the caller-locked forms. */
		.flags = GPUVM_APPLY_LOCKED,
		.va_alloc = replay_va_alloc,
		.va_free = replay_va_free,
		.insert_failed = report_insert_failed,
		.priv = r,
	};
	r->bind = (struct gpuvm_bind_ctx){ .apply = &r->apply, .ops_created = ops_created, .priv = r };
}

static struct drm_gem_object *cmd_obj(const struct replay *r, const struct trace_cmd *c)
{
	return c->bo == TRACE_NO_BO ? NULL : r->objs[c->bo];
}

/* map, unmap, prefetch: one bind (errors are printed and change nothing). */
static void exec_bind(struct replay *r, const struct trace_cmd *c, u32 op)
{
	const struct gpuvm_bind_req req = {
		.op = op, .addr = c->arg[0], .range = c->arg[1],
		.obj = cmd_obj(r, c), .offset = c->arg[3],
	};
	int ret = gpuvm_driver_bind(r->vm, &req, &r->bind, NULL);

	if (ret < 0)
		print_error(r, ret);
}

static void exec_bo_unmap(struct replay *r, const struct trace_cmd *c)
{
	struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_find(r->vm, r->objs[c->bo]);
	struct drm_gpuva_ops *ops;
	int ret;

	if (!vm_bo)
		return;
	ops = drm_gpuvm_bo_unmap_ops_create(vm_bo);
	if (IS_ERR(ops)) {
		print_error(r, (int)PTR_ERR(ops));
	} else {
		if (!r->bench)
			print_ops(r, ops);
		ret = gpuvm_driver_apply(r->vm, ops, &r->apply, NULL);
		if (ret)
			print_error(r, ret);
		drm_gpuva_ops_free(r->vm, ops);
	}
	drm_gpuvm_bo_put(vm_bo);
}

static bool on_extobj_list(const struct drm_gpuvm *vm, const struct drm_gpuvm_bo *vm_bo)
{
	const struct list_head *pos;

	list_for_each(pos, &vm->extobj.list)
		if (list_entry(pos, struct drm_gpuvm_bo, list.entry.extobj) == vm_bo)
			return true;
	return false;
}

static void exec_dump(struct replay *r)
{
	FILE *f = r->out;
	struct drm_gpuva *va;

	drm_gpuvm_for_each_va(va, r->vm) {
		if (va == &r->vm->kernel_alloc_node)
			continue;
		fputs("va ", f);
		put_va(f, va, ' ');
		putc('\n', f);
	}
	for (size_t i = 0; i < r->nobjs; i++) {
		struct drm_gpuvm_bo *vm_bo = drm_gpuvm_bo_find(r->vm, r->objs[i]);
		unsigned long n = 0;

		if (!vm_bo)
			continue;
		drm_gpuvm_bo_for_each_va(va, vm_bo)
			n++;
		fprintf(f, "vm_bo %s %lu%s\n", obj_name(r->objs[i]), n,
			on_extobj_list(r->vm, vm_bo) ? " ext" : "");
		drm_gpuvm_bo_for_each_va(va, vm_bo) {
			fputs("bova ", f);
			put_hex(f, va->va.addr);
			putc(' ', f);
			put_hex(f, va->va.range);
			putc(' ', f);
			put_hex(f, va->gem.offset);
			putc('\n', f);
		}
		drm_gpuvm_bo_put(vm_bo);
	}
	fputs("end\n", f);
}

/* Runs one command; only allocation failures of vm/bo setup are fatal. */
static int exec_cmd(struct replay *r, const struct trace_cmd *c)
{
	r->line = c->line;
	if (!r->bench)
		print_header(r, c);
	switch (c->kind) {
	case TRACE_VM:
		return exec_vm(r, c);
	case TRACE_BO:
		return exec_bo(r, c);
	case TRACE_MAP:
		exec_bind(r, c, GPUVM_BIND_MAP);
		break;
	case TRACE_UNMAP:
		exec_bind(r, c, GPUVM_BIND_UNMAP);
		break;
	case TRACE_BO_UNMAP:
		exec_bo_unmap(r, c);
		break;
	case TRACE_PREFETCH:
		exec_bind(r, c, GPUVM_BIND_PREFETCH);
		break;
	case TRACE_DUMP:
		if (!r->bench)
			exec_dump(r);
		break;
	case TRACE_MARK:
		break;
	}
	return 0;
}

/* ---------------------------------------------------------------- teardown */

/* Unmap everything, drop every reference; the allocation count must reach 0. */
static void teardown(struct replay *r)
{
	if (r->vm) {
		gpuvm_driver_vm_release(r->vm, &r->apply);
		r->vm = NULL;
	}
	va_pool_destroy(&r->vas);
	/* Unlock before the last puts: a GEM must not be freed under its own lock. */
	for (size_t i = 0; i < r->nobjs; i++)
		if (r->parser.bos[i].ext)
			dma_resv_unlock(r->objs[i]->resv);
	if (r->r_obj && dma_resv_held(r->r_obj->resv))
		dma_resv_unlock(r->r_obj->resv);
	for (size_t i = 0; i < r->nobjs; i++)
		drm_gem_object_put(r->objs[i]);
	kfree(r->objs);
	r->objs = NULL;
	r->nobjs = 0;
	drm_gem_object_put(r->r_obj);
	r->r_obj = NULL;
	drm_dev_put(r->drm);
	r->drm = NULL;
	trace_parser_fini(&r->parser);
}

/* ---------------------------------------------------------------- main */

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000u + (u64)ts.tv_nsec;
}

static int run_normal(struct replay *r)
{
	struct trace_cmd cmd;
	enum trace_status st;

	while ((st = trace_next(&r->parser, &cmd)) == TRACE_CMD)
		if (exec_cmd(r, &cmd))
			return -ENOMEM;
	return st == TRACE_EOF ? 0 : -EINVAL;
}

/*
 * Parse a chunk, then execute it; only execution is timed, and a mark throws
 * away what was measured before it.
 */
static int run_bench(struct replay *r)
{
	struct trace_cmd *chunk = kmalloc(BENCH_CHUNK * sizeof(*chunk), GFP_KERNEL);
	enum trace_status st = TRACE_CMD;
	int ret = 0;

	if (!chunk)
		return -ENOMEM;
	while (st == TRACE_CMD && !ret) {
		size_t n = 0;
		u64 t0;

		while (n < BENCH_CHUNK && (st = trace_next(&r->parser, &chunk[n])) == TRACE_CMD)
			n++;
		t0 = now_ns();
		for (size_t i = 0; i < n; i++) {
			if (chunk[i].kind == TRACE_MARK) {
				r->timed_ns = 0;
				r->timed_cmds = 0;
				t0 = now_ns();
				continue;
			}
			ret = exec_cmd(r, &chunk[i]);
			if (ret)
				break;
			r->timed_cmds++;
		}
		r->timed_ns += now_ns() - t0;
	}
	kfree(chunk);
	if (ret)
		return ret;
	return st == TRACE_EOF ? 0 : -EINVAL;
}

#ifndef GPUVM_REPLAY_NO_MAIN
static void usage(FILE *f)
{
	fputs("usage: " PROG " [--bench] [FILE|-]\n"
	      "Replay a gpuvm trace (see docs/trace-format.md) through the C core and print\n"
	      "the canonical result; '-' or no FILE reads standard input.\n"
	      "  --bench  print only 'ops <n> ns_per_cmd <x>': the execution time per\n"
	      "           command after the last 'mark' (parsing not timed)\n",
	      f);
}
#endif

int gpuvm_replay_stream(FILE *in, FILE *out, FILE *err, bool bench)
{
	struct replay r;
	long live0;
	int ret, status;

	memset(&r, 0, sizeof(r));
	r.bench = bench;
	r.out = out;
	r.err = err;
	live0 = gpuvm_alloc_live();
	trace_parser_init(&r.parser, in);
	replay_driver_init(&r);
	gpuvm_set_warn_hook(on_warn, &r);

	ret = r.bench ? run_bench(&r) : run_normal(&r);
	status = 0;
	if (ret == -EINVAL) {
		fflush(out);
		if (r.parser.err_line)
			fprintf(err, PROG ": line %lu: %s\n", r.parser.err_line, r.parser.err);
		else
			fprintf(err, PROG ": %s\n", r.parser.err);
		status = r.parser.err_line ? 2 : 1;
	} else if (ret) {
		fflush(out);
		fprintf(err, PROG ": line %lu: out of memory\n", r.line);
		status = 1;
	} else if (r.bench) {
		double ns = r.timed_cmds ? (double)r.timed_ns / (double)r.timed_cmds : 0.0;

		fprintf(out, "ops %lu ns_per_cmd %.2f\n", r.timed_cmds, ns);
	}

	/*
	 * Everything the trace printed is out before the VM is torn down, so a
	 * backend that crashes there (a kernel bug, docs/kernel-backend.md)
	 * still shows its output.
	 */
	fflush(out);
	teardown(&r);
	gpuvm_set_warn_hook(NULL, NULL);
	if (gpuvm_alloc_live() != live0) {
		fprintf(err, PROG ": leak: %ld allocations still live after teardown\n",
			gpuvm_alloc_live() - live0);
		if (!status)
			status = 1;
	}
	if (r.unexpected_warns && !status)
		status = 1;
	if (fflush(out) || ferror(out)) {
		fprintf(err, PROG ": write error\n");
		if (!status)
			status = 1;
	}
	return status;
}

#ifndef GPUVM_REPLAY_NO_MAIN
int main(int argc, char **argv)
{
	static char outbuf[1 << 16];
	const char *path = NULL;
	bool bench = false;
	FILE *in;
	int status;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--bench")) {
			bench = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] && !path) {
			fprintf(stderr, PROG ": unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		} else if (!path) {
			path = argv[i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!path || !strcmp(path, "-")) {
		in = stdin;
	} else {
		in = fopen(path, "r");
		if (!in) {
			fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
			return 2;
		}
	}
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	status = gpuvm_replay_stream(in, stdout, stderr, bench);
	if (in != stdin)
		fclose(in);
	return status;
}
#endif
