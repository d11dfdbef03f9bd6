# cython: language_level=3
"""libchrony's public C API (``chrony.h``), for ``_reader_c.pyx``.

Declared from the header's documented interface; every function is safe to
call without the GIL (none of them calls back into Python).
"""

from libc.stdint cimport int64_t, uint64_t
from posix.time cimport timespec


cdef extern from "chrony.h" nogil:
    ctypedef enum chrony_err:
        CHRONY_OK
        CHRONY_NO_MEMORY
        CHRONY_NO_RANDOM
        CHRONY_UNKNOWN_REPORT
        CHRONY_RANDOM_FAILED
        CHRONY_SEND_FAILED
        CHRONY_RECV_FAILED
        CHRONY_INVALID_ARGUMENT
        CHRONY_UNEXPECTED_CALL
        CHRONY_UNAUTHORIZED
        CHRONY_DISABLED
        CHRONY_UNEXPECTED_STATUS
        CHRONY_OLD_SERVER
        CHRONY_NEW_SERVER
        CHRONY_INVALID_RESPONSE

    ctypedef enum chrony_field_type:
        CHRONY_TYPE_NONE
        CHRONY_TYPE_UINTEGER
        CHRONY_TYPE_INTEGER
        CHRONY_TYPE_FLOAT
        CHRONY_TYPE_TIMESPEC
        CHRONY_TYPE_STRING

    ctypedef enum chrony_field_content:
        CHRONY_CONTENT_NONE
        CHRONY_CONTENT_COUNT
        CHRONY_CONTENT_TIME
        CHRONY_CONTENT_INTERVAL_LOG2_SECONDS
        CHRONY_CONTENT_INTERVAL_SECONDS
        CHRONY_CONTENT_OFFSET_SECONDS
        CHRONY_CONTENT_MEASURE_SECONDS
        CHRONY_CONTENT_OFFSET_PPM
        CHRONY_CONTENT_MEASURE_PPM
        CHRONY_CONTENT_OFFSET_PPM_PER_SECOND
        CHRONY_CONTENT_RATIO
        CHRONY_CONTENT_REFERENCE_ID
        CHRONY_CONTENT_ENUM
        CHRONY_CONTENT_BITS
        CHRONY_CONTENT_FLAGS
        CHRONY_CONTENT_ADDRESS
        CHRONY_CONTENT_PORT
        CHRONY_CONTENT_INDEX
        CHRONY_CONTENT_LENGTH_BITS
        CHRONY_CONTENT_LENGTH_BYTES
        CHRONY_CONTENT_BOOLEAN

    ctypedef struct chrony_session:
        pass

    # Sockets: a descriptor, or a negative value with errno set.
    int chrony_open_socket(const char *address)
    void chrony_close_socket(int fd)

    const char *chrony_get_error_string(chrony_err e)

    # Sessions.
    chrony_err chrony_init_session(chrony_session **s, int fd)
    void chrony_deinit_session(chrony_session *s)
    int chrony_get_fd(chrony_session *s)
    bint chrony_needs_response(chrony_session *s)
    chrony_err chrony_process_response(chrony_session *s)  # blocks in recv()

    # Reports and records.
    int chrony_get_number_supported_reports()
    const char *chrony_get_report_name(int report)
    chrony_err chrony_request_report_number_records(chrony_session *s, const char *report_name)
    int chrony_get_report_number_records(chrony_session *s)
    chrony_err chrony_request_record(chrony_session *s, const char *report_name, int record)

    # Fields of the current record.
    int chrony_get_record_number_fields(chrony_session *s)
    const char *chrony_get_field_name(chrony_session *s, int field)
    int chrony_get_field_index(chrony_session *s, const char *name)
    chrony_field_type chrony_get_field_type(chrony_session *s, int field)
    chrony_field_content chrony_get_field_content(chrony_session *s, int field)
    uint64_t chrony_get_field_uinteger(chrony_session *s, int field)
    int64_t chrony_get_field_integer(chrony_session *s, int field)
    double chrony_get_field_float(chrony_session *s, int field)
    timespec chrony_get_field_timespec(chrony_session *s, int field)
    const char *chrony_get_field_string(chrony_session *s, int field)
    const char *chrony_get_field_constant_name(chrony_session *s, int field, uint64_t value)
