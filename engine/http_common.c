/* http_common.c — what the engine's HTTP servers (the worker's status page, the local Seal key
 * server) share: the HOST:PORT they listen on. */
#include "job_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "A.B.C.D:PORT" into addr; CX_ERR_ARG otherwise. */
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
