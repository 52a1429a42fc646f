/* cx_io.h — the data path: sealed blobs (.cxb), keys, blob stores (local, Walrus),
 * the streaming parallel decryption pipeline, and the data parsers (CSV, JSONL, f32). */
#ifndef CX_IO_H
#define CX_IO_H

#include "cx_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pull-based byte stream: what a blob store hands out and the pipeline consumes.
 * read() fills up to len bytes; *got == 0 means end of stream. */
typedef struct cx_reader {
    cx_err (*read)(void *ctx, void *buf, size_t len, size_t *got, cx_error *e);
    void (*close)(void *ctx);
    void *ctx;
} cx_reader;

/* ===================== sealed blobs, keys, decryption pipeline ===================== */

/* Sizes and limits of the sealed-blob format (io/FORMAT.md is the byte-exact spec). */
#define CX_X25519_KEY_LEN 32
#define CX_ED25519_KEY_LEN CX_ED25519_PK_LEN
#define CX_CXB_KEY_ID_LEN 32                /* SHA-256 of the recipient's X25519 public key */
#define CX_CXB_HASH_LEN 32                  /* header hash, chunk-tag hash */
#define CX_CXB_TAG_LEN 16                   /* AES-256-GCM tag after every chunk */
#define CX_CXB_MIN_CHUNK 64u                /* smallest chunk size a header may declare */
#define CX_CXB_MAX_CHUNK (64u << 20)        /* largest: 64 MiB */
#define CX_CXB_DEFAULT_CHUNK (1u << 20)     /* what `cloakx seal` uses unless told */
#define CX_CXB_MAX_POOL_ID 128              /* bytes, printable ASCII */
#define CX_CXB_MAX_CONTRIBUTOR 128          /* bytes, printable ASCII */
#define CX_CXB_MAX_PLAINTEXT (UINT64_C(1) << 50) /* 1 PiB */
#define CX_CXB_FIXED_HEADER_LEN 24          /* bytes before the variable-length fields */
#define CX_CXB_SUITE_HPKE 1                 /* the data key HPKE-sealed to a recipient */
#define CX_CXB_SUITE_KEY_OBJECT 2           /* the data key from a key object (Seal) */
#define CX_CXB_MAX_KEY_OBJECT 4096          /* bytes of a suite-2 header's key object */
/* 136 + pool id + contributor (suite 1); 26 + pool id + contributor + key object (suite 2) */
#define CX_CXB_MAX_HEADER_LEN (26 + 128 + 128 + CX_CXB_MAX_KEY_OBJECT)

typedef enum cx_content_type {
    CX_CONTENT_RAW = 0,   /* opaque bytes */
    CX_CONTENT_CSV = 1,
    CX_CONTENT_JSONL = 2,
    CX_CONTENT_F32 = 3,   /* binary float32 matrix */
    CX_CONTENT_MODEL = 4, /* safetensors model sealed to a buyer */
} cx_content_type;
const char *cx_content_type_name(cx_content_type t); /* "raw", "csv", ... ; NULL if unknown */
cx_err cx_content_type_parse(const char *name, cx_content_type *out, cx_error *e);

/* A push-based byte sink (what seal writes to). */
typedef struct cx_writer {
    cx_err (*write)(void *ctx, const void *buf, size_t len, cx_error *e);
    void *ctx;
} cx_writer;

/* Readers over a file descriptor (ctx is the fd; close() does nothing: the caller owns
 * the fd) and over memory (ctx is the cx_mem_reader, which must outlive the reader). */
typedef struct cx_mem_reader {
    const uint8_t *data;
    size_t len, pos;
} cx_mem_reader;
void cx_reader_from_fd(cx_reader *r, int fd);
void cx_reader_from_memory(cx_reader *r, cx_mem_reader *m, const void *data, size_t len);
/* Read until len bytes or end of stream. */
cx_err cx_reader_read_full(cx_reader *r, void *buf, size_t len, size_t *got, cx_error *e);

/* ---- HPKE (RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) ---- */
#define CX_HPKE_ENC_LEN 32
#define CX_HPKE_KEY_LEN 32
#define CX_HPKE_NONCE_LEN 12
#define CX_HPKE_TAG_LEN 16

/* The key schedule's outputs (secret material: wipe with cx_memwipe). */
typedef struct cx_hpke_ctx {
    uint8_t key[CX_HPKE_KEY_LEN];
    uint8_t base_nonce[CX_HPKE_NONCE_LEN];
    uint8_t exporter_secret[32];
    uint8_t shared_secret[32];
    uint64_t seq;
} cx_hpke_ctx;

/* DeriveKeyPair(ikm) of RFC 9180 §7.1.3 for X25519. */
cx_err cx_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[CX_X25519_KEY_LEN],
                              uint8_t pk[CX_X25519_KEY_LEN], cx_error *e);
/* SetupBaseS. eph_sk NULL: a fresh random ephemeral key (tests pass the RFC's skEm). */
cx_err cx_hpke_setup_sender(const uint8_t pk_r[CX_X25519_KEY_LEN], const uint8_t *info,
                            size_t info_len, const uint8_t *eph_sk,
                            uint8_t enc[CX_HPKE_ENC_LEN], cx_hpke_ctx *ctx, cx_error *e);
/* SetupBaseR. */
cx_err cx_hpke_setup_recipient(const uint8_t enc[CX_HPKE_ENC_LEN],
                               const uint8_t sk_r[CX_X25519_KEY_LEN], const uint8_t *info,
                               size_t info_len, cx_hpke_ctx *ctx, cx_error *e);
/* ContextS.Seal / ContextR.Open at ctx->seq (then seq+1). ct = ciphertext || 16-byte tag,
 * so ct_len = pt_len + 16. Open fails with CX_ERR_AUTH. */
cx_err cx_hpke_seal(cx_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                    size_t pt_len, uint8_t *ct, cx_error *e);
cx_err cx_hpke_open(cx_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct,
                    size_t ct_len, uint8_t *pt, cx_error *e);
/* Context.Export(exporter_context, L). */
cx_err cx_hpke_export(const cx_hpke_ctx *ctx, const uint8_t *exp_ctx, size_t exp_ctx_len,
                      uint8_t *out, size_t len, cx_error *e);

/* ---- keys ---- */
/* Text formats (io/FORMAT.md): one line "cloakx-x25519-secret-v1 <base64 of 32 bytes>\n";
 * likewise cloakx-x25519-public-v1, cloakx-ed25519-secret-v1 (the 32-byte seed),
 * cloakx-ed25519-public-v1. Secret files are written 0600 and refused when group or
 * others may read them. Secret bytes live in cx_secmem memory and are wiped on free. */
typedef struct cx_x25519_key cx_x25519_key;
typedef struct cx_ed25519_key cx_ed25519_key;

cx_err cx_x25519_key_generate(cx_x25519_key **out, cx_error *e);
cx_err cx_x25519_key_from_secret(const uint8_t sk[CX_X25519_KEY_LEN], cx_x25519_key **out,
                                 cx_error *e);
cx_err cx_x25519_key_load(const char *path, cx_x25519_key **out, cx_error *e);
cx_err cx_x25519_key_save(const cx_x25519_key *k, const char *secret_path,
                          const char *public_path, cx_error *e); /* public_path may be NULL */
const uint8_t *cx_x25519_key_public(const cx_x25519_key *k);     /* 32 bytes */
const uint8_t *cx_x25519_key_secret(const cx_x25519_key *k);     /* 32 bytes, secmem */
void cx_x25519_key_id(const cx_x25519_key *k, uint8_t id[CX_CXB_KEY_ID_LEN]);
void cx_x25519_key_free(cx_x25519_key *k); /* NULL is fine */
cx_err cx_x25519_public_load(const char *path, uint8_t pub[CX_X25519_KEY_LEN], cx_error *e);
cx_err cx_x25519_public_save(const char *path, const uint8_t pub[CX_X25519_KEY_LEN], cx_error *e);
/* SHA-256 of a public key: the recipient key id a .cxb header carries. */
cx_err cx_x25519_public_key_id(const uint8_t pub[CX_X25519_KEY_LEN],
                               uint8_t id[CX_CXB_KEY_ID_LEN], cx_error *e);

cx_err cx_ed25519_key_generate(cx_ed25519_key **out, cx_error *e);
cx_err cx_ed25519_key_from_seed(const uint8_t seed[CX_ED25519_KEY_LEN], cx_ed25519_key **out,
                                cx_error *e);
cx_err cx_ed25519_key_load(const char *path, cx_ed25519_key **out, cx_error *e);
cx_err cx_ed25519_key_save(const cx_ed25519_key *k, const char *secret_path,
                           const char *public_path, cx_error *e);
const uint8_t *cx_ed25519_key_public(const cx_ed25519_key *k); /* 32 bytes */
const uint8_t *cx_ed25519_key_seed(const cx_ed25519_key *k);   /* 32 bytes, secmem */
cx_err cx_ed25519_key_sign(const cx_ed25519_key *k, const uint8_t *msg, size_t len,
                           uint8_t sig[CX_ED25519_SIG_LEN], cx_error *e);
/* Verifying is cx_ed25519_verify (cx_proto.h): it needs only the public key. */
void cx_ed25519_key_free(cx_ed25519_key *k);
cx_err cx_ed25519_public_load(const char *path, uint8_t pub[CX_ED25519_KEY_LEN], cx_error *e);
cx_err cx_ed25519_public_save(const char *path, const uint8_t pub[CX_ED25519_KEY_LEN],
                              cx_error *e);

/* ---- sealed blobs (.cxb) ---- */
/* What a header says, parsed without any key. */
typedef struct cx_cxb_header {
    uint32_t chunk_size;      /* plaintext bytes per chunk (the last may be shorter) */
    uint64_t plaintext_len;
    uint64_t chunk_count;     /* max(1, ceil(plaintext_len / chunk_size)) */
    cx_content_type content_type;
    char pool_id[CX_CXB_MAX_POOL_ID + 1];
    char contributor[CX_CXB_MAX_CONTRIBUTOR + 1];
    unsigned suite;           /* CX_CXB_SUITE_HPKE or CX_CXB_SUITE_KEY_OBJECT */
    uint8_t recipient_key_id[CX_CXB_KEY_ID_LEN]; /* suite 1; zero under suite 2 */
    size_t key_object_off;    /* suite 2: where the key object lies in the header bytes */
    size_t key_object_len;
    size_t header_len;        /* bytes of the header; chunk 0 starts here */
    uint64_t blob_len;        /* header + every chunk with its tag: the exact file size */
    uint8_t header_hash[CX_CXB_HASH_LEN]; /* SHA-256 of the header bytes */
} cx_cxb_header;

/* Parse len bytes. CX_ERR_FORMAT names the field; when the bytes end before the header
 * does, CX_ERR_FORMAT with *need (if not NULL) set to the bytes required so far. */
cx_err cx_cxb_header_parse(const uint8_t *buf, size_t len, cx_cxb_header *h, size_t *need,
                           cx_error *e);
/* Read exactly one header from r into buf (CX_CXB_MAX_HEADER_LEN bytes) and parse it; a
 * stream that ends inside the header is CX_ERR_AUTH ("truncated"). */
cx_err cx_cxb_header_read(cx_reader *r, uint8_t buf[CX_CXB_MAX_HEADER_LEN], cx_cxb_header *h,
                          cx_error *e);
/* Plaintext bytes of chunk i, and where its ciphertext starts in the blob. */
size_t cx_cxb_chunk_plain_len(const cx_cxb_header *h, uint64_t i);
uint64_t cx_cxb_chunk_offset(const cx_cxb_header *h, uint64_t i);

typedef struct cx_cxb_seal_params {
    const uint8_t *recipient_pub; /* 32 bytes (suite 1); NULL with a key object */
    const char *pool_id;          /* 1..CX_CXB_MAX_POOL_ID printable ASCII */
    const char *contributor;      /* 1..CX_CXB_MAX_CONTRIBUTOR printable ASCII */
    cx_content_type content_type;
    uint32_t chunk_size;          /* 0: CX_CXB_DEFAULT_CHUNK */
    /* Suite 2 instead of a recipient: the key object written into the header as is (a Seal
     * EncryptedObject whose DEM key is data_key: whoever the key servers release it to
     * recovers data_key) and the 32-byte data key it yields. The caller makes both and wipes
     * data_key. */
    const uint8_t *key_object;
    size_t key_object_len; /* 1..CX_CXB_MAX_KEY_OBJECT */
    const uint8_t *data_key;
} cx_cxb_seal_params;

/* Seal exactly plaintext_len bytes read from in (streamed, one chunk of memory, wiped)
 * to out. CX_ERR_FORMAT if in yields fewer or more bytes than announced. header (may
 * be NULL) receives what the header says, its hash and the blob length; tag_hash (may be
 * NULL) the SHA-256 of the chunk tags. */
cx_err cx_cxb_seal(const cx_cxb_seal_params *p, cx_reader *in, uint64_t plaintext_len,
                   cx_writer *out, cx_cxb_header *header, uint8_t tag_hash[CX_CXB_HASH_LEN],
                   cx_error *e);

/* A per-blob decryption context: the header opened with the recipient's secret. It is
 * read-only after open, so threads may decrypt different chunks of it at once. */
typedef struct cx_cxb_ctx cx_cxb_ctx;
/* Per-thread cipher state (no allocation per chunk). */
typedef struct cx_cxb_worker cx_cxb_worker;

/* A data key known for one header (suite 2: recovered through the key servers; either suite:
 * handed by a multi-rank job's rank 0 to the rank that decrypts the blob), bound to the
 * header's hash: a header other than the one it was recovered for finds no key. */
typedef struct cx_cxb_known_key {
    uint8_t header_hash[CX_CXB_HASH_LEN];
    uint8_t data_key[32];
} cx_cxb_known_key;

/* The keys a reader holds: its X25519 key for suite 1 (may be NULL), data keys for suite 2. */
typedef struct cx_cxb_keys {
    const cx_x25519_key *x25519;
    const cx_cxb_known_key *known;
    size_t n_known;
} cx_cxb_keys;

/* Open: parse; a known key of this header hash, when held, opens it (either suite); else
 * suite 1: check the recipient key id (CX_ERR_VERIFY "sealed to another recipient" before any
 * decryption), then HPKE-open the data key (CX_ERR_AUTH: header edited); suite 2 without its
 * known key: CX_ERR_VERIFY. */
cx_err cx_cxb_open_keys(const uint8_t *hdr, size_t hdr_len, const cx_cxb_keys *keys,
                        cx_cxb_ctx **out, cx_error *e);
/* A suite-1 header's data key (into secure memory the caller wipes), HPKE-opened with the
 * recipient's key: what a multi-rank job's rank 0 hands, as a known key, to the rank that
 * decrypts the blob. Errors as cx_cxb_open_keys; a suite-2 header: CX_ERR_ARG. */
cx_err cx_cxb_header_data_key(const uint8_t *hdr, size_t hdr_len, const cx_x25519_key *key,
                              uint8_t data_key[32], cx_error *e);
/* cx_cxb_open_keys with the X25519 key alone. */
cx_err cx_cxb_open(const uint8_t *hdr, size_t hdr_len, const cx_x25519_key *key,
                   cx_cxb_ctx **out, cx_error *e);
const cx_cxb_header *cx_cxb_ctx_header(const cx_cxb_ctx *c);
void cx_cxb_ctx_free(cx_cxb_ctx *c);

cx_err cx_cxb_worker_new(cx_cxb_worker **out, cx_error *e);
void cx_cxb_worker_free(cx_cxb_worker *w);
/* Bytes this worker has run through AES so far (the fault search's cost is checked by it). */
uint64_t cx_cxb_worker_bytes(const cx_cxb_worker *w);

/* Outcome of a failed chunk, worked out by cx_cxb_chunk_decrypt (named in messages). */
typedef enum cx_cxb_fault {
    CX_CXB_FAULT_NONE = 0,
    CX_CXB_FAULT_ALTERED,   /* authenticates as no nearby chunk: bytes changed */
    CX_CXB_FAULT_MOVED,     /* it is chunk `found` of this blob, at the wrong position */
    CX_CXB_FAULT_LENGTH,    /* wrong length for its position (truncated / extended) */
} cx_cxb_fault;

/* Decrypt chunk i: in = ciphertext || tag (cx_cxb_chunk_plain_len + 16 bytes),
 * out = plaintext (may equal in). On failure CX_ERR_AUTH; *fault and *found (either may
 * be NULL) tell whether the bytes are another chunk of this blob (found = its index, at
 * most 64 positions either side), so callers can name reordering, duplication and
 * dropping. in is left as it was. A failed chunk costs at most two passes over its bytes
 * plus 16 bytes of AES per position tried (2 KiB), however large the chunk. */
cx_err cx_cxb_chunk_decrypt(const cx_cxb_ctx *c, cx_cxb_worker *w, uint64_t i,
                            const uint8_t *in, size_t in_len, uint8_t *out,
                            cx_cxb_fault *fault, uint64_t *found, cx_error *e);

/* ---- streaming decryption pipeline ---- */
/* Where chunk buffers come from: cx_secmem by default; the CUDA backend supplies pinned
 * memory. alloc returns NULL (and fills e) on failure. */
typedef struct cx_buf_allocator {
    void *(*alloc)(void *ud, size_t len, cx_error *e);
    void (*free)(void *ud, void *p, size_t len);
    void *ud;
} cx_buf_allocator;

typedef enum cx_pipeline_policy {
    CX_PIPELINE_SKIP = 0,  /* a failed blob is reported; the others go on */
    CX_PIPELINE_FATAL = 1, /* the first failed blob stops the run */
} cx_pipeline_policy;

typedef struct cx_pipeline_config {
    int threads;           /* decrypt threads (OpenMP); 0: omp_get_max_threads() */
    size_t buffers;        /* chunk buffers in flight; 0: 2 per thread (min 2) */
    size_t buffer_size;    /* bytes per buffer; 0: CX_CXB_DEFAULT_CHUNK + tag. A blob with
                              larger chunks fails with CX_ERR_LIMIT. */
    cx_pipeline_policy policy;
    const cx_buf_allocator *allocator; /* NULL: cx_secmem */
    const char *cpulist;   /* NULL, or bind the decrypt threads to these CPUs ("0-3") */
    const cx_logger *log;  /* may be NULL */
    /* data keys of suite-2 blobs (cx_cxb_open_keys), beside the X25519 key of the run */
    const cx_cxb_known_key *known_keys;
    size_t n_known_keys;
} cx_pipeline_config;

/* One input: a stream (reader) or, when fd >= 0, a seekable file whose chunks the decrypting
 * threads read at their offsets (pread, in parallel; the reader is then unused). Either way
 * a chunk is read into a locked buffer and decrypted there in place. The caller keeps
 * ownership of fd and reader. */
typedef struct cx_pipeline_blob {
    const char *id;
    cx_reader reader;
    int fd;
} cx_pipeline_blob;

/* One authenticated chunk, delivered in order per blob (blobs in list order). data is
 * valid only during the call. */
typedef struct cx_pipeline_chunk {
    size_t blob;           /* index in the blob list */
    const char *blob_id;
    const cx_cxb_header *header;
    uint64_t index;
    const uint8_t *data;
    size_t len;
    int last;
} cx_pipeline_chunk;

typedef struct cx_pipeline_result {
    cx_err status;                /* CX_OK, or why the blob failed */
    char error[CX_ERROR_MSG_MAX]; /* names blob, chunk and what failed */
    int64_t failed_chunk;         /* -1: header / none */
    int header_ok;                /* header parsed (fields below valid), also when the key
                                     then failed to open it */
    cx_cxb_header header;
    uint8_t tag_hash[CX_CXB_HASH_LEN]; /* SHA-256 of the chunk tags (valid if status OK) */
    uint64_t bytes;               /* plaintext bytes delivered */
} cx_pipeline_result;

typedef struct cx_pipeline_consumer {
    /* Each chunk, in order per blob; a non-OK return stops the run with that error. */
    cx_err (*chunk)(void *ud, const cx_pipeline_chunk *c, cx_error *e);
    /* After each blob (may be NULL): whether it completed; chunks already delivered of a
     * failed blob are authentic but the blob is incomplete: discard them. */
    cx_err (*blob_done)(void *ud, size_t blob, const cx_pipeline_result *r, cx_error *e);
    void *ud;
} cx_pipeline_consumer;

/* Bytes of chunk buffers a pipeline may lock for blobs sealed with large chunks. */
#define CX_PIPELINE_LARGE_CHUNK_BUDGET ((size_t)256 << 20)

/* Size cfg's buffers for blobs whose chunks are up to max_chunk bytes (read from their
 * headers): max_chunk + tag each, as many as cfg would have had but within budget bytes in all
 * (at least 2). Chunks the default buffers hold leave cfg as it is. */
void cx_pipeline_config_fit(cx_pipeline_config *cfg, uint32_t max_chunk, size_t budget);

/* Run: results has n entries. Returns CX_OK when every blob succeeded, or the first
 * failure's code under either policy (results say which blobs); the consumer's own error
 * stops the run and is returned as is. The callbacks run on one thread at a time (the
 * reading thread), inside the OpenMP region: a consumer's own parallel region is nested.
 * Failures are also logged at INFO on cfg->log. */
cx_err cx_pipeline_run(const cx_pipeline_config *cfg, const cx_x25519_key *key,
                       cx_pipeline_blob *blobs, size_t n, const cx_pipeline_consumer *consumer,
                       cx_pipeline_result *results, cx_error *e);

/* Bind the calling thread to the CPUs in cpulist (hwloc list syntax, "0-3,8"). */
cx_err cx_io_bind_thread(const char *cpulist, cx_error *e);

/* ===================== blob stores ===================== */

/* A cx_store keeps opaque blobs under a text id (43 chars: unpadded base64url of 32
 * bytes). Opened from a URL:
 *   local:DIR  content-addressed directory. id = base64url(SHA-256(bytes)) — SHA-256,
 *              not Walrus's RS2-derived id. File DIR/<id[0..1]>/<id>; writes go to
 *              DIR/.tmp, are fsync'ed and renamed into place, so concurrent readers see
 *              a whole blob or none and equal content always lands on the same id.
 *   walrus:[?publisher=URL&aggregator=URL&epochs=N]
 *              Walrus HTTP API: PUT {publisher}/v1/blobs?epochs=N, GET
 *              {aggregator}/v1/blobs/{id}. Defaults: the public testnet endpoints.
 * Walrus manifest. Publishers refuse bodies over 10 MiB, so a blob longer than
 * part_size (default 10 MiB - 64 KiB) is stored as parts (each a Walrus blob) plus one
 * manifest blob whose id is returned. Manifest bytes = the line
 * "cloakx-walrus-manifest/1\n" followed by compact JSON
 *   {"size":N,"part_size":P,"parts":[{"blob_id":ID,"size":n,"sha256":HEX64},...]}
 * (sizes > 0, sum == N, each <= P; at most CX_WALRUS_MANIFEST_MAX_PARTS parts). get()
 * recognises the prefix and streams the parts in order, checking each part's length
 * and SHA-256. A blob whose own bytes start with that prefix is always stored behind a
 * one-part manifest, so reading is never ambiguous. See io/FORMAT.md.
 * Threads: a cx_store may be shared; each reader belongs to one thread at a time. The
 * program calls curl_global_init() once before any walrus: store is used (engine/ does). */
#define CX_STORE_ID_LEN 43
#define CX_STORE_ID_MAX 64 /* buffer size for an id, NUL included */
#define CX_WALRUS_MAX_BODY (10u * 1024u * 1024u)
#define CX_WALRUS_PART_SIZE_DEFAULT (CX_WALRUS_MAX_BODY - 64u * 1024u)
#define CX_WALRUS_MANIFEST_MAGIC "cloakx-walrus-manifest/1\n"
#define CX_WALRUS_MANIFEST_MAX_PARTS 65536u
#define CX_WALRUS_TESTNET_PUBLISHER "https://publisher.walrus-testnet.walrus.space"
#define CX_WALRUS_TESTNET_AGGREGATOR "https://aggregator.walrus-testnet.walrus.space"

typedef struct cx_store cx_store;

/* Zero means "default" for every numeric field (see cx_store_options_init). */
typedef struct cx_store_options {
    const char *publisher;    /* walrus: overrides the URL's / the testnet default */
    const char *aggregator;   /* walrus: idem */
    const char *token;        /* walrus: "Authorization: Bearer" for the publisher */
    uint32_t epochs;          /* walrus: storage epochs ahead (default 1) */
    size_t part_size;         /* walrus: manifest part size (default above) */
    unsigned parallel;        /* walrus: parts downloading at once (default 4) */
    long connect_timeout_ms;  /* default 10000 */
    long low_speed_time_s;    /* a transfer under 1 KiB/s for this long is retried (30) */
    long total_timeout_ms;    /* bound on the time one request (or part) may spend
                                 failing and backing off without receiving a byte, and
                                 on one whole PUT to the publisher (300000) */
    unsigned max_retries;     /* attempts after the first, per request (default 6) */
    unsigned backoff_base_ms; /* exponential back-off with jitter: base (200) */
    unsigned backoff_max_ms;  /* ... capped at (10000); Retry-After honoured up to 60 s */
    int verify;               /* local: re-hash on get and fail on mismatch */
    const cx_logger *log;     /* retries are logged at WARN; may be NULL */
} cx_store_options;

typedef struct cx_store_info {
    uint64_t size;   /* logical blob size (manifest: sum of the parts) */
    int is_manifest; /* walrus: the id names a manifest */
    uint32_t parts;  /* walrus manifest: number of parts; else 1 */
} cx_store_info;

void cx_store_options_init(cx_store_options *o); /* all defaults filled in */
/* opt may be NULL. The store copies the strings; opt->log must outlive the store. */
cx_err cx_store_open(const char *url, const cx_store_options *opt, cx_store **out, cx_error *e);
void cx_store_free(cx_store *s); /* NULL is fine */
const char *cx_store_kind(const cx_store *s); /* "local" or "walrus" */
/* Store everything src yields (streamed; src stays the caller's); id gets the blob id. */
cx_err cx_store_put(cx_store *s, cx_reader *src, char id[CX_STORE_ID_MAX], cx_error *e);
/* Open the blob as a stream; the caller closes *out with out->close(out->ctx). A missing
 * or expired blob is CX_ERR_NOTFOUND. Readers are independent: one per thread is fine. */
cx_err cx_store_get(cx_store *s, const char *id, cx_reader *out, cx_error *e);
cx_err cx_store_stat(cx_store *s, const char *id, cx_store_info *st, cx_error *e);
/* True when id has the blob-id form (43 base64url chars that decode to 32 bytes). */
int cx_store_id_valid(const char *id);

/* ===================== data parsers ===================== */

/* Parsers turn plaintext chunks (CSV, JSON lines, the f32 matrix of FORMAT.md) into a
 * float feature matrix. A parser is fed chunk by chunk per blob, in order; different
 * blobs may be fed from different threads at the same time (never one blob from two).
 * Rows straddling chunk boundaries are carried. Finalize merges blobs in blob order,
 * then file order, whatever the thread count. */

typedef enum cx_data_format { CX_DATA_CSV = 0, CX_DATA_JSONL = 1, CX_DATA_F32 = 2 } cx_data_format;

/* "csv", "jsonl" (or "ndjson"), "f32". */
cx_err cx_data_format_parse(const char *name, cx_data_format *out, cx_error *e);
/* By file name: *.jsonl / *.ndjson -> JSONL, *.f32 -> F32, anything else CSV. */
cx_data_format cx_data_format_from_path(const char *path);

/* What to do with a missing value (empty CSV field, NA, NaN, null, absent JSON key,
 * NaN in f32). Default: CX_MISSING_REJECT (the row is counted bad). A missing label
 * always makes the row bad. KEEP_NAN leaves NaN in X (for `stats`; trainers refuse). */
typedef enum cx_missing_policy {
    CX_MISSING_REJECT = 0,
    CX_MISSING_FILL_MEAN = 1,  /* column mean over the accepted rows of all blobs */
    CX_MISSING_FILL_VALUE = 2, /* a constant given in the schema */
    CX_MISSING_KEEP_NAN = 3,
} cx_missing_policy;

/* NUMERIC: regression target, y = value. CLASS: class names (the label strings as
 * written) sorted -- numerically when all parse as numbers, else bytewise -- and
 * y = index 0..K-1. NONE: no label (stats). */
typedef enum cx_label_kind { CX_LABEL_NONE = 0, CX_LABEL_NUMERIC = 1, CX_LABEL_CLASS = 2 } cx_label_kind;

typedef enum cx_bad_reason {
    CX_BAD_FIELD_COUNT = 1, /* CSV row with a different number of fields than the header */
    CX_BAD_NUMBER,          /* numeric column that is not a finite float32 */
    CX_BAD_MISSING,         /* missing value under CX_MISSING_REJECT */
    CX_BAD_CATEGORY,        /* category absent from the vocabulary given in the job */
    CX_BAD_LABEL,           /* missing or unparseable label */
    CX_BAD_QUOTE,           /* malformed RFC 4180 quoting */
    CX_BAD_JSON,            /* line is not a flat JSON object */
    CX_BAD_KEY,             /* JSONL key not among the columns, or given twice */
    CX_BAD_TRUNCATED,       /* f32 data that ends inside a row */
} cx_bad_reason;
const char *cx_bad_reason_name(cx_bad_reason r); /* "field_count", "number", ... */

/* Which columns, which label, how strings and gaps are handled. Build it in code or
 * from the job's JSON (keys: features [names], label, label_type "class"|"numeric",
 * categorical {name: [vocabulary] | null (collected)}, missing "reject"|"mean"|
 * "value"|"keep", fill_value, max_bad_fraction (default 0: any bad row fails the
 * blob), delimiter (one character, CSV), header (bool, CSV, default true; false names
 * columns c0, c1, ...), skip_lines (lines before the header/data), max_record_bytes
 * (integer, default CX_MAX_RECORD_BYTES_DEFAULT: the longest record held while it spans
 * chunks, CSV and JSONL alike; a longer one, e.g. an unterminated quoted CSV field, fails
 * its blob with CX_ERR_LIMIT naming the blob, the line and the limit)). Other keys are
 * refused. With no features named, every column but the label is a feature (the first
 * blob's column order).
 * Declared data (job specs): format "csv"|"jsonl"|"f32", and columns [{name, type
 * "numeric"|"categorical"|"class", values [...]}]: every blob must have exactly these
 * columns (any order; else it fails alone, the message naming the column), the merge
 * maps blobs onto the declared order, a categorical's values are its vocabulary and a
 * class label's values its classes in that order (y = index; other values are bad rows). */
typedef struct cx_dataset_schema cx_dataset_schema;
#define CX_MAX_RECORD_BYTES_DEFAULT ((size_t)1 << 30)
#define CX_MAX_RECORD_BYTES_MAX ((size_t)1 << 34)

cx_err cx_dataset_schema_new(cx_dataset_schema **out, cx_error *e);
cx_err cx_dataset_schema_from_json(const json_t *j, cx_dataset_schema **out, cx_error *e);
void cx_dataset_schema_free(cx_dataset_schema *s);
cx_err cx_dataset_schema_add_feature(cx_dataset_schema *s, const char *name, cx_error *e);
cx_err cx_dataset_schema_set_label(cx_dataset_schema *s, const char *name, cx_label_kind kind,
                                   cx_error *e);
/* vocab NULL: collected while parsing (sorted bytewise at finalize). Unknown values
 * against a given vocabulary are bad rows (CX_BAD_CATEGORY). */
cx_err cx_dataset_schema_add_categorical(cx_dataset_schema *s, const char *name,
                                         const char *const *vocab, size_t n_vocab, cx_error *e);
cx_err cx_dataset_schema_set_missing(cx_dataset_schema *s, cx_missing_policy policy,
                                     float fill_value, cx_error *e);
cx_err cx_dataset_schema_set_bad_fraction(cx_dataset_schema *s, double max_bad_fraction,
                                          cx_error *e);
cx_err cx_dataset_schema_set_csv(cx_dataset_schema *s, char delimiter, int has_header,
                                 size_t skip_lines, cx_error *e);
/* bytes in [1, CX_MAX_RECORD_BYTES_MAX] */
cx_err cx_dataset_schema_set_max_record(cx_dataset_schema *s, size_t bytes, cx_error *e);
/* The declared format ("format"): 1 and *fmt set when declared, else 0. */
int cx_dataset_schema_format(const cx_dataset_schema *s, cx_data_format *fmt);
/* What a marketplace job needs: format, columns and label declared, every categorical's
 * vocabulary and a class label's class names given, so that nothing about the data's
 * shape is taken from a blob (chain/RULES.md §data). */
cx_err cx_dataset_schema_require_declared(const cx_dataset_schema *s, cx_error *e);
/* The i-th column a job's data uses (the label first, then each feature: those named in
 * "features", else every declared column but the label); NULL past the last. *is_label (may
 * be NULL) says which. What a pool's forbidden columns are checked against. */
const char *cx_dataset_schema_used_column(const cx_dataset_schema *s, size_t i, int *is_label);
/* Under DP: every numeric feature and a numeric label declare "mean" and "std", so that the
 * standardisation (and a "mean" fill) is the spec's, not the data's; with dp_bounds (the
 * spec's "privacy.standardize": "dp") "min" and "max" will do instead, the standardisation
 * then being computed by a DP mechanism on that range, and a "mean" fill still needs "mean". */
cx_err cx_dataset_schema_require_stats(const cx_dataset_schema *s, int dp_bounds, cx_error *e);

enum { CX_BAD_ROWS_LISTED = 16 };

typedef struct cx_bad_row {
    uint64_t line;        /* 1-based physical line where the row starts (f32: row index) */
    cx_bad_reason reason;
    uint32_t column;      /* 0-based field index (when known) */
} cx_bad_row;

typedef struct cx_blob_rows {
    uint64_t rows;                        /* accepted */
    uint64_t bad_rows;                    /* rejected */
    int failed;                           /* blob excluded: error says why */
    int columns_differ;                   /* ... because its columns are not the job's */
    char error[256];
    size_t n_listed;                      /* first bad rows, in file order */
    cx_bad_row listed[CX_BAD_ROWS_LISTED];
} cx_blob_rows;

/* The parsed, merged data: plain arrays the trainer consumes directly. */
typedef struct cx_dataset {
    size_t n, d;
    float *X;             /* (n, d) row-major, 64-byte aligned, cx_secmem */
    float *y;             /* (n), cx_secmem; NULL without a label */
    char **feature_names; /* d, after one-hot expansion ("city=Paris") */
    cx_label_kind label_kind;
    char *label_name;     /* NULL without a label */
    size_t n_classes;     /* CX_LABEL_CLASS */
    char **class_names;
    size_t n_blobs;
    cx_blob_rows *blobs;  /* per blob: accepted and bad rows */
    float *fill_values;   /* (d) CX_MISSING_FILL_MEAN: what each column's gaps were filled
                             with (NaN: one-hot column), for filling at prediction time as
                             in training; NULL under the other policies */
    float *given_mean;    /* (d) the declared standardisation ("mean"/"std" of the columns):
                             one-hot columns 0 and 1, NaN for a column that declares only its
                             range; NULL unless every numeric feature declares one or the other */
    float *given_std;
    float *bound_lo;      /* (d) the declared range ("min"/"max") of the columns that declare no
                             standardisation, NaN elsewhere: what a DP standardisation clips
                             to; NULL when no such column */
    float *bound_hi;
    int y_stats_given;    /* numeric label: its declared mean and std */
    float y_mean, y_std;
    int y_bounds_given;   /* numeric label without a declared mean and std: its range */
    float y_lo, y_hi;
} cx_dataset;

void cx_dataset_free(cx_dataset *ds);

typedef struct cx_parser cx_parser;

/* The schema must outlive the parser (it is read, never copied or changed). */
cx_err cx_parser_new(const cx_dataset_schema *s, cx_data_format fmt, size_t n_blobs,
                     cx_parser **out, cx_error *e);
/* Feed the next bytes of one blob; is_last ends it (len may be 0). An error fails that
 * blob only (it is left out of the dataset); other blobs go on. */
cx_err cx_parser_feed(cx_parser *p, size_t blob, const void *bytes, size_t len, int is_last,
                      cx_error *e);
/* Every blob must have been ended (or failed). Fails when no rows were accepted. */
cx_err cx_parser_finalize(cx_parser *p, cx_dataset **out, cx_error *e);
void cx_parser_free(cx_parser *p);

/* Plaintext files (development, benchmarks): one blob per file, format by extension,
 * each file split at row boundaries and parsed on `threads` OpenMP threads (0: the
 * OpenMP default). Any failed file fails the load. */
cx_err cx_dataset_load_files(const cx_dataset_schema *s, const char *const *paths, size_t n_paths,
                             int threads, cx_dataset **out, cx_error *e);

/* Write the f32 matrix of FORMAT.md (label_col -1: none). */
cx_err cx_f32_write(const char *path, const float *X, size_t rows, size_t cols,
                    const char *const *names, int32_t label_col, cx_error *e);

/* Standardisation: mean and std per feature, one parallel pass (Welford per block of
 * rows, Chan merge in block order: identical for any thread count). std is the
 * population std; a constant column gets std 1 so it maps to 0. NaNs are skipped. */
typedef struct cx_standardizer {
    size_t d;
    float *mean; /* (d) */
    float *std;  /* (d) */
} cx_standardizer;

cx_err cx_standardizer_fit(const float *X, size_t n, size_t d, cx_standardizer *out, cx_error *e);
void cx_standardizer_apply(const cx_standardizer *st, float *X, size_t n); /* in place */
void cx_standardizer_free(cx_standardizer *st);

/* Per-column statistics for `stats`: NaN entries are missing and not counted. */
enum { CX_STATS_NQ = 7 };
extern const double cx_stats_quantile_levels[CX_STATS_NQ]; /* .01 .05 .25 .5 .75 .95 .99 */

typedef struct cx_column_stats {
    uint64_t count;
    double mean, std, min, max; /* std: sample (n-1); NaN when undefined */
    double q[CX_STATS_NQ];      /* exact, linear interpolation (numpy's default) */
} cx_column_stats;

typedef struct cx_stats {
    size_t d;
    cx_column_stats *cols; /* (d) */
    double *corr;          /* (d, d) Pearson, pairwise-complete rows; NaN if undefined */
} cx_stats;

cx_err cx_stats_compute(const float *X, size_t n, size_t d, cx_stats *out, cx_error *e);
void cx_stats_free(cx_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* CX_IO_H */
