/*
 * wire_floor: the "wire floor" of pychrony's benchmarks.
 *
 * Sends pre-encoded chrony command requests (candm.h, protocol version 6) to
 * chronyd over a Unix datagram socket or UDP and receives the replies, checking
 * only what a client must (packet type, sequence, command, reply code, status)
 * and reading one field, the record count. No other decoding: what is left is
 * the cost of the round trips themselves, the floor under any client.
 *
 * Each operation makes the exchanges a libchrony-style client makes:
 *   tracking     one REQ_TRACKING
 *   sources      REQ_N_SOURCES, then REQ_SOURCE_DATA for records 0..n-1
 *   sourcestats  REQ_N_SOURCES, then REQ_SOURCESTATS for records 0..n-1
 *   snapshot     tracking + sources + sourcestats
 * With --window W (default 1) up to W record requests are in flight at once,
 * matched by sequence number (pychrony's Python backend pipelines with 8).
 *
 * Two ways to run it:
 *   wire_floor --unix PATH --op tracking --iterations 10000 [--json]
 *       per-iteration timing statistics (min, median, p90, p99, max, mean, µs);
 *   wire_floor --unix PATH --serve
 *       line protocol on stdin/stdout for benchmarks/peers.py: "run OP N" runs N
 *       iterations and prints {"ok":true,"ns":TOTAL,...}; "rss" prints the peak
 *       (VmHWM) and current (VmRSS) resident set in KiB; "quit" exits;
 *   wire_floor --rss-of CMD [ARG]...
 *       runs CMD and prints its peak resident set (ru_maxrss of the child) in KiB:
 *       forked from this small process, so the figure is not inflated by a large
 *       parent's pages (Linux keeps the pre-exec peak), only by our ~2 MiB.
 * --udp HOST:PORT replaces --unix (chronyd answers only its open commands there).
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -o wire_floor benchmarks/wire_floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* candm.h: protocol version, packet types, request and reply codes. */
enum { PROTO_VERSION = 6, PKT_TYPE_REQUEST = 1, PKT_TYPE_REPLY = 2, STT_SUCCESS = 0 };
enum { REQ_N_SOURCES = 14, REQ_SOURCE_DATA = 15, REQ_TRACKING = 33, REQ_SOURCESTATS = 34 };
enum { RPY_N_SOURCES = 2, RPY_SOURCE_DATA = 3, RPY_TRACKING = 5, RPY_SOURCESTATS = 6 };

/* Request header: version, pkt_type, res1, res2, command (u16), attempt (u16),
 * sequence (u32), pad1, pad2 (u32): 20 bytes, then the command's data. */
enum { REQ_COMMAND = 4, REQ_ATTEMPT = 6, REQ_SEQUENCE = 8, REQ_DATA = 20 };
/* Reply header: version, pkt_type, res1, res2, command, reply, status, pad1..3
 * (u16), sequence (u32), pad4, pad5 (u32): 28 bytes, then the reply's data. */
enum { RPY_COMMAND = 4, RPY_REPLY = 6, RPY_STATUS = 8, RPY_SEQUENCE = 16, RPY_DATA = 28 };

/* chronyd answers only requests at least as long as their reply (no traffic
 * amplification), so each request is zero-padded to its reply's length: the
 * 28-byte reply header plus the reply's fields up to their EOR marker. */
enum {
    LEN_N_SOURCES = 32,   /* header + n_sources (u32) */
    LEN_SOURCE_DATA = 76, /* header + RPY_Source_Data (48 bytes) */
    LEN_TRACKING = 104,   /* header + RPY_Tracking (76 bytes) */
    LEN_SOURCESTATS = 84, /* header + RPY_Sourcestats (56 bytes) */
    LEN_MAX = 104,
};

enum { RECV_SIZE = 2048, MAX_WINDOW = 9, ATTEMPTS = 3, TIMEOUT_MS = 1000 };

typedef struct {
    uint16_t command, reply, length;
} Kind;

static const Kind K_COUNT = {REQ_N_SOURCES, RPY_N_SOURCES, LEN_N_SOURCES};
static const Kind K_SOURCES = {REQ_SOURCE_DATA, RPY_SOURCE_DATA, LEN_SOURCE_DATA};
static const Kind K_STATS = {REQ_SOURCESTATS, RPY_SOURCESTATS, LEN_SOURCESTATS};
static const Kind K_TRACKING = {REQ_TRACKING, RPY_TRACKING, LEN_TRACKING};

typedef struct {
    uint8_t packet[LEN_MAX];
    uint16_t length, reply;
    uint32_t sequence;
    unsigned attempt;
    bool busy;
} Slot;

static int sock_fd = -1;
static uint32_t next_sequence;
static int window = 1;
static char client_dir[64], client_path[128];
static char error_text[256];

static void cleanup(void)
{
    if (client_path[0])
        unlink(client_path);
    if (client_dir[0])
        rmdir(client_dir);
}

static void on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int fail(const char *what)
{
    snprintf(error_text, sizeof(error_text), "%s: %s", what, strerror(errno));
    return -1;
}

/* Connect to chronyd's Unix socket from our own socket bound in a private
 * directory, as chronyc does (chronyd sends its replies to that address). */
static int open_unix(const char *server)
{
    struct sockaddr_un local = {.sun_family = AF_UNIX}, remote = {.sun_family = AF_UNIX};
    const char *tmp = getenv("TMPDIR");

    if (strlen(server) >= sizeof(remote.sun_path)) {
        errno = ENAMETOOLONG;
        return fail("server socket path");
    }
    strcpy(remote.sun_path, server);
    snprintf(client_dir, sizeof(client_dir), "%s/wire-floor.XXXXXX",
             tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(client_dir)) {
        client_dir[0] = '\0';
        return fail("mkdtemp");
    }
    /* chronyd may run as another user: let it reach the socket, like chronyc. */
    if (chmod(client_dir, 0711) < 0)
        return fail("chmod");
    snprintf(client_path, sizeof(client_path), "%s/sock", client_dir);
    strcpy(local.sun_path, client_path);
    sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock_fd < 0)
        return fail("socket");
    if (bind(sock_fd, (struct sockaddr *)&local, sizeof(local)) < 0)
        return fail("bind");
    if (chmod(client_path, 0666) < 0)
        return fail("chmod");
    if (connect(sock_fd, (struct sockaddr *)&remote, sizeof(remote)) < 0)
        return fail("connect");
    return 0;
}

static int open_udp(const char *address)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *found;
    size_t n;

    if (!colon || (n = (size_t)(colon - address)) >= sizeof(host)) {
        snprintf(error_text, sizeof(error_text), "--udp wants HOST:PORT, not %s", address);
        return -1;
    }
    memcpy(host, address, n);
    host[n] = '\0';
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') { /* [IPv6]:port */
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (getaddrinfo(host, colon + 1, &hints, &found) != 0) {
        snprintf(error_text, sizeof(error_text), "cannot resolve %s", address);
        return -1;
    }
    sock_fd = socket(found->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock_fd < 0 || connect(sock_fd, found->ai_addr, found->ai_addrlen) < 0) {
        freeaddrinfo(found);
        return fail("udp socket");
    }
    freeaddrinfo(found);
    return 0;
}

static void prepare(Slot *slot, Kind kind, bool indexed, uint32_t index)
{
    memset(slot->packet, 0, kind.length);
    slot->packet[0] = PROTO_VERSION;
    slot->packet[1] = PKT_TYPE_REQUEST;
    put16(slot->packet + REQ_COMMAND, kind.command);
    if (indexed)
        put32(slot->packet + REQ_DATA, index);
    slot->length = kind.length;
    slot->reply = kind.reply;
    slot->attempt = 0;
}

static int send_slot(Slot *slot)
{
    slot->sequence = next_sequence++;
    put16(slot->packet + REQ_ATTEMPT, (uint16_t)slot->attempt);
    put32(slot->packet + REQ_SEQUENCE, slot->sequence);
    if (send(sock_fd, slot->packet, slot->length, 0) != (ssize_t)slot->length)
        return fail("send");
    slot->busy = true;
    return 0;
}

/* Exchange the requests for records first..first+count-1 of kind (or one
 * unindexed request when indexed is false), window requests in flight. The
 * reply to the first request is copied into first_reply when it is not NULL. */
static int exchange(Kind kind, bool indexed, uint32_t count, uint8_t *first_reply)
{
    Slot slots[MAX_WINDOW];
    uint8_t buf[RECV_SIZE];
    uint32_t next = 0, done = 0;
    int in_flight = 0, w = indexed ? window : 1;

    memset(slots, 0, sizeof(slots));
    while (done < count) {
        for (int i = 0; i < w && next < count; i++) {
            if (slots[i].busy)
                continue;
            prepare(&slots[i], kind, indexed, next);
            if (send_slot(&slots[i]) < 0)
                return -1;
            in_flight++;
            next++;
        }
        struct pollfd pfd = {.fd = sock_fd, .events = POLLIN};
        int ready = poll(&pfd, 1, TIMEOUT_MS);
        if (ready < 0) {
            if (errno == EINTR)
                continue;
            return fail("poll");
        }
        if (ready == 0) { /* lost: resend everything in flight */
            for (int i = 0; i < w; i++) {
                if (!slots[i].busy)
                    continue;
                if (++slots[i].attempt >= ATTEMPTS) {
                    snprintf(error_text, sizeof(error_text), "no reply to command %u",
                             kind.command);
                    return -1;
                }
                if (send_slot(&slots[i]) < 0)
                    return -1;
            }
            continue;
        }
        ssize_t got = recv(sock_fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return fail("recv");
        }
        if (got < RPY_DATA || buf[1] != PKT_TYPE_REPLY)
            continue;
        uint32_t sequence = get32(buf + RPY_SEQUENCE);
        for (int i = 0; i < w; i++) {
            if (!slots[i].busy || slots[i].sequence != sequence ||
                get16(buf + RPY_COMMAND) != kind.command)
                continue;
            if (get16(buf + RPY_STATUS) != STT_SUCCESS || get16(buf + RPY_REPLY) != kind.reply) {
                snprintf(error_text, sizeof(error_text), "command %u: status %u, reply %u",
                         kind.command, get16(buf + RPY_STATUS), get16(buf + RPY_REPLY));
                return -1;
            }
            if (first_reply && done == 0)
                memcpy(first_reply, buf, (size_t)got);
            slots[i].busy = false;
            in_flight--;
            done++;
            break;
        }
    }
    return in_flight == 0 ? 0 : -1;
}

/* REQ_N_SOURCES, then one request per record: returns the record count or -1. */
static long records(Kind kind)
{
    uint8_t reply[RECV_SIZE];

    if (exchange(K_COUNT, false, 1, reply) < 0)
        return -1;
    uint32_t n = get32(reply + RPY_DATA);
    if (n > 0 && exchange(kind, true, n, NULL) < 0)
        return -1;
    return (long)n;
}

/* One iteration of op; returns the records received or -1. */
static long run_op(const char *op)
{
    if (strcmp(op, "tracking") == 0)
        return exchange(K_TRACKING, false, 1, NULL) < 0 ? -1 : 1;
    if (strcmp(op, "sources") == 0)
        return records(K_SOURCES);
    if (strcmp(op, "sourcestats") == 0)
        return records(K_STATS);
    if (strcmp(op, "snapshot") == 0) {
        long a, b;
        if (exchange(K_TRACKING, false, 1, NULL) < 0 || (a = records(K_SOURCES)) < 0 ||
            (b = records(K_STATS)) < 0)
            return -1;
        return 1 + a + b;
    }
    snprintf(error_text, sizeof(error_text), "unknown op %s", op);
    return -1;
}

static void print_error_json(void)
{
    printf("{\"ok\": false, \"error\": \"");
    for (const char *p = error_text; *p; p++)
        if (*p != '"' && *p != '\\')
            putchar(*p);
    printf("\"}\n");
}

/* VmHWM (peak) and VmRSS (current) of this process in KiB, from /proc/self/status.
 * Not ru_maxrss: Linux carries that over exec from the parent that forked us. */
static void memory_kib(long *hwm, long *rss)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");

    *hwm = *rss = -1;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = atol(line + 6);
        else if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = atol(line + 6);
    }
    fclose(f);
}

static int serve(void)
{
    char line[256], op[32];
    long n;

    printf("{\"ok\": true, \"contender\": \"wire floor\", \"window\": %d, \"pid\": %ld}\n",
           window, (long)getpid());
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "quit", 4) == 0)
            break;
        if (strncmp(line, "rss", 3) == 0) {
            long hwm, rss;
            memory_kib(&hwm, &rss);
            printf("{\"ok\": true, \"hwm_kib\": %ld, \"rss_kib\": %ld}\n", hwm, rss);
        } else if (sscanf(line, "run %31s %ld", op, &n) == 2 && n > 0) {
            long got = 0;
            uint64_t start = now_ns();
            for (long i = 0; i < n && got >= 0; i++)
                got = run_op(op);
            uint64_t elapsed = now_ns() - start;
            if (got < 0)
                print_error_json();
            else
                printf("{\"ok\": true, \"n\": %ld, \"ns\": %llu, \"records\": %ld}\n", n,
                       (unsigned long long)elapsed, got);
        } else {
            snprintf(error_text, sizeof(error_text), "bad command");
            print_error_json();
        }
        fflush(stdout);
    }
    return 0;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int measure(const char *op, long iterations, bool json)
{
    uint64_t *ns = calloc((size_t)iterations, sizeof(*ns)), total = 0;
    long got = 0;

    if (!ns) {
        fprintf(stderr, "wire_floor: out of memory\n");
        return 1;
    }
    for (long i = 0; i < iterations / 10 + 1 && got >= 0; i++) /* warm-up */
        got = run_op(op);
    for (long i = 0; i < iterations && got >= 0; i++) {
        uint64_t start = now_ns();
        got = run_op(op);
        ns[i] = now_ns() - start;
        total += ns[i];
    }
    if (got < 0) {
        fprintf(stderr, "wire_floor: %s\n", error_text);
        free(ns);
        return 1;
    }
    qsort(ns, (size_t)iterations, sizeof(*ns), compare_u64);
#define US(i) (ns[(i)] / 1000.0)
    double median = US(iterations / 2), mean = total / 1000.0 / (double)iterations;
    long p90 = iterations * 9 / 10, p99 = iterations * 99 / 100;
    if (json)
        printf("{\"op\": \"%s\", \"iterations\": %ld, \"records\": %ld, \"window\": %d, "
               "\"min_us\": %.2f, \"median_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, "
               "\"max_us\": %.2f, \"mean_us\": %.2f}\n",
               op, iterations, got, window, US(0), median, US(p90), US(p99),
               US(iterations - 1), mean);
    else
        printf("%s x %ld (%ld records, window %d): min %.2f  median %.2f  p90 %.2f  "
               "p99 %.2f  max %.2f  mean %.2f us\n",
               op, iterations, got, window, US(0), median, US(p90), US(p99), US(iterations - 1),
               mean);
#undef US
    free(ns);
    return 0;
}

static int rss_of(char **argv)
{
    int status;
    struct rusage usage;
    pid_t pid = fork();

    if (pid < 0) {
        perror("wire_floor: fork");
        return 1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("wire_floor: wait4");
        return 1;
    }
    printf("{\"ok\": %s, \"maxrss_kib\": %ld, \"status\": %d}\n",
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "true" : "false", usage.ru_maxrss,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: wire_floor (--unix PATH | --udp HOST:PORT) [--window W]\n"
                    "                  (--serve | --op OP [--iterations N] [--json])\n"
                    "       wire_floor --rss-of CMD [ARG]...\n"
                    "OP: tracking, sources, sourcestats, snapshot\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *unix_path = NULL, *udp = NULL, *op = NULL;
    long iterations = 10000;
    bool json = false, serving = false;

    if (argc > 2 && strcmp(argv[1], "--rss-of") == 0)
        return rss_of(argv + 2);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--serve") == 0)
            serving = true;
        else if (strcmp(arg, "--json") == 0)
            json = true;
        else if (!value)
            return usage();
        else if (strcmp(arg, "--unix") == 0)
            unix_path = argv[++i];
        else if (strcmp(arg, "--udp") == 0)
            udp = argv[++i];
        else if (strcmp(arg, "--op") == 0)
            op = argv[++i];
        else if (strcmp(arg, "--iterations") == 0)
            iterations = atol(argv[++i]);
        else if (strcmp(arg, "--window") == 0)
            window = atoi(argv[++i]);
        else
            return usage();
    }
    if (!unix_path == !udp || serving == (op != NULL) || iterations < 1 || window < 1 ||
        window > MAX_WINDOW)
        return usage();

    struct timespec seed;
    clock_gettime(CLOCK_REALTIME, &seed);
    next_sequence = (uint32_t)(seed.tv_nsec ^ getpid());
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if ((unix_path ? open_unix(unix_path) : open_udp(udp)) < 0) {
        if (serving)
            print_error_json();
        else
            fprintf(stderr, "wire_floor: %s\n", error_text);
        return 1;
    }
    return serving ? serve() : measure(op, iterations, json);
}
