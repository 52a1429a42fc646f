/* cx_util.h — the few helpers every CloakX module shares: error codes and messages,
 * logging, secure memory, hex/base64, atomic files, JSON helpers and CPU features. */
#ifndef CX_UTIL_H
#define CX_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors -- */

/* Every library function returns one of these; the message says what, where, why. */
typedef enum cx_err {
    CX_OK = 0,
    CX_ERR_NOMEM,       /* allocation failed */
    CX_ERR_ARG,         /* caller passed something invalid (usage) */
    CX_ERR_IO,          /* file or device I/O failed */
    CX_ERR_FORMAT,      /* input is malformed */
    CX_ERR_AUTH,        /* authentication / integrity check failed (tag, signature) */
    CX_ERR_VERIFY,      /* a verification policy refused the input */
    CX_ERR_NOTFOUND,    /* the named thing does not exist */
    CX_ERR_NET,         /* network / HTTP failure */
    CX_ERR_CRYPTO,      /* a cryptographic library call failed */
    CX_ERR_UNSUPPORTED, /* feature not built in or not available here */
    CX_ERR_LIMIT,       /* a documented size / count limit was exceeded */
    CX_ERR_STATE,       /* operation not valid in the current state */
    CX_ERR_DB,          /* database error */
    CX_ERR_DEVICE,      /* accelerator / TEE device error */
    CX_ERR_INTERNAL,    /* a bug: an invariant did not hold */
    CX_ERR__COUNT
} cx_err;

#define CX_ERROR_MSG_MAX 512

/* Caller-owned error: functions fill it on failure (it may be NULL). */
typedef struct cx_error {
    cx_err code;
    char msg[CX_ERROR_MSG_MAX];
} cx_error;

const char *cx_err_name(cx_err code); /* "auth", "format", ... (stable) */

/* Set code and message; returns code so callers can `return cx_error_set(...)`. */
cx_err cx_error_set(cx_error *e, cx_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the existing message with context ("blob X: "), keeping the code; returns the code
 * (CX_ERR_INTERNAL when e is NULL: to return a failure, use cx_error_wrap). */
cx_err cx_error_prefix(cx_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix e's message (when e is given) and return rc, the failure the caller holds:
 * `return cx_error_wrap(rc, e, "blob %s: ", id);` keeps the code even without a cx_error. */
cx_err cx_error_wrap(cx_err rc, cx_error *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Set from errno (appends strerror). */
cx_err cx_error_errno(cx_error *e, cx_err code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Set from OpenSSL's error queue (appends the first queued reason, clears the queue). */
cx_err cx_error_openssl(cx_error *e, cx_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cx_error_clear(cx_error *e);

/* Exit codes of the cloakx command line (documented in README). */
/* CX_EXIT_INCOMPLETE: `cloakx verify` found nothing wrong but could not run every check */
enum {
    CX_EXIT_OK = 0,
    CX_EXIT_FAILURE = 1,
    CX_EXIT_USAGE = 2,
    CX_EXIT_VERIFY = 3,
    CX_EXIT_INCOMPLETE = 4
};
int cx_err_exit_code(cx_err code);

/* --------------------------------------------------------------- logging -- */

typedef enum cx_log_level {
    CX_LOG_ERROR = 0,
    CX_LOG_WARN = 1,
    CX_LOG_INFO = 2,
    CX_LOG_DEBUG = 3,
} cx_log_level;

typedef void (*cx_log_fn)(void *ud, cx_log_level level, const char *msg);

/* A logger is passed explicitly in contexts; a NULL logger logs nothing. */
typedef struct cx_logger {
    cx_log_level level;
    cx_log_fn fn; /* NULL: write "cloakx: level: msg" to stderr */
    void *ud;
} cx_logger;

void cx_log(const cx_logger *lg, cx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define cx_log_error(lg, ...) cx_log((lg), CX_LOG_ERROR, __VA_ARGS__)
#define cx_log_warn(lg, ...) cx_log((lg), CX_LOG_WARN, __VA_ARGS__)
#define cx_log_info(lg, ...) cx_log((lg), CX_LOG_INFO, __VA_ARGS__)
#define cx_log_debug(lg, ...) cx_log((lg), CX_LOG_DEBUG, __VA_ARGS__)

/* -------------------------------------------------------------- progress -- */

/* A progress bar on stderr, drawn only when stderr is a terminal and enabled. */
typedef struct cx_progress {
    const char *label;
    uint64_t total, done;
    int enabled;
    double t_start, t_last;
} cx_progress;

void cx_progress_start(cx_progress *p, const char *label, uint64_t total, int allow);
void cx_progress_update(cx_progress *p, uint64_t done);
void cx_progress_finish(cx_progress *p);

double cx_now_seconds(void); /* monotonic clock */
uint64_t cx_unix_ms(void);   /* wall clock, ms since the epoch */

/* --------------------------------------------------------- secure memory -- */

/* Page-aligned, guard-paged, mlock'ed, excluded from core dumps (MADV_DONTDUMP),
 * wiped with OPENSSL_cleanse on release. If the lock limit is hit, the allocation
 * falls back to unlocked memory (still DONTDUMP and wiped) unless
 * CX_SECMEM_REQUIRE_LOCK is given, in which case it fails with CX_ERR_LIMIT. */
enum { CX_SECMEM_REQUIRE_LOCK = 1u << 0 };

void *cx_secmem_alloc(size_t len, unsigned flags, cx_error *e);
void cx_secmem_free(void *p); /* NULL is fine */
int cx_secmem_is_locked(const void *p);
size_t cx_secmem_size(const void *p);
void cx_memwipe(void *p, size_t len); /* OPENSSL_cleanse */
/* A new secure buffer of len bytes holding p's bytes (as far as they fit); p wiped and freed
 * (p may be NULL). NULL and e filled on failure, p untouched then. */
void *cx_secmem_realloc_wiped(void *p, size_t len, cx_error *e);

/* A pool of small secure allocations (category strings, names): bump allocation inside
 * cx_secmem blocks, the first one page and each next twice the last (up to 1 MiB, or one
 * allocation's size), so that thousands of short strings do not cost a mapping and two guard
 * pages each. Nothing is released before cx_secarena_free, which wipes and unmaps every block.
 * A zeroed struct is an empty arena. */
typedef struct cx_secarena {
    void *head;       /* the newest block */
    size_t next_size; /* bytes of the next block (0: one page) */
} cx_secarena;
void cx_secarena_init(cx_secarena *a);
/* len bytes (8-byte aligned) in locked memory, or unlocked as cx_secmem_alloc falls back;
 * NULL with e filled on failure. */
void *cx_secarena_alloc(cx_secarena *a, size_t len, cx_error *e);
void cx_secarena_free(cx_secarena *a);

/* Process-wide (RLIMIT_MEMLOCK is per process): with require_lock on, every allocation that
 * cannot be locked fails with CX_ERR_LIMIT, as if CX_SECMEM_REQUIRE_LOCK were given. The
 * operator's `--require-mlock` turns it on. */
void cx_secmem_require_lock(int on);
/* What secure memory has done in this process: allocations made, released (each wiped),
 * and of those, how many (and how many bytes, counted in pages) could not be locked. */
typedef struct cx_secmem_stats {
    int require_lock;
    uint64_t lock_refusals; /* allocations refused because they could not be locked */
    uint64_t allocs, frees;
    uint64_t unlocked_allocs, unlocked_bytes_total;
    uint64_t unlocked_bytes_live, locked_bytes_live;
} cx_secmem_stats;
void cx_secmem_stats_get(cx_secmem_stats *out);

/* -------------------------------------------------------------- encoding -- */

/* Lengths of encodings (without the terminating NUL). */
size_t cx_hex_len(size_t bin_len);
size_t cx_base64_len(size_t bin_len, int urlsafe_nopad);

/* Encode into out (cap bytes, must hold the encoding plus NUL). */
cx_err cx_hex_encode(const uint8_t *bin, size_t len, char *out, size_t cap, cx_error *e);
cx_err cx_base64_encode(const uint8_t *bin, size_t len, char *out, size_t cap, cx_error *e);
/* base64url without padding (Walrus blob ids, JOSE). */
cx_err cx_base64url_encode(const uint8_t *bin, size_t len, char *out, size_t cap, cx_error *e);

/* Decode; strict: whole input must be valid (a "0x" prefix is accepted for hex). */
cx_err cx_hex_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len,
                     cx_error *e);
cx_err cx_base64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *out_len,
                        cx_error *e);
cx_err cx_base64url_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
                           size_t *out_len, cx_error *e);
/* Allocating variants: *out is malloc'ed and owned by the caller. */
char *cx_hex_dup(const uint8_t *bin, size_t len);
char *cx_base64_dup(const uint8_t *bin, size_t len);
char *cx_base64url_dup(const uint8_t *bin, size_t len);

/* ----------------------------------------------------------------- files -- */

/* Write-to-temp + fsync + rename + fsync(dir): readers see old or new, never half. */
typedef struct cx_atomic_file {
    int fd;
    char *path;
    char *tmp_path;
} cx_atomic_file;

cx_err cx_atomic_open(cx_atomic_file *f, const char *path, mode_t mode, cx_error *e);
cx_err cx_atomic_write(cx_atomic_file *f, const void *buf, size_t len, cx_error *e);
cx_err cx_atomic_commit(cx_atomic_file *f, cx_error *e); /* closes f either way */
void cx_atomic_abort(cx_atomic_file *f);                  /* removes the temp file */

cx_err cx_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode,
                            cx_error *e);
/* Read a whole file (at most max bytes, else CX_ERR_LIMIT); *buf is malloc'ed, NUL-terminated. */
cx_err cx_file_read_all(const char *path, size_t max, uint8_t **buf, size_t *len, cx_error *e);
cx_err cx_write_full(int fd, const void *buf, size_t len, cx_error *e);
/* Read until len bytes or EOF; *got tells how many. */
cx_err cx_read_full(int fd, void *buf, size_t len, size_t *got, cx_error *e);
cx_err cx_mkdir_p(const char *path, mode_t mode, cx_error *e);
cx_err cx_fsync_dir(const char *path, cx_error *e);

/* ------------------------------------------------------------------ JSON -- */

cx_err cx_json_load_file(const char *path, json_t **out, cx_error *e);
cx_err cx_json_parse(const char *text, size_t len, json_t **out, cx_error *e);
/* Reject any key of obj that is not in allowed (NULL-terminated); names the key. */
cx_err cx_json_check_keys(const json_t *obj, const char *const *allowed, const char *where,
                          cx_error *e);
/* Typed getters: missing optional keys keep *out; wrong types / ranges name the key. */
cx_err cx_json_get_string(const json_t *obj, const char *key, int required, const char **out,
                          cx_error *e);
cx_err cx_json_get_int(const json_t *obj, const char *key, int required, int64_t min, int64_t max,
                       int64_t *out, cx_error *e);
cx_err cx_json_get_number(const json_t *obj, const char *key, int required, double min,
                          double max, double *out, cx_error *e);
cx_err cx_json_get_bool(const json_t *obj, const char *key, int required, int *out, cx_error *e);
/* Serialise compactly with sorted keys; caller frees. */
char *cx_json_dumps(const json_t *v, int pretty);

/* ------------------------------------------------------------------- CPU -- */

typedef struct cx_cpu_features {
    int aesni, pclmul, avx, avx2, avx512f, avx512bw, vaes, vpclmulqdq, sha;
} cx_cpu_features;

void cx_cpu_features_detect(cx_cpu_features *f);

#ifdef __cplusplus
}
#endif
#endif /* CX_UTIL_H */
