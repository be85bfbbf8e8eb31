/*
 * codewitness.sensor._meter: the compiled per-call path of the runtime sensor (optional).
 *
 * A Meter counts the calls of one watched function in a log-linear latency histogram, the same
 * one as codewitness.facts (a test compares them bucket by bucket). A function
 * rewritten at import runs
 *
 *     t0 = meter.enter()      at its first instruction
 *     meter.exit(t0)          in the `finally` around its body
 *
 * and nothing else on a call that needs only counting: two calls into C, no Python frame, no
 * Python integer arithmetic, no allocation (t0 is a Start from a free list of its own). When the probe asks for more (checks or
 * samples, `slow`), enter hands the caller's locals to `probe.entered(locals)` and returns its
 * token, and exit hands the token and the caller's `__cw_r__` (the returned value) to
 * `probe.returned(token, result)`. When an exception is leaving the function, exit counts its
 * type too (see leaving_exception), and hands the first few of each type per interval to
 * `probe.raised(token, exc)` to be captured. meter.py holds the pure-Python equivalent, used when
 * this module was not built.
 *
 * Thread safety: every method runs with the GIL held and calls no Python code on the counting
 * path, so an increment and a `take` never interleave (CPython 3.11/3.12 with the GIL; the build
 * is skipped for free-threaded interpreters).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <time.h>

#ifdef Py_GIL_DISABLED
#error "the compiled meter relies on the GIL; the pure-Python one is used instead"
#endif

/* The interface meter.py expects of this module (its types' methods, their arguments and what
   they return), as meter.METER_API: raised with every change to it on either side. meter.py leaves
   a module built from other sources unused (a checkout's old build after a pull, say): the sensor
   then counts with the pure-Python meter and says why, where calling it would fail on each call. */
#define METER_API 3

/* facts.py: SUB_BUCKET_BITS, SHIFT_BASE, EXACT_BELOW, MAX_TRACKED_NS, BUCKETS. */
#define SUB_BUCKET_BITS 5
#define SHIFT_BASE (SUB_BUCKET_BITS + 1)
#define EXACT_BELOW (2 << SUB_BUCKET_BITS)
#define MAX_TRACKED_NS (((int64_t)1) << 36)
#define BUCKETS 1024
#define LAST_BUCKET (BUCKETS - 1)

static PyObject *str_entered;
static PyObject *str_returned;
static PyObject *str_raised;
static PyObject *str_result;

/* The meters' clock, in nanoseconds. Only differences between its readings mean anything: the
 * sensor takes its Python-side clock from `now` below whenever this module is built.
 *
 * It is CLOCK_MONOTONIC (what time.perf_counter_ns reads on Linux), except where the kernel itself
 * keeps time with the CPU's time-stamp counter (x86-64, clocksource "tsc"): there it is the counter,
 * read directly and scaled to nanoseconds. clock_gettime reads the same counter through the vDSO,
 * but with a fence and the kernel's time page on top, which is most of what a call costs the
 * sensor in a busy service (two clock readings per watched call). The scale is measured against
 * CLOCK_MONOTONIC: until CALIBRATE_AFTER_NS have passed since the first reading, readings are
 * CLOCK_MONOTONIC's own; then the counter takes over from that point, and the scale is measured
 * again at most every RECALIBRATE_TICKS over the whole time since the first reading, with the
 * mapping kept continuous (so a call that spans a new scale is timed right). Runs with the GIL. */
static inline int64_t
monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + (int64_t)ts.tv_nsec;
}

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#include <x86intrin.h>
#define HAVE_TSC 1
#define CALIBRATE_AFTER_NS 20000000 /* 20 ms */

enum { TSC_OFF = -1, TSC_UNUSED, TSC_CALIBRATING, TSC_READY };
static int tsc_state = TSC_UNUSED;
static uint64_t first_tsc, base_tsc, recalibrate_ticks;
static int64_t first_ns, base_ns;
static double ns_per_tick;

/* CLOCK_MONOTONIC and the counter read as close together as this machine allows: the best of a
 * few tries, where a try is the counter read on both sides of the clock (a try interrupted by the
 * scheduler is wide and loses). */
static void
paired_reading(int64_t *ns, uint64_t *tsc)
{
    uint64_t narrowest = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        uint64_t before = __rdtsc();
        int64_t clock = monotonic_ns();
        uint64_t after = __rdtsc();
        if (i == 0 || after - before < narrowest) {
            narrowest = after - before;
            *ns = clock;
            *tsc = before + (after - before) / 2;
        }
    }
}

/* Whether the kernel keeps time with the counter: then it is invariant and synchronised across
 * CPUs (the kernel checked), and CLOCK_MONOTONIC is the counter scaled, too. */
static int
kernel_uses_tsc(void)
{
    char name[16] = {0};
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (f == NULL) {
        return 0;
    }
    int ok = fgets(name, sizeof(name), f) != NULL && strcmp(name, "tsc\n") == 0;
    fclose(f);
    return ok;
}

static inline int64_t
tsc_ns(uint64_t tsc)
{
    return base_ns + (int64_t)((double)(int64_t)(tsc - base_tsc) * ns_per_tick);
}

/* The scale from the first reading to now; the counter's time carries on from where the last
 * scale left it. Returns 0 when the counter does not look like a clock (then it is not used). */
static int
measure_scale(void)
{
    int64_t ns;
    uint64_t tsc;
    paired_reading(&ns, &tsc);
    if (tsc <= first_tsc || ns <= first_ns) {
        return 0;
    }
    double scale = (double)(ns - first_ns) / (double)(tsc - first_tsc);
    if (!(scale > 0.01 && scale < 100.0)) { /* 10 MHz .. 100 GHz */
        return 0;
    }
    base_ns = tsc_state == TSC_READY ? tsc_ns(tsc) : ns;
    base_tsc = tsc;
    ns_per_tick = scale;
    recalibrate_ticks = (uint64_t)(1e9 / scale); /* a second */
    return 1;
}

static int64_t
now_ns_slow(void)
{
    if (tsc_state == TSC_UNUSED) {
        tsc_state = TSC_OFF;
        if (kernel_uses_tsc()) {
            paired_reading(&first_ns, &first_tsc);
            tsc_state = TSC_CALIBRATING;
        }
    }
    int64_t ns = monotonic_ns();
    if (tsc_state == TSC_CALIBRATING && ns - first_ns >= CALIBRATE_AFTER_NS) {
        tsc_state = measure_scale() ? TSC_READY : TSC_OFF;
    }
    return ns;
}

static inline int64_t
now_ns(void)
{
    if (tsc_state == TSC_READY) {
        return tsc_ns(__rdtsc());
    }
    return now_ns_slow();
}

/* Called at each take: a finer scale, at most once a second. The kernel may stop keeping time
 * with the counter while the process runs (its watchdog found it unstable: "Marking clocksource
 * 'tsc' as unstable"); then so do the meters, from that take on. */
static void
refine_clock(void)
{
    if (tsc_state == TSC_READY && __rdtsc() - base_tsc >= recalibrate_ticks &&
        !(kernel_uses_tsc() && measure_scale())) {
        tsc_state = TSC_OFF; /* CLOCK_MONOTONIC from now on */
    }
}

static const char *
clock_name(void)
{
    now_ns();
    return tsc_state == TSC_READY || tsc_state == TSC_CALIBRATING ? "tsc" : "monotonic";
}
#else
static inline int64_t
now_ns(void)
{
    return monotonic_ns();
}

static void
refine_clock(void)
{
}

static const char *
clock_name(void)
{
    return "monotonic";
}
#endif

static inline int
bit_length(uint64_t v)
{
#if defined(__GNUC__) || defined(__clang__)
    return v ? 64 - __builtin_clzll(v) : 0;
#else
    int n = 0;
    while (v) {
        v >>= 1;
        n++;
    }
    return n;
#endif
}

static inline Py_ssize_t
bucket_of(int64_t ns)
{
    if (ns < EXACT_BELOW) {
        return ns > 0 ? (Py_ssize_t)ns : 0;
    }
    if (ns < MAX_TRACKED_NS) {
        int shift = bit_length((uint64_t)ns) - SHIFT_BASE;
        return ((Py_ssize_t)shift << SUB_BUCKET_BITS) + (Py_ssize_t)(ns >> shift);
    }
    return LAST_BUCKET;
}

/* The nanoseconds from `start` to `end`: 0 when `end` is not later, INT64_MAX when the difference
 * does not fit (a start a caller made up: a probe's token or `exit`'s argument can be any int). */
static inline int64_t
since(int64_t start, int64_t end)
{
    if (end <= start) {
        return 0;
    }
    uint64_t ns = (uint64_t)end - (uint64_t)start;
    return ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ns;
}

/* The token `enter` returns on the fast path: the start of the call. Not a Python int, which for
 * a clock reading takes an allocation and a conversion each way; Start objects come from a free
 * list of their own and go back to it. `int(start)` is the reading, for Python code. */
typedef struct {
    PyObject_HEAD
    int64_t ns;
} Start;

#define FREE_STARTS 256
static PyObject *free_starts[FREE_STARTS];
static int free_start_count;

static void
Start_dealloc(PyObject *self)
{
    if (free_start_count < FREE_STARTS) {
        free_starts[free_start_count++] = self;
        return;
    }
    PyObject_Free(self);
}

static PyObject *
Start_int(PyObject *self)
{
    return PyLong_FromLongLong(((Start *)self)->ns);
}

static PyNumberMethods Start_as_number = {
    .nb_int = Start_int,
    .nb_index = Start_int,
};

static PyTypeObject StartType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "codewitness.sensor._meter.Start",
    .tp_doc = "The start of a timed call (what Meter.enter returns); int() gives the clock reading.",
    .tp_basicsize = sizeof(Start),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = Start_dealloc,
    .tp_as_number = &Start_as_number,
};

static inline PyObject *
new_start(int64_t ns)
{
    PyObject *op = free_start_count ? free_starts[--free_start_count] : PyObject_Malloc(sizeof(Start));
    if (op == NULL) {
        return PyErr_NoMemory();
    }
    PyObject_Init(op, &StartType);
    ((Start *)op)->ns = ns;
    return op;
}

/* Exception types a meter counts without a dictionary per interval (most functions raise one). */
#define ERROR_SLOTS 4
/* Failures of one function muted at once (see Meter_mute). */
#define MUTED_SLOTS 8

typedef struct {
    PyObject_HEAD
    PyObject *probe;  /* the Probe this meter reports the slow path to; may be None */
    PyObject *errors; /* exception type -> count, this interval, for types beyond the slots */
    PyObject *error_types[ERROR_SLOTS]; /* the first few types raised this interval */
    uint64_t error_counts[ERROR_SLOTS];
    long long limit;  /* exceptions captured per type per interval; the rest are only counted */
    long long suppressed;
    /* The failures the probe no longer wants handed over this interval (their signatures, see
     * failure_signature), and how many of each were counted here since (see Meter_mute). */
    Py_hash_t muted[MUTED_SLOTS];
    long long repeats[MUTED_SLOTS];
    int muted_count;
    char slow;
    uint64_t counts[BUCKETS];
} Meter;

/* Everything is set here, not in an __init__: `Meter.__new__(Meter)` is a whole meter too, and
 * calling __init__ again changes nothing. */
static PyObject *
Meter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"probe", "limit", NULL};
    PyObject *probe = Py_None;
    long long limit = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OL:Meter", names, &probe, &limit)) {
        return NULL;
    }
    Meter *self = (Meter *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->errors = PyDict_New();
    if (self->errors == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    self->probe = Py_NewRef(probe);
    self->limit = limit;
    return (PyObject *)self;
}

/* Whether the meter reports to a probe (a meter the collector cleared has none). */
static inline int
has_probe(Meter *self)
{
    return self->probe != NULL && self->probe != Py_None;
}

static int
Meter_traverse(Meter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->probe);
    Py_VISIT(self->errors);
    for (int i = 0; i < ERROR_SLOTS; i++) {
        Py_VISIT(self->error_types[i]);
    }
    return 0;
}

static int
Meter_clear(Meter *self)
{
    Py_CLEAR(self->probe);
    Py_CLEAR(self->errors);
    for (int i = 0; i < ERROR_SLOTS; i++) {
        Py_CLEAR(self->error_types[i]);
    }
    return 0;
}

/* The dealloc of this module's collected types (Meter, Monitor): untrack, clear, free. */
static void
tracked_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    Py_TYPE(self)->tp_clear(self);
    Py_TYPE(self)->tp_free(self);
}

/* After a call of ours into the C API failed: swallows the error when it is ours (an Exception:
 * no memory, say) and returns 0; leaves it set and returns -1 when it is the host's, raised by a
 * signal handler that the call ran (KeyboardInterrupt, SystemExit: some calls check for signals,
 * PyObject_Repr among them). */
static int
swallowed_if_ours(void)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception)) {
        return -1;
    }
    PyErr_Clear();
    return 0;
}

/* The locals of the Python function that called us (C calls push no frame); NULL when they
 * cannot be had, with an error set only when it is the host's. */
static PyObject *
caller_locals(void)
{
    PyFrameObject *frame = PyEval_GetFrame();
    if (frame == NULL) {
        return NULL;
    }
    PyObject *locals = PyFrame_GetLocals(frame);
    if (locals == NULL) {
        swallowed_if_ours();
    }
    return locals;
}

/* METH_FASTCALL rather than METH_NOARGS: CPython 3.11 specializes calls of fastcall builtins. */
static PyObject *
Meter_enter(Meter *self, PyObject *const *Py_UNUSED(args), Py_ssize_t nargs)
{
    if (nargs != 0) {
        PyErr_SetString(PyExc_TypeError, "enter() takes no arguments");
        return NULL;
    }
    if (!self->slow || !has_probe(self)) {
        return new_start(now_ns());
    }
    PyObject *locals = caller_locals();
    if (locals == NULL) {
        /* only counted, as when `entered` fails */
        return PyErr_Occurred() ? NULL : PyLong_FromLongLong(now_ns());
    }
    PyObject *token = PyObject_CallMethodOneArg(self->probe, str_entered, locals);
    Py_DECREF(locals);
    return token;
}

/* Count one call that began at `t0` (an int from `now`); anything else is ignored. */
static inline void
count_since(Meter *self, PyObject *t0)
{
    int overflow = 0;
    long long start = PyLong_AsLongLongAndOverflow(t0, &overflow);
    if (start == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return;
    }
    if (!overflow) {
        self->counts[bucket_of(since((int64_t)start, now_ns()))]++;
    }
}

/* The exception that is leaving the caller, when exit runs in the `finally` around its body
 * because of one (a new reference); else NULL, with no error set.
 *
 * In that `finally` the exception is the one being handled, and its traceback starts at the
 * caller's frame: the interpreter recorded the frame there when the exception reached it.
 *
 * Being handled means set in the innermost entry of the thread's stack of handled exceptions,
 * where the `finally` put it: not sys.exception(), which looks past an empty entry to the ones
 * below. A generator or coroutine has an entry of its own, empty unless it handles something,
 * and below it its consumer's; when the consumer threw an exception in (a `with` block's error
 * into a contextmanager) that the generator caught, the exception is still handled below, and
 * its traceback starts at the generator's frame, but the generator ends normally. A plain call
 * shares its caller's entry: one made while its caller handles an exception sees that one, whose
 * traceback starts in another frame. */
static PyObject *
leaving_exception(void)
{
    PyObject *exc = PyThreadState_Get()->exc_info->exc_value;
    if (exc == NULL || exc == Py_None) {
        return NULL;
    }
    PyObject *tb = PyException_GetTraceback(exc);
    int here = tb != NULL && PyTraceBack_Check(tb) &&
               (PyObject *)((PyTracebackObject *)tb)->tb_frame == (PyObject *)PyEval_GetFrame();
    Py_XDECREF(tb);
    return here ? Py_NewRef(exc) : NULL;
}

static int failed(Meter *self, PyObject *token, PyObject *exc, int64_t *start);

/* What tells one failure from another cheaply, before any Python code runs: the exception's
 * type, the code and instruction of the innermost frame of its traceback, and the hash of its
 * message when its first argument is a str. Two exceptions with the same signature are the same
 * failure to the probe (it also reads the message's pattern and more frames; it can only merge
 * more). -1 when there is none to be had (no traceback; the exception is then handed over). */
static Py_hash_t
failure_signature(PyObject *exc)
{
    PyObject *tb = PyException_GetTraceback(exc);
    if (tb == NULL || !PyTraceBack_Check(tb)) {
        Py_XDECREF(tb);
        return -1;
    }
    PyTracebackObject *inner = (PyTracebackObject *)tb;
    while (inner->tb_next != NULL) {
        inner = inner->tb_next;
    }
    Py_uhash_t sig = (Py_uhash_t)(uintptr_t)Py_TYPE(exc) * 1000003u;
    PyCodeObject *code = PyFrame_GetCode(inner->tb_frame);
    sig = (sig ^ (Py_uhash_t)(uintptr_t)code) * 1000003u;
    Py_DECREF(code);
    sig = (sig ^ (Py_uhash_t)inner->tb_lasti) * 1000003u;
    Py_DECREF(tb);
    PyObject *args = ((PyBaseExceptionObject *)exc)->args;
    if (args != NULL && PyTuple_Check(args) && PyTuple_GET_SIZE(args) >= 1 &&
        PyUnicode_CheckExact(PyTuple_GET_ITEM(args, 0))) {
        Py_hash_t text = PyObject_Hash(PyTuple_GET_ITEM(args, 0)); /* a str: no Python code runs */
        if (text == -1) {
            PyErr_Clear();
            return -1;
        }
        sig = (sig ^ (Py_uhash_t)text) * 1000003u;
    }
    else if (args != NULL && PyTuple_Check(args)) {
        sig = (sig ^ (Py_uhash_t)PyTuple_GET_SIZE(args)) * 1000003u;
    }
    Py_hash_t found = (Py_hash_t)sig;
    return found == -1 || found == 0 ? 1 : found;
}

static PyObject *
Meter_exit(Meter *self, PyObject *token)
{
    if (token == Py_None) {
        Py_RETURN_NONE; /* `fail` counted the call */
    }
    PyObject *exc = leaving_exception();
    if (exc != NULL) {
        int64_t start;
        int status = failed(self, token, exc, &start);
        Py_DECREF(exc);
        self->counts[bucket_of(since(start, now_ns()))]++;
        if (status < 0) {
            return NULL; /* the host's, let out by the probe (an interrupt); the call is counted */
        }
        Py_RETURN_NONE;
    }
    if (Py_IS_TYPE(token, &StartType)) {
        self->counts[bucket_of(since(((Start *)token)->ns, now_ns()))]++;
        Py_RETURN_NONE;
    }
    if (PyLong_CheckExact(token)) {
        count_since(self, token); /* a wrapper's start: the clock as an int */
        Py_RETURN_NONE;
    }
    if (!has_probe(self)) {
        Py_RETURN_NONE;
    }
    PyObject *result = NULL;
    PyObject *locals = caller_locals();
    if (locals != NULL) {
        /* No `return X` ran when the name is missing: the function returned None. Asked before
         * looked up: 3.13's KeyError for a missing local takes the name's repr, which runs the
         * signal handlers. */
        int returned_a_value = PySequence_Contains(locals, str_result);
        if (returned_a_value > 0) {
            result = PyObject_GetItem(locals, str_result);
        }
        Py_DECREF(locals);
        if ((returned_a_value < 0 || (returned_a_value > 0 && result == NULL)) && swallowed_if_ours() < 0) {
            return NULL;
        }
    }
    else if (PyErr_Occurred()) {
        return NULL;
    }
    if (result == NULL) {
        result = Py_NewRef(Py_None);
    }
    PyObject *done = PyObject_CallMethodObjArgs(self->probe, str_returned, token, result, NULL);
    Py_DECREF(result);
    return done; /* NULL only for an invariant in `raise` mode (or an interrupt): the caller's */
}

/* The start of the call `token` stands for: enter's Start, a wrapper's int, or the clock in the
 * probe's token; now for anything else (the call then counts as instant). */
static int64_t
start_of(PyObject *token)
{
    if (Py_IS_TYPE(token, &StartType)) {
        return ((Start *)token)->ns;
    }
    PyObject *clock = token;
    if (PyTuple_Check(token) && PyTuple_GET_SIZE(token) == 3) {
        clock = PyTuple_GET_ITEM(token, 2);
    }
    if (PyLong_CheckExact(clock)) {
        int overflow = 0;
        long long ns = PyLong_AsLongLongAndOverflow(clock, &overflow);
        if (!overflow && !(ns == -1 && PyErr_Occurred())) {
            return (int64_t)ns;
        }
        PyErr_Clear();
    }
    return now_ns();
}

/* This interval's count of `type`, one more: in a slot when the type has one or one is free (no
 * allocation, no dictionary), else in the `errors` dictionary. A type is in one or the other
 * for a whole interval (slots are only freed by take_errors). 0 when counting failed (no memory).
 *
 * Types are told apart by identity, never by hashing or comparing them: a metaclass can define
 * __hash__ and __eq__, and no Python code runs on the counting path. The dictionary's keys are
 * the types' addresses (ints), its values [type, count] lists that keep the types alive. */
static long long
count_error(Meter *self, PyObject *type)
{
    for (int i = 0; i < ERROR_SLOTS; i++) {
        if (self->error_types[i] == type) {
            return (long long)++self->error_counts[i];
        }
        if (self->error_types[i] == NULL) {
            self->error_types[i] = Py_NewRef(type);
            self->error_counts[i] = 1;
            return 1;
        }
    }
    if (self->errors == NULL) {
        return 0;
    }
    long long seen = 0;
    PyObject *key = PyLong_FromVoidPtr(type);
    PyObject *entry = key == NULL ? NULL : PyDict_GetItemWithError(self->errors, key); /* borrowed */
    if (entry != NULL) {
        seen = PyLong_AsLongLong(PyList_GET_ITEM(entry, 1)) + 1;
        PyObject *count = PyLong_FromLongLong(seen);
        if (count == NULL) {
            seen = 0;
        }
        else {
            PyList_SetItem(entry, 1, count); /* steals count; drops the old int */
        }
    }
    else if (key != NULL && !PyErr_Occurred()) {
        entry = Py_BuildValue("[Oi]", type, 1);
        seen = entry != NULL && PyDict_SetItem(self->errors, key, entry) == 0;
        Py_XDECREF(entry);
    }
    Py_XDECREF(key);
    if (seen == 0) {
        PyErr_Clear(); /* no memory: ours, not the caller's */
    }
    return seen;
}

/* The call of `token` is raising `exc`: count its type, and hand the first `limit` of each type
 * per interval to probe.raised(start, exc) to be captured. Sets *start to the call's start;
 * returns -1 with an error set only when the probe raised (an interrupt: the caller's).
 * GeneratorExit (a generator closed on purpose) is a normal end. */
static int
failed(Meter *self, PyObject *token, PyObject *exc, int64_t *start)
{
    *start = start_of(token);
    if (PyErr_GivenExceptionMatches(exc, PyExc_GeneratorExit)) {
        return 0;
    }
    long long seen = count_error(self, (PyObject *)Py_TYPE(exc));
    if (seen == 0) {
        return 0; /* no memory to count it in */
    }
    if (seen > self->limit || !has_probe(self)) {
        self->suppressed++;
        return 0;
    }
    /* The same failure as one the probe muted: counted here, handed over as a number. */
    if (self->muted_count > 0) {
        Py_hash_t sig = failure_signature(exc);
        for (int i = 0; sig != -1 && i < self->muted_count; i++) {
            if (self->muted[i] == sig) {
                self->repeats[i]++;
                self->suppressed++;
                return 0;
            }
        }
    }
    /* The probe sees the start as an int (as from a wrapper), or its own token. */
    PyObject *handed = Py_IS_TYPE(token, &StartType) ? PyLong_FromLongLong(*start) : Py_NewRef(token);
    if (handed == NULL) {
        PyErr_Clear();
        return 0;
    }
    PyObject *returned = PyObject_CallMethodObjArgs(self->probe, str_raised, handed, exc, NULL);
    Py_DECREF(handed);
    if (returned == NULL) {
        return -1;
    }
    if (PyLong_CheckExact(returned)) {
        *start = start_of(returned);
    }
    Py_DECREF(returned);
    return 0;
}

/* For a function that may re-raise its caller's exception with a bare `raise` (that exception
 * never records this frame in its traceback, so `exit` cannot tell it leaves): its own
 * `except BaseException` calls fail(token, exc), which counts the call and its exception, and
 * then exit(None) does nothing. */
static PyObject *
Meter_fail(Meter *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "fail(token, exc) takes two arguments");
        return NULL;
    }
    int64_t start;
    int status = failed(self, args[0], args[1], &start);
    self->counts[bucket_of(since(start, now_ns()))]++;
    if (status < 0) {
        return NULL; /* the host's, let out by the probe (an interrupt); the call is counted */
    }
    Py_RETURN_NONE;
}

static PyObject *
Meter_take_errors(Meter *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *fresh = PyDict_New();
    PyObject *taken = PyList_New(0);
    if (fresh == NULL || taken == NULL) {
        Py_XDECREF(fresh);
        Py_XDECREF(taken);
        return NULL;
    }
    /* Start the next interval before building anything: building may run Python code (the
     * collector), and a call counted meanwhile belongs to the next one. */
    PyObject *errors = self->errors;
    long long suppressed = self->suppressed;
    PyObject *types[ERROR_SLOTS];
    uint64_t counts[ERROR_SLOTS];
    for (int i = 0; i < ERROR_SLOTS; i++) {
        types[i] = self->error_types[i];
        counts[i] = self->error_counts[i];
        self->error_types[i] = NULL;
        self->error_counts[i] = 0;
    }
    self->errors = fresh;
    self->suppressed = 0;
    int failed_to_build = 0;
    for (int i = 0; i < ERROR_SLOTS; i++) {
        if (types[i] == NULL) {
            continue;
        }
        if (!failed_to_build) {
            PyObject *pair = Py_BuildValue("(OK)", types[i], (unsigned long long)counts[i]);
            failed_to_build = pair == NULL || PyList_Append(taken, pair) < 0;
            Py_XDECREF(pair);
        }
        Py_DECREF(types[i]);
    }
    Py_ssize_t pos = 0;
    PyObject *key, *entry;
    while (!failed_to_build && errors != NULL && PyDict_Next(errors, &pos, &key, &entry)) {
        PyObject *pair = PyList_AsTuple(entry);
        failed_to_build = pair == NULL || PyList_Append(taken, pair) < 0;
        Py_XDECREF(pair);
    }
    Py_XDECREF(errors);
    if (failed_to_build) {
        Py_DECREF(taken);
        return NULL;
    }
    return Py_BuildValue("(NL)", taken, suppressed);
}

/* mute(exc) -> slot: hand no more exceptions that are the same failure as `exc` to the probe
 * (until unmute); count them in their slot of `repeats` instead. The probe calls it from `raised`,
 * with the exception it is being handed, when it wants no more captures of that failure this
 * interval. Up to MUTED_SLOTS failures are muted at once, so failures that take turns are all
 * counted here. Returns the slot (the index of its count in what unmute returns), or -1 when the
 * exception has no signature or every slot is taken (it is then handed over as before). */
static PyObject *
Meter_mute(Meter *self, PyObject *exc)
{
    if (!PyExceptionInstance_Check(exc)) {
        PyErr_SetString(PyExc_TypeError, "mute(exc) takes an exception");
        return NULL;
    }
    Py_hash_t sig = failure_signature(exc);
    if (sig == -1) {
        return PyLong_FromLong(-1);
    }
    for (int i = 0; i < self->muted_count; i++) {
        if (self->muted[i] == sig) {
            return PyLong_FromLong(i);
        }
    }
    if (self->muted_count == MUTED_SLOTS) {
        return PyLong_FromLong(-1);
    }
    int slot = self->muted_count++;
    self->muted[slot] = sig;
    self->repeats[slot] = 0;
    return PyLong_FromLong(slot);
}

/* unmute() -> (repeats, ...): hand every exception over again; returns the repeats counted in each
 * slot while muted, in slot order (and frees the slots). */
static PyObject *
Meter_unmute(Meter *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *repeats = PyTuple_New(self->muted_count);
    if (repeats == NULL) {
        return NULL;
    }
    for (int i = 0; i < self->muted_count; i++) {
        PyObject *n = PyLong_FromLongLong(self->repeats[i]);
        if (n == NULL) {
            Py_DECREF(repeats);
            return NULL;
        }
        PyTuple_SET_ITEM(repeats, i, n);
    }
    self->muted_count = 0;
    return repeats;
}

static PyObject *
Meter_add(Meter *self, PyObject *ns)
{
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(ns, &overflow);
    if (value == -1 && PyErr_Occurred()) {
        return NULL;
    }
    self->counts[overflow > 0 ? LAST_BUCKET : bucket_of(overflow < 0 ? 0 : (int64_t)value)]++;
    Py_RETURN_NONE;
}

static PyObject *
Meter_take(Meter *self, PyObject *Py_UNUSED(ignored))
{
    refine_clock();
    PyObject *taken = PyDict_New();
    if (taken == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < BUCKETS; i++) {
        if (self->counts[i] == 0) {
            continue;
        }
        PyObject *key = PyLong_FromSsize_t(i);
        PyObject *value = PyLong_FromUnsignedLongLong(self->counts[i]);
        if (key == NULL || value == NULL || PyDict_SetItem(taken, key, value) < 0) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(taken);
            return NULL; /* nothing was reset: the counts stay for the next take */
        }
        Py_DECREF(key);
        Py_DECREF(value);
    }
    memset(self->counts, 0, sizeof(self->counts));
    return taken;
}

static PyObject *
Meter_get_slow(Meter *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->slow);
}

static int
Meter_set_slow(Meter *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete slow");
        return -1;
    }
    int truth = PyObject_IsTrue(value);
    if (truth < 0) {
        return -1;
    }
    self->slow = (char)truth;
    return 0;
}

static PyObject *
Meter_get_probe(Meter *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->probe ? self->probe : Py_None);
}

static PyMethodDef Meter_methods[] = {
    {"enter", (PyCFunction)(void (*)(void))Meter_enter, METH_FASTCALL,
     "enter() -> token: the clock now, or the probe's token when the call takes the slow path."},
    {"exit", (PyCFunction)Meter_exit, METH_O,
     "exit(token): count the call that began at `token` and the exception leaving it, if one is "
     "(slow path: report the call to the probe)."},
    {"fail", (PyCFunction)(void (*)(void))Meter_fail, METH_FASTCALL,
     "fail(token, exc): count the call of `token` and `exc` leaving it; a later exit(None) does nothing."},
    {"take_errors", (PyCFunction)Meter_take_errors, METH_NOARGS,
     "take_errors() -> ([(type, count), ...], suppressed): this interval's errors by exception type "
     "(each type once); starts again."},
    {"add", (PyCFunction)Meter_add, METH_O, "add(ns): count one call that took `ns` nanoseconds."},
    {"mute", (PyCFunction)Meter_mute, METH_O,
     "mute(exc) -> slot: count exceptions that are the same failure as `exc` here, no more handed to the "
     "probe (-1: not muted)."},
    {"unmute", (PyCFunction)Meter_unmute, METH_NOARGS,
     "unmute() -> (repeats, ...): hand every exception over again; the repeats counted in each slot."},
    {"take", (PyCFunction)Meter_take, METH_NOARGS,
     "take() -> {bucket: count}: the counts so far (non-zero buckets only); starts again from zero."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Meter_getset[] = {
    {"slow", (getter)Meter_get_slow, (setter)Meter_set_slow,
     "True when calls take the probe's slow path (checks or samples).", NULL},
    {"probe", (getter)Meter_get_probe, NULL, "The probe the slow path reports to.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MeterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "codewitness.sensor._meter.Meter",
    .tp_doc = "Meter(probe=None): call counts and a latency histogram of one function.",
    .tp_basicsize = sizeof(Meter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Meter_new,
    .tp_dealloc = tracked_dealloc,
    .tp_traverse = (traverseproc)Meter_traverse,
    .tp_clear = (inquiry)Meter_clear,
    .tp_methods = Meter_methods,
    .tp_getset = Meter_getset,
};

#if PY_VERSION_HEX >= 0x030C0000 && (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#include <pthread.h>
#define HAVE_MONITOR 1

/* ---- sys.monitoring callbacks in C (Python 3.12+) ------------------------------------------
 *
 * The monitoring backend's PY_START, PY_RETURN and PY_UNWIND callbacks, for the common case: a
 * watched plain function (not a generator or coroutine) whose meter needs only counting. A
 * Python callback costs a Python call per event, about ten times the rest of the work; these
 * cost a table lookup, a clock reading and a push or pop. Everything else goes to the Python
 * callbacks the backend hands over: generators and coroutines (`start`, `return_`, `unwind`,
 * timed per frame), and meters on the slow path (`slow_start`, `slow_return`, `slow_unwind`,
 * given the time the call took). PY_UNWIND fires for every frame of the process that an
 * exception leaves, so code that is not watched costs only the lookup.
 *
 * Errors: ours (no memory, a call with the wrong arguments) are swallowed and counted; whatever a
 * Python callback or the probe lets out is the host's (they swallow and count ours themselves):
 * an invariant in `raise` mode, or what a signal handler raised (KeyboardInterrupt), and it is
 * passed on to the function being watched, as the interpreter would have raised it there.
 *
 * Plain calls nest on their thread, so their start times live on a per-thread stack. Each start
 * is marked with the depth of its frame on the thread's Python stack and with the Monitor that
 * pushed it, and a return or unwind takes only a start of its own depth and Monitor. So an event
 * that was never seen -- a call that began before its code was watched, a PY_START that another
 * tool's failing callback kept from us, a PY_RETURN whose callback raised and that the
 * interpreter then also unwinds, a call still running when its Monitor was replaced -- costs
 * that call's count, never its caller's. A start deeper than the frame now returning belongs to
 * a frame that has ended unseen, and is dropped. Runs with the GIL, like the rest of this module. */

typedef struct {
    int64_t ns;
    int depth;            /* of the frame on its thread's Python stack */
    unsigned int monitor; /* Monitor.id */
} Started;

typedef struct StartStack {
    Started *starts;
    Py_ssize_t depth, capacity;
    struct StartStack *next, *prev; /* every thread's, for a forked child to free */
} StartStack;

/* This thread's stack; NULL until its first watched call, and again once the thread has ended
 * (the destructor below freed it). */
static __thread StartStack *thread_starts;
static pthread_key_t start_stack_key;

/* Every thread's stack. Linked with the GIL held, unlinked without it (threads end without the
 * GIL), so under a lock of its own, which is also held across fork(). */
static StartStack *all_stacks;
static pthread_mutex_t all_stacks_lock = PTHREAD_MUTEX_INITIALIZER;

/* Runs when a thread ends, without the GIL. Python code can still run on the thread after it (a
 * later key's destructor, a ctypes or cffi thread-exit callback): the pointer is cleared, so a
 * watched call there makes a new stack, which this destructor frees again. */
static void
free_start_stack(void *stack)
{
    StartStack *ended = stack;
    if (thread_starts == ended) {
        thread_starts = NULL;
    }
    pthread_mutex_lock(&all_stacks_lock);
    if (ended->prev != NULL) {
        ended->prev->next = ended->next;
    }
    else {
        all_stacks = ended->next;
    }
    if (ended->next != NULL) {
        ended->next->prev = ended->prev;
    }
    pthread_mutex_unlock(&all_stacks_lock);
    free(ended->starts);
    free(ended);
}

static StartStack *
my_starts(void)
{
    StartStack *stack = thread_starts;
    if (stack == NULL) {
        stack = calloc(1, sizeof(StartStack));
        if (stack == NULL || pthread_setspecific(start_stack_key, stack) != 0) {
            free(stack);
            return NULL;
        }
        pthread_mutex_lock(&all_stacks_lock);
        stack->next = all_stacks;
        if (all_stacks != NULL) {
            all_stacks->prev = stack;
        }
        all_stacks = stack;
        pthread_mutex_unlock(&all_stacks_lock);
        thread_starts = stack;
    }
    return stack;
}

/* fork(): the list is whole on both sides. In the child only the thread that forked lives on;
 * the other threads' stacks would never be freed (no destructor runs for them), so they are
 * freed here. */
static void
before_fork(void)
{
    pthread_mutex_lock(&all_stacks_lock);
}

static void
after_fork_in_parent(void)
{
    pthread_mutex_unlock(&all_stacks_lock);
}

static void
after_fork_in_child(void)
{
    StartStack *stack = all_stacks;
    while (stack != NULL) {
        StartStack *next = stack->next;
        if (stack != thread_starts) {
            free(stack->starts);
            free(stack);
        }
        stack = next;
    }
    all_stacks = thread_starts;
    if (thread_starts != NULL) {
        thread_starts->next = thread_starts->prev = NULL;
    }
    pthread_mutex_unlock(&all_stacks_lock);
}

/* The depth of the innermost Python frame on this thread: the interpreter counts it down in
 * py_recursion_remaining on entering each frame, before PY_START, and up again after PY_RETURN
 * and PY_UNWIND (sys.setrecursionlimit keeps the difference). */
static inline int
frame_depth(void)
{
    PyThreadState *tstate = PyThreadState_Get();
    return tstate->py_recursion_limit - tstate->py_recursion_remaining;
}

typedef struct {
    PyObject *code; /* a strong reference; NULL: free */
    Meter *meter;
} Watched;

/* The Python callbacks: for generators and coroutines, then for meters on the slow path. */
enum { ON_START, ON_RETURN, ON_UNWIND, SLOW_START, SLOW_RETURN, SLOW_UNWIND, CALLBACKS };

typedef struct {
    PyObject_HEAD
    Watched *table; /* open addressing by code object address */
    Py_ssize_t size, used;
    PyObject *callbacks[CALLBACKS];
    long long failures; /* our own errors, swallowed */
    unsigned int id;    /* marks the starts this Monitor pushed */
} Monitor;

static unsigned int monitors_made;

static int
push_start(Monitor *self, int64_t ns)
{
    StartStack *stack = my_starts();
    if (stack == NULL) {
        return -1;
    }
    if (stack->depth == stack->capacity) {
        Py_ssize_t capacity = stack->capacity ? stack->capacity * 2 : 64;
        Started *grown = realloc(stack->starts, (size_t)capacity * sizeof(Started));
        if (grown == NULL) {
            return -1;
        }
        stack->starts = grown;
        stack->capacity = capacity;
    }
    stack->starts[stack->depth++] = (Started){ns, frame_depth(), self->id};
    return 0;
}

/* Takes the start of the call returning or unwinding now (its frame's depth, this Monitor);
 * returns 0 when it has none. */
static int
pop_start(Monitor *self, int64_t *ns)
{
    StartStack *stack = thread_starts;
    if (stack == NULL || stack->depth == 0) {
        return 0;
    }
    int depth = frame_depth();
    Started *starts = stack->starts;
    Py_ssize_t n = stack->depth;
    while (n > 0 && starts[n - 1].depth > depth) {
        n--; /* a deeper frame that ended unseen */
    }
    stack->depth = n;
    /* Usually the top one; another Monitor's start of the same frame can lie above it. */
    for (Py_ssize_t i = n - 1; i >= 0 && starts[i].depth == depth; i--) {
        if (starts[i].monitor == self->id) {
            *ns = starts[i].ns;
            memmove(&starts[i], &starts[i + 1], (size_t)(n - 1 - i) * sizeof(Started));
            stack->depth = n - 1;
            return 1;
        }
    }
    return 0;
}

#define SUSPENDING (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE)

static inline Py_ssize_t
slot_of(Monitor *self, PyObject *code)
{
    size_t mask = (size_t)self->size - 1;
    size_t i = (size_t)(((uintptr_t)code >> 4) * 0x9E3779B97F4A7C15ull >> 17) & mask;
    while (self->table[i].code != NULL && self->table[i].code != code) {
        i = (i + 1) & mask;
    }
    return (Py_ssize_t)i;
}

static inline Meter *
meter_of(Monitor *self, PyObject *code)
{
    if (self->used == 0) {
        return NULL;
    }
    return self->table[slot_of(self, code)].meter;
}

/* Everything is set here, not in an __init__: a Monitor is never without its callbacks. */
static PyObject *
Monitor_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"start", "return_", "unwind", "slow_start", "slow_return", "slow_unwind", NULL};
    PyObject *f[CALLBACKS];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOOO:Monitor", names, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5])) {
        return NULL;
    }
    for (int i = 0; i < CALLBACKS; i++) {
        if (!PyCallable_Check(f[i])) {
            PyErr_Format(PyExc_TypeError, "Monitor: %s must be callable", names[i]);
            return NULL;
        }
    }
    Monitor *self = (Monitor *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    for (int i = 0; i < CALLBACKS; i++) {
        self->callbacks[i] = Py_NewRef(f[i]);
    }
    self->id = ++monitors_made;
    return (PyObject *)self;
}

static int
Monitor_traverse(Monitor *self, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < self->size; i++) {
        Py_VISIT(self->table[i].code);
        Py_VISIT((PyObject *)self->table[i].meter);
    }
    for (int i = 0; i < CALLBACKS; i++) {
        Py_VISIT(self->callbacks[i]);
    }
    return 0;
}

static void
Monitor_forget_all(Monitor *self)
{
    Watched *table = self->table;
    Py_ssize_t size = self->size;
    self->table = NULL;
    self->size = self->used = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        Py_XDECREF(table[i].code);
        Py_XDECREF((PyObject *)table[i].meter);
    }
    PyMem_Free(table);
}

static int
Monitor_clear(Monitor *self)
{
    Monitor_forget_all(self);
    for (int i = 0; i < CALLBACKS; i++) {
        Py_CLEAR(self->callbacks[i]);
    }
    return 0;
}

static int
grow_table(Monitor *self)
{
    Py_ssize_t size = self->size ? self->size * 2 : 64;
    Watched *table = PyMem_Calloc((size_t)size, sizeof(Watched));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Watched *old = self->table;
    Py_ssize_t old_size = self->size;
    self->table = table;
    self->size = size;
    for (Py_ssize_t i = 0; i < old_size; i++) {
        if (old[i].code != NULL) {
            self->table[slot_of(self, old[i].code)] = old[i];
        }
    }
    PyMem_Free(old);
    return 0;
}

static PyObject *
Monitor_watch(Monitor *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyCode_Check(args[0]) || !Py_IS_TYPE(args[1], &MeterType)) {
        PyErr_SetString(PyExc_TypeError, "watch(code, meter) takes a code object and a compiled Meter");
        return NULL;
    }
    if ((self->used + 1) * 2 > self->size && grow_table(self) < 0) {
        return NULL;
    }
    Watched *slot = &self->table[slot_of(self, args[0])];
    if (slot->code == NULL) {
        slot->code = Py_NewRef(args[0]);
        self->used++;
    }
    Py_XSETREF(slot->meter, (Meter *)Py_NewRef(args[1]));
    Py_RETURN_NONE;
}

static PyObject *
Monitor_forget(Monitor *self, PyObject *Py_UNUSED(ignored))
{
    Monitor_forget_all(self);
    Py_RETURN_NONE;
}

static PyObject *
Monitor_take_failures(Monitor *self, PyObject *Py_UNUSED(ignored))
{
    long long failures = self->failures;
    self->failures = 0;
    return PyLong_FromLongLong(failures);
}

/* An error of ours in a callback: swallowed and counted, never the host's. */
static PyObject *
swallowed(Monitor *self)
{
    PyErr_Clear();
    self->failures++;
    Py_RETURN_NONE;
}

/* A Python callback, for a code object that may be gone from the table by the time it returns. */
static inline PyObject *
callback(Monitor *self, int which, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *f = self->callbacks[which];
    if (f == NULL) { /* cleared by the collector */
        Py_RETURN_NONE;
    }
    return PyObject_Vectorcall(f, args, (size_t)nargs, NULL);
}

static PyObject *
Monitor_on_start(Monitor *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        return swallowed(self);
    }
    PyObject *code = args[0];
    if (PyCode_Check(code) && (((PyCodeObject *)code)->co_flags & SUSPENDING)) {
        return callback(self, ON_START, args, nargs);
    }
    Meter *meter = meter_of(self, code);
    if (meter == NULL) {
        Py_RETURN_NONE;
    }
    if (meter->slow) {
        PyObject *done = callback(self, SLOW_START, &code, 1);
        if (done == NULL) {
            return NULL; /* the host's (an interrupt): the call fails before its first line */
        }
        Py_DECREF(done);
    }
    if (push_start(self, now_ns()) < 0) {
        return swallowed(self);
    }
    Py_RETURN_NONE;
}

static PyObject *
Monitor_on_return(Monitor *self, PyObject *const *args, Py_ssize_t nargs)
{
    int64_t end = now_ns();
    if (nargs < 3) {
        return swallowed(self);
    }
    PyObject *code = args[0];
    if (PyCode_Check(code) && (((PyCodeObject *)code)->co_flags & SUSPENDING)) {
        return callback(self, ON_RETURN, args, nargs);
    }
    int64_t start;
    if (!pop_start(self, &start)) {
        Py_RETURN_NONE;
    }
    Meter *meter = meter_of(self, code);
    if (meter == NULL) {
        Py_RETURN_NONE;
    }
    if (!meter->slow) {
        meter->counts[bucket_of(since(start, end))]++;
        Py_RETURN_NONE;
    }
    PyObject *ns = PyLong_FromLongLong(since(start, end));
    if (ns == NULL) {
        return swallowed(self);
    }
    PyObject *slow_args[3] = {code, args[2], ns};
    PyObject *done = callback(self, SLOW_RETURN, slow_args, 3);
    Py_DECREF(ns);
    return done; /* NULL only for the host's: an invariant in `raise` mode, an interrupt */
}

static PyObject *
Monitor_on_unwind(Monitor *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 3) {
        return swallowed(self);
    }
    PyObject *code = args[0];
    Meter *meter = meter_of(self, code);
    if (meter == NULL) {
        Py_RETURN_NONE; /* not ours: most frames an exception leaves */
    }
    if (((PyCodeObject *)code)->co_flags & SUSPENDING) {
        return callback(self, ON_UNWIND, args, nargs);
    }
    int64_t end = now_ns(), start;
    if (!pop_start(self, &start)) {
        Py_RETURN_NONE;
    }
    if (meter->slow) {
        PyObject *ns = PyLong_FromLongLong(since(start, end));
        if (ns == NULL) {
            return swallowed(self);
        }
        PyObject *slow_args[3] = {code, args[2], ns};
        PyObject *done = callback(self, SLOW_UNWIND, slow_args, 3);
        Py_DECREF(ns);
        return done; /* NULL only for the host's (an interrupt) */
    }
    PyObject *token = new_start(start); /* as from enter: the probe is handed an int */
    if (token == NULL) {
        return swallowed(self);
    }
    /* The probe runs Python code, which may forget this code object (the meter's last reference). */
    Py_INCREF(meter);
    int status = failed(meter, token, args[2], &start);
    Py_DECREF(token);
    meter->counts[bucket_of(since(start, end))]++;
    Py_DECREF(meter);
    if (status < 0) {
        return NULL; /* the host's, let out by the probe (an interrupt); the call is counted */
    }
    Py_RETURN_NONE;
}

static PyMethodDef Monitor_methods[] = {
    {"watch", (PyCFunction)(void (*)(void))Monitor_watch, METH_FASTCALL,
     "watch(code, meter): count the calls of `code` in `meter`."},
    {"forget", (PyCFunction)Monitor_forget, METH_NOARGS, "forget(): watch nothing any more."},
    {"take_failures", (PyCFunction)Monitor_take_failures, METH_NOARGS,
     "take_failures() -> int: errors of ours swallowed in the callbacks since the last take."},
    {"on_start", (PyCFunction)(void (*)(void))Monitor_on_start, METH_FASTCALL, "The PY_START callback."},
    {"on_return", (PyCFunction)(void (*)(void))Monitor_on_return, METH_FASTCALL, "The PY_RETURN callback."},
    {"on_unwind", (PyCFunction)(void (*)(void))Monitor_on_unwind, METH_FASTCALL, "The PY_UNWIND callback."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MonitorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "codewitness.sensor._meter.Monitor",
    .tp_doc = "Monitor(start, return_, unwind, slow_start, slow_return, slow_unwind): sys.monitoring "
              "callbacks for watched code objects.",
    .tp_basicsize = sizeof(Monitor),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Monitor_new,
    .tp_dealloc = tracked_dealloc,
    .tp_traverse = (traverseproc)Monitor_traverse,
    .tp_clear = (inquiry)Monitor_clear,
    .tp_methods = Monitor_methods,
};
#endif


static PyObject *
module_now(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromLongLong(now_ns());
}

static PyObject *
module_clock(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyUnicode_FromString(clock_name());
}

static PyObject *
module_bucket_of(PyObject *Py_UNUSED(module), PyObject *ns)
{
    long long value = PyLong_AsLongLong(ns);
    if (value == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromSsize_t(bucket_of((int64_t)value));
}

static PyMethodDef module_methods[] = {
    {"now", module_now, METH_NOARGS, "now() -> int: the meters' clock, in nanoseconds."},
    {"clock", module_clock, METH_NOARGS, "clock() -> str: what the meters' clock reads, 'tsc' or 'monotonic'."},
    {"bucket_of", module_bucket_of, METH_O, "bucket_of(ns) -> int: the histogram bucket of `ns`."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef meter_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "codewitness.sensor._meter",
    .m_doc = "The compiled per-call path of the codewitness runtime sensor.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__meter(void)
{
    str_entered = PyUnicode_InternFromString("entered");
    str_returned = PyUnicode_InternFromString("returned");
    str_raised = PyUnicode_InternFromString("raised");
    str_result = PyUnicode_InternFromString("__cw_r__");
    if (str_entered == NULL || str_returned == NULL || str_raised == NULL || str_result == NULL) {
        return NULL;
    }
    if (PyType_Ready(&StartType) < 0 || PyType_Ready(&MeterType) < 0) {
        return NULL;
    }
#ifdef HAVE_MONITOR
    if (PyType_Ready(&MonitorType) < 0 || pthread_key_create(&start_stack_key, free_start_stack) != 0 ||
        pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child) != 0) {
        return NULL;
    }
#endif
    PyObject *module = PyModule_Create(&meter_module);
    if (module == NULL) {
        return NULL;
    }
#ifdef HAVE_MONITOR
    if (PyModule_AddObjectRef(module, "Monitor", (PyObject *)&MonitorType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
#endif
    if (PyModule_AddObjectRef(module, "Meter", (PyObject *)&MeterType) < 0 ||
        PyModule_AddIntConstant(module, "API", METER_API) < 0 ||
        PyModule_AddIntConstant(module, "BUCKETS", BUCKETS) < 0 ||
        PyModule_AddIntConstant(module, "EXACT_BELOW", EXACT_BELOW) < 0 ||
        PyModule_AddIntConstant(module, "SUB_BUCKET_BITS", SUB_BUCKET_BITS) < 0 ||
        PyModule_AddObject(module, "MAX_TRACKED_NS", PyLong_FromLongLong(MAX_TRACKED_NS)) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
