/* attest_cbor.h — internal to attestation/: strict CBOR well-formedness pre-check (before
 * libcbor builds a tree), small CBOR head writer, and the COSE Sig_structure builder. */
#ifndef CX_ATTEST_CBOR_H
#define CX_ATTEST_CBOR_H

#include <cbor.h>

#include "cx_attest.h"

/* Exactly one definite-length item filling buf, nesting <= max_depth, every declared count
 * plausible for the bytes left (so libcbor never preallocates from a lying header). */
cx_err cx_cbor_check_strict(const uint8_t *buf, size_t len, unsigned max_depth, const char *what,
                            cx_error *e);
/* Strict check, then cbor_load; the item is the caller's (cbor_decref). */
cx_err cx_cbor_load_strict(const uint8_t *buf, size_t len, unsigned max_depth, const char *what,
                           cbor_item_t **out, cx_error *e);
/* Write a CBOR head (major type 0..7, argument) minimally into p; returns bytes (<= 9). */
size_t cx_cbor_head(uint8_t *p, unsigned major, uint64_t arg);
/* ToBeSigned = ["Signature1", protected, h'', payload] (RFC 8152 §4.4); malloc'ed. */
cx_err cx_cose_sig_structure(const uint8_t *prot, size_t prot_len, const uint8_t *payload,
                             size_t payload_len, uint8_t **out, size_t *out_len, cx_error *e);
/* A definite text string equal to s. */
int cx_cbor_text_is(const cbor_item_t *it, const char *s);

#endif
