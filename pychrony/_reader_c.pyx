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
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.errno cimport EINTR, errno
from libc.math cimport ceil, isfinite
from libc.stdint cimport int64_t, uint64_t
from libc.stdio cimport snprintf
from libc.stdlib cimport calloc, free
from libc.string cimport strcmp, strlen
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from pychrony._libchrony cimport *

import dataclasses
import os
import types

from pychrony import _address, _errors
from pychrony.exceptions import (
    ChronyConnectionError,
    ChronyDataError,
    ChronyDisabledError,
    ChronyError,
    ChronyTimeoutError,
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
    /* Store a slot through its member descriptor (bypasses the frozen
       __setattr__, exactly like the dataclass' own __init__ does). */
    static int pychrony_set_slot(PyObject *descr, PyObject *obj, PyObject *value) {
        return Py_TYPE(descr)->tp_descr_set(descr, obj, value);
    }
    """
    object pychrony_alloc(object type)
    int pychrony_set_slot(PyObject *descr, object obj, object value) except -1


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
    PyObject *descr    # the attribute's slot descriptor (owned by _Plan.refs)


_SIGNED_BITS = {Wire.INT16: 16, Wire.INT8: 8}
_MEMBER_DESCRIPTOR = types.MemberDescriptorType
cdef str _EMPTY = ""


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


cdef str _refid_name(uint64_t ref_id):
    """The twin of pychrony._convert.refid_name."""
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
            st.descr = plan.keep(report.model.__dict__[attr.name])
        source = info.sources.get(attr.name)
        where = f"{report.name}: {attr.name}"
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
                    raise ChronyDataError(
                        f"{report.name}: field {source.name!r} ({attr.name}) is missing "
                        "from chronyd's reply (a chronyd older than pychrony supports?)"
                    )
                st.kind = K_CONST
                st.obj = plan.keep(attr.default)
            else:
                where = f"{report.name}: field {source.name!r} ({source.attr})"
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
        raise ChronyDataError(f"{report.name}: field {field.name!r} is missing from the reply")
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
            raise ChronyDataError(f"{report.name}: field {field.fallback!r} is missing")
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
    raise ChronyDataError(f"{where} = {value!r} is out of range [{low}, {high}]")


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
            where = plan.info[st - plan.steps][0]
            raise ChronyDataError(f"{where} = {f!r} is not a finite number")
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
            where = plan.info[st - plan.steps][0]
            raise ChronyDataError(f"{where} has {ts.tv_nsec} nanoseconds")
        f = <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9
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
    where = plan.info[st - plan.steps][0]
    raise ChronyDataError(f"{where} has unknown value {value} (a chronyd newer than pychrony?)")


cdef object _build(_ReportInfo info, chrony_session *cs, int nfields, object request_address):
    cdef _Plan plan = _find_plan(info, cs, nfields)
    cdef Py_ssize_t n
    if plan is None:
        plan = _compile(info, cs, nfields)
        info.plans.append(plan)
    if plan.by_slots:
        obj = pychrony_alloc(plan.model)
        for n in range(plan.nsteps):
            pychrony_set_slot(
                plan.steps[n].descr, obj, _convert(plan, &plan.steps[n], cs, request_address)
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

@cython.final
cdef class NativeSession:
    """A libchrony session on a socket to chronyd (see :func:`open_session`)."""

    cdef chrony_session *session
    cdef int fd
    cdef readonly str address
    cdef readonly double timeout
    cdef readonly int attempts
    cdef bint busy
    cdef bint close_requested
    cdef bint closed_by_user   # else a NULL session is a broken one, reopened on use

    def __cinit__(self):
        self.session = NULL
        self.fd = -1

    def __dealloc__(self):
        self._release()

    cdef void _release(self) noexcept:
        if self.session != NULL:
            chrony_deinit_session(self.session)
            self.session = NULL
        if self.fd >= 0:
            chrony_close_socket(self.fd)
            self.fd = -1

    def close(self) -> None:
        """Close the session and its socket; idempotent."""
        self.closed_by_user = True
        if self.busy:  # another thread is waiting on the socket: it closes it
            self.close_requested = True
        else:
            self._release()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self.closed_by_user

    def __repr__(self) -> str:
        state = "closed" if self.closed_by_user else f"fd={self.fd}"
        return f"<NativeSession {self.address} {state}>"

    cdef int _enter(self) except -1:
        if self.closed_by_user:
            raise ChronyConnectionError("The libchrony session is closed")
        if self.busy:
            raise ChronyError(
                "This session is in use by another thread; use one ChronyConnection per thread"
            )
        if self.session == NULL:  # chronyd was gone at the last call: try again
            self._reopen()
        self.busy = True
        return 0

    cdef void _leave(self) noexcept:
        self.busy = False
        if self.close_requested:
            self._release()

    cdef int _wait_readable(self, double deadline) except -1:
        """1 when the socket is readable (or failed: recv() will tell), 0 at the deadline."""
        cdef pollfd p
        cdef int r, err, ms
        cdef double left
        p.fd = chrony_get_fd(self.session)
        p.events = POLLIN
        while True:
            left = deadline - _now()
            if left <= 0:
                return 0
            ms = <int>ceil(left * 1000.0) if left * 1000.0 < POLL_SLICE_MS else POLL_SLICE_MS
            with nogil:
                r = poll(&p, 1, ms)
                err = errno
            if r > 0:
                return 1
            if r < 0 and err != EINTR:
                raise ChronyConnectionError(f"poll() on chronyd's socket failed: {os.strerror(err)}")
            PyErr_CheckSignals()  # raises KeyboardInterrupt & co.
            if self.close_requested:
                raise ChronyConnectionError("The session was closed while waiting for chronyd")

    cdef int _reopen(self) except -1:
        """Replace a broken socket (chronyd restarted) by a new one to the same address."""
        cdef chrony_err err
        self._release()
        fd, code = _open_socket(self.address)
        if fd < 0:
            raise _errors.open_error(self.address, code)
        self.fd = fd
        err = chrony_init_session(&self.session, fd)
        if err != CHRONY_OK:
            self.session = NULL
            self._release()
            raise _init_error(err)
        return 0

    cdef int _exchange(self, _ReportInfo info, bint count, int index) except -1:
        """Send a request and process replies until it is answered, resending on timeout."""
        cdef chrony_err err
        cdef int attempt = 0
        cdef bint reopened = False
        cdef double deadline
        while True:
            if count:
                err = chrony_request_report_number_records(self.session, info.name)
            else:
                err = chrony_request_record(self.session, info.name, index)
            if err != CHRONY_OK:
                if err == CHRONY_SEND_FAILED and not reopened:
                    self._reopen()  # raises "Cannot connect" when chronyd is still gone
                    reopened = True
                    continue
                raise _libchrony_error(err, errno, info.pyname, "requesting")
            deadline = _now() + self.timeout
            while chrony_needs_response(self.session):
                if not self._wait_readable(deadline):
                    break
                err = chrony_process_response(self.session)
                if err != CHRONY_OK:
                    if err == CHRONY_RECV_FAILED and not reopened:
                        break  # reopened below, then the request is sent again
                    raise _libchrony_error(err, errno, info.pyname, "receiving")
            else:
                return 0
            if err == CHRONY_RECV_FAILED and not reopened:
                self._reopen()
                reopened = True
                continue
            attempt += 1
            if attempt >= self.attempts:
                raise ChronyTimeoutError(
                    f"chronyd at {self.address} did not answer {info.pyname} within "
                    f"{self.timeout:g} s ({self.attempts} attempts)"
                )

    cdef str _request_address(self, int index):
        """Fetch sourcestats record ``index``: libchrony asks by its address."""
        self._exchange(_STATS, False, index)
        cdef int field = chrony_get_field_index(self.session, b"address")
        cdef const char *text = chrony_get_field_string(self.session, field)
        return _string(text) if text != NULL else _EMPTY

    cdef list _read_records(self, _ReportInfo info):
        cdef int count, index, nfields
        cdef list out = []
        request_address = _EMPTY
        self._exchange(info, True, 0)
        count = chrony_get_report_number_records(self.session)
        if not 0 <= count <= MAX_RECORDS:
            raise ChronyDataError(f"{info.pyname}: chronyd reported {count} records")
        for index in range(count):
            if info.by_address:
                request_address = self._request_address(index)
            self._exchange(info, False, index)
            nfields = chrony_get_record_number_fields(self.session)
            if nfields > 0:  # 0: no data (a refclock in ntpdata/authdata)
                out.append(_build(info, self.session, nfields, request_address))
        return out

    cdef object _read_one(self, _ReportInfo info):
        self._exchange(info, False, 0)
        cdef int nfields = chrony_get_record_number_fields(self.session)
        if nfields <= 0:
            raise ChronyDataError(f"{info.pyname}: chronyd sent an empty record")
        return _build(info, self.session, nfields, _EMPTY)


cdef dict _INFOS = {report.name: _ReportInfo(report) for report in REPORTS}
cdef _ReportInfo _STATS = _INFOS["sourcestats"]


# -- public API ------------------------------------------------------------------------

cdef tuple _open_socket(target):
    """(fd, code): code is a negative errno when fd < 0."""
    cdef bytes raw = target.encode() if target is not None else None
    cdef const char *address = NULL
    cdef int fd, err
    if raw is not None:
        address = raw
    with nogil:
        fd = chrony_open_socket(address)
        err = errno
    if fd >= 0:
        return fd, 0
    # libchrony returns -1 and sets errno; accept a negative errno too.
    return fd, (fd if fd < -1 else -(err or 1))


def _targets(address):
    """Addresses to try, in order: like _address.candidates(), existing sockets only."""
    out = []
    for endpoint in _address.candidates(address):
        if endpoint.is_unix:
            if address or os.path.exists(endpoint.path):
                out.append(endpoint.path)
        else:
            out.append(str(endpoint))
    return out


def open_session(address=None, timeout=1.0, attempts=3):
    """Open a libchrony session to chronyd at ``address`` (None: auto-detect).

    Auto-detection tries the default Unix sockets that exist, then UDP on
    127.0.0.1 and ::1 (chronyd answers monitoring commands there). ``timeout``
    bounds each wait for a reply (seconds), ``attempts`` the requests sent.
    """
    cdef NativeSession session
    cdef chrony_err err
    cdef int fd = -1
    if not (timeout > 0):
        raise ChronyError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if attempts < 1:
        raise ChronyError(f"attempts must be a positive integer, not {attempts!r}")
    first_error = None
    for target in _targets(address):
        fd, code = _open_socket(target)
        if fd >= 0:
            break
        if first_error is None:
            first_error = _errors.open_error(target, code)
    if fd < 0:
        raise first_error
    session = NativeSession.__new__(NativeSession)
    session.fd = fd
    session.address = target
    session.timeout = timeout
    session.attempts = attempts
    err = chrony_init_session(&session.session, fd)
    if err != CHRONY_OK:
        session.session = NULL
        session._release()
        raise _init_error(err)
    return session


cdef object _init_error(chrony_err err):
    return ChronyConnectionError(
        f"Failed to initialise a session with chronyd ({chrony_get_error_string(err).decode()})",
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
