// SPDX-License-Identifier: MIT
/*
 * Trace parser of gpuvm-replay: lines, words, numbers and the bo name table.
 * The exact error messages matter: pygpuvm/replay.py prints the same ones.
 */
#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "linux/bug.h"
#include "linux/slab.h"

/* Words beyond this many are only counted (for the word-count message). */
#define MAX_WORDS 6

void trace_parser_init(struct trace_parser *p, FILE *in)
{
	memset(p, 0, sizeof(*p));
	p->in = in;
}

void trace_parser_fini(struct trace_parser *p)
{
	for (size_t i = 0; i < p->nbos; i++)
		kfree(p->bos[i].name);
	kfree(p->bos);
	kfree(p->hash);
	kfree(p->buf);
	memset(p, 0, sizeof(*p));
}

static enum trace_status fail(struct trace_parser *p, unsigned long line, const char *fmt, ...)
	GPUVM_PRINTF(3, 4);

static enum trace_status fail(struct trace_parser *p, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->err_line = line;
	return TRACE_ERROR;
}

/*
 * Reads one line (without its newline) into p->buf: 1, 0 at EOF, -errno.
 * *nul is set if the line holds a NUL byte (it would cut the line short).
 * The reader is single-threaded, hence getc_unlocked().
 */
static int read_line(struct trace_parser *p, bool *nul)
{
	size_t len = 0;
	int c;

	*nul = false;
	while ((c = getc_unlocked(p->in)) != EOF && c != '\n') {
		if (len + 1 >= p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 256;
			char *buf = krealloc(p->buf, cap, GFP_KERNEL);

			if (!buf)
				return -ENOMEM;
			p->buf = buf;
			p->cap = cap;
		}
		if (!c)
			*nul = true;
		p->buf[len++] = (char)c;
	}
	if (ferror(p->in))
		return -EIO;
	if (c == EOF && len == 0)
		return 0;
	if (!p->buf) {
		p->buf = kmalloc(256, GFP_KERNEL);
		if (!p->buf)
			return -ENOMEM;
		p->cap = 256;
	}
	p->buf[len] = '\0';
	p->line++;
	return 1;
}

/* The "C" locale's isspace(), which is also what Python's bytes.split() uses. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Splits p->buf in place; returns the number of words (all of them counted). */
static int split_words(char *s, char **words)
{
	int n = 0;
	char *hash = strchr(s, '#');

	if (hash)
		*hash = '\0';
	for (;;) {
		while (is_space(*s))
			s++;
		if (!*s)
			return n;
		if (n < MAX_WORDS)
			words[n] = s;
		n++;
		while (*s && !is_space(*s))
			s++;
		if (*s)
			*s++ = '\0';
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 0, -EINVAL (not a number) or -ERANGE (>= 2^64). */
static int parse_u64(const char *s, u64 *out)
{
	u64 v = 0;
	bool overflow = false;

	if (s[0] == '0' && s[1] == 'x') {
		s += 2;
		if (!*s)
			return -EINVAL;
		for (; *s; s++) {
			int d = hex_digit(*s);

			if (d < 0)
				return -EINVAL;
			if (v >> 60)
				overflow = true;
			v = v << 4 | (u64)d;
		}
	} else {
		if (!*s)
			return -EINVAL;
		for (; *s; s++) {
			u64 d;

			if (*s < '0' || *s > '9')
				return -EINVAL;
			d = (u64)(*s - '0');
			if (v > (UINT64_MAX - d) / 10)
				overflow = true;
			v = v * 10 + d;
		}
	}
	if (overflow)
		return -ERANGE;
	*out = v;
	return 0;
}

static u32 name_hash(const char *s)
{
	u32 h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int bo_lookup(const struct trace_parser *p, const char *name)
{
	if (!p->hash_cap)
		return TRACE_NO_BO;
	for (size_t i = name_hash(name) & (p->hash_cap - 1);; i = (i + 1) & (p->hash_cap - 1)) {
		u32 slot = p->hash[i];

		if (!slot)
			return TRACE_NO_BO;
		if (!strcmp(p->bos[slot - 1].name, name))
			return (int)(slot - 1);
	}
}

static void hash_put(u32 *hash, size_t cap, const char *name, u32 slot)
{
	size_t i = name_hash(name) & (cap - 1);

	while (hash[i])
		i = (i + 1) & (cap - 1);
	hash[i] = slot;
}

static int bo_add(struct trace_parser *p, const char *name, bool ext)
{
	size_t len = strlen(name);
	char *copy;

	if (p->nbos >= (size_t)INT32_MAX)
		return -ENOMEM;
	if (p->nbos == p->bos_cap) {
		size_t cap = p->bos_cap ? p->bos_cap * 2 : 8;
		struct trace_bo *bos = krealloc(p->bos, cap * sizeof(*bos), GFP_KERNEL);

		if (!bos)
			return -ENOMEM;
		p->bos = bos;
		p->bos_cap = cap;
	}
	/* Keep the index at most half full so probes stay short. */
	if (2 * (p->nbos + 1) > p->hash_cap) {
		size_t cap = p->hash_cap ? p->hash_cap * 2 : 16;
		u32 *hash = kzalloc(cap * sizeof(*hash), GFP_KERNEL);

		if (!hash)
			return -ENOMEM;
		for (size_t i = 0; i < p->nbos; i++)
			hash_put(hash, cap, p->bos[i].name, (u32)(i + 1));
		kfree(p->hash);
		p->hash = hash;
		p->hash_cap = cap;
	}
	copy = kmalloc(len + 1, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, name, len + 1);
	p->bos[p->nbos] = (struct trace_bo){ .name = copy, .ext = ext, .line = p->line };
	hash_put(p->hash, p->hash_cap, copy, (u32)(p->nbos + 1));
	p->nbos++;
	return 0;
}

struct cmd_syntax {
	const char *name;
	enum trace_kind kind;
	int min_args, max_args; /* words after the command */
	const char *expected;   /* for the word-count message */
};

static const struct cmd_syntax commands[] = {
	{ "vm", TRACE_VM, 2, 4, "2 or 4" },
	{ "bo", TRACE_BO, 1, 2, "1 or 2" },
	{ "map", TRACE_MAP, 4, 4, "4" },
	{ "unmap", TRACE_UNMAP, 2, 2, "2" },
	{ "bo_unmap", TRACE_BO_UNMAP, 1, 1, "1" },
	{ "prefetch", TRACE_PREFETCH, 2, 2, "2" },
	{ "dump", TRACE_DUMP, 0, 0, "0" },
	{ "mark", TRACE_MARK, 0, 0, "0" },
};

static enum trace_status number(struct trace_parser *p, const char *word, u64 *out)
{
	switch (parse_u64(word, out)) {
	case 0:
		return TRACE_CMD;
	case -ERANGE:
		return fail(p, p->line, "number out of range '%s' (must be < 2^64)", word);
	default:
		return fail(p, p->line, "bad number '%s'", word);
	}
}

/*
 * Checks in a fixed order shared with the Python replay: command name, word
 * count, the words themselves, then what depends on earlier lines.
 */
static enum trace_status parse_line(struct trace_parser *p, int n, char **w,
				    struct trace_cmd *cmd)
{
	const struct cmd_syntax *syn = NULL;
	const char *bo_name = NULL;
	int nargs = n - 1;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(w[0], commands[i].name)) {
			syn = &commands[i];
			break;
		}
	}
	if (!syn)
		return fail(p, p->line, "unknown command '%s'", w[0]);
	if (nargs < syn->min_args || nargs > syn->max_args || (syn->kind == TRACE_VM && nargs == 3))
		return fail(p, p->line, "wrong number of arguments for '%s': expected %s, got %d",
			    syn->name, syn->expected, nargs);

	memset(cmd, 0, sizeof(*cmd));
	cmd->kind = syn->kind;
	cmd->line = p->line;
	cmd->bo = TRACE_NO_BO;

	switch (syn->kind) {
	case TRACE_VM:
		for (int i = 0; i < nargs; i++)
			if (number(p, w[1 + i], &cmd->arg[i]) != TRACE_CMD)
				return TRACE_ERROR;
		break;
	case TRACE_BO:
		if (!strcmp(w[1], "-"))
			return fail(p, p->line, "bo name '-' is reserved (it means no object)");
		if (nargs == 2 && strcmp(w[2], "ext"))
			return fail(p, p->line, "bad bo flag '%s' (expected 'ext')", w[2]);
		bo_name = w[1];
		break;
	case TRACE_MAP:
		if (number(p, w[1], &cmd->arg[0]) != TRACE_CMD ||
		    number(p, w[2], &cmd->arg[1]) != TRACE_CMD ||
		    number(p, w[4], &cmd->arg[3]) != TRACE_CMD)
			return TRACE_ERROR;
		if (strcmp(w[3], "-"))
			bo_name = w[3];
		break;
	case TRACE_UNMAP:
	case TRACE_PREFETCH:
		if (number(p, w[1], &cmd->arg[0]) != TRACE_CMD ||
		    number(p, w[2], &cmd->arg[1]) != TRACE_CMD)
			return TRACE_ERROR;
		break;
	case TRACE_BO_UNMAP:
		bo_name = w[1];
		break;
	case TRACE_DUMP:
	case TRACE_MARK:
		break;
	}

	if (syn->kind == TRACE_VM) {
		if (p->vm_line)
			return fail(p, p->line, "'vm' repeated (first on line %lu)", p->vm_line);
		p->vm_line = p->line;
		return TRACE_CMD;
	}
	if (!p->vm_line)
		return fail(p, p->line, "'vm' missing: the first command must be 'vm'");

	if (syn->kind == TRACE_BO) {
		int dup = bo_lookup(p, bo_name);

		if (dup != TRACE_NO_BO)
			return fail(p, p->line, "duplicate bo '%s' (first declared on line %lu)",
				    bo_name, p->bos[dup].line);
		if (bo_add(p, bo_name, nargs == 2))
			return fail(p, 0, "out of memory");
		cmd->bo = (int)(p->nbos - 1);
	} else if (bo_name) {
		cmd->bo = bo_lookup(p, bo_name);
		if (cmd->bo == TRACE_NO_BO)
			return fail(p, p->line, "unknown bo '%s'", bo_name);
	}
	return TRACE_CMD;
}

enum trace_status trace_next(struct trace_parser *p, struct trace_cmd *cmd)
{
	char *words[MAX_WORDS];
	bool nul;
	int n, ret;

	do {
		ret = read_line(p, &nul);
		if (ret < 0)
			return fail(p, 0, "%s", ret == -ENOMEM ? "out of memory" : "read error");
		if (ret == 0) {
			if (!p->vm_line)
				return fail(p, p->line + 1, "'vm' missing: the trace has no 'vm' command");
			return TRACE_EOF;
		}
		if (nul)
			return fail(p, p->line, "NUL byte in line");
		n = split_words(p->buf, words);
	} while (n == 0);

	return parse_line(p, n, words, cmd);
}
