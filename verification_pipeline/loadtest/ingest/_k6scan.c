/* One pass over a chunk of k6 `--out json` lines: the wanted Point lines and their text fields.
 *
 * The compiled twin of the polars path in ndjson.py (read_csv of the lines, `picked_lines`,
 * `ndjson_fields`), for chunks it can take with certainty. It cuts each field exactly where the
 * regex extract of `ndjson_fields` would (the leftmost match of the same pattern, on the whole
 * line) and hands them to polars as Arrow columns (the Arrow C data interface), so no Python
 * object is made per line; typing and checks stay in polars (`checked_points`).
 *
 * Anything it cannot be sure of makes it give the whole chunk back (returns None), and the chunk
 * goes through the polars path, which is the reference and names the bad line: a blank line, a
 * line not in k6's layout, a control byte (0x1f, \r, ...), invalid UTF-8, a backslash inside an
 * escape-aware field, an empty time, a `"value":` with nothing after it.
 *
 * The scan runs with the GIL released, so the worker threads scan chunks in parallel.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { F_METRIC, F_TIME, F_VALUE, F_STATUS, F_ERROR_CODE, F_SCENARIO, F_OP, F_REQUEST_ID, NFIELDS };

/* A field's pattern in `ndjson_fields`: the key's needle and how its value ends. */
enum { PLAIN, NONEMPTY, ESCAPED, NUMBER };
static const struct {
    const char *needle;
    int kind;
} FIELDS[NFIELDS] = {
    [F_METRIC] = {NULL, 0},
    [F_TIME] = {"\"time\":\"", NONEMPTY},             /* "time":"([^"]+)" */
    [F_VALUE] = {"\"value\":", NUMBER},               /* "value":([^,}]+) */
    [F_STATUS] = {"\"status\":\"", PLAIN},            /* "status":"([^"]*)" */
    [F_ERROR_CODE] = {"\"error_code\":\"", PLAIN},    /* "error_code":"([^"]*)" */
    [F_SCENARIO] = {"\"scenario\":\"", ESCAPED},      /* "scenario":"((?:[^"\\]|\\.)*)" */
    [F_OP] = {"\"op\":\"", ESCAPED},                  /* "op":"((?:[^"\\]|\\.)*)" */
    [F_REQUEST_ID] = {"\"request_id\":\"", ESCAPED},  /* "request_id":"((?:[^"\\]|\\.)*)" */
};

/* The wanted metrics (schema.METRICS); the per-request ones carry only value and request_id. */
#define NMETRICS 4
static const char *METRIC_NAMES[NMETRICS] = {
    "http_req_duration", "graphql_errors", "ingest_duration", "dropped_iterations"};
static const int PER_REQUEST[NMETRICS] = {0, 1, 1, 0};
static const char LINE_START[] = "{\"metric\":\"";
static const char METRIC_DECLARATION[] = "{\"type\":\"Metric\"";
static const char POINT_AFTER_NAME[] = "\",\"type\":\"Point\"";

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t more) {
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown)
        return -1;
    b->data = grown;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *src, size_t n) {
    if (buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

/* An Arrow utf8 column being filled: int32 offsets (rows + 1), the bytes, a validity byte per row. */
typedef struct {
    Buf offsets, bytes, valid;
    int64_t nulls;
} Column;

typedef struct {
    Buf rows; /* uint32 per wanted line: its position in the chunk */
    Column columns[NFIELDS];
    Py_ssize_t lines, count;
} Scan;

enum { OK = 0, ODD = 1, NOMEM = 2 };
enum { FOUND, ABSENT, UNSURE };

/* Where the leftmost match of a field's pattern puts its value, as the regex would. */
static int cut(const char *line, size_t n, int field, const char **value, size_t *length) {
    const char *needle = FIELDS[field].needle;
    size_t needle_length = strlen(needle);
    const char *at = memmem(line, n, needle, needle_length);
    if (!at)
        return ABSENT;
    const char *start = at + needle_length, *end = line + n, *p = start;
    switch (FIELDS[field].kind) {
    case PLAIN: /* to the next quote; none after the leftmost key: none after any later one */
        p = memchr(start, '"', end - start);
        if (!p)
            return ABSENT;
        break;
    case NONEMPTY: /* empty at the leftmost key: the regex may match a later one */
        if (start < end && *start == '"')
            return UNSURE;
        p = start < end ? memchr(start, '"', end - start) : NULL;
        if (!p)
            return ABSENT;
        break;
    case ESCAPED: /* an escape would need the regex's rule for it: leave the chunk to polars */
        while (p < end && *p != '"' && *p != '\\')
            p++;
        if (p == end)
            return ABSENT;
        if (*p == '\\')
            return UNSURE;
        break;
    case NUMBER: /* one or more bytes up to `,` `}` or the end */
        while (p < end && *p != ',' && *p != '}')
            p++;
        if (p == start)
            return UNSURE;
        break;
    }
    *value = start;
    *length = (size_t)(p - start);
    return FOUND;
}

static int column_add(Column *column, const char *value, size_t length, int found) {
    if (column->bytes.len + length > INT32_MAX) /* no k6 chunk comes near: leave it to polars */
        return ODD;
    if (found && buf_put(&column->bytes, value, length))
        return NOMEM;
    int32_t offset = (int32_t)column->bytes.len;
    char flag = (char)found;
    if (buf_put(&column->offsets, &offset, sizeof offset) || buf_put(&column->valid, &flag, 1))
        return NOMEM;
    column->nulls += !found;
    return OK;
}

/* Strict UTF-8, as Python's and Rust's decoders read it: no overlongs, surrogates or > U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char low = 0x80, high = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                low = 0xA0;
            else if (c == 0xED)
                high = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                low = 0x90;
            else if (c == 0xF4)
                high = 0x8F;
        } else
            return 0;
        if (i + need >= n) /* the sequence runs past the line */
            return 0;
        if (s[i + 1] < low || s[i + 1] > high)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        i += need + 1;
    }
    return 1;
}

/* Which wanted metric's Point line this is (-1: a line we do not read). */
static int wanted_metric(const char *line, size_t n) {
    const char *name = line + sizeof LINE_START - 1;
    size_t room = n - (sizeof LINE_START - 1);
    for (int m = 0; m < NMETRICS; m++) {
        size_t length = strlen(METRIC_NAMES[m]);
        if (room >= length + sizeof POINT_AFTER_NAME - 1 && memcmp(name, METRIC_NAMES[m], length) == 0 &&
            memcmp(name + length, POINT_AFTER_NAME, sizeof POINT_AFTER_NAME - 1) == 0)
            return m;
    }
    return -1;
}

static int scan_line(Scan *scan, const char *line, size_t n, uint32_t row) {
    if (n == 0)
        return ODD; /* blank */
    unsigned char lowest = 0xFF, highest = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        lowest = c < lowest ? c : lowest;
        highest = c > highest ? c : highest;
    }
    if (lowest < 0x20)
        return ODD; /* a control byte: \r, 0x1f, NUL, a tab ... */
    if (highest >= 0x80 && !valid_utf8((const unsigned char *)line, n))
        return ODD;
    if (line[n - 1] != '}')
        return ODD;
    int is_point = n >= sizeof LINE_START - 1 && memcmp(line, LINE_START, sizeof LINE_START - 1) == 0;
    if (!is_point) {
        if (n >= sizeof METRIC_DECLARATION - 1 &&
            memcmp(line, METRIC_DECLARATION, sizeof METRIC_DECLARATION - 1) == 0)
            return OK;
        return ODD;
    }
    int metric = wanted_metric(line, n);
    if (metric < 0)
        return OK;
    const char *values[NFIELDS] = {NULL};
    size_t lengths[NFIELDS] = {0};
    int found[NFIELDS] = {0};
    for (int f = F_TIME; f < NFIELDS; f++) {
        if (PER_REQUEST[metric] && f != F_VALUE && f != F_REQUEST_ID)
            continue;
        int got = cut(line, n, f, &values[f], &lengths[f]);
        if (got == UNSURE)
            return ODD;
        found[f] = got == FOUND;
    }
    values[F_METRIC] = METRIC_NAMES[metric];
    lengths[F_METRIC] = strlen(METRIC_NAMES[metric]);
    found[F_METRIC] = 1;
    for (int f = 0; f < NFIELDS; f++) {
        int status = column_add(&scan->columns[f], values[f], lengths[f], found[f]);
        if (status)
            return status;
    }
    if (buf_put(&scan->rows, &row, sizeof row))
        return NOMEM;
    scan->count++;
    return OK;
}

static int scan_chunk(Scan *scan, const char *data, size_t size) {
    int32_t zero = 0;
    for (int f = 0; f < NFIELDS; f++)
        if (buf_put(&scan->columns[f].offsets, &zero, sizeof zero))
            return NOMEM;
    const char *p = data, *end = data + size;
    while (p < end) {
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = newline ? newline : end;
        if (scan->lines >= UINT32_MAX)
            return ODD;
        int status = scan_line(scan, p, (size_t)(line_end - p), (uint32_t)scan->lines);
        if (status)
            return status;
        scan->lines++;
        p = newline ? newline + 1 : end;
    }
    return OK;
}

static void scan_free(Scan *scan) {
    free(scan->rows.data);
    for (int f = 0; f < NFIELDS; f++) {
        free(scan->columns[f].offsets.data);
        free(scan->columns[f].bytes.data);
        free(scan->columns[f].valid.data);
    }
}

/* ---- The result as an Arrow struct array, through the Arrow C data interface (PyCapsules) ---- */

#define ARROW_FLAG_NULLABLE 2
struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

#define NCOLUMNS (NFIELDS + 1) /* row, then the fields */
static const char *COLUMN_NAMES[NCOLUMNS] = {"row",    "metric",     "time",     "value",     "status",
                                              "error_code", "scenario", "op", "request_id"};

typedef struct {
    struct ArrowSchema children[NCOLUMNS];
    struct ArrowSchema *pointers[NCOLUMNS];
} SchemaParts;

static void child_schema_release(struct ArrowSchema *schema) { schema->release = NULL; }

/* A parent's release, for ArrowSchema and ArrowArray alike: its children's, then the parts holding them. */
#define RELEASE_PARENT(Parts, parent)                                                                        \
    do {                                                                                                     \
        Parts *parts = (parent)->private_data;                                                               \
        for (int c = 0; c < NCOLUMNS; c++)                                                                   \
            if (parts->children[c].release)                                                                  \
                parts->children[c].release(&parts->children[c]);                                             \
        free(parts);                                                                                         \
        (parent)->release = NULL;                                                                            \
    } while (0)

static void schema_release(struct ArrowSchema *schema) { RELEASE_PARENT(SchemaParts, schema); }

typedef struct {
    struct ArrowArray children[NCOLUMNS];
    struct ArrowArray *pointers[NCOLUMNS];
    const void *buffers[NCOLUMNS][3];
    const void *top_buffers[1];
} ArrayParts;

static void child_array_release(struct ArrowArray *array) {
    for (int64_t b = 0; b < array->n_buffers; b++)
        free((void *)array->buffers[b]);
    array->release = NULL;
}

static void array_release(struct ArrowArray *array) { RELEASE_PARENT(ArrayParts, array); }

/* An exported ArrowSchema or ArrowArray (or NULL) let go: its release (unless a consumer moved it
 * out), then the struct itself. */
#define DISCARD(exported)                                                                                    \
    do {                                                                                                     \
        if ((exported) && (exported)->release)                                                               \
            (exported)->release(exported);                                                                   \
        free(exported);                                                                                      \
    } while (0)

static void schema_capsule_free(PyObject *capsule) {
    struct ArrowSchema *schema = PyCapsule_GetPointer(capsule, "arrow_schema");
    DISCARD(schema);
}

static void array_capsule_free(PyObject *capsule) {
    struct ArrowArray *array = PyCapsule_GetPointer(capsule, "arrow_array");
    DISCARD(array);
}

static struct ArrowSchema *export_schema(void) {
    SchemaParts *parts = calloc(1, sizeof *parts);
    struct ArrowSchema *schema = parts ? malloc(sizeof *schema) : NULL; /* set whole below */
    if (!schema) {
        free(parts);
        return NULL;
    }
    for (int c = 0; c < NCOLUMNS; c++) {
        parts->children[c] = (struct ArrowSchema){
            .format = c == 0 ? "I" : "u", /* uint32; utf8 with int32 offsets */
            .name = COLUMN_NAMES[c],
            .flags = ARROW_FLAG_NULLABLE,
            .release = child_schema_release,
        };
        parts->pointers[c] = &parts->children[c];
    }
    *schema = (struct ArrowSchema){
        .format = "+s",
        .name = "",
        .n_children = NCOLUMNS,
        .children = parts->pointers,
        .release = schema_release,
        .private_data = parts,
    };
    return schema;
}

/* The validity bytes as Arrow's bitmap (least significant bit first). */
static unsigned char *packed(const Buf *valid, Py_ssize_t count) {
    unsigned char *bits = calloc(1, (size_t)(count + 7) / 8 + 1);
    if (bits)
        for (Py_ssize_t i = 0; i < count; i++)
            if (valid->data[i])
                bits[i >> 3] |= (unsigned char)(1u << (i & 7));
    return bits;
}

/* The scan's buffers, handed over to the Arrow array (the scan no longer owns them). */
static struct ArrowArray *export_array(Scan *scan) {
    ArrayParts *parts = calloc(1, sizeof *parts);
    struct ArrowArray *array = parts ? malloc(sizeof *array) : NULL; /* set whole below */
    if (!array) {
        free(parts);
        return NULL;
    }
    for (int c = 0; c < NCOLUMNS; c++)
        parts->pointers[c] = &parts->children[c];
    int64_t length = scan->count;
    parts->buffers[0][1] = scan->rows.data;
    scan->rows.data = NULL;
    parts->children[0] = (struct ArrowArray){
        .length = length, .n_buffers = 2, .buffers = parts->buffers[0], .release = child_array_release};
    int failed = 0;
    for (int f = 0; f < NFIELDS; f++) {
        Column *column = &scan->columns[f];
        const void **buffers = parts->buffers[f + 1];
        buffers[0] = column->nulls ? packed(&column->valid, scan->count) : NULL;
        failed |= column->nulls && !buffers[0];
        buffers[1] = column->offsets.data;
        buffers[2] = column->bytes.data ? column->bytes.data : malloc(1); /* never a NULL data buffer */
        failed |= !buffers[2];
        column->offsets.data = column->bytes.data = NULL;
        parts->children[f + 1] = (struct ArrowArray){.length = length,
                                                     .null_count = column->nulls,
                                                     .n_buffers = 3,
                                                     .buffers = buffers,
                                                     .release = child_array_release};
    }
    *array = (struct ArrowArray){
        .length = length,
        .n_buffers = 1,
        .n_children = NCOLUMNS,
        .buffers = parts->top_buffers,
        .children = parts->pointers,
        .release = array_release,
        .private_data = parts,
    };
    if (failed) {
        DISCARD(array);
        return NULL;
    }
    return array;
}

/* (schema capsule, array capsule) of the wanted rows, as `__arrow_c_array__` returns them. */
static PyObject *capsules(Scan *scan) {
    struct ArrowSchema *schema = export_schema();
    struct ArrowArray *array = export_array(scan);
    PyObject *schema_capsule = schema ? PyCapsule_New(schema, "arrow_schema", schema_capsule_free) : NULL;
    if (!schema_capsule)
        DISCARD(schema);
    PyObject *array_capsule = array ? PyCapsule_New(array, "arrow_array", array_capsule_free) : NULL;
    if (!array_capsule)
        DISCARD(array);
    if (!schema_capsule || !array_capsule) {
        Py_XDECREF(schema_capsule);
        Py_XDECREF(array_capsule);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    return Py_BuildValue("(NN)", schema_capsule, array_capsule);
}

PyDoc_STRVAR(scan_doc,
             "scan(chunk) -> (lines, rows, capsules) or None\n\n"
             "The wanted Point lines of a chunk of whole k6 NDJSON lines: `lines` in the chunk, `rows`\n"
             "wanted, and `capsules`: the Arrow C data interface's (schema, array) of a struct array with\n"
             "`row` (uint32: the line in the chunk), then metric, time, value, status, error_code,\n"
             "scenario, op, request_id (utf8, null where the pattern has no match). None: the chunk\n"
             "holds a line this scanner leaves to polars.");

static PyObject *scan(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    Scan state;
    memset(&state, 0, sizeof state);
    int status;
    Py_BEGIN_ALLOW_THREADS status = scan_chunk(&state, (const char *)view.buf, (size_t)view.len);
    Py_END_ALLOW_THREADS PyBuffer_Release(&view);
    PyObject *result = NULL;
    if (status == NOMEM)
        PyErr_NoMemory();
    else if (status == ODD)
        result = Py_NewRef(Py_None);
    else
        result = Py_BuildValue("(nnN)", state.lines, state.count, capsules(&state));
    scan_free(&state);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, scan_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_k6scan",
    .m_doc = "The k6 NDJSON chunk scanner (see _k6scan.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__k6scan(void) { return PyModule_Create(&module); }
