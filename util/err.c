/* err.c — error codes, caller-owned error messages, and their exit codes.
 * Messages are built with vsnprintf so they are always NUL-terminated and bounded. */
#include "cx_util.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>

static const char *const err_names[CX_ERR__COUNT] = {
    [CX_OK] = "ok",
    [CX_ERR_NOMEM] = "out of memory",
    [CX_ERR_ARG] = "invalid argument",
    [CX_ERR_IO] = "i/o",
    [CX_ERR_FORMAT] = "format",
    [CX_ERR_AUTH] = "authentication",
    [CX_ERR_VERIFY] = "verification",
    [CX_ERR_NOTFOUND] = "not found",
    [CX_ERR_NET] = "network",
    [CX_ERR_CRYPTO] = "crypto",
    [CX_ERR_UNSUPPORTED] = "unsupported",
    [CX_ERR_LIMIT] = "limit",
    [CX_ERR_STATE] = "state",
    [CX_ERR_DB] = "database",
    [CX_ERR_DEVICE] = "device",
    [CX_ERR_INTERNAL] = "internal",
};

const char *cx_err_name(cx_err code)
{
    if ((unsigned)code >= CX_ERR__COUNT)
        return "unknown";
    return err_names[code];
}

__attribute__((format(printf, 3, 0))) static cx_err error_vset(cx_error *e, cx_err code,
                                                            const char *fmt, va_list ap)
{
    if (e) {
        e->code = code;
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    }
    return code;
}

cx_err cx_error_set(cx_error *e, cx_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(e, code, fmt, ap);
    va_end(ap);
    return code;
}

__attribute__((format(printf, 2, 0))) static void error_vprefix(cx_error *e, const char *fmt,
                                                                va_list ap)
{
    char prefix[CX_ERROR_MSG_MAX], old[CX_ERROR_MSG_MAX];
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    memcpy(old, e->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof e->msg)
        n = sizeof e->msg - 1;
    memcpy(e->msg, prefix, n);
    size_t rest = strnlen(old, sizeof old);
    if (rest > sizeof e->msg - 1 - n)
        rest = sizeof e->msg - 1 - n;
    memcpy(e->msg + n, old, rest);
    e->msg[n + rest] = '\0';
}

cx_err cx_error_prefix(cx_error *e, const char *fmt, ...)
{
    if (!e)
        return CX_ERR_INTERNAL;
    va_list ap;
    va_start(ap, fmt);
    error_vprefix(e, fmt, ap);
    va_end(ap);
    return e->code;
}

cx_err cx_error_wrap(cx_err rc, cx_error *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        error_vprefix(e, fmt, ap);
        va_end(ap);
    }
    return rc;
}

cx_err cx_error_errno(cx_error *e, cx_err code, int errnum, const char *fmt, ...)
{
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    error_vset(e, code, fmt, ap);
    va_end(ap);
    size_t n = strlen(e->msg);
    snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(errnum));
    return code;
}

cx_err cx_error_openssl(cx_error *e, cx_err code, const char *fmt, ...)
{
    unsigned long first = ERR_get_error();
    ERR_clear_error();
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    error_vset(e, code, fmt, ap);
    va_end(ap);
    if (first) {
        char reason[256];
        ERR_error_string_n(first, reason, sizeof reason);
        size_t n = strlen(e->msg);
        snprintf(e->msg + n, sizeof e->msg - n, " (openssl: %s)", reason);
    }
    return code;
}

void cx_error_clear(cx_error *e)
{
    if (e) {
        e->code = CX_OK;
        e->msg[0] = '\0';
    }
}

int cx_err_exit_code(cx_err code)
{
    switch (code) {
    case CX_OK:
        return CX_EXIT_OK;
    case CX_ERR_ARG:
        return CX_EXIT_USAGE;
    case CX_ERR_AUTH:
    case CX_ERR_VERIFY:
        return CX_EXIT_VERIFY;
    default:
        return CX_EXIT_FAILURE;
    }
}
