/* pychrony's test double of the libchrony client API.
 *
 * This header is pychrony's own: it declares the same functions and
 * enumerations as libchrony's public header (names, values and signatures are
 * the interface the extension is compiled against) so that
 * pychrony/_reader_c.pyx can be built and tested without libchrony.  The
 * implementation in double.c serves scripted records instead of talking to
 * chronyd.  pychrony_double_version() exists only here: tests use it to tell
 * the double from the real library.
 */
#ifndef PYCHRONY_DOUBLE_CHRONY_H
#define PYCHRONY_DOUBLE_CHRONY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	CHRONY_OK = 0,
	CHRONY_NO_MEMORY = 1,
	CHRONY_NO_RANDOM = 2,
	CHRONY_UNKNOWN_REPORT = 3,
	CHRONY_RANDOM_FAILED = 4,
	CHRONY_SEND_FAILED = 5,
	CHRONY_RECV_FAILED = 6,
	CHRONY_INVALID_ARGUMENT = 7,
	CHRONY_UNEXPECTED_CALL = 8,
	CHRONY_UNAUTHORIZED = 9,
	CHRONY_DISABLED = 10,
	CHRONY_UNEXPECTED_STATUS = 11,
	CHRONY_OLD_SERVER = 12,
	CHRONY_NEW_SERVER = 13,
	CHRONY_INVALID_RESPONSE = 14,
} chrony_err;

typedef enum {
	CHRONY_TYPE_NONE = 0,
	CHRONY_TYPE_UINTEGER = 1,
	CHRONY_TYPE_INTEGER = 2,
	CHRONY_TYPE_FLOAT = 3,
	CHRONY_TYPE_TIMESPEC = 4,
	CHRONY_TYPE_STRING = 5,
} chrony_field_type;

typedef enum {
	CHRONY_CONTENT_NONE = 0,
	CHRONY_CONTENT_COUNT = 1,
	CHRONY_CONTENT_TIME = 2,
	CHRONY_CONTENT_INTERVAL_LOG2_SECONDS = 3,
	CHRONY_CONTENT_INTERVAL_SECONDS = 4,
	CHRONY_CONTENT_OFFSET_SECONDS = 5,
	CHRONY_CONTENT_MEASURE_SECONDS = 6,
	CHRONY_CONTENT_OFFSET_PPM = 7,
	CHRONY_CONTENT_MEASURE_PPM = 8,
	CHRONY_CONTENT_OFFSET_PPM_PER_SECOND = 9,
	CHRONY_CONTENT_RATIO = 10,
	CHRONY_CONTENT_REFERENCE_ID = 11,
	CHRONY_CONTENT_ENUM = 12,
	CHRONY_CONTENT_BITS = 13,
	CHRONY_CONTENT_FLAGS = 14,
	CHRONY_CONTENT_ADDRESS = 15,
	CHRONY_CONTENT_PORT = 16,
	CHRONY_CONTENT_INDEX = 17,
	CHRONY_CONTENT_LENGTH_BITS = 18,
	CHRONY_CONTENT_LENGTH_BYTES = 19,
	CHRONY_CONTENT_BOOLEAN = 20,
} chrony_field_content;

typedef struct chrony_session_t chrony_session;

/* Sockets: a file descriptor, or a negative value with errno set. */
int chrony_open_socket(const char *address);
void chrony_close_socket(int fd);

const char *chrony_get_error_string(chrony_err e);

/* Sessions over an open socket. */
chrony_err chrony_init_session(chrony_session **s, int fd);
void chrony_deinit_session(chrony_session *s);
int chrony_get_fd(chrony_session *s);
bool chrony_needs_response(chrony_session *s);
chrony_err chrony_process_response(chrony_session *s);

/* Reports and their records. */
int chrony_get_number_supported_reports(void);
const char *chrony_get_report_name(int report);
chrony_err chrony_request_report_number_records(chrony_session *s, const char *report_name);
int chrony_get_report_number_records(chrony_session *s);
chrony_err chrony_request_record(chrony_session *s, const char *report_name, int record);

/* Fields of the current record. */
int chrony_get_record_number_fields(chrony_session *s);
const char *chrony_get_field_name(chrony_session *s, int field);
int chrony_get_field_index(chrony_session *s, const char *name);
chrony_field_type chrony_get_field_type(chrony_session *s, int field);
chrony_field_content chrony_get_field_content(chrony_session *s, int field);
uint64_t chrony_get_field_uinteger(chrony_session *s, int field);
int64_t chrony_get_field_integer(chrony_session *s, int field);
double chrony_get_field_float(chrony_session *s, int field);
struct timespec chrony_get_field_timespec(chrony_session *s, int field);
const char *chrony_get_field_string(chrony_session *s, int field);
const char *chrony_get_field_constant_name(chrony_session *s, int field, uint64_t value);

/* Only in the double: its scenario format version (absent from libchrony). */
int pychrony_double_version(void);

#ifdef __cplusplus
}
#endif

#endif
