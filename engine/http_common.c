/* http_common.c — what the engine's HTTP servers (the worker's status page, the local Seal key
 * server) share: the HOST:PORT they listen on and the daemon that serves it. */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cx_err cx_http_parse_listen(const char *listen, struct sockaddr_in *addr, cx_error *e)
{
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    char host[64];
    if (!colon || (size_t)(colon - listen) >= sizeof host || colon == listen)
        return cx_error_set(e, CX_ERR_ARG, "--listen takes HOST:PORT (IPv4), e.g. 127.0.0.1:8080");
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = 0;
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port > 65535)
        return cx_error_set(e, CX_ERR_ARG, "--listen: bad port in %s", listen);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return cx_error_set(e, CX_ERR_ARG, "--listen: %s is not an IPv4 address", host);
    return CX_OK;
}

cx_err cx_http_daemon_start(const struct sockaddr_in *addr, const char *what,
                            MHD_AccessHandlerCallback handler, void *ud,
                            MHD_RequestCompletedCallback done, void *done_ud, struct MHD_Daemon **d,
                            unsigned *port, cx_error *e)
{
    /* one polling thread: handlers share their context (a ledger connection, the status) */
    *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO, 0,
                          NULL, NULL, handler, ud, MHD_OPTION_NOTIFY_COMPLETED, done, done_ud,
                          MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_CONNECTION_TIMEOUT,
                          (unsigned)30, MHD_OPTION_END);
    if (!*d) {
        char host[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &addr->sin_addr, host, sizeof host);
        return cx_error_set(e, CX_ERR_IO, "%s: cannot listen on %s:%u", what, host,
                            (unsigned)ntohs(addr->sin_port));
    }
    const union MHD_DaemonInfo *inf = MHD_get_daemon_info(*d, MHD_DAEMON_INFO_BIND_PORT);
    *port = inf ? inf->port : ntohs(addr->sin_port);
    return CX_OK;
}
