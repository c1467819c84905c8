/* Guarding the embedded interpreter (shared/reference/cffi-embedding.md section 3):
 *  - constructor: promote libpython to the global scope (QEMU dlopens block-rbd.so RTLD_LOCAL,
 *    and extension modules such as _cffi_backend need libpython's symbols), and register
 *    fork hooks so a child never inherits a GIL (or the log lock) held by a thread that no
 *    longer exists, and so nebd connections opened before the fork know they are stale in the
 *    child (their threads are gone; the child makes its own with rados_connect);
 *  - crbd_ensure_python(): a pthread_once init with PyConfig (the build's interpreter as
 *    program name so its site-packages are used, no signal handlers), then cffi's own start.
 *    A failure is -EIO from every export, never cffi's silent "return 0".
 * CRBD_PYTHON_EXE and CRBD_LIBPYTHON come from build_so.py. */
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

static void init_python(void)
{
    if (!Py_IsInitialized()) {
        PyConfig config;
        PyConfig_InitPythonConfig(&config);
        config.install_signal_handlers = 0;
        config.parse_argv = 0;
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
    if (cffi_start_python() != 0) {
        crbd_log("the curverbd control plane failed to load (see the traceback above); "
                 "every call returns -EIO");
        return;
    }
    init_rc = 0;
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
