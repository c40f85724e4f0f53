/* The least a capturing stream can do, in C, for benchmarks/capture_breakdown.py.
 *
 * A recording stream that passes every chunk through, and at the end of the body joins
 * it, prunes it (melious_impact.parse.prune.prune_json, handed in by setup()), reads the
 * request's model and stream flag, builds a facts tuple, marshals it, frames it with a
 * CRC and appends it to a file with one write(2): the same steps as the Python twin in
 * capture_breakdown.py, with no tags, retry count or headers. setup(prune, model_and_stream,
 * work): work=0 makes the stream do nothing at the end (the cost of the stream alone).
 *
 * Not part of the package: it exists to measure whether compiling the hot path would
 * bring the small-chat overhead under 1.05 (it does not; see the README).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static PyObject *g_prune, *g_model_and_stream, *g_empty_bytes, *g_empty_str, *g_tag, *g_path, *g_post,
    *g_kind, *g_tags;
static int g_work = 1;

static double monotonic_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long long epoch_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

typedef struct {
    PyObject_HEAD
    PyObject *inner, *it, *parts, *request, *response, *dict;
    double t0, t_first;
    int fd, done;
} FloorStream;

static int FloorStream_init(FloorStream *self, PyObject *args, PyObject *kw) {
    PyObject *inner, *request, *response;
    if (!PyArg_ParseTuple(args, "OOOdi", &inner, &request, &response, &self->t0, &self->fd)) return -1;
    Py_INCREF(inner);
    Py_INCREF(request);
    Py_INCREF(response);
    self->inner = inner;
    self->request = request;
    self->response = response;
    self->parts = PyList_New(0);
    return self->parts ? 0 : -1;
}

static int FloorStream_traverse(FloorStream *self, visitproc visit, void *arg) {
    Py_VISIT(self->inner);
    Py_VISIT(self->it);
    Py_VISIT(self->parts);
    Py_VISIT(self->request);
    Py_VISIT(self->response);
    Py_VISIT(self->dict);
    return 0;
}

static int FloorStream_clear(FloorStream *self) {
    Py_CLEAR(self->inner);
    Py_CLEAR(self->it);
    Py_CLEAR(self->parts);
    Py_CLEAR(self->request);
    Py_CLEAR(self->response);
    Py_CLEAR(self->dict);
    return 0;
}

static void FloorStream_dealloc(FloorStream *self) {
    PyObject_GC_UnTrack(self);
    FloorStream_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void journal(FloorStream *self, double t_end) {
    PyObject *body = NULL, *pruned = NULL, *content = NULL, *ms = NULL, *status = NULL, *facts = NULL,
             *payload = NULL;
    if (PyList_GET_SIZE(self->parts) == 1) {
        body = PyList_GET_ITEM(self->parts, 0);
        Py_INCREF(body);
    } else {
        body = _PyBytes_Join(g_empty_bytes, self->parts);
    }
    if (!body || !(pruned = PyObject_CallOneArg(g_prune, body))) goto done;
    if (!(content = PyObject_GetAttrString(self->request, "_content"))) goto done;
    if (!(ms = PyObject_CallOneArg(g_model_and_stream, content)) || !PyTuple_Check(ms) || PyTuple_GET_SIZE(ms) != 2)
        goto done;
    if (!(status = PyObject_GetAttrString(self->response, "status_code"))) goto done;
    facts = Py_BuildValue("(OiOOOLiOOOOOOddOnOOOOOO)", g_tag, 1, Py_True, g_empty_str, pruned, epoch_us(), 0,
                          g_path, g_post, status, g_kind, PyTuple_GET_ITEM(ms, 0), PyTuple_GET_ITEM(ms, 1),
                          (t_end - self->t0) * 1000.0, (self->t_first - self->t0) * 1000.0, Py_None,
                          PyBytes_GET_SIZE(body), Py_None, Py_None, g_tags, Py_False, Py_None, Py_None);
    if (!facts || !(payload = PyMarshal_WriteObjectToString(facts, 2))) goto done;
    {
        Py_ssize_t n = PyBytes_GET_SIZE(payload);
        char *record = PyMem_Malloc(n + 10);
        if (record) {
            unsigned int length = (unsigned int)n;
            unsigned int crc = (unsigned int)crc32(0, (const Bytef *)PyBytes_AS_STRING(payload), (uInt)n);
            record[0] = (char)0xa5;
            record[1] = 'M';
            memcpy(record + 2, &length, 4);
            memcpy(record + 6, &crc, 4);
            memcpy(record + 10, PyBytes_AS_STRING(payload), n);
            if (write(self->fd, record, n + 10) < 0) { /* a benchmark: nothing to report to */ }
            PyMem_Free(record);
        }
    }
done:
    PyErr_Clear();
    Py_XDECREF(body);
    Py_XDECREF(pruned);
    Py_XDECREF(content);
    Py_XDECREF(ms);
    Py_XDECREF(status);
    Py_XDECREF(facts);
    Py_XDECREF(payload);
}

static PyObject *FloorStream_iter(FloorStream *self) {
    if (!self->it && !(self->it = PyObject_GetIter(self->inner))) return NULL;
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *FloorStream_next(FloorStream *self) {
    if (!self->it && !(self->it = PyObject_GetIter(self->inner))) return NULL;
    PyObject *chunk = PyIter_Next(self->it);
    if (chunk) {
        if (self->t_first == 0) self->t_first = monotonic_s();
        if (PyList_Append(self->parts, chunk) < 0) PyErr_Clear();
        return chunk;
    }
    if (!PyErr_Occurred() && !self->done) {
        self->done = 1;
        if (g_work) journal(self, monotonic_s());
    }
    return NULL;
}

static PyObject *FloorStream_close(FloorStream *self, PyObject *unused) {
    return PyObject_CallMethod(self->inner, "close", NULL);
}

static PyMethodDef FloorStream_methods[] = {{"close", (PyCFunction)FloorStream_close, METH_NOARGS, NULL}, {NULL}};

static PyTypeObject FloorStreamType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "capture_floor.FloorStream",
    .tp_basicsize = sizeof(FloorStream),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)FloorStream_init,
    .tp_dealloc = (destructor)FloorStream_dealloc,
    .tp_traverse = (traverseproc)FloorStream_traverse,
    .tp_clear = (inquiry)FloorStream_clear,
    .tp_iter = (getiterfunc)FloorStream_iter,
    .tp_iternext = (iternextfunc)FloorStream_next,
    .tp_methods = FloorStream_methods,
    .tp_dictoffset = offsetof(FloorStream, dict),
};

static PyObject *setup(PyObject *module, PyObject *args) {
    PyObject *prune, *model_and_stream;
    if (!PyArg_ParseTuple(args, "OOp", &prune, &model_and_stream, &g_work)) return NULL;
    Py_XSETREF(g_prune, Py_NewRef(prune));
    Py_XSETREF(g_model_and_stream, Py_NewRef(model_and_stream));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {{"setup", setup, METH_VARARGS, NULL}, {NULL}};
static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "capture_floor", NULL, -1, module_methods};

PyMODINIT_FUNC PyInit_capture_floor(void) {
    if (PyType_Ready(&FloorStreamType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    g_empty_bytes = PyBytes_FromStringAndSize("", 0);
    g_empty_str = PyUnicode_InternFromString("");
    g_tag = PyUnicode_InternFromString("__facts__");
    g_path = PyUnicode_InternFromString("/v1/chat/completions");
    g_post = PyUnicode_InternFromString("POST");
    g_kind = PyUnicode_InternFromString("chat");
    g_tags = PyUnicode_InternFromString("{}");
    Py_INCREF(&FloorStreamType);
    if (PyModule_AddObject(m, "FloorStream", (PyObject *)&FloorStreamType) < 0) return NULL;
    return m;
}
