// SPDX-License-Identifier: MIT
/*
 * pygpuvm._tableq: the common call of VM.table(), vm.table(start, end) with
 * two plain ints, as one CPython method (a method descriptor of VM, so no
 * bound method is made either). Everything else, and every error, goes to the
 * Python function pygpuvm.table.query, which stays the reference: this file
 * only makes the same Table faster.
 *
 * Why a CPython method and not the cffi call: a small query costs the tree
 * walk (~200-400 ns over 1e5 mappings, memory-bound) plus, through Python and
 * cffi, ~800 ns of fixed cost (the call, its argument conversions and GIL
 * release, the VM lock taken through a `with`, a scratch buffer swapped in and
 * out, the copy, the tuple). Here the same steps are a few C calls.
 *
 * The walk is the C core's gpuvm_va_table_fill() (csrc/driver/va_table.h),
 * reached through the address pygpuvm.table passes to install(): this module
 * links nothing of the core (one copy of it per process, in pygpuvm._gpuvm).
 *
 * What it does, under the VM's RLock (vm._lock, taken as a `with` would):
 * checks what pygpuvm.table.query checks (VM open, not walking), fills the
 * rows into a stack buffer (a heap one when they do not fit), copies them
 * into a new bytes object the Table owns (copy semantics: the table stays
 * valid after the VM changes), and builds the Table tuple as query() does.
 * Python code cannot run between the walk and the copy (no allocation here
 * can reach the garbage collector or a finalizer), and nothing is shared
 * between calls, so a reentrant call cannot see a half-written buffer.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* gpuvm_va_table_fill()'s type exactly (u64 is unsigned long long in csrc). */
struct drm_gpuvm;
typedef size_t tableq_fill_fn(struct drm_gpuvm *gpuvm, unsigned long long first,
			      unsigned long long last, bool skip_kernel,
			      unsigned long long *out, size_t stride);

#define TABLEQ_COLUMNS 5
/* Rows a query may return without a heap buffer (5 * 8 * 64 = 2.5 KiB of stack). */
#define TABLEQ_STACK_ROWS 64

static tableq_fill_fn *tableq_fill;
static PyTypeObject *tableq_vm_type;	 /* pygpuvm.VM (exactly: a subclass goes to query) */
static PyTypeObject *tableq_table_type; /* pygpuvm.table.Table (a tuple subclass) */
static PyObject *tableq_slow;		 /* pygpuvm.table.query */
static PyObject *tableq_doc;		 /* keeps tableq_def.ml_doc alive */
static PyObject *tableq_zero;
static PyObject *s_acquire, *s_release;
/* acquire/release of _thread.RLock, called on the lock directly (no lookup). */
static PyTypeObject *tableq_rlock_type;
static PyObject *tableq_rlock_acquire, *tableq_rlock_release;

/*
 * The VM's slots this path reads, by offset (VM has __slots__; self is exactly
 * a VM). Read as borrowed references: no Python code runs while they are used.
 */
enum { SLOT_LOCK, SLOT_PTR, SLOT_WALKING, SLOT_GEN, SLOT_ADDR, SLOT_COUNT };
static const char *const tableq_slot_names[SLOT_COUNT] = { "_lock", "_ptr", "_walking", "_gen",
							   "_addr" };
static Py_ssize_t tableq_slot_offset[SLOT_COUNT];

static PyObject *tableq_slot(PyObject *self, int slot)
{
	return *(PyObject **)((char *)self + tableq_slot_offset[slot]);
}

/* query(self, *args, **kwargs): the reference path. */
static PyObject *tableq_call_slow(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
				  PyObject *kwnames)
{
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	PyObject *small[8], **stack = small, *res;

	if (nargs + nkw + 1 > (Py_ssize_t)(sizeof(small) / sizeof(small[0]))) {
		stack = PyMem_Malloc((size_t)(nargs + nkw + 1) * sizeof(*stack));
		if (!stack)
			return PyErr_NoMemory();
	}
	stack[0] = self;
	if (nargs + nkw)
		memcpy(stack + 1, args, (size_t)(nargs + nkw) * sizeof(*stack));
	res = PyObject_Vectorcall(tableq_slow, stack, (size_t)(nargs + 1), kwnames);
	if (stack != small)
		PyMem_Free(stack);
	return res;
}

/* A plain int in [0, 2**64) as @out; false (no exception set) otherwise. */
static bool tableq_u64(PyObject *o, unsigned long long *out)
{
	if (!PyLong_CheckExact(o))
		return false;
#if ULONG_MAX == 0xffffffffffffffffUL
	/* Cheaper than PyLong_AsUnsignedLongLong (which goes through a byte array). */
	*out = PyLong_AsUnsignedLong(o);
#else
	*out = PyLong_AsUnsignedLongLong(o);
#endif
	if (*out == (unsigned long long)-1 && PyErr_Occurred()) {
		PyErr_Clear();
		return false;
	}
	return true;
}

/* The rows of [first, last] as column-major bytes (stride = row count); *n: rows. */
static PyObject *tableq_rows(struct drm_gpuvm *gpuvm, unsigned long long first,
			     unsigned long long last, size_t *n)
{
	unsigned long long buf[TABLEQ_COLUMNS * TABLEQ_STACK_ROWS], *heap;
	size_t rows = tableq_fill(gpuvm, first, last, true, buf, TABLEQ_STACK_ROWS), c;
	PyObject *data;
	char *dst;

	*n = rows;
	if (rows > (size_t)PY_SSIZE_T_MAX / (TABLEQ_COLUMNS * sizeof(*buf)))
		return PyErr_NoMemory();
	data = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(rows * TABLEQ_COLUMNS * sizeof(*buf)));
	if (!data || !rows)
		return data;
	dst = PyBytes_AS_STRING(data);
	if (rows <= TABLEQ_STACK_ROWS) {
		for (c = 0; c < TABLEQ_COLUMNS; c++)
			memcpy(dst + c * rows * sizeof(*buf), buf + c * TABLEQ_STACK_ROWS,
			       rows * sizeof(*buf));
		return data;
	}
	heap = PyMem_Malloc(rows * TABLEQ_COLUMNS * sizeof(*heap));
	if (!heap) {
		Py_DECREF(data);
		return PyErr_NoMemory();
	}
	/* The lock is held: the second walk finds the same rows. */
	tableq_fill(gpuvm, first, last, true, heap, rows);
	memcpy(dst, heap, rows * TABLEQ_COLUMNS * sizeof(*heap));
	PyMem_Free(heap);
	return data;
}

/*
 * Under the lock: the Table of [start, end), or NULL with *slow set when the
 * reference path must answer (closed or walking VM: it raises the error).
 */
static PyObject *tableq_locked(PyObject *self, PyObject *start, PyObject *end,
			       unsigned long long first, unsigned long long last, bool *slow)
{
	PyObject *ptr = tableq_slot(self, SLOT_PTR), *walking = tableq_slot(self, SLOT_WALKING);
	PyObject *addr = tableq_slot(self, SLOT_ADDR), *gen = tableq_slot(self, SLOT_GEN);
	PyObject *data, *count, *t;
	struct drm_gpuvm *gpuvm;
	size_t n;

	/* Closed, walking (or a slot unset, or odd): query() raises what it raises. */
	if (!ptr || ptr == Py_None || walking != Py_False || !gen || !addr ||
	    !PyLong_CheckExact(addr)) {
		*slow = true;
		return NULL;
	}
	gpuvm = PyLong_AsVoidPtr(addr);
	if (!gpuvm)
		return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_SystemError, "VM without address");
	data = tableq_rows(gpuvm, first, last, &n);
	if (!data)
		return NULL;
	count = PyLong_FromSize_t(n);
	t = count ? tableq_table_type->tp_alloc(tableq_table_type, 8) : NULL;
	if (!t) {
		Py_XDECREF(count);
		Py_DECREF(data);
		return NULL;
	}
	/* As query(): (data, rows, stride, vm, generation, start, end, first row). */
	PyTuple_SET_ITEM(t, 0, data);
	PyTuple_SET_ITEM(t, 1, Py_NewRef(count));
	PyTuple_SET_ITEM(t, 2, count);
	PyTuple_SET_ITEM(t, 3, Py_NewRef(self));
	PyTuple_SET_ITEM(t, 4, Py_NewRef(gen));
	PyTuple_SET_ITEM(t, 5, Py_NewRef(start));
	PyTuple_SET_ITEM(t, 6, Py_NewRef(end));
	PyTuple_SET_ITEM(t, 7, Py_NewRef(tableq_zero));
	return t;
}

/* lock.acquire() / lock.release(): a new reference to the result, or NULL. */
static PyObject *tableq_lock_call(PyObject *lock, PyObject *rlock_method, PyObject *name)
{
	if (Py_IS_TYPE(lock, tableq_rlock_type))
		return PyObject_Vectorcall(rlock_method, &lock, 1, NULL);
	return PyObject_CallMethodNoArgs(lock, name);
}

static PyObject *tableq_table(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
			      PyObject *kwnames)
{
	unsigned long long first, end;
	PyObject *lock, *r, *t;
	bool slow = false;

	if (kwnames || nargs != 2 || !Py_IS_TYPE(self, tableq_vm_type) ||
	    !tableq_u64(args[0], &first) || !tableq_u64(args[1], &end) || end <= first)
		return tableq_call_slow(self, args, nargs, kwnames);
	lock = tableq_slot(self, SLOT_LOCK);
	if (!lock)
		return tableq_call_slow(self, args, nargs, kwnames);
	/* Held: the lock's code below may run Python code (a lock that is not an RLock). */
	Py_INCREF(lock);
	r = tableq_lock_call(lock, tableq_rlock_acquire, s_acquire);
	if (!r) {
		Py_DECREF(lock);
		return NULL;
	}
	Py_DECREF(r);
	t = tableq_locked(self, args[0], args[1], first, end - 1, &slow);
	if (t || slow) {
		r = tableq_lock_call(lock, tableq_rlock_release, s_release);
	} else {
		/* Release with the error kept (as a `with` block would). */
		PyObject *type, *value, *tb;

		PyErr_Fetch(&type, &value, &tb);
		r = tableq_lock_call(lock, tableq_rlock_release, s_release);
		if (r)
			PyErr_Restore(type, value, tb);
		else {
			Py_XDECREF(type);
			Py_XDECREF(value);
			Py_XDECREF(tb);
		}
	}
	Py_DECREF(lock);
	if (!r) {
		Py_XDECREF(t);
		return NULL;
	}
	Py_DECREF(r);
	if (slow)
		return tableq_call_slow(self, args, nargs, kwnames);
	return t;
}

static PyMethodDef tableq_def = {
	"table", (PyCFunction)(void (*)(void))tableq_table, METH_FASTCALL | METH_KEYWORDS, NULL,
};

/*
 * install(VM, Table, query, fill_address, doc, RLock): the method descriptor
 * to set as VM.table. Called once, by pygpuvm.table.install().
 */
static PyObject *tableq_install(PyObject *module, PyObject *args)
{
	PyObject *vm_type, *table_type, *slow, *doc, *rlock_type, *acq, *rel;
	Py_ssize_t offsets[SLOT_COUNT];
	unsigned long long fill;
	int i;

	(void)module;
	if (!PyArg_ParseTuple(args, "O!O!OKUO!:install", &PyType_Type, &vm_type, &PyType_Type,
			      &table_type, &slow, &fill, &doc, &PyType_Type, &rlock_type))
		return NULL;
	if (tableq_fill) {
		PyErr_SetString(PyExc_RuntimeError, "pygpuvm._tableq.install() called twice");
		return NULL;
	}
	if (!PyType_IsSubtype((PyTypeObject *)table_type, &PyTuple_Type) || !PyCallable_Check(slow) ||
	    !fill) {
		PyErr_SetString(PyExc_TypeError, "install(VM, Table, query, fill_address, doc, RLock)");
		return NULL;
	}
	for (i = 0; i < SLOT_COUNT; i++) {
		PyObject *d = PyObject_GetAttrString(vm_type, tableq_slot_names[i]);
		PyMemberDef *m;

		if (!d)
			return NULL;
		m = Py_IS_TYPE(d, &PyMemberDescr_Type) ? ((PyMemberDescrObject *)d)->d_member : NULL;
		if (!m || m->type != T_OBJECT_EX) {
			Py_DECREF(d);
			return PyErr_Format(PyExc_TypeError, "VM.%s is not a __slots__ slot",
					    tableq_slot_names[i]);
		}
		offsets[i] = m->offset;
		Py_DECREF(d); /* the type keeps its descriptor, whose PyMemberDef is static */
	}
	acq = PyObject_GetAttr(rlock_type, s_acquire);
	rel = acq ? PyObject_GetAttr(rlock_type, s_release) : NULL;
	if (!rel) {
		Py_XDECREF(acq);
		return NULL;
	}
	tableq_def.ml_doc = PyUnicode_AsUTF8(doc);
	if (!tableq_def.ml_doc) {
		Py_DECREF(acq);
		Py_DECREF(rel);
		return NULL;
	}
	memcpy(tableq_slot_offset, offsets, sizeof(offsets));
	tableq_doc = Py_NewRef(doc);
	tableq_rlock_type = (PyTypeObject *)Py_NewRef(rlock_type);
	tableq_rlock_acquire = acq;
	tableq_rlock_release = rel;
	tableq_vm_type = (PyTypeObject *)Py_NewRef(vm_type);
	tableq_table_type = (PyTypeObject *)Py_NewRef(table_type);
	tableq_slow = Py_NewRef(slow);
	tableq_fill = (tableq_fill_fn *)(uintptr_t)fill;
	return PyDescr_NewMethod(tableq_vm_type, &tableq_def);
}

static PyMethodDef tableq_methods[] = {
	{ "install", tableq_install, METH_VARARGS,
	  "install(VM, Table, query, fill_address, doc, RLock): VM.table's method descriptor." },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef tableq_module = {
	PyModuleDef_HEAD_INIT, "pygpuvm._tableq",
	"The fast path of VM.table(start, end) (see pygpuvm/_tableq.c).", -1, tableq_methods,
	NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__tableq(void);
PyMODINIT_FUNC PyInit__tableq(void)
{
	static const char *const names[] = { "acquire", "release" };
	PyObject **slots[] = { &s_acquire, &s_release };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!*slots[i]) {
			*slots[i] = PyUnicode_InternFromString(names[i]);
			if (!*slots[i])
				return NULL;
		}
	}
	if (!tableq_zero) {
		tableq_zero = PyLong_FromLong(0);
		if (!tableq_zero)
			return NULL;
	}
	return PyModule_Create(&tableq_module);
}
