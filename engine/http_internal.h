/* http_internal.h — what the engine's HTTP servers (the worker's status page, the local Seal key
 * server) share: parsing the address they listen on and starting a libmicrohttpd daemon on it. */
#ifndef CX_ENGINE_HTTP_INTERNAL_H
#define CX_ENGINE_HTTP_INTERNAL_H

#include "cx_util.h"

#include <microhttpd.h>
#include <netinet/in.h>

/* "A.B.C.D:PORT" ("localhost" too) into addr; CX_ERR_ARG naming the problem otherwise. */
cx_err cx_http_parse_listen(const char *listen, struct sockaddr_in *addr, cx_error *e);

/* One internal polling thread serving handler(ud) on addr, at most 64 connections with a 30 s
 * idle timeout; done(done_ud), when not NULL, runs after each request. *port is the port bound
 * (the one the kernel chose for port 0). what names the server in the error. */
cx_err cx_http_daemon_start(const struct sockaddr_in *addr, const char *what,
                            MHD_AccessHandlerCallback handler, void *ud,
                            MHD_RequestCompletedCallback done, void *done_ud, struct MHD_Daemon **d,
                            unsigned *port, cx_error *e);

#endif
