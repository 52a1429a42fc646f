/* cx_proto.h — the wire layer shared by io, chain and attestation: Ed25519 (RFC 8032), BCS
 * (reader and writer) and the signed result statement's one encoder and one decoder. */
#ifndef CX_PROTO_H
#define CX_PROTO_H

#include "cx_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================== Ed25519 (RFC 8032, through OpenSSL EVP) ===================== */

#define CX_ED25519_SEED_LEN 32 /* the private key is the 32-byte seed of RFC 8032 */
#define CX_ED25519_PK_LEN 32
#define CX_ED25519_SIG_LEN 64

/* A fresh random seed (RAND_priv_bytes). The caller keeps it in cx_secmem and wipes it. */
cx_err cx_ed25519_seed_generate(uint8_t seed[CX_ED25519_SEED_LEN], cx_error *e);
cx_err cx_ed25519_public_from_seed(const uint8_t seed[CX_ED25519_SEED_LEN],
                                   uint8_t pk[CX_ED25519_PK_LEN], cx_error *e);
cx_err cx_ed25519_sign(const uint8_t seed[CX_ED25519_SEED_LEN], const uint8_t *msg, size_t len,
                       uint8_t sig[CX_ED25519_SIG_LEN], cx_error *e);
/* CX_ERR_AUTH when the signature does not verify or the public key is not a valid point. */
cx_err cx_ed25519_verify(const uint8_t pk[CX_ED25519_PK_LEN], const uint8_t *msg, size_t len,
                         const uint8_t sig[CX_ED25519_SIG_LEN], cx_error *e);

/* X25519 public key of a 32-byte secret (RFC 7748), for the receiving keys of io and the TEE. */
cx_err cx_x25519_public_from_secret(const uint8_t sk[32], uint8_t pk[32], cx_error *e);

/* ===================== BCS (Binary Canonical Serialization) ===================== */

/* BCS caps sequence lengths and enum variant indices at 2^31-1 (docs.rs/bcs). */
#define CX_BCS_MAX_SEQ ((uint64_t)0x7fffffff)
#define CX_BCS_ADDR_LEN 32 /* Sui / Move address and object id */

/* Writer over a growable buffer. Errors are sticky: a put after a failure does nothing and
 * cx_bcs_writer_finish reports the first one, so a run of puts needs one check at the end. */
typedef struct cx_bcs_writer {
    uint8_t *buf;
    size_t len, cap;
    cx_err err;
} cx_bcs_writer;

void cx_bcs_writer_init(cx_bcs_writer *w);
void cx_bcs_put_u8(cx_bcs_writer *w, uint8_t v);
void cx_bcs_put_u16(cx_bcs_writer *w, uint16_t v);
void cx_bcs_put_u32(cx_bcs_writer *w, uint32_t v);
void cx_bcs_put_u64(cx_bcs_writer *w, uint64_t v);
/* u128 and u256 are given as their little-endian bytes (the BCS encoding itself). */
void cx_bcs_put_u128(cx_bcs_writer *w, const uint8_t le[16]);
void cx_bcs_put_u256(cx_bcs_writer *w, const uint8_t le[32]);
void cx_bcs_put_bool(cx_bcs_writer *w, int v);
/* ULEB128 of v <= 2^31-1 (a larger v is a sticky CX_ERR_LIMIT). */
void cx_bcs_put_uleb(cx_bcs_writer *w, uint64_t v);
void cx_bcs_put_seq_len(cx_bcs_writer *w, size_t n);       /* length of a vector<T> */
void cx_bcs_put_variant(cx_bcs_writer *w, uint32_t index); /* enum variant tag */
void cx_bcs_put_option(cx_bcs_writer *w, int present);     /* 0 = None, 1 = Some (then T) */
void cx_bcs_put_fixed(cx_bcs_writer *w, const uint8_t *p, size_t n); /* no length */
void cx_bcs_put_addr(cx_bcs_writer *w, const uint8_t a[CX_BCS_ADDR_LEN]);
void cx_bcs_put_bytes(cx_bcs_writer *w, const uint8_t *p, size_t n); /* ULEB len || bytes */
/* A string: ULEB len || UTF-8 bytes; invalid UTF-8 is a sticky CX_ERR_ARG. */
void cx_bcs_put_str(cx_bcs_writer *w, const char *s, size_t n);
/* Hands the buffer to the caller (*out malloc'ed, never NULL on success) or frees it on a
 * sticky error. */
cx_err cx_bcs_writer_finish(cx_bcs_writer *w, uint8_t **out, size_t *len, cx_error *e);
void cx_bcs_writer_free(cx_bcs_writer *w);

/* Reader: bounds-checked and strict (one encoding per value): ULEB128 must be minimal and
 * <= 2^31-1, bools 0 or 1, option tags 0 or 1, strings valid UTF-8, and cx_bcs_reader_end
 * refuses trailing bytes. Failures are CX_ERR_FORMAT with the offset. */
typedef struct cx_bcs_reader {
    const uint8_t *p;
    size_t len, off;
} cx_bcs_reader;

void cx_bcs_reader_init(cx_bcs_reader *r, const uint8_t *p, size_t len);
cx_err cx_bcs_get_u8(cx_bcs_reader *r, uint8_t *v, cx_error *e);
cx_err cx_bcs_get_u16(cx_bcs_reader *r, uint16_t *v, cx_error *e);
cx_err cx_bcs_get_u32(cx_bcs_reader *r, uint32_t *v, cx_error *e);
cx_err cx_bcs_get_u64(cx_bcs_reader *r, uint64_t *v, cx_error *e);
cx_err cx_bcs_get_u128(cx_bcs_reader *r, uint8_t le[16], cx_error *e);
cx_err cx_bcs_get_u256(cx_bcs_reader *r, uint8_t le[32], cx_error *e);
cx_err cx_bcs_get_bool(cx_bcs_reader *r, int *v, cx_error *e);
cx_err cx_bcs_get_uleb(cx_bcs_reader *r, uint64_t *v, cx_error *e);
/* The length of a vector<T> whose elements take at least min_elem_bytes each: refused when
 * above max or when the rest of the input cannot hold that many (checked before a caller
 * allocates for them). */
cx_err cx_bcs_get_seq_len(cx_bcs_reader *r, size_t max, size_t min_elem_bytes, size_t *n,
                          cx_error *e);
/* An enum tag, refused unless below n_variants. */
cx_err cx_bcs_get_variant(cx_bcs_reader *r, uint32_t n_variants, uint32_t *index, cx_error *e);
cx_err cx_bcs_get_option(cx_bcs_reader *r, int *present, cx_error *e);
cx_err cx_bcs_get_fixed(cx_bcs_reader *r, uint8_t *out, size_t n, cx_error *e);
cx_err cx_bcs_get_addr(cx_bcs_reader *r, uint8_t a[CX_BCS_ADDR_LEN], cx_error *e);
/* vector<u8> of at most max bytes; *p points into the input (no copy). */
cx_err cx_bcs_get_bytes(cx_bcs_reader *r, size_t max, const uint8_t **p, size_t *n, cx_error *e);
/* String of at most max bytes of valid UTF-8; *s points into the input, not NUL-terminated. */
cx_err cx_bcs_get_str(cx_bcs_reader *r, size_t max, const char **s, size_t *n, cx_error *e);
/* CX_ERR_FORMAT unless every byte was consumed. */
cx_err cx_bcs_reader_end(const cx_bcs_reader *r, cx_error *e);

/* The text form of an address / object id, as Sui shows it: "0x" + 64 lowercase hex digits. */
#define CX_ADDR_HEX_LEN 66 /* without the NUL */
void cx_addr_to_hex(const uint8_t a[CX_BCS_ADDR_LEN], char out[CX_ADDR_HEX_LEN + 1]);
/* Strict: "0x" and exactly 64 hex digits (CX_ERR_FORMAT otherwise). */
cx_err cx_addr_from_hex(const char *s, uint8_t a[CX_BCS_ADDR_LEN], cx_error *e);

/* BCS(IntentMessage{intent u8, timestamp_ms u64, payload}) as Nautilus's enclave.move signs
 * it, for any BCS payload (*out malloc'ed). */
cx_err cx_intent_message_encode(uint8_t intent, uint64_t timestamp_ms, const uint8_t *payload,
                                size_t payload_len, uint8_t **out, size_t *out_len, cx_error *e);

/* ===================== result statement (layout: chain/RULES.md §4) ===================== */

/* What the enclave signs about a finished job. Signing bytes = BCS(IntentMessage{intent u8,
 * timestamp_ms u64, statement}) and the signature is plain Ed25519 over them, exactly as
 * Nautilus's enclave.move verify_signature checks it. The TEE signs with this encoder; the
 * ledger and the offline verifier read with this decoder. */
enum {
    CX_STATEMENT_VERSION = 3,   /* what the enclave signs and the ledger accepts */
    CX_STATEMENT_VERSION_2 = 2, /* no `ranks_hash`: still decoded (ranks_hash empty), for
                                 * results kept from before version 3 (the ledger refuses new
                                 * ones) */
    CX_STATEMENT_VERSION_1 = 1, /* no `rejected` list either: still decoded, for results kept
                                 * from before version 2 (the ledger refuses new ones) */
    CX_STATEMENT_INTENT = 0,    /* intent scope of a CloakX result statement */
    CX_STATEMENT_ID_LEN = 32,
    CX_STATEMENT_HASH_LEN = 32, /* config hash, dataset commitment, result hash (SHA-256) */
    CX_STATEMENT_MEASUREMENT_MAX = 64,
    CX_STATEMENT_BLOB_ID_MAX = 64,
    CX_STATEMENT_GPU_HASH_MAX = 64,
    CX_STATEMENT_RANKS_HASH_LEN = 32, /* ranks_hash: empty or SHA-256 of the rank list */
    CX_STATEMENT_MAX_CONTRIBUTORS = 100000,
    CX_STATEMENT_MAX_REJECTED = 100000, /* contributors + rejected together */
    CX_STATEMENT_MAX_METRICS = 64,
    CX_STATEMENT_METRIC_NAME_MAX = 64,
    CX_STATEMENT_ED25519_PK_LEN = CX_ED25519_PK_LEN,
    CX_STATEMENT_ED25519_SIG_LEN = CX_ED25519_SIG_LEN,
};
/* dp_epsilon_micro of a job trained without differential privacy */
#define CX_STATEMENT_NO_DP UINT64_MAX

typedef struct cx_statement_rows {
    uint8_t contributor[CX_STATEMENT_ID_LEN]; /* Sui address */
    uint64_t rows;                            /* accepted rows */
} cx_statement_rows;

/* Why the enclave rejected a contribution (RULES.md §4): a class, never what the blob held. */
typedef enum cx_reject_reason {
    CX_REJECT_HEADER = 1,  /* header unreadable, another recipient/pool/contributor, duplicate */
    CX_REJECT_FORMAT = 2,  /* content type or columns not the job's */
    CX_REJECT_DECRYPT = 3, /* a chunk failed authentication (tampered or corrupt) */
    CX_REJECT_PARSE = 4,   /* does not parse, too many bad rows, no usable row */
    CX_REJECT_POLICY = 5,  /* the pool's rules for contributions refused it */
    CX_REJECT_CONTRIBUTOR = 6, /* left out with its contributor: another of its blobs failed
                                * after the header checks (RULES.md §9 rule 4) */
} cx_reject_reason;
#define CX_REJECT_REASON_MAX 6
/* "header", "format", ...; "unknown" outside 1..CX_REJECT_REASON_MAX */
const char *cx_reject_reason_name(unsigned reason);

typedef struct cx_statement_rejected {
    uint8_t contributor[CX_STATEMENT_ID_LEN];  /* who registered it */
    uint8_t blob_id[CX_STATEMENT_BLOB_ID_MAX]; /* the registered blob id's bytes, 1..64 */
    size_t blob_id_len;
    uint8_t reason; /* cx_reject_reason */
} cx_statement_rejected;

typedef struct cx_statement_metric {
    char name[CX_STATEMENT_METRIC_NAME_MAX + 1]; /* printable ASCII, e.g. "val_auc" */
    uint64_t value_micro;                        /* value x 1e6, rounded; metrics are >= 0 */
} cx_statement_metric;

typedef struct cx_statement {
    uint8_t version; /* encode: 0 = CX_STATEMENT_VERSION; decode: the wire's (1, 2 or 3) */
    uint8_t job_id[CX_STATEMENT_ID_LEN], pool_id[CX_STATEMENT_ID_LEN];
    uint8_t code_measurement[CX_STATEMENT_MEASUREMENT_MAX]; /* enclave PCR0 */
    size_t code_measurement_len;
    uint8_t config_hash[CX_STATEMENT_HASH_LEN];        /* SHA-256 of the job spec */
    uint8_t dataset_commitment[CX_STATEMENT_HASH_LEN]; /* DESIGN.md "Result statement" */
    uint8_t result_blob_id[CX_STATEMENT_BLOB_ID_MAX];
    size_t result_blob_id_len;
    uint8_t result_hash[CX_STATEMENT_HASH_LEN]; /* SHA-256 of the stored (sealed) model blob */
    uint8_t gpu_evidence_hash[CX_STATEMENT_GPU_HASH_MAX]; /* empty for CPU jobs */
    size_t gpu_evidence_hash_len;
    /* version 3: empty for a one-rank job, else the 32-byte commitment to every rank's
     * attestation (cx_bundle_ranks_hash, attestation/cx_attest.h; RULES.md §4, §5); decode:
     * empty for versions 1 and 2 */
    uint8_t ranks_hash[CX_STATEMENT_RANKS_HASH_LEN];
    size_t ranks_hash_len;   /* 0 or CX_STATEMENT_RANKS_HASH_LEN */
    cx_statement_rows *rows; /* encode: any order, no duplicates; decode: ascending, malloc'ed */
    size_t n_rows;
    /* every registered contribution of the job not accepted, with its class (version 2);
     * encode: any order, no duplicates; decode: ascending by (contributor, blob id) */
    cx_statement_rejected *rejected;
    size_t n_rejected;
    cx_statement_metric *metrics; /* decode: malloc'ed */
    size_t n_metrics;
    uint64_t dp_epsilon_micro; /* epsilon x 1e6, or CX_STATEMENT_NO_DP */
    uint64_t dp_delta_1e12;    /* delta x 1e12 */
} cx_statement;

/* The signing bytes of a statement (intent CX_STATEMENT_INTENT); rows are sorted by address,
 * rejected contributions by (contributor, blob id). */
cx_err cx_statement_encode(const cx_statement *s, uint64_t timestamp_ms, uint8_t **out,
                           size_t *out_len, cx_error *e);
/* Strict decode of signing bytes (every RULES.md §4 rule: intent, version 1, 2 or 3, lengths,
 * ascending unique contributors and rejected contributions, reason classes, metric names, no
 * trailing bytes). timestamp_ms may be NULL. A caller that takes new results (the ledger)
 * checks version == CX_STATEMENT_VERSION itself. */
cx_err cx_statement_decode(const uint8_t *msg, size_t len, cx_statement *out,
                           uint64_t *timestamp_ms, cx_error *e);
void cx_statement_free(cx_statement *s); /* frees rows, rejected and metrics */
/* Look-ups in a decoded (hence sorted) statement: the contributor's rows entry, and the
 * rejected entry of one registered contribution; NULL when not there. */
const cx_statement_rows *cx_statement_find_contributor(const cx_statement *s,
                                                       const uint8_t contributor[32]);
const cx_statement_rejected *cx_statement_find_rejected(const cx_statement *s,
                                                        const uint8_t contributor[32],
                                                        const uint8_t *blob_id, size_t blob_id_len);

#ifdef __cplusplus
}
#endif
#endif /* CX_PROTO_H */
