# cython: language_level=3, embedsignature=True
# Not freethreading_compatible: libchrony's chrony_get_field_string() formats
# addresses into one static buffer shared by all sessions, so two threads
# reading two sessions at once would race on it without the GIL.
"""Native reader: libchrony sessions turned into pychrony's frozen dataclasses.

The C twin of :mod:`pychrony._reader_py`: for the same records it returns equal
dataclasses and raises the same exception classes. Everything it knows about
the reports comes from :mod:`pychrony.registry`: for each report and reply
layout a plan is compiled once — per dataclass attribute a conversion kind, the
field index resolved, bounds and enum tables as C values — and every record is
then converted by a C loop over the plan with libchrony's typed getters.

libchrony's ``chrony_process_response()`` blocks in ``recv()``, so it is only
called once ``poll()`` (without the GIL, in short slices so that signals are
handled) says the socket is readable; after ``timeout`` seconds the request is
sent again, ``attempts`` times in all, then ChronyTimeoutError is raised.
"""

cimport cython
from cpython.exc cimport PyErr_CheckSignals
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.errno cimport EAGAIN, EINTR, errno
from posix.fcntl cimport F_GETFL, F_SETFL, O_NONBLOCK, fcntl
from libc.math cimport ceil, isfinite
from libc.stdint cimport int64_t, uint64_t
from libc.stdio cimport snprintf
from libc.stdlib cimport calloc, free
from libc.string cimport strcmp, strlen
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from posix.unistd cimport close as close_fd

from pychrony._libchrony cimport *

import dataclasses
import functools
import os
import types
import weakref

from pychrony import _arguments, _errors, _fork
from pychrony._source_list import LIST_READS, SOURCE_ATTR, duplicate_sources, list_changed_error
from pychrony.exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyDisabledError,
    ChronyError,
    ChronyPermissionError,
)
from pychrony.registry import MAX_RECORDS, REPORTS, Conv, Derived, FieldType, RecordArg, Wire

__all__ = ["NativeSession", "libchrony_path", "open_session", "read_report"]


cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int poll(pollfd *fds, unsigned long nfds, int timeout)
    enum: POLLIN
    enum: POLLOUT


cdef extern from "<pthread.h>" nogil:
    int pthread_atfork(void (*prepare)() noexcept nogil, void (*parent)() noexcept nogil,
                       void (*child)() noexcept nogil)


cdef extern from "<dlfcn.h>" nogil:
    ctypedef struct Dl_info:
        const char *dli_fname
    int dladdr(const void *addr, Dl_info *info)


cdef extern from *:
    """
    /* A bare instance of a slots dataclass: what object.__new__(cls) does. */
    static PyObject *pychrony_alloc(PyObject *type) {
        PyTypeObject *t = (PyTypeObject *)type;
        return t->tp_alloc(t, 0);
    }
    #if PY_VERSION_HEX < 0x030C0000
    #include <structmember.h>  /* PyMemberDef: in Python.h from 3.12 on */
    #endif
    /* Where a __slots__ member descriptor keeps its value in an instance;
       -1 for any other descriptor. */
    static Py_ssize_t pychrony_slot_offset(PyObject *descr) {
        if (Py_TYPE(descr) != &PyMemberDescr_Type)
            return -1;
        return ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    /* Fill an empty slot of a fresh instance: what the slot's descriptor does
       (bypassing the frozen __setattr__, like the dataclass' own __init__),
       without its type checks, done once per plan by pychrony_slot_offset. */
    static void pychrony_fill_slot(PyObject *obj, Py_ssize_t offset, PyObject *value) {
        Py_INCREF(value);
        *(PyObject **)((char *)obj + offset) = value;
    }
    /* The value in a filled slot (a new reference). */
    static PyObject *pychrony_slot_value(PyObject *obj, Py_ssize_t offset) {
        PyObject *value = *(PyObject **)((char *)obj + offset);
        Py_INCREF(value);
        return value;
    }
    """
    object pychrony_alloc(object type)
    Py_ssize_t pychrony_slot_offset(object descr)
    void pychrony_fill_slot(object obj, Py_ssize_t offset, object value)
    object pychrony_slot_value(object obj, Py_ssize_t offset)


# -- constants -------------------------------------------------------------------

cdef enum:
    # Longest poll() slice, in milliseconds: how soon Ctrl-C is seen while waiting.
    POLL_SLICE_MS = 50
    # Enums whose largest value is below this are looked up in a dense tuple.
    DENSE_ENUM_LIMIT = 1024
    # Distinct flag values remembered per field (IntFlag(value) is a Python call).
    FLAG_CACHE_SIZE = 256
    # tv_nsec must be below one second.
    NSEC_PER_SEC = 1000000000
    NO_HIGH_SECONDS = 0x7FFFFFFF  # candm.h TV_NOHIGHSEC

# Conversion kinds of a plan step (Conv, specialised by what C needs to know).
cdef enum Kind:
    K_CONST            # a default: attribute not in this layout
    K_UINT             # unsigned integer, range-checked
    K_SINT             # signed integer: sign restored, range-checked
    K_FLOAT            # finite float, range-checked
    K_TIME             # timespec -> float seconds
    K_ADDRESS          # address string, "" when unspecified
    K_ADDRESS_OR_NAME  # address, else the reference ID's name
    K_ENUM             # dense tuple lookup
    K_ENUM_MAP         # dict lookup (sparse enum)
    K_FLAGS            # IntFlag, cached per value
    K_BOOL
    K_REFID_NAME       # reference ID -> "GPS" / dotted quad
    K_REQUEST_ADDRESS  # the address the record was requested by


cdef struct Step:
    int kind
    int index          # field index in the record
    int fallback       # K_ADDRESS_OR_NAME: index of the reference ID
    int bits           # K_SINT: width of the signed wire type
    bint has_low
    bint has_high
    int64_t ilow
    int64_t ihigh
    uint64_t ulow
    uint64_t uhigh
    double flow
    double fhigh
    PyObject *obj      # constant / enum table / flag class (owned by _Plan.refs)
    PyObject *cache    # K_FLAGS: value -> member (owned by _Plan.refs)
    Py_ssize_t offset  # where the attribute's slot is in an instance (by_slots)


_SIGNED_BITS = {Wire.INT16: 16, Wire.INT8: 8}
_MEMBER_DESCRIPTOR = types.MemberDescriptorType
cdef str _EMPTY = ""


# -- fork ------------------------------------------------------------------------

# Forks this process descends from since the module was loaded: bumped in every
# child (pthread_atfork, so os.fork(), multiprocessing and C-level forks alike). A
# session opened under another count is a parent's (see NativeSession._enter): one
# integer compare per call, where getpid() would be a system call.
cdef unsigned long _forks = 0


cdef void _count_fork() noexcept nogil:
    global _forks
    _forks += 1


if pthread_atfork(NULL, NULL, _count_fork) != 0:
    raise ImportError("pthread_atfork() failed: pychrony cannot tell a forked child")


def _close_if_alive(ref):
    """multiprocessing's exit hook for a session (pychrony._fork.clean_up_at_exit)."""
    session = ref()
    if session is not None:
        session.close()


# -- small helpers -----------------------------------------------------------------

cdef inline double _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef inline int64_t _sign_restore(int64_t value, int bits) noexcept nogil:
    # libchrony returns INT16 fields zero-extended: values with the top bit of
    # the wire width set are negative.
    if value >= (<int64_t>1 << (bits - 1)):
        value -= <int64_t>1 << bits
    return value


# Reference IDs named so far, direct-mapped by their low bits: a poll loop asks for
# the same few again and again (each slot holds a reference to its str).
cdef enum:
    REFID_CACHE_SIZE = 64  # a power of two
cdef uint64_t _refid_keys[REFID_CACHE_SIZE]
cdef PyObject *_refid_names[REFID_CACHE_SIZE]


cdef str _refid_name(uint64_t ref_id):
    """The twin of pychrony._convert.refid_name (cached)."""
    cdef Py_ssize_t slot = (ref_id ^ (ref_id >> 16)) & (REFID_CACHE_SIZE - 1)
    if _refid_names[slot] != NULL and _refid_keys[slot] == ref_id:
        return <str>_refid_names[slot]
    name = _format_refid(ref_id)
    Py_XDECREF(_refid_names[slot])
    Py_INCREF(name)
    _refid_names[slot] = <PyObject *>name
    _refid_keys[slot] = ref_id
    return name


cdef str _format_refid(uint64_t ref_id):
    cdef unsigned char raw[4]
    cdef char buf[16]  # "255.255.255.255" and its NUL
    cdef int i, n = 4
    cdef bint printable = True
    for i in range(4):
        raw[i] = (ref_id >> (24 - 8 * i)) & 0xFF  # big-endian bytes of the low 32 bits
        if not (raw[i] == 0 or 32 <= raw[i] < 127):  # NUL or printable ASCII
            printable = False
    if printable:
        while n > 0 and raw[n - 1] == 0:
            n -= 1
        return PyUnicode_DecodeASCII(<char *>raw, n, NULL)
    snprintf(buf, sizeof(buf), "%u.%u.%u.%u", raw[0], raw[1], raw[2], raw[3])
    return PyUnicode_DecodeASCII(buf, strlen(buf), NULL)


cdef inline str _string(const char *text):
    return PyUnicode_DecodeUTF8(text, strlen(text), "replace")


# -- plans -------------------------------------------------------------------------

@cython.final
cdef class _Plan:
    """How one reply layout of one report becomes a dataclass."""

    cdef int nfields
    cdef bytes last_name   # identifies the layout together with nfields
    cdef Step *steps
    cdef Py_ssize_t nsteps
    cdef object model
    cdef bint by_slots     # fill slots directly instead of calling the class
    cdef list refs         # keeps every object the steps point to alive
    cdef list info         # per step: (where, low, high) for error messages

    def __dealloc__(self):
        free(self.steps)

    cdef inline PyObject *keep(self, object value):
        self.refs.append(value)
        return <PyObject *>value


@cython.final
cdef class _ReportInfo:
    """A registry report, with its compiled plans (one per layout seen)."""

    cdef object report
    cdef bytes name
    cdef str pyname
    cdef bint multi
    cdef bint by_address
    cdef bint optional     # rtcdata: disabled means None
    cdef dict sources      # attribute -> Field or Derived
    cdef list plans
    cdef bint slots_ok     # the model can be filled slot by slot
    cdef Py_ssize_t source_slot  # where records keep their source's name; 0: no slot

    def __init__(self, report):
        self.report = report
        self.pyname = report.name
        self.name = report.name.encode()
        self.multi = report.multi
        self.by_address = report.record_arg is RecordArg.ADDRESS
        self.optional = report.name == "rtcdata"
        self.plans = []
        sources = {d.attr: d for d in report.derived}
        for response in reversed(report.responses):  # newest layout: widest bounds
            for field in response.fields:
                if field.attr:
                    sources.setdefault(field.attr, field)
        self.sources = sources
        model = report.model
        self.slots_ok = (
            dataclasses.is_dataclass(model)
            and not hasattr(model, "__post_init__")
            and model.__new__ is object.__new__
            and all(
                type(model.__dict__.get(f.name)) is _MEMBER_DESCRIPTOR
                for f in dataclasses.fields(model)
            )
        )
        self.source_slot = 0
        attr = SOURCE_ATTR.get(report.name)
        if self.slots_ok and attr is not None:
            self.source_slot = max(0, pychrony_slot_offset(model.__dict__[attr]))


cdef bint _duplicates(_ReportInfo info, list records) except -1:
    """duplicate_sources(), its common answer (no two names alike) found in C."""
    cdef Py_ssize_t n = len(records)
    cdef set names
    if n < 2:
        return False
    if info.source_slot > 0:
        names = set()
        for record in records:
            names.add(pychrony_slot_value(record, info.source_slot))
        if len(names) == n:
            return False
    return duplicate_sources(info.pyname, records)


cdef int _index(chrony_session *cs, field):
    cdef int index = chrony_get_field_index(cs, field.name.encode())
    if index < 0 and field.alt_name:
        index = chrony_get_field_index(cs, field.alt_name.encode())
    return index


cdef _Plan _find_plan(_ReportInfo info, chrony_session *cs, int nfields):
    cdef _Plan plan
    cdef const char *last = chrony_get_field_name(cs, nfields - 1)
    if last == NULL:
        return None
    for plan in info.plans:
        if plan.nfields == nfields and strcmp(last, plan.last_name) == 0:
            return plan
    return None


cdef _Plan _compile(_ReportInfo info, chrony_session *cs, int nfields):
    """The twin of _reader_py._compile, for the current record's layout."""
    cdef _Plan plan = _Plan()
    cdef Step *st
    report = info.report
    attrs = dataclasses.fields(report.model)
    plan.nfields = nfields
    plan.last_name = <bytes>chrony_get_field_name(cs, nfields - 1)
    plan.model = report.model
    plan.by_slots = info.slots_ok
    plan.refs = []
    plan.info = []
    plan.nsteps = len(attrs)
    plan.steps = <Step *>calloc(max(plan.nsteps, 1), sizeof(Step))
    if plan.steps == NULL:
        raise MemoryError()
    for n, attr in enumerate(attrs):
        st = &plan.steps[n]
        if plan.by_slots:
            st.offset = pychrony_slot_offset(report.model.__dict__[attr.name])
            if st.offset <= 0:
                raise AssertionError(f"{report.model.__name__}.{attr.name} is not a slot")
        source = info.sources.get(attr.name)
        where = _errors.FieldRef(attr.name, f"{report.name} {attr.name}")
        low = high = None
        if source is None:  # not filled from the wire (e.g. Source.name)
            if attr.default is dataclasses.MISSING:
                raise ChronyDataError(f"{report.name}: the registry fills no {attr.name!r}")
            st.kind = K_CONST
            st.obj = plan.keep(attr.default)
        elif isinstance(source, Derived):
            _derived_step(plan, st, cs, report, source)
        else:
            index = _index(cs, source)
            if index < 0:
                if attr.default is dataclasses.MISSING:
                    raise _errors.missing_field(report.name, source.name)
                st.kind = K_CONST
                st.obj = plan.keep(attr.default)
            else:
                where = _errors.FieldRef.of(report.name, source.name, source.attr)
                low, high = source.bounds
                _field_step(plan, st, cs, report, source, index)
        plan.info.append((where, low, high))
    return plan


cdef _derived_step(_Plan plan, Step *st, chrony_session *cs, report, derived):
    if derived.conv is Conv.REQUEST_ADDRESS:
        st.kind = K_REQUEST_ADDRESS
        return
    if derived.conv is Conv.SOURCE_NAME:
        # libchrony has no request for a source's configured name: unknown.
        st.kind = K_CONST
        st.obj = plan.keep(None)
        return
    field = report.field(derived.source)
    index = _index(cs, field)
    if index < 0:
        raise _errors.missing_field(report.name, field.name)
    if derived.conv is not Conv.REFID_NAME:
        raise AssertionError(f"unsupported derived conversion {derived.conv!r}")
    st.kind = K_REFID_NAME
    st.index = index


cdef _field_step(_Plan plan, Step *st, chrony_session *cs, report, field, int index):
    conv = field.conversion
    low, high = field.bounds
    st.index = index
    if conv is Conv.INT:
        if field.field_type is FieldType.INTEGER:
            st.kind = K_SINT
            st.bits = _SIGNED_BITS[field.wire]
            st.has_low, st.has_high = low is not None, high is not None
            st.ilow = low if low is not None else 0
            st.ihigh = high if high is not None else 0
        else:
            st.kind = K_UINT
            # Unsigned values are never below 0 nor above 2**64 - 1.
            st.has_low = low is not None and low > 0
            st.has_high = high is not None and high < 2**64 - 1
            st.ulow = low if st.has_low else 0
            st.uhigh = high if st.has_high else 0
    elif conv is Conv.FLOAT or conv is Conv.TIME:
        st.kind = K_FLOAT if conv is Conv.FLOAT else K_TIME
        st.has_low, st.has_high = low is not None, high is not None
        st.flow = low if low is not None else 0.0
        st.fhigh = high if high is not None else 0.0
    elif conv is Conv.ADDRESS:
        st.kind = K_ADDRESS
    elif conv is Conv.ADDRESS_OR_NAME:
        if field.fallback == field.alt_name:
            fallback = index
        else:
            fallback = chrony_get_field_index(cs, field.fallback.encode())
        if fallback < 0:
            raise _errors.missing_field(report.name, field.fallback)
        st.kind = K_ADDRESS_OR_NAME
        st.fallback = fallback
    elif conv is Conv.ENUM:
        members = {member.value: member for member in field.enum}
        largest = max(members)
        if min(members) >= 0 and largest < DENSE_ENUM_LIMIT:
            st.kind = K_ENUM
            st.obj = plan.keep(tuple(members.get(v) for v in range(largest + 1)))
        else:
            st.kind = K_ENUM_MAP
            st.obj = plan.keep(members)
    elif conv is Conv.FLAGS:
        st.kind = K_FLAGS
        st.obj = plan.keep(field.enum)
        st.cache = plan.keep({})
    elif conv is Conv.BOOL:
        st.kind = K_BOOL
    else:
        raise AssertionError(f"unsupported conversion {conv!r} for {report.name}.{field.name}")


# -- conversion ----------------------------------------------------------------------

cdef int _range_error(_Plan plan, Step *st, object value) except -1:
    where, low, high = plan.info[st - plan.steps]
    raise _errors.out_of_range(where, value, low, high)


cdef object _convert(_Plan plan, Step *st, chrony_session *cs, object request_address):
    cdef uint64_t u
    cdef int64_t i
    cdef double f
    cdef timespec ts
    cdef const char *text
    cdef int kind = st.kind
    cdef object value
    if kind == K_UINT:
        u = chrony_get_field_uinteger(cs, st.index)
        if (st.has_low and u < st.ulow) or (st.has_high and u > st.uhigh):
            _range_error(plan, st, u)
        return u
    if kind == K_FLOAT:
        f = chrony_get_field_float(cs, st.index)
        if not isfinite(f):
            raise _errors.not_finite(plan.info[st - plan.steps][0], f)
        if (st.has_low and f < st.flow) or (st.has_high and f > st.fhigh):
            _range_error(plan, st, f)
        return f
    if kind == K_ENUM:
        u = chrony_get_field_uinteger(cs, st.index)
        if u < <uint64_t>PyTuple_GET_SIZE(<object>st.obj):
            value = <object>PyTuple_GET_ITEM(<object>st.obj, <Py_ssize_t>u)
            if value is not None:
                return value
        return _unknown_enum(plan, st, u)
    if kind == K_SINT:
        i = _sign_restore(chrony_get_field_integer(cs, st.index), st.bits)
        if (st.has_low and i < st.ilow) or (st.has_high and i > st.ihigh):
            _range_error(plan, st, i)
        return i
    if kind == K_TIME:
        ts = chrony_get_field_timespec(cs, st.index)
        if not (0 <= ts.tv_nsec < NSEC_PER_SEC):
            raise _errors.bad_nanoseconds(plan.info[st - plan.steps][0], ts.tv_nsec)
        i = ts.tv_sec
        if (<uint64_t>i) >> 32 == NO_HIGH_SECONDS:
            # A chronyd with a 32-bit time_t sends TV_NOHIGHSEC (candm.h) as the high
            # word; chronyc (util.c UTI_TimespecNetworkToHost) reads it as 0, libchrony
            # does not.
            i &= 0xFFFFFFFF
        f = <double>i + <double>ts.tv_nsec * 1e-9
        if (st.has_low and f < st.flow) or (st.has_high and f > st.fhigh):
            _range_error(plan, st, f)
        return f
    if kind == K_ADDRESS:
        text = chrony_get_field_string(cs, st.index)
        return _string(text) if text != NULL and text[0] != 0 else _EMPTY
    if kind == K_ADDRESS_OR_NAME:
        text = chrony_get_field_string(cs, st.index)
        if text != NULL and text[0] != 0:
            return _string(text)
        return _refid_name(chrony_get_field_uinteger(cs, st.fallback))
    if kind == K_REFID_NAME:
        return _refid_name(chrony_get_field_uinteger(cs, st.index))
    if kind == K_BOOL:
        return chrony_get_field_uinteger(cs, st.index) != 0
    if kind == K_FLAGS:
        u = chrony_get_field_uinteger(cs, st.index)
        value = (<dict>st.cache).get(u)
        if value is None:
            value = (<object>st.obj)(u)
            if len(<dict>st.cache) < FLAG_CACHE_SIZE:
                (<dict>st.cache)[u] = value
        return value
    if kind == K_ENUM_MAP:
        u = chrony_get_field_uinteger(cs, st.index)
        value = (<dict>st.obj).get(u)
        return value if value is not None else _unknown_enum(plan, st, u)
    if kind == K_CONST:
        return <object>st.obj
    if kind == K_REQUEST_ADDRESS:
        return request_address
    raise AssertionError(f"unknown plan step kind {kind}")


cdef object _unknown_enum(_Plan plan, Step *st, uint64_t value):
    raise _errors.unknown_value(plan.info[st - plan.steps][0], value)


cdef object _build(_ReportInfo info, chrony_session *cs, int nfields, object request_address):
    cdef _Plan plan = _find_plan(info, cs, nfields)
    cdef Py_ssize_t n
    if plan is None:
        plan = _compile(info, cs, nfields)
        info.plans.append(plan)
    if plan.by_slots:
        obj = pychrony_alloc(plan.model)
        for n in range(plan.nsteps):
            pychrony_fill_slot(
                obj, plan.steps[n].offset, _convert(plan, &plan.steps[n], cs, request_address)
            )
        return obj
    values = [_convert(plan, &plan.steps[n], cs, request_address) for n in range(plan.nsteps)]
    return plan.model(*values)


cdef object _libchrony_error(chrony_err err, int saved_errno, str report, str stage):
    # libchrony returns SEND_FAILED/RECV_FAILED right after the failed send()/recv(),
    # so errno still says why ("Connection refused" when chronyd is gone).
    detail = ""
    if (err == CHRONY_SEND_FAILED or err == CHRONY_RECV_FAILED) and saved_errno:
        detail = os.strerror(saved_errno)
    return _errors.libchrony_error(err, report, stage, detail)


# -- sessions --------------------------------------------------------------------------
#
# A NativeSession is four pieces, the C twin of pychrony.protocol's transport, engine,
# drivers and session facade:
#   _Sockets       the lanes (libchrony sessions): opening, a broken main socket
#                  reopened, a forked child's copies dropped, poll() with deadlines;
#   _Exchanges     one request's exchange: sent, waited for, resent, given up;
#   _Pipeline      a multi-record read over several lanes at once, each lane an
#                  exchange moved on by the events of the table below;
#   NativeSession  what Python sees: one call at a time, fork adoption, the reads.

# Exchange states: what sending a request or processing a reply left an exchange with
# (the first five), and the events that move a pipelined lane on (the last four).
# _Exchanges.run() and .steps() loop over the first five; _Pipeline.advance() takes
# each lane through all nine. The one table of them:
#
#   state       set by                 means                             then
#   SENT        request(), response()  out (and maybe answered)          POLLIN until answered
#   QUEUE_FULL  request()              chronyd's queue is full: the      POLLOUT, then sent again
#                                      request never left                (the same deadline)
#   LOST        response(), deadline   unanswered in time, or a follow-  the next attempt, a new
#                                      up request found the queue full   deadline; after `attempts`:
#                                                                        ChronyTimeoutError
#   RESEND      response()             the main socket broke and was     sent again, not a new
#                                      reopened (once per exchange;      attempt
#                                      request() resends by itself)
#   BROKEN      request(), response()  an extra lane's socket failed     the lane is closed, its
#                                                                        index goes to another lane
#   SEND        _Pipeline              a lane took an index, or LOST     a new deadline, SEND_AGAIN
#   SEND_AGAIN  advance()              (re)send on the lane's deadline   request()
#   READY       _Pipeline's poll()     the lane's socket is ready        response(), or SEND_AGAIN
#                                                                        after QUEUE_FULL
#   DONE        advance()              the record is built (or the       the lane is idle: the next
#                                      index failed)                     index
cdef enum Exchange:
    SENT
    QUEUE_FULL
    LOST
    RESEND
    BROKEN
    SEND
    SEND_AGAIN
    READY
    DONE

cdef enum:
    # Most lanes (libchrony sessions) of one NativeSession: requests in flight at once.
    MAX_WINDOW = 16
    # Default window, as the Python backend's (pychrony.protocol.engine.WINDOW).
    WINDOW = 8


cdef struct Lane:
    # A libchrony session of a NativeSession (lane 0 is the main one) and, during a
    # pipelined read, the exchange it is in.
    chrony_session *session
    int fd
    bint reopened      # the exchange under way reopened the socket once
    int index          # the record being fetched; -1: idle
    int phase          # 0: its sourcestats record first (by-address reports); 1: the record
    int state          # waiting for: SENT (a reply) or QUEUE_FULL (room)
    int attempt
    double deadline


cdef struct Pipe:
    # The bookkeeping of one pipelined read.
    int remaining      # indexes never handed out: 0..remaining-1 (handed from the top)
    int floor          # the highest failed index: no index from here down is fetched
    int nspare         # indexes taken back from dropped lanes, to hand out again
    int spare[MAX_WINDOW]


@cython.final
cdef class _Sockets:
    """The lanes of a NativeSession and the sockets under them.

    Lane 0 is the main libchrony session, through which every request goes but
    the records of pipelined reads; the other lanes (libchrony allows one
    outstanding request per session) are opened on first need. A main socket that
    broke is reopened (chronyd restarted: ``reopens`` counts it); in a forked child
    the lanes are the parent's and are closed without touching its socket files.

    The sockets are non-blocking (see _open_socket): a request that finds
    chronyd's queue full (chronyd stopped) waits for room until its deadline
    instead of blocking for ever in send(), and counts as lost after it.
    """

    cdef Lane lane[MAX_WINDOW]
    cdef str address
    cdef unsigned long forks    # _forks when the lanes were opened: else a parent's
    cdef unsigned long reopens  # main-socket reopens, ever (a restarted chronyd?)
    cdef bint close_requested   # closed by another thread while a call waits

    def __cinit__(self):
        cdef int i
        for i in range(MAX_WINDOW):
            self.lane[i].session = NULL
            self.lane[i].fd = -1
            self.lane[i].index = -1
        self.forks = _forks

    def __dealloc__(self):
        self.release()

    cdef void close_lane(self, int i) noexcept:
        cdef Lane *lane = &self.lane[i]
        if lane.session != NULL:
            chrony_deinit_session(lane.session)
            lane.session = NULL
        if lane.fd >= 0:
            if self.forks == _forks:
                chrony_close_socket(lane.fd)  # also removes libchrony's client socket file
            else:  # a forked child's copy: the socket file and directories are the parent's
                close_fd(lane.fd)
            lane.fd = -1

    cdef void close_extra(self) noexcept:
        cdef int i
        for i in range(1, MAX_WINDOW):
            self.close_lane(i)

    cdef void release(self) noexcept:
        self.close_extra()
        self.close_lane(0)

    cdef int open_lane(self, int i, bint strict) except -1:
        """Open lane ``i``: 1; 0 when that failed and not ``strict`` (else raise)."""
        cdef chrony_err err
        cdef Lane *lane = &self.lane[i]
        fd, code = _open_socket(self.address)
        if fd < 0:
            if strict:
                raise _errors.open_error(self.address, code)
            return 0
        lane.fd = fd
        err = chrony_init_session(&lane.session, fd)
        if err != CHRONY_OK:
            lane.session = NULL
            self.close_lane(i)
            if strict:
                raise _init_error(err)
            return 0
        return 1

    cdef int reopen(self) except -1:
        """Replace the main lane's broken socket (chronyd restarted) by a new one."""
        self.close_lane(0)
        self.open_lane(0, True)
        self.reopens += 1
        return 0

    cdef int adopt(self) except -1:
        """In a forked child: close the parent's lanes, leaving its files alone."""
        self.release()
        self.forks = _forks
        self.close_requested = False  # the parent's call, not ours
        return 0

    cdef bint any_open(self, int nlanes) noexcept:
        cdef int i
        for i in range(nlanes):
            if self.lane[i].session != NULL:
                return True
        return False

    cdef int wait_for(self, short events, double deadline) except -1:
        """1 when ``events`` happened on the main lane (or the socket failed: the next
        call tells), 0 at the deadline."""
        cdef pollfd p
        p.fd = self.lane[0].fd
        p.events = events
        while True:
            if self.poll_until(&p, 1, deadline) > 0:
                return 1
            if deadline - _now() <= 0:
                return 0

    cdef int poll_until(self, pollfd *fds, int n, double deadline) except -1:
        """One poll() of at most a slice, without the GIL: its result (0: nothing yet)."""
        cdef int r, err, ms
        cdef double left = deadline - _now()
        if left <= 0:
            return 0
        ms = <int>ceil(left * 1000.0) if left * 1000.0 < POLL_SLICE_MS else POLL_SLICE_MS
        with nogil:
            r = poll(fds, n, ms)
            err = errno
        if r > 0:
            return r
        if r < 0 and err != EINTR:
            raise ChronyConnectionError(f"poll() on chronyd's socket failed: {os.strerror(err)}")
        PyErr_CheckSignals()  # raises KeyboardInterrupt & co.
        if self.close_requested:
            raise ChronyConnectionError("The session was closed while waiting for chronyd")
        return 0


@cython.final
cdef class _Exchanges:
    """One request's exchange with chronyd, under chronyc's policy (the twin of a
    single-job run of pychrony.protocol.engine): sent, answered within ``timeout``
    seconds or sent again, ``attempts`` times in all, then ChronyTimeoutError; a
    full queue waited out until the deadline; a broken main socket reopened once.
    :meth:`run` waits with poll(), :meth:`steps` yields its waits to a driver.
    """

    cdef _Sockets sockets
    cdef double timeout
    cdef int attempts

    def __cinit__(self, _Sockets sockets not None):
        self.sockets = sockets
        self.timeout = 1.0
        self.attempts = 3

    cdef int request(self, Lane *lane, _ReportInfo info, bint count, int index) except -1:
        """Send the request: SENT, QUEUE_FULL (wait until the socket is writable) or
        BROKEN (an extra lane's socket failed)."""
        cdef chrony_err err
        cdef int saved
        while True:
            if count:
                err = chrony_request_report_number_records(lane.session, info.name)
            else:
                err = chrony_request_record(lane.session, info.name, index)
            saved = errno
            if err == CHRONY_OK:
                return SENT
            if err == CHRONY_SEND_FAILED and saved == EAGAIN:
                return QUEUE_FULL
            if err == CHRONY_SEND_FAILED and lane != &self.sockets.lane[0]:
                return BROKEN
            if err == CHRONY_SEND_FAILED and not lane.reopened:
                self.sockets.reopen()  # raises "Cannot connect" when chronyd is still gone
                lane.reopened = True
                continue  # RESEND
            raise _libchrony_error(err, saved, info.pyname, "requesting")

    cdef int response(self, Lane *lane, _ReportInfo info) except -1:
        """Process a reply that is ready: SENT (answered, or still waiting), RESEND
        (the main socket broke and was reopened), BROKEN (an extra lane's did) or
        LOST (a follow-up request found chronyd's queue full)."""
        cdef chrony_err err = chrony_process_response(lane.session)
        cdef int saved = errno
        if err == CHRONY_OK:
            return SENT
        if saved == EAGAIN:  # (EWOULDBLOCK on Linux)
            if err == CHRONY_RECV_FAILED:
                return SENT  # woken for nothing: keep waiting
            if err == CHRONY_SEND_FAILED:
                return LOST
        if err == CHRONY_RECV_FAILED and lane != &self.sockets.lane[0]:
            return BROKEN
        if err == CHRONY_RECV_FAILED and not lane.reopened:
            self.sockets.reopen()
            lane.reopened = True
            return RESEND
        raise _libchrony_error(err, saved, info.pyname, "receiving")

    cdef int lost(self, int attempt, _ReportInfo info) except -1:
        """The attempt after the lost one ``attempt``; ChronyTimeoutError after the last."""
        attempt += 1
        if attempt >= self.attempts:
            raise _errors.timeout_error(
                self.sockets.address, info.pyname, self.timeout, self.attempts
            )
        return attempt

    cdef int run(self, _ReportInfo info, bint count, int index) except -1:
        """Send a request on the main lane and process replies until it is answered,
        resending on timeout."""
        cdef _Sockets sockets = self.sockets
        cdef Lane *lane = &sockets.lane[0]
        cdef int attempt = 0
        cdef int state
        cdef double deadline
        lane.reopened = False
        while True:
            deadline = _now() + self.timeout
            state = self.request(lane, info, count, index)
            while state == QUEUE_FULL and sockets.wait_for(POLLOUT, deadline):
                state = self.request(lane, info, count, index)
            while state == SENT and chrony_needs_response(lane.session):
                if not sockets.wait_for(POLLIN, deadline):
                    state = LOST
                    break
                state = self.response(lane, info)
            if state == SENT:
                return 0
            if state != RESEND:
                attempt = self.lost(attempt, info)

    def steps(self, _ReportInfo info, bint count, int index):
        """Steps of :meth:`run` (the same policy, its waits yielded)."""
        cdef int attempt = 0
        cdef int state
        cdef double deadline
        cdef _Sockets sockets = self.sockets
        sockets.lane[0].reopened = False
        while True:
            deadline = _now() + self.timeout
            state = self.request(&sockets.lane[0], info, count, index)
            while state == QUEUE_FULL and (yield POLLOUT, deadline):
                state = self.request(&sockets.lane[0], info, count, index)
            while state == SENT and chrony_needs_response(sockets.lane[0].session):
                if not (yield POLLIN, deadline):
                    state = LOST
                    break
                if sockets.close_requested:
                    raise ChronyConnectionError("The session was closed while waiting for chronyd")
                state = self.response(&sockets.lane[0], info)
            if state == SENT:
                return
            if state != RESEND:
                attempt = self.lost(attempt, info)


@cython.final
cdef class _Pipeline:
    """Records 0..count-1 of a multi-record report, requested over several lanes at once.

    Idle lanes take the next indexes; one poll() waits for every lane; each
    request keeps the exchange's policy (its own deadline and attempts, waiting for
    room in a full queue, reopening the main socket once), its lane moved on by
    the events of the exchange-state table. A record is built as soon as its reply
    is in (libchrony keeps only the current one). An error ends the read with the
    error of the highest failing index, as reading one record after the other (the
    last first) would; a broken extra lane is dropped and its index handed to
    another lane.

    Indexes are handed out from the last down (see pychrony._source_list): a
    resent request or a dropped lane's index breaks that order (``resent``).
    """

    cdef _Exchanges exchanges
    cdef _Sockets sockets
    cdef int window            # most lanes
    # The read under way:
    cdef _ReportInfo info
    cdef int nlanes
    cdef Pipe pipe
    cdef list records          # by index; None: no data (or not read)
    cdef list addresses        # by lane: the request address (by-address reports)
    cdef object failure        # the error of the highest failing index
    cdef bint resent           # a request was resent or moved: read out of order

    def __cinit__(self, _Exchanges exchanges not None):
        self.exchanges = exchanges
        self.sockets = exchanges.sockets
        self.window = 1

    cdef list read(self, _ReportInfo info, int count):
        """The records of ``info`` (its ``count`` of them)."""
        self.start(info, count)
        try:
            self.run()
            if self.failure is not None:
                raise self.failure
            if self.pipe.nspare or self.pipe.remaining:  # never a partial list
                raise ChronyConnectionError(
                    f"Lost every socket to chronyd while reading {info.pyname}"
                )
            return [record for record in self.records if record is not None]
        except BaseException:
            self.sockets.close_extra()  # they may have requests in flight
            raise
        finally:
            self.info = None
            self.records = self.addresses = None
            self.failure = None

    cdef int start(self, _ReportInfo info, int count) except -1:
        """Set up a read: the bookkeeping, and the lanes it needs opened."""
        cdef int i
        self.info = info
        self.nlanes = min(count, self.window)
        self.pipe.remaining = count
        self.pipe.floor = -1
        self.pipe.nspare = 0
        self.records = [None] * count
        self.addresses = [_EMPTY] * self.nlanes
        self.failure = None
        self.resent = False
        for i in range(1, self.nlanes):
            if self.sockets.lane[i].session == NULL and not self.sockets.open_lane(i, False):
                break  # fewer lanes (out of descriptors?): never a failure
        for i in range(self.nlanes):
            self.sockets.lane[i].index = -1
        return 0

    cdef int run(self) except -1:
        """Hand out indexes and poll until none is left or no lane can fetch them."""
        cdef pollfd fds[MAX_WINDOW]
        cdef int which[MAX_WINDOW]  # the lane of each pollfd
        cdef int i, k, n, r
        cdef double soonest = 0.0, now
        cdef Lane *lane
        while True:
            self.hand_out()
            n = self.gather(fds, which, &soonest)
            if n == 0:
                if self.pipe.nspare == 0 and self.pipe.remaining == 0:
                    return 0
                if not self.sockets.any_open(self.nlanes):
                    return 0  # nobody left to fetch the rest (the main lane failed)
                continue
            r = self.sockets.poll_until(fds, n, soonest)
            now = _now()
            for k in range(n):
                i = which[k]
                lane = &self.sockets.lane[i]
                if lane.index <= self.pipe.floor:  # idle (-1) or abandoned
                    continue
                if r > 0 and fds[k].revents:
                    self.move(i, READY)
                elif lane.deadline <= now:
                    self.move(i, LOST)

    cdef int hand_out(self) except -1:
        """Idle lanes take the next indexes (and send their requests)."""
        cdef int i, index
        cdef Lane *lane
        for i in range(self.nlanes):
            lane = &self.sockets.lane[i]
            while lane.session != NULL and lane.index < 0:
                index = self.next_index()
                if index < 0:
                    break
                lane.index = index
                lane.phase = 0 if self.info.by_address else 1
                lane.attempt = 0
                lane.reopened = False
                self.move(i, SEND)
        return 0

    cdef int next_index(self) noexcept:
        """The next index to fetch (a dropped lane's first), -1 when none is left."""
        cdef Pipe *pipe = &self.pipe
        cdef int index
        while pipe.nspare > 0:
            pipe.nspare -= 1
            index = pipe.spare[pipe.nspare]
            if index > pipe.floor:
                return index
        while pipe.remaining > 0:  # from the last index down (pychrony._source_list)
            pipe.remaining -= 1
            if pipe.remaining > pipe.floor:
                return pipe.remaining
        return -1

    cdef int gather(self, pollfd *fds, int *which, double *soonest) noexcept:
        """How many lanes wait: their pollfds, their lanes (``which``) and the soonest
        of their deadlines."""
        cdef int i, n = 0
        cdef Lane *lane
        soonest[0] = 0.0
        for i in range(self.nlanes):
            lane = &self.sockets.lane[i]
            if 0 <= lane.index <= self.pipe.floor:
                lane.index = -1  # abandoned: a higher index failed
            if lane.session == NULL or lane.index < 0:
                continue
            fds[n].fd = lane.fd
            fds[n].events = POLLOUT if lane.state == QUEUE_FULL else POLLIN
            fds[n].revents = 0
            which[n] = i
            if n == 0 or lane.deadline < soonest[0]:
                soonest[0] = lane.deadline
            n += 1
        return n

    cdef int move(self, int i, int event) except -1:
        """advance() lane ``i``, recording its index's failure or taking its index back."""
        cdef Lane *lane = &self.sockets.lane[i]
        cdef int index = lane.index
        try:
            event = self.advance(i, event)
        except ChronyError as exc:
            lane.index = -1
            if index > self.pipe.floor:
                self.pipe.floor = index
                self.pipe.remaining = 0  # every index not handed out yet is lower
                self.failure = exc
            return 0
        if event == BROKEN:
            self.resent = True  # its request goes again over another lane
            self.sockets.close_lane(i)
            lane.index = -1
            self.pipe.spare[self.pipe.nspare] = index
            self.pipe.nspare += 1
        return 0

    cdef int advance(self, int i, int event) except -1:
        """Move lane ``i``'s exchange on from ``event`` until it waits for chronyd
        (SENT), its record is built (DONE) or its socket broke (BROKEN)."""
        cdef Lane *lane = &self.sockets.lane[i]
        cdef _Exchanges exchanges = self.exchanges
        cdef _ReportInfo info = self.info
        cdef _ReportInfo asked = _STATS if lane.phase == 0 else info
        cdef int nfields
        while True:
            if event == READY:
                if lane.state == QUEUE_FULL:
                    event = SEND_AGAIN
                else:
                    event = exchanges.response(lane, asked)
            if event == LOST:
                self.resent = True
                lane.attempt = exchanges.lost(lane.attempt, asked)
                event = SEND
            if event == SEND or event == RESEND:
                lane.deadline = _now() + exchanges.timeout
                event = SEND_AGAIN
            if event == SEND_AGAIN:
                event = exchanges.request(lane, asked, False, lane.index)
            if event == BROKEN:
                return BROKEN
            if event == QUEUE_FULL or chrony_needs_response(lane.session):
                lane.state = event
                return SENT
            # Answered.
            if lane.phase == 0:  # the sourcestats record: ask by its address next
                self.addresses[i] = _current_address(lane.session)
                lane.phase = 1
                lane.attempt = 0
                lane.reopened = False
                asked = info
                event = SEND
                continue
            nfields = chrony_get_record_number_fields(lane.session)
            if nfields > 0:  # 0: no data (a refclock in ntpdata/authdata)
                self.records[lane.index] = _build(info, lane.session, nfields, self.addresses[i])
            lane.index = -1
            return DONE


@cython.final
cdef class NativeSession:
    """A libchrony session on a socket to chronyd (see :func:`open_session`).

    Every request goes through the main libchrony session (lane 0) but the records
    of multi-record reports: those are requested over up to ``window`` lanes at
    once, each a libchrony session of its own to the same address, opened on first
    need (see _Pipeline). One call at a time; a forked child opens its own socket.
    """

    cdef _Sockets sockets
    cdef _Exchanges exchanges
    cdef _Pipeline pipeline
    cdef bint busy
    cdef bint closed_by_user   # else a NULL session is a broken one, reopened on use
    cdef object __weakref__

    def __cinit__(self):
        self.sockets = _Sockets()
        self.exchanges = _Exchanges(self.sockets)
        self.pipeline = _Pipeline(self.exchanges)

    @property
    def address(self) -> str:
        """chronyd's socket path, or its UDP address."""
        return self.sockets.address

    @property
    def timeout(self) -> float:
        """Seconds each request waits for its reply before it is sent again."""
        return self.exchanges.timeout

    @property
    def attempts(self) -> int:
        """Requests sent in all before ChronyTimeoutError."""
        return self.exchanges.attempts

    @property
    def window(self) -> int:
        """Most record requests in flight at once."""
        return self.pipeline.window

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self.closed_by_user

    def close(self) -> None:
        """Close the session and its sockets; idempotent."""
        self.closed_by_user = True
        if self.busy and self.sockets.forks == _forks:
            self.sockets.close_requested = True  # another thread waits on the socket: it closes it
        else:
            self.sockets.release()

    def __repr__(self) -> str:
        state = "closed" if self.closed_by_user else f"fd={self.sockets.lane[0].fd}"
        return f"<NativeSession {self.address} {state}>"

    def fileno(self) -> int:
        """The main socket's descriptor (it changes when a broken session is reopened)."""
        if self.sockets.lane[0].session == NULL:
            raise ChronyConnectionError("The libchrony session is closed")
        return chrony_get_fd(self.sockets.lane[0].session)

    cdef int _adopt(self) except -1:
        """In a forked child: close the parent's lanes (leaving its files alone) and
        open the child's own socket. Its sequence numbers are drawn from a new
        /dev/urandom stream: the inherited one's buffer is the parent's too."""
        self.sockets.adopt()
        self.busy = False  # the parent's call, not ours
        if not self.closed_by_user:
            self.sockets.open_lane(0, True)
            _fork.clean_up_at_exit(self, functools.partial(_close_if_alive, weakref.ref(self)))
        return 0

    cdef int _enter(self) except -1:
        if self.sockets.forks != _forks:
            self._adopt()
        if self.closed_by_user:
            raise ChronyConnectionError("The libchrony session is closed")
        if self.busy:
            raise ChronyError(
                "This session is in use by another thread; use one ChronyConnection per thread"
            )
        if self.sockets.lane[0].session == NULL:  # chronyd was gone at the last call: try again
            self.sockets.reopen()
        self.busy = True
        return 0

    cdef void _leave(self) noexcept:
        self.busy = False
        if self.sockets.close_requested:
            self.sockets.release()

    cdef object _read_one(self, _ReportInfo info):
        self.exchanges.run(info, False, 0)
        cdef chrony_session *cs = self.sockets.lane[0].session
        cdef int nfields = chrony_get_record_number_fields(cs)
        if nfields <= 0:
            raise ChronyDataError(f"{info.pyname}: chronyd sent an empty record")
        return _build(info, cs, nfields, _EMPTY)

    cdef list _read_records(self, _ReportInfo info):
        """Every record of ``info``, read again while chronyd's source list changes
        under the read (see pychrony._source_list), at most LIST_READS times."""
        cdef int count, attempt
        cdef unsigned long reopens
        cdef bint resent
        cdef list out
        cause = None
        for attempt in range(LIST_READS):
            reopens = self.sockets.reopens
            count = self._count(info)
            try:
                if count > 1 and self.pipeline.window > 1:
                    out = self.pipeline.read(info, count)
                    resent = self.pipeline.resent
                else:
                    out = self._read_in_turn(info, count)
                    resent = False
            except ChronyDataError as exc:
                # chronyd's "no such source" (libchrony: an unexpected status): a
                # record counted but gone.
                if exc.error_code != CHRONY_UNEXPECTED_STATUS:
                    raise
                cause = exc
                continue
            if self.sockets.reopens != reopens or _duplicates(info, out):
                continue
            # Read out of order (resends): the count asked again must agree.
            if resent and self._count(info) != count:
                continue
            return out
        raise list_changed_error(info.pyname) from cause

    cdef int _count(self, _ReportInfo info) except -1:
        self.exchanges.run(info, True, 0)
        return _record_count(info, self.sockets.lane[0].session)

    cdef list _read_in_turn(self, _ReportInfo info, int count):
        """Records 0..count-1 of ``info``, one request at a time on the main lane,
        the last first (see pychrony._source_list)."""
        cdef int index, nfields
        cdef chrony_session *cs
        cdef list out = []
        request_address = _EMPTY
        for index in range(count - 1, -1, -1):
            if info.by_address:  # libchrony asks by the sourcestats record's address
                self.exchanges.run(_STATS, False, index)
                request_address = _current_address(self.sockets.lane[0].session)
            self.exchanges.run(info, False, index)
            cs = self.sockets.lane[0].session
            nfields = chrony_get_record_number_fields(cs)
            if nfields > 0:  # 0: no data (a refclock in ntpdata/authdata)
                out.append(_build(info, cs, nfields, request_address))
        out.reverse()
        return out

    # -- stepping, for a driver other than poll() (pychrony.aio) -----------------------

    def read_steps(self, report):
        """Steps that read ``report`` (the value :func:`read_report` returns).

        A generator: it yields waits, ``(poll events, monotonic deadline)``, is
        sent the events that happened (0: the deadline passed) and returns the
        report's value; requests are resent and a broken socket reopened as
        :func:`read_report` does. One request at a time, on the main lane.
        """
        cdef _ReportInfo info = _INFOS.get(report.name)
        cdef int nfields
        if info is None or info.report is not report:
            raise ChronyError(f"Unknown report {report!r}")
        self._enter()
        try:
            if info.multi:
                return (yield from self._records_steps(info))
            try:
                yield from self.exchanges.steps(info, False, 0)
                nfields = chrony_get_record_number_fields(self.sockets.lane[0].session)
                if nfields <= 0:
                    raise ChronyDataError(f"{info.pyname}: chronyd sent an empty record")
                return _build(info, self.sockets.lane[0].session, nfields, _EMPTY)
            except ChronyDisabledError:
                if info.optional:
                    return None
                raise
        finally:
            self._leave()

    def _records_steps(self, _ReportInfo info):
        """Steps of _read_records, one request at a time: read again while the
        source list changes under the read (the last index first, never out of
        order: see pychrony._source_list)."""
        cdef int count, index, nfields, attempt
        cdef unsigned long reopens
        cdef _Exchanges exchanges = self.exchanges
        cdef chrony_session *cs
        cause = None
        for attempt in range(LIST_READS):
            reopens = self.sockets.reopens
            yield from exchanges.steps(info, True, 0)
            count = _record_count(info, self.sockets.lane[0].session)
            out = []
            try:
                for index in range(count - 1, -1, -1):
                    request_address = _EMPTY
                    if info.by_address:
                        yield from exchanges.steps(_STATS, False, index)
                        request_address = _current_address(self.sockets.lane[0].session)
                    yield from exchanges.steps(info, False, index)
                    cs = self.sockets.lane[0].session
                    nfields = chrony_get_record_number_fields(cs)
                    if nfields > 0:
                        out.append(_build(info, cs, nfields, request_address))
            except ChronyDataError as exc:
                if exc.error_code != CHRONY_UNEXPECTED_STATUS:
                    raise
                cause = exc  # "no such source": a record counted but gone
                continue
            out.reverse()
            if self.sockets.reopens != reopens or _duplicates(info, out):
                continue
            return out
        raise list_changed_error(info.pyname) from cause


cdef int _record_count(_ReportInfo info, chrony_session *cs) except -1:
    """The number of records of ``info`` chronyd reported (bounded)."""
    cdef int count = chrony_get_report_number_records(cs)
    if not 0 <= count <= MAX_RECORDS:
        raise ChronyDataError(
            f"{info.pyname}: chronyd reported {count} records (at most {MAX_RECORDS} expected)"
        )
    return count


cdef str _current_address(chrony_session *cs):
    """The address field of the current (sourcestats) record."""
    cdef int field = chrony_get_field_index(cs, b"address")
    cdef const char *text = chrony_get_field_string(cs, field)
    return _string(text) if text != NULL else _EMPTY


cdef dict _INFOS = {report.name: _ReportInfo(report) for report in REPORTS}
cdef _ReportInfo _STATS = _INFOS["sourcestats"]


# -- public API ------------------------------------------------------------------------

cdef tuple _open_socket(target):
    """(fd, code): code is a negative errno when fd < 0."""
    cdef bytes raw = os.fsencode(target) if target is not None else None
    cdef const char *address = NULL
    cdef int fd, err
    if raw is not None:
        address = raw
    with nogil:
        fd = chrony_open_socket(address)
        err = errno
    if fd >= 0:
        # Never block in send() or recv(): waits are poll()s with deadlines.
        if fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK) < 0:
            err = errno
            chrony_close_socket(fd)
            return -1, -(err or 1)
        return fd, 0
    # libchrony returns -1 and sets errno; accept a negative errno too.
    return fd, (fd if fd < -1 else -(err or 1))


cdef int _unix_window = 0


cdef int _default_window(bint is_unix) except -1:
    """As the Python backend's: WINDOW, and for a Unix socket below the datagram
    queue limit (net.unix.max_dgram_qlen) of chronyd's socket, which queues the
    requests of every lane."""
    global _unix_window
    if not is_unix:
        return WINDOW
    if _unix_window == 0:
        try:
            with open("/proc/sys/net/unix/max_dgram_qlen") as f:
                qlen = int(f.read())
        except (OSError, ValueError):
            qlen = 10
        _unix_window = max(1, min(WINDOW, qlen - 2))
    return _unix_window


def open_session(address=None, timeout=1.0, attempts=3, window=None):
    """Open a libchrony session to chronyd at ``address`` (None: auto-detect).

    Auto-detection tries the default Unix sockets, then UDP on 127.0.0.1 and ::1
    (chronyd answers monitoring commands there), by connecting: the first that
    connects (and, over UDP, answers) wins, else every candidate's failure is told.
    ``timeout`` bounds each wait for a reply (seconds), ``attempts`` the requests sent.
    ``window``: most record requests in flight at once, each over a libchrony
    session of its own (None: 8, less where Unix datagram queues are shorter;
    1: one request at a time).
    """
    timeout = _arguments.check_seconds("timeout", timeout)
    _arguments.check_attempts(attempts)
    _arguments.check_address(address)
    if window is not None and not (
        isinstance(window, int) and not isinstance(window, bool) and 1 <= window <= MAX_WINDOW
    ):
        raise ChronyError(f"window must be an integer from 1 to {MAX_WINDOW}, not {window!r}")
    from pychrony import _address  # when connecting: it imports ipaddress

    endpoints = _address.candidates(address)
    connect = lambda endpoint: _start_session(endpoint, timeout, attempts, window)
    if address:
        return connect(endpoints[0])
    return _address.first_reachable(endpoints, connect, _probe)


def _probe(NativeSession session):
    """Check that chronyd answers (a source count; any reply counts)."""
    session._enter()
    try:
        session.exchanges.run(_STATS, True, 0)
    finally:
        session._leave()


cdef NativeSession _start_session(endpoint, double timeout, int attempts, window):
    cdef NativeSession session
    cdef bint is_unix = endpoint.is_unix
    target = endpoint.path if is_unix else str(endpoint)
    if is_unix:
        # libchrony says only "Invalid argument" for a path too long for its reply socket.
        too_long = _errors.path_length_error(target, _errors.LIBCHRONY_REPLY_SUFFIX)
        if too_long is not None:
            raise too_long
    session = NativeSession.__new__(NativeSession)
    session.sockets.address = target
    session.sockets.open_lane(0, True)
    session.exchanges.timeout = timeout
    session.exchanges.attempts = attempts
    session.pipeline.window = window if window is not None else _default_window(is_unix)
    _fork.clean_up_at_exit(session, functools.partial(_close_if_alive, weakref.ref(session)))
    return session


cdef object _init_error(chrony_err err):
    return ChronyConnectionError(
        f"Failed to initialize chrony session ({chrony_get_error_string(err).decode()})",
        err,
    )


def read_report(NativeSession session not None, report):
    """A report's value as the public API returns it (the twin of _reader_py.read_report).

    Multi-record reports give a list; ``rtcdata`` gives None when chronyd does
    not track the RTC; other single-record reports give one dataclass.
    """
    cdef _ReportInfo info = _INFOS.get(report.name)
    if info is None or info.report is not report:
        raise ChronyError(f"Unknown report {report!r}")
    session._enter()
    try:
        if info.multi:
            return session._read_records(info)
        if info.optional:
            try:
                return session._read_one(info)
            except ChronyDisabledError:
                return None
        return session._read_one(info)
    finally:
        session._leave()


def libchrony_path():
    """Path of the libchrony shared library this extension is linked to."""
    cdef Dl_info dl
    if dladdr(<const void *>chrony_open_socket, &dl) == 0 or dl.dli_fname == NULL:
        return ""
    return os.fsdecode(<bytes>dl.dli_fname)
