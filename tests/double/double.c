/* pychrony's test double of libchrony: serves scripted records.
 *
 * chrony_open_socket(path) reads a scenario file written by
 * tests/double_scenario.py and hands out one end of a socketpair.  Every
 * request that is answered writes one byte to the other end, so the caller's
 * descriptor becomes readable exactly when a reply is "ready", as with a real
 * chronyd; chrony_process_response() then reads that byte and blocks until it
 * is there, like libchrony blocks in recv().  "never_readable" answers
 * nothing (timeouts), "drop N" ignores the first N requests (resends),
 * "mute N" answers the first N requests and no later one, "instant" keeps the
 * socket readable and never reads it (benchmarks of the conversion alone: no
 * I/O but one poll() per reply).  Every chrony_open_socket() of a path loads
 * the scenario afresh, so these counts are per socket (per session);
 * "max_sessions N" refuses (EMFILE) to open more than N sockets of one path
 * at once.
 *
 * The behaviour that pychrony relies on is the library's: single-record
 * reports have one record without asking the server; address-addressed
 * reports (ntpdata, authdata) first fetch the sourcestats record of the same
 * index and give an empty record when its address is unspecified (a
 * refclock); typed getters give 0, NaN, a zero timespec or NULL for a field of
 * another type; 16-bit signed fields come back zero-extended.
 *
 * Scenario file, one item per line, tab-separated:
 *   pychrony-double  1
 *   option  never_readable | drop N | mute N | instant | max_sessions N
 *   error   OPERATION[:REPORT]  CODE      (open, init, request, response)
 *   report  NAME  NRECORDS  FLAGS          (FLAGS: "-" or "multi,address,disabled")
 *   record  CODE  NFIELDS                  (fields of the last report)
 *   field   NAME  TYPE  CONTENT  VALUE     (TYPE: u64 u32 u16 u8 i16 i8 float ts addr)
 * VALUE: decimal integers, a strtod() float (hex, nan, inf), "SEC NSEC" for ts,
 * "-" (unspecified) or "=TEXT" for addr.
 */
#include "chrony.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DOUBLE_VERSION 1
#define MAX_REPORTS 16	/* more than libchrony's ten reports */
#define MAX_ERRORS 32	/* injected errors per scenario */

enum dtype { DT_NONE, DT_U64, DT_U32, DT_U16, DT_U8, DT_I16, DT_I8, DT_FLOAT, DT_TS, DT_ADDR };

typedef struct {
	char *name;
	enum dtype type;
	int content;
	uint64_t u;
	int64_t i;
	double f;
	struct timespec ts;
	char *str;	/* NULL: unspecified address */
} dfield;

typedef struct {
	int code;
	int nfields;
	dfield *fields;
} drecord;

typedef struct {
	char *name;
	int multi;	/* records counted by asking chronyd */
	int by_address;
	int disabled;
	int nrecords;
	drecord *records;
} dreport;

typedef struct {
	char key[64];	/* "request" or "request:tracking" */
	int code;
} derror;

typedef struct dscenario {
	char *path;
	int fd, peer;
	int never_readable;
	int instant;
	int drop;
	int mute;	/* requests answered before going silent; -1: no limit */
	int max_sessions;	/* 0: no limit */
	int nreports;
	dreport reports[MAX_REPORTS];
	int nerrors;
	derror errors[MAX_ERRORS];
	struct dscenario *next;
} dscenario;

enum state { ST_IDLE, ST_PENDING, ST_ACCEPTED };

struct chrony_session_t {
	dscenario *sc;
	enum state state;
	/* The request waiting for its reply. */
	const dreport *pend_report;
	int pend_count;
	int pend_index;
	const char *follow;	/* report to request once the sourcestats reply is in */
	/* The current record (after a record reply). */
	const dreport *cur_report;
	const drecord *cur;
	int cur_index;
	int num_records;
};

static const char *report_names[] = {
	"tracking", "sources", "sourcestats", "selectdata", "activity",
	"authdata", "ntpdata", "serverstats", "rtcdata", "smoothing",
};

static const drecord empty_record = { 0, 0, NULL };

static pthread_mutex_t scenarios_lock = PTHREAD_MUTEX_INITIALIZER;
static dscenario *scenarios;

int pychrony_double_version(void) {
	return DOUBLE_VERSION;
}

/* -- scenario files --------------------------------------------------------- */

static void free_scenario(dscenario *sc) {
	int r, i, f;

	for (r = 0; r < sc->nreports; r++) {
		dreport *rep = &sc->reports[r];

		for (i = 0; i < rep->nrecords; i++) {
			for (f = 0; f < rep->records[i].nfields; f++) {
				free(rep->records[i].fields[f].name);
				free(rep->records[i].fields[f].str);
			}
			free(rep->records[i].fields);
		}
		free(rep->records);
		free(rep->name);
	}
	free(sc->path);
	free(sc);
}

static enum dtype parse_type(const char *text) {
	static const struct { const char *name; enum dtype type; } types[] = {
		{ "u64", DT_U64 }, { "u32", DT_U32 }, { "u16", DT_U16 }, { "u8", DT_U8 },
		{ "i16", DT_I16 }, { "i8", DT_I8 }, { "float", DT_FLOAT }, { "ts", DT_TS },
		{ "addr", DT_ADDR },
	};
	size_t i;

	for (i = 0; i < sizeof (types) / sizeof (types[0]); i++)
		if (strcmp(text, types[i].name) == 0)
			return types[i].type;
	return DT_NONE;
}

/* Mask an unsigned value to its wire width, as it would arrive from chronyd. */
static uint64_t wire_mask(enum dtype type, uint64_t value) {
	switch (type) {
	case DT_U32: return value & 0xffffffffu;
	case DT_U16: return value & 0xffffu;
	case DT_U8: return value & 0xffu;
	default: return value;
	}
}

static int parse_field(dfield *f, char **cols, int ncols) {
	if (ncols != 5)
		return 0;
	f->name = strdup(cols[1]);
	f->type = parse_type(cols[2]);
	f->content = atoi(cols[3]);
	if (!f->name || f->type == DT_NONE)
		return 0;
	switch (f->type) {
	case DT_U64: case DT_U32: case DT_U16: case DT_U8:
		f->u = wire_mask(f->type, strtoull(cols[4], NULL, 10));
		break;
	case DT_I16: case DT_I8:
		f->i = strtoll(cols[4], NULL, 10);
		break;
	case DT_FLOAT:
		f->f = strtod(cols[4], NULL);
		break;
	case DT_TS: {
		long long sec = 0;
		long nsec = 0;

		if (sscanf(cols[4], "%lld %ld", &sec, &nsec) != 2)
			return 0;
		f->ts.tv_sec = (time_t)sec;
		f->ts.tv_nsec = nsec;
		break;
	}
	case DT_ADDR:
		if (cols[4][0] == '=') {
			f->str = strdup(cols[4] + 1);
			if (!f->str)
				return 0;
		} else if (strcmp(cols[4], "-") != 0) {
			return 0;
		}
		break;
	default:
		return 0;
	}
	return 1;
}

/* Split ``line`` in place at tabs; returns the number of columns. */
static int split(char *line, char **cols, int max) {
	int n = 0;

	cols[n++] = line;
	for (; *line && n < max; line++) {
		if (*line == '\t') {
			*line = '\0';
			cols[n++] = line + 1;
		}
	}
	return n;
}

static int parse_line(dscenario *sc, char *line, dreport **rep, drecord **rec, int *nf) {
	char *cols[8];
	int n = split(line, cols, 8);

	if (cols[0][0] == '\0' || cols[0][0] == '#')
		return 1;
	if (strcmp(cols[0], "pychrony-double") == 0)
		return n == 2 && atoi(cols[1]) == DOUBLE_VERSION;
	if (strcmp(cols[0], "option") == 0) {
		if (n == 2 && strcmp(cols[1], "never_readable") == 0)
			sc->never_readable = 1;
		else if (n == 2 && strcmp(cols[1], "instant") == 0)
			sc->instant = 1;
		else if (n == 3 && strcmp(cols[1], "drop") == 0)
			sc->drop = atoi(cols[2]);
		else if (n == 3 && strcmp(cols[1], "mute") == 0)
			sc->mute = atoi(cols[2]);
		else if (n == 3 && strcmp(cols[1], "max_sessions") == 0)
			sc->max_sessions = atoi(cols[2]);
		else
			return 0;
		return 1;
	}
	if (strcmp(cols[0], "error") == 0) {
		if (n != 3 || sc->nerrors >= MAX_ERRORS || strlen(cols[1]) >= sizeof (sc->errors[0].key))
			return 0;
		strcpy(sc->errors[sc->nerrors].key, cols[1]);
		sc->errors[sc->nerrors++].code = atoi(cols[2]);
		return 1;
	}
	if (strcmp(cols[0], "report") == 0) {
		if (n != 4 || sc->nreports >= MAX_REPORTS)
			return 0;
		*rep = &sc->reports[sc->nreports++];
		(*rep)->name = strdup(cols[1]);
		(*rep)->nrecords = 0;
		(*rep)->multi = strstr(cols[3], "multi") != NULL;
		(*rep)->by_address = strstr(cols[3], "address") != NULL;
		(*rep)->disabled = strstr(cols[3], "disabled") != NULL;
		(*rep)->records = calloc(atoi(cols[2]) + 1, sizeof (drecord));
		*rec = NULL;
		return (*rep)->name && (*rep)->records;
	}
	if (strcmp(cols[0], "record") == 0) {
		if (n != 3 || !*rep)
			return 0;
		*rec = &(*rep)->records[(*rep)->nrecords++];
		(*rec)->code = atoi(cols[1]);
		(*rec)->nfields = 0;
		*nf = atoi(cols[2]);
		(*rec)->fields = calloc(*nf + 1, sizeof (dfield));
		return (*rec)->fields != NULL;
	}
	if (strcmp(cols[0], "field") == 0) {
		if (!*rec || (*rec)->nfields >= *nf)
			return 0;
		return parse_field(&(*rec)->fields[(*rec)->nfields++], cols, n);
	}
	return 0;
}

static dscenario *load_scenario(const char *path) {
	dreport *rep = NULL;
	drecord *rec = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int nf = 0, ok = 1;
	dscenario *sc;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return NULL;
	sc = calloc(1, sizeof (*sc));
	if (!sc || !(sc->path = strdup(path))) {
		free(sc);
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	sc->mute = -1;
	while (ok && (len = getline(&line, &cap, f)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		ok = parse_line(sc, line, &rep, &rec, &nf);
	}
	free(line);
	fclose(f);
	if (!ok) {
		free_scenario(sc);
		errno = EINVAL;
		return NULL;
	}
	return sc;
}

/* Injected error for ``operation`` on ``report`` (scoped key first), or 0. */
static int injected(const dscenario *sc, const char *operation, const char *report) {
	char key[64];
	int i;

	snprintf(key, sizeof (key), "%s:%s", operation, report ? report : "");
	for (i = 0; report && i < sc->nerrors; i++)
		if (strcmp(sc->errors[i].key, key) == 0)
			return sc->errors[i].code;
	for (i = 0; i < sc->nerrors; i++)
		if (strcmp(sc->errors[i].key, operation) == 0)
			return sc->errors[i].code;
	return 0;
}

/* -- sockets ----------------------------------------------------------------- */

/* Sockets of scenario ``path`` open now. */
static int open_sessions(const char *path) {
	const dscenario *sc;
	int n = 0;

	pthread_mutex_lock(&scenarios_lock);
	for (sc = scenarios; sc; sc = sc->next)
		n += strcmp(sc->path, path) == 0;
	pthread_mutex_unlock(&scenarios_lock);
	return n;
}

int chrony_open_socket(const char *address) {
	int pair[2], code;
	dscenario *sc;

	if (!address || address[0] != '/') {
		/* Nothing listens anywhere but in scenario files. */
		errno = ECONNREFUSED;
		return -1;
	}
	sc = load_scenario(address);
	if (!sc)
		return -1;
	code = injected(sc, "open", NULL);
	if (code) {
		free_scenario(sc);
		errno = code < 0 ? -code : code;
		return -1;
	}
	if (sc->max_sessions > 0 && open_sessions(address) >= sc->max_sessions) {
		free_scenario(sc);
		errno = EMFILE;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) < 0) {
		free_scenario(sc);
		return -1;
	}
	sc->fd = pair[0];
	sc->peer = pair[1];
	if (sc->instant && send(sc->peer, "", 1, 0) != 1) {
		close(pair[0]);
		close(pair[1]);
		free_scenario(sc);
		return -1;
	}
	pthread_mutex_lock(&scenarios_lock);
	sc->next = scenarios;
	scenarios = sc;
	pthread_mutex_unlock(&scenarios_lock);
	return sc->fd;
}

static dscenario *find_scenario(int fd, int unlink_it) {
	dscenario **p, *sc = NULL;

	pthread_mutex_lock(&scenarios_lock);
	for (p = &scenarios; *p; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			sc = *p;
			if (unlink_it)
				*p = sc->next;
			break;
		}
	}
	pthread_mutex_unlock(&scenarios_lock);
	return sc;
}

void chrony_close_socket(int fd) {
	dscenario *sc = find_scenario(fd, 1);

	if (sc) {
		close(sc->peer);
		free_scenario(sc);
	}
	close(fd);
}

const char *chrony_get_error_string(chrony_err e) {
	static const char *text[] = {
		"success", "out of memory", "no random source", "unknown report",
		"random source failed", "send failed", "receive failed",
		"invalid argument", "unexpected call", "unauthorized", "disabled",
		"unexpected status", "server too old", "server too new",
		"invalid response",
	};

	if ((int)e < 0 || (size_t)e >= sizeof (text) / sizeof (text[0]))
		return "unknown error";
	return text[e];
}

/* -- sessions ---------------------------------------------------------------- */

chrony_err chrony_init_session(chrony_session **s, int fd) {
	dscenario *sc = find_scenario(fd, 0);
	int code;

	if (!sc)
		return CHRONY_INVALID_ARGUMENT;
	code = injected(sc, "init", NULL);
	if (code)
		return (chrony_err)code;
	*s = calloc(1, sizeof (**s));
	if (!*s)
		return CHRONY_NO_MEMORY;
	(*s)->sc = sc;
	(*s)->state = ST_IDLE;
	(*s)->cur = &empty_record;
	return CHRONY_OK;
}

void chrony_deinit_session(chrony_session *s) {
	free(s);
}

int chrony_get_fd(chrony_session *s) {
	return s->sc->fd;
}

bool chrony_needs_response(chrony_session *s) {
	return s->state == ST_PENDING;
}

static const dreport *find_report(const dscenario *sc, const char *name) {
	int i;

	for (i = 0; name && i < sc->nreports; i++)
		if (strcmp(sc->reports[i].name, name) == 0)
			return &sc->reports[i];
	return NULL;
}

/* "Send" a request: the reply becomes readable unless it is to be lost. */
static chrony_err send_request(chrony_session *s, const dreport *rep, int count, int index) {
	dscenario *sc = s->sc;
	int code = injected(sc, "request", rep->name);
	char byte = 1;

	if (code) {
		s->state = ST_IDLE;
		return (chrony_err)code;
	}
	s->pend_report = rep;
	s->pend_count = count;
	s->pend_index = index;
	s->state = ST_PENDING;
	if (sc->drop > 0) {
		sc->drop--;
		return CHRONY_OK;
	}
	if (sc->mute == 0)
		return CHRONY_OK;
	if (sc->mute > 0)
		sc->mute--;
	if (sc->never_readable || sc->instant)
		return CHRONY_OK;
	if (send(sc->peer, &byte, 1, 0) != 1) {
		s->state = ST_IDLE;
		return CHRONY_SEND_FAILED;
	}
	return CHRONY_OK;
}

int chrony_get_number_supported_reports(void) {
	return (int)(sizeof (report_names) / sizeof (report_names[0]));
}

const char *chrony_get_report_name(int report) {
	if (report < 0 || report >= chrony_get_number_supported_reports())
		return NULL;
	return report_names[report];
}

chrony_err chrony_request_report_number_records(chrony_session *s, const char *report_name) {
	const dreport *rep = find_report(s->sc, report_name);

	if (!rep)
		return CHRONY_UNKNOWN_REPORT;
	if (!rep->multi) {
		s->num_records = 1;	/* known without asking */
		return CHRONY_OK;
	}
	s->num_records = 0;
	s->follow = NULL;
	return send_request(s, rep, 1, 0);
}

int chrony_get_report_number_records(chrony_session *s) {
	return s->num_records;
}

chrony_err chrony_request_record(chrony_session *s, const char *report_name, int record) {
	const dreport *rep = find_report(s->sc, report_name);
	const dreport *stats;

	s->follow = NULL;
	if (!rep)
		return CHRONY_UNKNOWN_REPORT;
	if (!rep->multi && record != 0)
		return CHRONY_INVALID_ARGUMENT;
	if (rep->by_address) {
		stats = find_report(s->sc, "sourcestats");
		if (!stats)
			return CHRONY_UNKNOWN_REPORT;
		if (s->state != ST_ACCEPTED || s->cur_report != stats || s->cur_index != record) {
			/* Ask for the address first, then follow with this report. */
			chrony_err r = send_request(s, stats, 0, record);

			if (r == CHRONY_OK)
				s->follow = rep->name;
			return r;
		}
		if (s->cur->nfields < 2 || s->cur->fields[1].type != DT_ADDR ||
		    !s->cur->fields[1].str) {
			/* A refclock: no address to ask by, an empty record. */
			s->cur_report = rep;
			s->cur = &empty_record;
			return CHRONY_OK;
		}
	}
	return send_request(s, rep, 0, record);
}

chrony_err chrony_process_response(chrony_session *s) {
	const dreport *rep = s->pend_report;
	const char *follow;
	char byte;
	int code;

	if (s->state != ST_PENDING)
		return CHRONY_UNEXPECTED_CALL;
	/* Blocks until the reply is "there", like recv() in libchrony. */
	if (!s->sc->instant && recv(s->sc->fd, &byte, 1, 0) < 0)
		return CHRONY_RECV_FAILED;
	s->state = ST_IDLE;
	code = injected(s->sc, "response", rep->name);
	if (code)
		return (chrony_err)code;
	if (s->pend_count) {
		s->num_records = rep->nrecords;
	} else {
		if (rep->disabled)
			return CHRONY_DISABLED;
		if (s->pend_index < 0 || s->pend_index >= rep->nrecords)
			return CHRONY_UNEXPECTED_STATUS;	/* chronyd: no such source */
		s->cur_report = rep;
		s->cur = &rep->records[s->pend_index];
		s->cur_index = s->pend_index;
	}
	s->state = ST_ACCEPTED;
	follow = s->follow;
	s->follow = NULL;
	if (follow)
		return chrony_request_record(s, follow, s->cur_index);
	return CHRONY_OK;
}

/* -- fields of the current record ---------------------------------------------- */

static const dfield *get(chrony_session *s, int field) {
	if (field < 0 || field >= s->cur->nfields)
		return NULL;
	return &s->cur->fields[field];
}

int chrony_get_record_number_fields(chrony_session *s) {
	return s->cur->nfields;
}

const char *chrony_get_field_name(chrony_session *s, int field) {
	const dfield *f = get(s, field);

	return f ? f->name : NULL;
}

int chrony_get_field_index(chrony_session *s, const char *name) {
	int i;

	for (i = 0; i < s->cur->nfields; i++)
		if (strcmp(s->cur->fields[i].name, name) == 0)
			return i;
	return -1;
}

chrony_field_type chrony_get_field_type(chrony_session *s, int field) {
	const dfield *f = get(s, field);

	if (!f)
		return CHRONY_TYPE_NONE;
	switch (f->type) {
	case DT_U64: case DT_U32: case DT_U16: case DT_U8: return CHRONY_TYPE_UINTEGER;
	case DT_I16: case DT_I8: return CHRONY_TYPE_INTEGER;
	case DT_FLOAT: return CHRONY_TYPE_FLOAT;
	case DT_TS: return CHRONY_TYPE_TIMESPEC;
	case DT_ADDR: return CHRONY_TYPE_STRING;
	default: return CHRONY_TYPE_NONE;
	}
}

chrony_field_content chrony_get_field_content(chrony_session *s, int field) {
	const dfield *f = get(s, field);

	if (!f || (f->type == DT_ADDR && !f->str))
		return CHRONY_CONTENT_NONE;
	return (chrony_field_content)f->content;
}

uint64_t chrony_get_field_uinteger(chrony_session *s, int field) {
	const dfield *f = get(s, field);

	if (!f)
		return 0;
	switch (f->type) {
	case DT_U64: case DT_U32: case DT_U16: case DT_U8: return f->u;
	default: return 0;
	}
}

int64_t chrony_get_field_integer(chrony_session *s, int field) {
	const dfield *f = get(s, field);

	if (!f)
		return 0;
	switch (f->type) {
	case DT_I16: return (uint16_t)f->i;	/* zero-extended, as libchrony does */
	case DT_I8: return (int8_t)f->i;
	default: return 0;
	}
}

double chrony_get_field_float(chrony_session *s, int field) {
	const dfield *f = get(s, field);

	return f && f->type == DT_FLOAT ? f->f : NAN;
}

struct timespec chrony_get_field_timespec(chrony_session *s, int field) {
	const dfield *f = get(s, field);
	struct timespec zero = { 0, 0 };

	return f && f->type == DT_TS ? f->ts : zero;
}

const char *chrony_get_field_string(chrony_session *s, int field) {
	const dfield *f = get(s, field);

	return f && f->type == DT_ADDR ? f->str : NULL;
}

const char *chrony_get_field_constant_name(chrony_session *s, int field, uint64_t value) {
	(void)s;
	(void)field;
	(void)value;
	return NULL;	/* the double knows no constant names */
}
