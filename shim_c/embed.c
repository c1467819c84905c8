/* Guarding the embedded interpreter (shared/reference/cffi-embedding.md section 3):
 *  - constructor: promote libpython to the global scope (QEMU dlopens block-rbd.so RTLD_LOCAL,
 *    and extension modules such as _cffi_backend need libpython's symbols), and register
 *    fork hooks so a child never inherits a GIL (or the log lock) held by a thread that no
 *    longer exists, and so nebd connections opened before the fork know they are stale in the
 *    child (their threads are gone; the child makes its own with rados_connect);
 *  - crbd_ensure_python(): a pthread_once init with PyConfig (the build's interpreter as
 *    program name so its standard library is found, no signal handlers, no `site`: the .pth
 *    hooks of that Python's site-packages are not ours to run inside QEMU, and measured here they
 *    cost ~100 ms of the first open), then cffi's own start. The control plane needs only the
 *    standard library, _cffi_backend (its directory is put on sys.path) and curverbd (imported
 *    by location, see build_so.py).
 *    A failure is -EIO from every export, never cffi's silent "return 0".
 *  - in a Python host (Debian's python3 running python3-rbd) the host's interpreter is used;
 *    if it cannot import _cffi_backend, the build interpreter's copy is appended to its
 *    sys.path, as in our own interpreter.
 * CRBD_PYTHON_EXE, CRBD_LIBPYTHON and CRBD_CFFI_DIR come from build_so.py. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>   /* first, as Python asks */

#include "internal.h"

#include <dlfcn.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc = -EIO;
static int we_own_python;              /* we initialised it: the fork hooks are ours to run */
static PyGILState_STATE fork_gil;
static int fork_held;

static void fork_prepare(void)
{
    fork_held = we_own_python && Py_IsInitialized();
    if (fork_held) {
        fork_gil = PyGILState_Ensure();
        PyOS_BeforeFork();
    }
    crbd_log_fork_prepare();   /* after the GIL: a logging thread may hold the GIL, never the reverse */
}

static void fork_parent(void)
{
    crbd_log_fork_after();
    if (fork_held) {
        PyOS_AfterFork_Parent();
        PyGILState_Release(fork_gil);
    }
}

static void fork_child(void)
{
    crbd_fork_generation++;
    crbd_log_fork_after();
    crbd_buffers_fork_child();
    if (fork_held) {
        PyOS_AfterFork_Child();
        /* Keep the forking thread's state: it is now the only one, and CPython 3.11 cannot make
         * a first thread state again once the last was deleted ("init_threadstate: thread state
         * already initialized") -- which the next fork in the child (libvirtd starting QEMU) needs. */
        if (fork_gil == PyGILState_UNLOCKED)
            PyEval_SaveThread();
        else
            PyGILState_Release(fork_gil);
    }
}

__attribute__((constructor)) static void crbd_constructor(void)
{
    if (!dlopen(CRBD_LIBPYTHON, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL))
        dlopen(CRBD_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL);
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Runs in the interpreter, in a namespace of its own (a host's __main__ is untouched). Where
 * _cffi_backend may be, in order: the site-packages holding the installed package around this
 * library (<site>/curverbd/lib/librados.so.2: pip installs the cffi dependency there, and a wheel
 * built in pip's isolated environment names a build directory that is gone by now), the build
 * interpreter's copy (a source checkout), then that interpreter's own site-packages. */
static void find_cffi_backend(void)
{
    static const char code[] =
        "import importlib.util, os, site, sys\n"
        "if importlib.util.find_spec('_cffi_backend') is None:\n"
        "    _lib = os.path.dirname(os.path.abspath(library))\n"
        "    _places = [os.path.dirname(os.path.dirname(_lib))] if _lib.endswith(os.sep + os.path.join('curverbd', 'lib')) else []\n"
        "    for _d in _places + ['" CRBD_CFFI_DIR "'] + site.getsitepackages():\n"
        "        if _d in sys.path or not os.path.isdir(_d):\n"
        "            continue\n"
        "        sys.path.append(_d)\n"
        "        importlib.invalidate_caches()\n"
        "        if importlib.util.find_spec('_cffi_backend') is not None:\n"
        "            break\n"
        "        sys.path.remove(_d)\n";
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *globals = PyDict_New();
    PyObject *builtins = PyImport_ImportModule("builtins");
    PyObject *library = PyUnicode_DecodeFSDefault(crbd_library_path());
    PyObject *r = NULL;
    if (globals && builtins && library && PyDict_SetItemString(globals, "__builtins__", builtins) == 0
        && PyDict_SetItemString(globals, "library", library) == 0)
        r = PyRun_String(code, Py_file_input, globals, globals);
    if (!r) {
        PyErr_Clear();
        crbd_log("could not check the host Python for _cffi_backend");
    }
    Py_XDECREF(r);
    Py_XDECREF(library);
    Py_XDECREF(builtins);
    Py_XDECREF(globals);
    PyGILState_Release(gil);
}

static void init_python(void)
{
    if (!Py_IsInitialized()) {
        PyConfig config;
        PyConfig_InitPythonConfig(&config);
        config.install_signal_handlers = 0;
        config.parse_argv = 0;
        config.site_import = 0;
        PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, CRBD_PYTHON_EXE);
        if (!PyStatus_Exception(status))
            status = Py_InitializeFromConfig(&config);
        PyConfig_Clear(&config);
        if (PyStatus_Exception(status)) {
            crbd_log("embedded Python failed to start (%s: %s); every call returns -EIO",
                     status.func ? status.func : "?", status.err_msg ? status.err_msg : "?");
            return;
        }
        we_own_python = 1;
        PyEval_SaveThread();   /* cffi and our callbacks take the GIL when they need it */
    }
    find_cffi_backend();
    if (crbd_cffi_start_python() != 0) {
        crbd_log("the curverbd control plane failed to load (see the traceback above); "
                 "every call returns -EIO");
        return;
    }
    init_rc = 0;
}

/* Where this library was loaded from (the init code finds an installed package's curverbd by it). */
const char *crbd_library_path(void)
{
    Dl_info info;
    return dladdr((void *)crbd_library_path, &info) && info.dli_fname ? info.dli_fname : "";
}

int crbd_embedded(void)
{
    return we_own_python;
}

int crbd_ensure_python(void)
{
    pthread_once(&init_once, init_python);
    return init_rc;
}
