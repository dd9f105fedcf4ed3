// SPDX-License-Identifier: MIT
/*
 * pygpuvm._gcguard: hold()/release() of pygpuvm._util's finalizer guard, as
 * CPython functions.
 *
 * While pygpuvm turns C records into wrappers under a VM's lock, the cyclic
 * collector must not run in that thread: a collection would run __del__ of
 * user objects there, and one that unmaps or closes the VM would free what the
 * remaining records name. hold() disables the collector (remembering whether
 * it was enabled) and release() re-enables it when the last hold of any thread
 * ends. Holds nest and may overlap across threads.
 *
 * Why C: in Python the count and the collector switch need a threading.Lock
 * (a thread switch can fall between two statements), which made every query
 * pay two lock round trips and six Python calls. Here each function runs to
 * its end under the GIL, which is the lock. The count lives in the module's
 * state: the collector it switches belongs to the interpreter, as the module
 * does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

struct gcguard_state {
	Py_ssize_t holds;   /* holds now open, in every thread */
	int was_enabled;    /* the collector's state when the first of them began */
};

static PyObject *gcguard_hold(PyObject *module, PyObject *unused)
{
	struct gcguard_state *st = PyModule_GetState(module);

	(void)unused;
	if (st->holds == 0)
		st->was_enabled = PyGC_Disable();
	st->holds++;
	Py_RETURN_NONE;
}

static PyObject *gcguard_release(PyObject *module, PyObject *unused)
{
	struct gcguard_state *st = PyModule_GetState(module);

	(void)unused;
	if (st->holds == 0) {
		PyErr_SetString(PyExc_RuntimeError, "gc_release() without gc_hold()");
		return NULL;
	}
	if (--st->holds == 0 && st->was_enabled)
		PyGC_Enable();
	Py_RETURN_NONE;
}

static PyObject *gcguard_holds(PyObject *module, PyObject *unused)
{
	struct gcguard_state *st = PyModule_GetState(module);

	(void)unused;
	return PyLong_FromSsize_t(st->holds);
}

static PyMethodDef gcguard_methods[] = {
	{"hold", gcguard_hold, METH_NOARGS,
	 "hold()\n--\n\nDefer the cyclic collector until the matching release()."},
	{"release", gcguard_release, METH_NOARGS,
	 "release()\n--\n\nEnd one hold(); the last one re-enables a collector that was enabled."},
	{"holds", gcguard_holds, METH_NOARGS,
	 "holds()\n--\n\nThe number of holds open now (for tests)."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef gcguard_module = {
	PyModuleDef_HEAD_INIT, "pygpuvm._gcguard",
	"The finalizer guard of pygpuvm._util (see the file).",
	sizeof(struct gcguard_state), gcguard_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__gcguard(void);
PyMODINIT_FUNC PyInit__gcguard(void)
{
	PyObject *m = PyModule_Create(&gcguard_module);

	if (m) {
		struct gcguard_state *st = PyModule_GetState(m);

		st->holds = 0;
		st->was_enabled = 0;
	}
	return m;
}
