/* cx_engine.h — the job library under the `cloakx` tool (cli/): identities, ledger and store
 * handles, enclave registration, job requests, the job pipeline run inside the TEE, result
 * bundles and their verification, the worker loop, and model metadata. */
#ifndef CX_ENGINE_H
#define CX_ENGINE_H

#include "cx_attest.h"
#include "cx_chain.h"
#include "cx_io.h"
#include "cx_kernels.h"
#include "cx_util.h"

/* ---- identities, handles ---- */

/* A role's identity is a key dir made by `cloakx keygen`: DIR/ed25519.key signs ledger
 * transactions (the address is derived from its public key), DIR/x25519.pub receives sealed
 * data (a buyer's model). */
cx_err cx_job_identity_load(const char *keydir, cx_chain_key **out, cx_error *e);

/* "PATH" or "local:PATH": the local SQLite ledger; "sui:URL?package=0x..&market=0x..[&coin=
 * TYPE][&gas_budget=MIST]": the cloakx_market contract on Sui over GraphQL (chain/ledger_sui.c). */
cx_err cx_job_ledger_open(const char *url, const cx_logger *log, cx_ledger **out, cx_error *e);
cx_err cx_job_store_open(const char *url, const cx_logger *log, cx_store **out, cx_error *e);

/* The simulated TEE's measurement of this binary (PCR0 = SHA-384 of /proc/self/exe). */
cx_err cx_job_measure_self(uint8_t out[48], cx_error *e);

/* Read a whole blob (at most max bytes) into *buf (malloc'ed). */
cx_err cx_job_store_read_all(cx_store *s, const char *id, size_t max, uint8_t **buf, size_t *len,
                             cx_error *e);
/* Store bytes; id gets the blob id. */
cx_err cx_job_store_put_bytes(cx_store *s, const void *buf, size_t len, char id[CX_STORE_ID_MAX],
                              cx_error *e);

/* ---- operator state: the enclave this node runs ---- */

/* DIR/enclave.json = {"enclave_id": "0x…"} written by `cloakx enclave register`; the
 * simulated TEE keeps its keys in DIR/tee/ (attestation's SIMULATED-enclave-keys.json). */
cx_err cx_job_enclave_state_save(const char *state_dir, const cx_chain_id *id, cx_error *e);
cx_err cx_job_enclave_state_load(const char *state_dir, cx_chain_id *id, cx_error *e);
cx_err cx_job_tee_open(const char *state_dir, const char *devca_dir, const cx_logger *log,
                       cx_tee **out, cx_error *e);
/* "DIR/tee" into out (PATH_MAX). */
cx_err cx_job_tee_dir(const char *state_dir, char *out, size_t cap, cx_error *e);

/* The registration document's user_data: the X25519 receiving key (32 bytes) followed by the
 * enclave's Ed25519 endorsement of it (64 bytes, cx_tee_x25519_endorse), so the attested
 * document itself binds both keys. */
enum { CX_JOB_REG_USER_DATA_LEN = 96 };

/* Register tee's enclave: attest (user_data = X25519 key + endorsement), verify the document
 * with the Nitro verifier under root_pem (allow_simulated as given), refuse (CX_ERR_VERIFY)
 * when pool (may be NULL) does not accept its PCR0 or signer is not the pool's operator, store
 * the document (any store: its blob id is registered beside its SHA-256), register on the
 * ledger signed by signer, add it to pool (RULES.md §2.1), and save the id in state_dir. */
typedef struct cx_job_registration {
    cx_chain_id id;
    cx_ledger_enclave enclave;
    char doc_blob_id[CX_STORE_ID_MAX];
} cx_job_registration;
cx_err cx_job_enclave_register(cx_ledger *l, cx_store *s, cx_tee *tee, const cx_chain_key *signer,
                               const char *root_pem, size_t root_len, int allow_simulated,
                               const cx_chain_id *pool, const char *state_dir,
                               cx_job_registration *out, cx_error *e);

/* What a seller checks before sealing to an enclave: its registration document (from the
 * store, by the ledger's blob id, hashing to the ledger's SHA-256) verifies under the policy,
 * carries the registered Ed25519 key and the endorsed X25519 key, and its PCR0 is the registered
 * measurement, which the pool accepts. CX_ERR_VERIFY says which part failed. */
cx_err cx_job_enclave_check(cx_store *s, const cx_ledger_enclave *en, const cx_ledger_pool *pool,
                            const cx_nitro_policy *pol, cx_error *e);

/* ---- job requests ---- */

/* What a buyer stores next to a job: {"format":"cloakx-job-request/1", "spec":{…},
 * "buyer_x25519":"<base64 of 32 bytes>"}. Its SHA-256 is the ledger's spec_hash and the
 * statement's config_hash; the buyer's signed job_create transaction binds it. */
cx_err cx_job_request_build(const json_t *spec, const uint8_t buyer_x25519[32], char **out,
                            size_t *len, cx_error *e);
/* What a marketplace job's spec must hold (chain/RULES.md, "The job's data"): a training task
 * and its data declared in full -- format, columns, label, every categorical's vocabulary, a
 * class label's classes -- so that no blob decides them. *data_out (may be NULL): the spec's
 * data with label_type filled from the task; *schema_out (may be NULL): that data parsed. */
cx_err cx_job_spec_check(const cx_spec *spec, json_t **data_out, cx_dataset_schema **schema_out,
                         cx_error *e);
cx_err cx_job_request_parse(const uint8_t *buf, size_t len, cx_spec *spec, uint8_t buyer_x25519[32],
                            cx_error *e);
/* The pool's policy (chain/RULES.md §9.8) against a checked spec (schema: its data, from
 * cx_job_spec_check): DP when the pool requires it, no forbidden column as a feature or the
 * label, the epochs and the parameters from one feature within the pool's budget, and the ε
 * the spec fixes without the data (the DP standardisation's share) within the cap. CX_ERR_
 * FORMAT (CX_ERR_LIMIT for the budget) naming the key or the column, never a value of data.
 * What the buyer's client checks before paying and the enclave again before it reads data. */
cx_err cx_job_policy_check(const cx_spec *spec, const cx_dataset_schema *schema,
                           const cx_ledger_pool_policy *pol, cx_error *e);
/* The budget a job runs under: per bound the smaller of the operator's and the pool's
 * (0 = no limit on either side). */
void cx_job_budget_for_pool(const cx_compute_budget *operator_budget,
                            const cx_ledger_pool_policy *pol, cx_compute_budget *out);
/* The ε cap on the data the job will train on (rows): the DP-SGD plan's ε (cx_spec_dp_plan)
 * plus the DP standardisation's share, against the pool's cap; *planned (may be NULL) gets
 * that total. CX_ERR_LIMIT naming "privacy" and the cap. No cap or no DP: CX_OK. */
cx_err cx_job_epsilon_check(const cx_spec *spec, size_t rows, const cx_ledger_pool_policy *pol,
                            double *planned, cx_error *e);

/* ---- live status (status.c, http_status.c): what `cloakx worker --listen` serves ---- */

/* The worker's status model: the enclave, each job's state, phase and progress, per-
 * contributor acceptance, recent errors, call latencies. Written by the worker thread, read by
 * the server's threads (a mutex inside). It only ever holds ids, counts, timings, losses,
 * phase names and reasons: never rows, values, vocabularies or keys. Every function takes a
 * NULL model as "no status kept" and does nothing. */
typedef struct cx_status cx_status;
cx_err cx_status_new(cx_status **out, cx_error *e);
void cx_status_free(cx_status *s);
/* The enclave: TEE backend ("sim" | "nitro"), registered measurement, when the registration
 * document was made (ms since the epoch), training device and GPU CC mode, as words. */
void cx_status_enclave(cx_status *s, const char *enclave_hex, const char *tee_backend,
                       const uint8_t *measurement, size_t measurement_len, uint64_t attested_ms,
                       const char *device, const char *cc_mode);
/* GPU memory and utilisation for /metrics, sampled through nv (NVML, n_gpus devices) at
 * each scrape; the model takes nv over and closes it. */
void cx_status_gpu_attach(cx_status *s, cx_gpu_nvml *nv, unsigned n_gpus);
void cx_status_job_queued(cx_status *s, const char *job_hex, uint64_t payment);
/* running, now in phase (one of the pipeline's phase names) */
void cx_status_job_phase(cx_status *s, const char *job_hex, const char *phase);
void cx_status_job_decrypt(cx_status *s, const char *job_hex, uint64_t blobs_done,
                           uint64_t blobs_total, uint64_t bytes_done, uint64_t bytes_total);
void cx_status_job_epoch(cx_status *s, const char *job_hex, int epoch, int epochs,
                         double train_loss, double val_loss, double seconds);
void cx_status_job_epsilon(cx_status *s, const char *job_hex, double epsilon);
/* The device the job trains on, as soon as it is chosen (the page shows it while it runs). */
void cx_status_job_device(cx_status *s, const char *job_hex, const char *device);
/* state: "paid" | "refunded" | "failed" | "closed"; report (may be NULL): the job report,
 * whose contributors, rejections, device and timings are kept; error: the reason (failed). */
void cx_status_job_end(cx_status *s, const char *job_hex, const char *state, const json_t *report,
                       const char *error);
/* One call to a ledger or store ("ledger" | "store", op): its latency and outcome. */
void cx_status_call(cx_status *s, const char *service, const char *op, double seconds, cx_err rc);
/* A logger that keeps warnings and errors as the model's recent errors and passes every
 * line on to inner; out must live as long as it is used. */
void cx_status_logger(cx_status *s, const cx_logger *inner, cx_logger *out);
/* {"enclave", "jobs": [...], "errors": [...], "now_ms"}: malloc'ed JSON text. */
char *cx_status_json(cx_status *s);
/* Prometheus text exposition format 0.0.4: malloc'ed. */
char *cx_status_metrics(cx_status *s);

/* The read-only HTTP server over a status model (libmicrohttpd, its own threads): GET or
 * HEAD of / (the page), /api/status (JSON), /metrics; any other method gets 405. listen is
 * "HOST:PORT" (IPv4; port 0 picks one). Beyond loopback a bearer token is required; a token
 * given is required on every request (compared in constant time). */
typedef struct cx_status_server cx_status_server;
cx_err cx_status_server_start(cx_status *s, const char *listen, const char *token,
                              cx_status_server **out, cx_error *e);
unsigned cx_status_server_port(const cx_status_server *srv);
void cx_status_server_stop(cx_status_server *srv);

#ifdef CX_HAVE_SEAL
/* ---- Seal for sealed blobs (seal_keys.c): .cxb suite 2 ----
 * A seller seals a blob's data key into a Seal object (DEM "plain") to the identity pool id ||
 * 16-byte nonce under the key servers it chose; the pool's enclave recovers the key from those
 * servers as itself (the seal_approve_dataset policy: only an enclave the pool's operator
 * added). The key servers a party uses come from a JSON file:
 *   {"package": "0x…", "threshold": t, "timeout_ms": 10000,
 *    "servers": [{"url": "http://…", "object_id": "0x…", "public_key": "<96 bytes hex>"}, …]} */
enum { CX_SEAL_CONFIG_SERVERS_MAX = 16, CX_SEAL_NONCE_MAX = 32, CX_SEAL_SESSION_MIN = 10 };
typedef struct cx_seal_config {
    cx_chain_addr package;
    uint8_t threshold;
    long timeout_ms;
    cx_seal_endpoint servers[CX_SEAL_CONFIG_SERVERS_MAX];
    char urls[CX_SEAL_CONFIG_SERVERS_MAX][CX_SEAL_URL_MAX];
    size_t n_servers;
} cx_seal_config;
/* The policy package id of the local market (the local key servers' default): SHA-256 of
 * "cloakx/local-market/seal_policy", so that every local setup agrees without configuration. */
void cx_seal_local_package(cx_chain_addr *out);
cx_err cx_seal_config_from_json(const json_t *j, cx_seal_config *c, cx_error *e);
cx_err cx_seal_config_load(const char *path, cx_seal_config *c, cx_error *e);
/* A seller's key object for pool (*obj malloc'ed) and the data key it yields (wipe it). */
cx_err cx_seal_dataset_object(const cx_seal_config *c, const cx_chain_id *pool, uint8_t **obj,
                              size_t *len, uint8_t data_key[32], cx_error *e);
/* The model's Seal share (RULES.md §2.2 with Seal): a Seal object to the job's id (*obj
 * malloc'ed) and the 32-byte share it yields (wipe it). */
cx_err cx_seal_model_object(const cx_seal_config *c, const cx_chain_id *job, uint8_t **obj,
                            size_t *len, uint8_t share[32], cx_error *e);
/* The buyer's side: that share from the key servers, asked as the buyer's account key (the
 * seal_approve_model policy: the job's buyer, once the job is paid). */
cx_err cx_seal_model_key(const cx_seal_config *c, const cx_chain_key *buyer,
                         const cx_ledger_job *job, const uint8_t *obj, size_t len,
                         uint8_t share[32], cx_error *e);
/* Inside the enclave: the data keys of n key objects (objs[i], lens[i]) of pool, from the
 * configured key servers that each object names, asked as the TEE's key, in one fetch_key
 * round per set of servers. CX_ERR_NET (e): the key servers failed or refused (no object's
 * fault; the job is retried). Otherwise CX_OK, and each object's own fault in rcs[i], whys[i]
 * (another package, key servers this enclave does not use, shares that do not open); keys[i]
 * (secure memory: wipe it) when rcs[i] is CX_OK. */
cx_err cx_seal_dataset_keys(const cx_seal_config *c, cx_tee *tee, const cx_ledger_pool *pool,
                            const uint8_t *const *objs, const size_t *lens, size_t n,
                            uint8_t (*keys)[32], cx_err *rcs, cx_error *whys, cx_error *e);

/* The local Seal key server (seal_keyserver.c): Seal's key-server HTTP API, POST /v1/fetch_key,
 * answering under the marketplace's policies on ks's ledger (cx_seal_ks_fetch_key) from one
 * thread. listen: HOST:PORT (port 0: any free one, see _port). ks must outlive the server. */
typedef struct cx_seal_ks_server cx_seal_ks_server;
cx_err cx_seal_ks_server_start(const cx_seal_ks *ks, const char *listen, cx_seal_ks_server **out,
                               cx_error *e);
unsigned cx_seal_ks_server_port(const cx_seal_ks_server *srv);
void cx_seal_ks_server_stop(cx_seal_ks_server *srv);
#endif

/* ---- the job pipeline (runs inside the TEE) ---- */

/* Test hook: when pause_at names a phase ("decrypted", "trained", "signed"), the run writes
 * pause_dir/paused-<phase> and sleeps there for good, so a test can SIGKILL the worker at a
 * known point. */
typedef struct cx_job_hooks {
    const char *pause_at;
    const char *pause_dir;
} cx_job_hooks;
void cx_job_hook_point(const cx_job_hooks *h, const char *phase, const cx_logger *log);

typedef struct cx_job_ranks cx_job_ranks; /* the ranks of one job (ranks.c, below) */

typedef struct cx_job_params {
    cx_ledger *ledger;
    cx_store *store;
    cx_tee *tee;
    cx_chain_id enclave_id;
    cx_chain_id job_id;
    const char *device; /* training device: "auto" (NULL), "cpu", "cuda[:N]" */
    int threads;        /* 0: all cores */
    int progress;       /* progress bars on stderr */
    const cx_logger *log;
    const cx_job_hooks *hooks; /* may be NULL */
    cx_status *status;         /* may be NULL: phases, progress, timings reported there */
    /* The operator's limits on what one job may cost (a buyer's spec must not tie the worker
     * up): the compute budget, checked on the spec before any blob is opened and on the real
     * data before training (CX_ERR_LIMIT), and the wall-clock limit from the job's start, past
     * which training stops (CX_ERR_LIMIT: the job fails). Zeros: no limit. */
    cx_compute_budget budget;
    double time_limit_s;
    /* A store that fails while a header is read (I/O, network, a 5xx) is asked again, up to
     * store_tries times in all with a backoff doubling from store_backoff_ms; still failing,
     * the job fails (the worker retries it later): never a rejected contribution. Zeros: the
     * defaults below. */
    unsigned store_tries, store_backoff_ms;
    /* The Seal key servers this enclave asks for the data keys of Seal-sealed blobs (.cxb suite
     * 2; a cx_seal_config, with the seal module); NULL: none, and a job with such a blob fails
     * (unsigned: the operator configures them and the job is retried). */
    const struct cx_seal_config *seal;
    /* Across ranks (issue 17): comm (NULL or of size 1: this process alone) is the plain MPI
     * communicator of the worker's ranks, every one its own TEE; cx_job_execute runs on rank 0,
     * cx_job_execute_rank on the others. The ranks meet per job (cx_job_ranks_join: documents
     * checked under rank_policy, NULL: the AWS root, or this TEE's kind when simulated), rank 0
     * hands each rank the data keys of its share of the blobs (cx_comm_assign_by_size) over the
     * sealed channel, each decrypts and parses its share, and they train together
     * (cx_train_comm). A job the ranks cannot split runs on rank 0 alone. */
    cx_comm *comm;
    const cx_nitro_policy *rank_policy;
} cx_job_params;
enum { CX_JOB_STORE_TRIES = 3, CX_JOB_STORE_BACKOFF_MS = 100 };
/* Epochs of loss a job report's "curve" keeps (train_loss, validation_loss, and with DP-SGD
 * the epsilon spent by each epoch's end). */
enum { CX_JOB_CURVE_MAX = 4096 };

typedef struct cx_job_output {
    uint8_t *statement; /* signing bytes (malloc'ed) */
    size_t statement_len;
    uint8_t signature[64];
    /* the KeyRelease (RULES.md §6): the model's key wrapped to the buyer, TEE-signed */
    uint8_t *key_release; /* malloc'ed */
    size_t key_release_len;
    uint8_t key_signature[64];
    char model_blob_id[CX_STORE_ID_MAX];
    json_t *report; /* backend, contributors, rejections, metrics, privacy, hashes */
    /* on failure: the class the enclave signs in its JobFailure (cx_chain_fail_reason) */
    uint8_t fail_reason;
    /* across ranks: the ranks that met, their documents and channel keys (the statement's
     * ranks_hash, the bundle's ranks); NULL for a job of one process */
    cx_job_ranks *ranks;
} cx_job_output;
void cx_job_output_free(cx_job_output *o);

/* A job this enclave accepted (cx_job_accept) → pool → contributions → open each header
 * (right recipient, pool, contributor, no duplicate; else rejected with a reason) → streamed
 * parallel decryption and authentication → parsing → training → model sealed to a fresh key
 * → stored → statement signed by the TEE, and the model key wrapped to the buyer in a signed
 * key release. Submitting both is the caller's (the worker's) step. */
cx_err cx_job_execute(const cx_job_params *p, cx_job_output *out, cx_error *e);
/* A rank other than 0 of p->comm runs its part of the job rank 0 runs (p->job_id): leader_pk
 * is rank 0's enclave key, which rank 0's document must attest. CX_OK when its part is done
 * (or rank 0 runs the job alone); an error on any rank fails every rank (named in e). */
cx_err cx_job_execute_rank(const cx_job_params *p, const uint8_t leader_pk[32], cx_error *e);

/* Dataset commitment (DESIGN.md): SHA-256 over the accepted blobs in ascending blob-id order,
 * (accepted = every header-valid blob, registered before the job, of the contributors the
 * statement lists: a contributor with a blob that fails later is left out entirely, so an
 * auditor without keys recomputes the same set),
 * each contributing u8 len(blob id) || blob id || header hash (32) || SHA-256 of its chunk
 * tags (32). */
typedef struct cx_job_commit_item {
    char blob_id[CX_STORE_ID_MAX];
    uint8_t header_hash[32];
    uint8_t tag_hash[32];
} cx_job_commit_item;
cx_err cx_job_dataset_commitment(cx_job_commit_item *items, size_t n, uint8_t out[32], cx_error *e);

/* Decrypt a whole sealed model blob (in memory) that must be job_hex's (content type model,
 * the job id in the header) with keys (the model's own key, or its data key known by header
 * hash: cx_job_model_fetch) into secure memory (*out, cx_secmem). */
cx_err cx_job_model_unseal(const uint8_t *blob, size_t len, const cx_cxb_keys *keys,
                           const char *job_hex, uint8_t **out, size_t *out_len, cx_error *e);

/* ---- bundles and verification ---- */

/* The result bundle of a job from what the ledger and the store hold: the accepted
 * statement and signature, the enclave's key and id, and its registration document (fetched
 * by the blob id the ledger recorded, checked against the recorded SHA-256). */
cx_err cx_job_bundle_from_ledger(cx_ledger *l, cx_store *s, const cx_chain_id *job,
                                 cx_result_bundle *out, cx_error *e);

typedef struct cx_job_verify_opts {
    cx_ledger *ledger;    /* NULL: on-ledger checks skipped */
    cx_store *store;      /* NULL: result hash and dataset commitment skipped */
    const char *root_pem; /* trust anchor of the TEE report (NULL: AWS Nitro root G1) */
    size_t root_pem_len;
    int allow_simulated;
    const cx_chain_id *job;     /* NULL, or the job the bundle must be the result of */
    const uint8_t *measurement; /* NULL, or the code (PCR0) the enclave must have run */
    size_t measurement_len;
    const uint8_t *request; /* NULL, or the job request whose SHA-256 is the config_hash */
    size_t request_len;
    const uint8_t *gpu_evidence; /* NULL: the bundle's, if any */
    size_t gpu_evidence_len;
} cx_job_verify_opts;

/* Every check in order; *checks (may be NULL) gets [{"check","status","detail"}]. Returns
 * CX_ERR_VERIFY naming the first failed check ("signature: …", "report: …", "measurement: …",
 * "key_binding: …", "ledger: …", "spec: …", "result_hash: …", "model_recipient: …",
 * "gpu_evidence: …", "dataset_commitment: …"); checks whose inputs are missing are noted
 * "skipped" (cx_job_verify_complete). With ledger
 * and store but no enclave_id in the bundle the commitment cannot be recomputed: status
 * "not checked", and CX_ERR_VERIFY "dataset_commitment: not checked: …" (never a pass). */
cx_err cx_job_verify_bundle(const cx_result_bundle *b, const cx_job_verify_opts *o, json_t **checks,
                            cx_error *e);
/* A verdict is VERIFIED only when every check ran: CX_OK from cx_job_verify_bundle says that
 * none failed, this says whether none was skipped (a check whose inputs were not given:
 * measurement without --ledger or a --measurement pin, ledger, spec, result_hash,
 * model_recipient, gpu_evidence when the statement commits to evidence not at hand,
 * dataset_commitment). */
int cx_job_verify_complete(const json_t *checks);
/* A statement's rejected contributions as JSON: [{contributor, blob_id, reason}] with the
 * blob id as the store names it (hex when it is no store id) and the reason's class name. */
json_t *cx_job_rejected_json(const cx_statement *st);

/* ---- the worker (worker.c) ---- */

/* Follows the ledger's event stream from a persisted cursor and runs each JobCreated job:
 * the enclave accepts it on the ledger first (RULES.md §2), then runs it; a failure retrying
 * cannot mend is signed by the enclave (the buyer is refunded at once).
 * State (state_dir): cursor, jobs/<job>.json (phase pending → signed → done | failed),
 * results/<job>.bundle.json and .report.json. The ledger's result submission is the commit
 * point: a job killed before it is re-run (or, once signed, its saved statement and key
 * release resubmitted); after it, the ledger refuses a second submission, so nothing is paid
 * twice. */
typedef struct cx_worker_config {
    const char *ledger_url, *store_url;
    cx_store *store;       /* NULL: opened from store_url; else used as is and left open (tests wrap
                              a store in their own ops this way) */
    const char *state_dir; /* also holds the enclave (enclave.json, tee/) */
    const char *devca_dir; /* the simulated TEE's development CA */
    const char *key_dir;   /* the operator identity that submits results */
    int once;              /* process what is there, then return */
    const char *device;    /* training device (cx_backend_select); NULL: "auto" */
    int threads, progress;
    unsigned poll_ms;         /* between polls of the ledger (0: 500) */
    cx_compute_budget budget; /* per job, see cx_job_params */
    double job_time_limit_s;  /* per job, see cx_job_params (0: none) */
    /* refuse to run unless every secure allocation is locked in RAM (cx_secmem_require_lock):
     * without it, the worker warns, with how much could not be locked */
    int require_mlock;
    const cx_logger *log;
    cx_job_hooks hooks;
    /* after each job settles or fails: status "paid", "refunded", "failed", "closed" */
    void (*on_job)(void *ud, const char *job_hex, const char *status, const json_t *report,
                   const char *error);
    void *ud;
    cx_status *status; /* may be NULL: the live status model the worker keeps up to date */
    const struct cx_seal_config *seal; /* may be NULL: see cx_job_params */
    /* Several ranks (the worker started under mpirun: cx_comm_mpi_create): rank 0 is the
     * worker above, and runs each job with the other ranks (cx_job_params.comm); a rank other
     * than 0 runs no loop of its own: it opens its own TEE and the store and takes part in
     * each job rank 0 calls it to, until rank 0 stops. NULL or size 1: one process. */
    cx_comm *comm;
} cx_worker_config;

typedef struct cx_worker_stats {
    unsigned events, jobs_paid, jobs_refunded, jobs_failed;
} cx_worker_stats;

cx_err cx_worker_run(const cx_worker_config *c, cx_worker_stats *stats, cx_error *e);

/* ---- helpers shared with the tool ---- */

/* "a/b" into out; CX_ERR_ARG when it does not fit. */
cx_err cx_job_path_join(char *out, size_t cap, const char *a, const char *b, cx_error *e);
/* Hex of b as a JSON string (NULL when out of memory, so that json_pack fails visibly). */
json_t *cx_job_hex_json(const uint8_t *b, size_t n);

/* A growing memory sink (a cx_writer's ctx: cx_job_membuf_write); plain malloc: ciphertext
 * and public data only. */
typedef struct cx_job_membuf {
    uint8_t *p;
    size_t len, cap;
} cx_job_membuf;
cx_err cx_job_membuf_write(void *ctx, const void *buf, size_t len, cx_error *e);
/* Seal len bytes of data (in memory) into out (appended; the caller frees out->p); h (may
 * be NULL) gets the header. */
cx_err cx_job_seal_bytes(const cx_cxb_seal_params *p, const uint8_t *data, size_t len,
                         cx_job_membuf *out, cx_cxb_header *h, cx_error *e);

/* ---- model metadata (model_meta.c): shared by `cloakx train`, jobs and `cloakx predict` ---- */

json_t *cx_job_names_json(char *const *names, size_t n);
/* The trainer's view of a merged dataset: its rows and what the spec declared about them
 * (standardisation, ranges). Borrows ds. */
cx_train_data cx_job_train_data(const cx_dataset *ds);
/* The ε a job spends on its data: DP-SGD's sgd_eps plus, under "privacy.standardize": "dp",
 * the standardisation's (basic composition); NaN without privacy. */
double cx_job_epsilon_total(const cx_spec *spec, double sgd_eps);
json_t *cx_job_metrics_json(const cx_metrics *m, cx_task task);
/* The metadata stored with a trained model (cx_model_save / cx_model_serialize's extra):
 * spec, predict_schema, features, label, classes, metrics, train_rows, epochs_run,
 * fill_values (under "missing": "mean": the training data's gap fill per column, null for
 * one-hot columns) and, with DP, privacy and epsilon (the total, cx_job_epsilon_total; privacy
 * itemises DP-SGD's and the DP standardisation's). data: the schema trained with. */
cx_err cx_job_model_meta(const cx_spec *spec, const json_t *data, const cx_dataset *ds,
                         const cx_train_result *tr, double eps, double order, json_t **out,
                         cx_error *e);
/* Parse path for prediction with a model's metadata (cx_model_load's meta): its
 * predict_schema; under "missing": "mean", gaps take the model's training fill_values, not
 * the means of the rows being predicted. */
cx_err cx_job_predict_data_load(const json_t *meta, size_t n_features, const char *path,
                                cx_dataset **out, cx_error *e);

/* ---- formatting ---- */
/* A ledger blob id (bytes) as a C string; CX_ERR_FORMAT when it is not a store id. */
cx_err cx_job_blob_id_str(const uint8_t *b, size_t n, char out[CX_STORE_ID_MAX], cx_error *e);
/* The store id of a registered enclave's attestation document: its recorded blob id; for an
 * enclave registered under ledger schema v1 (no blob id recorded), base64url(attestation_hash),
 * the id local:DIR gave it. */
cx_err cx_job_enclave_doc_id(const cx_ledger_enclave *en, char out[CX_STORE_ID_MAX], cx_error *e);

/* ---- the job state machine's enclave side and the model's key (model_key.c, RULES.md §2.2) ----
 */

/* HPKE enc || AES-256-GCM of the model's 32-byte X25519 secret: what a KeyRelease carries. */
enum { CX_JOB_WRAPPED_KEY_LEN = CX_HPKE_ENC_LEN + 32 + CX_HPKE_TAG_LEN };
/* Wrap the model's secret key to the buyer: HPKE, info "cloakx/model-key/v1" || job id, aad
 * the sealed model's SHA-256 (result_hash). */
cx_err cx_job_model_key_wrap(const uint8_t buyer_pub[32], const cx_chain_id *job,
                             const uint8_t result_hash[32], const uint8_t secret[32],
                             uint8_t out[CX_JOB_WRAPPED_KEY_LEN], cx_error *e);
/* The buyer's side: the wrapped 32 bytes (*secret, secure memory) from what the ledger
 * revealed. */
cx_err cx_job_model_key_unwrap(const cx_x25519_key *buyer, const cx_chain_id *job,
                               const uint8_t result_hash[32], const uint8_t *wrapped, size_t len,
                               uint8_t secret[32], cx_error *e);
/* With Seal (the worker has key servers), the model's .cxb is sealed under a data key split in
 * two shares (RULES.md §2.2): the key release wraps share1 to the buyer (revealed by the paying
 * transaction), the model header's Seal object yields share2 (released by the key servers to
 * the buyer of a paid job): data key = SHA-256("cloakx/model-key/v2" || share1 || share2).
 * Neither the operator (who sees the key release first) nor the key servers alone can open it. */
void cx_job_model_split_key(const uint8_t share1[32], const uint8_t share2[32], uint8_t out[32]);
/* The TEE signs the KeyRelease of a job's model (*msg malloc'ed). */
cx_err cx_job_key_release_sign(cx_tee *tee, const cx_ledger_job *job, const cx_ledger_enclave *en,
                               const uint8_t result_hash[32],
                               const uint8_t wrapped[CX_JOB_WRAPPED_KEY_LEN], uint8_t **msg,
                               size_t *len, uint8_t sig[CX_CHAIN_ED25519_SIG_LEN], cx_error *e);
/* The TEE (the registered enclave enclave_id) accepts the job for its spec hash, submitted by
 * submitter: OPEN -> ACCEPTED, the escrow locked to this enclave. */
cx_err cx_job_accept(cx_ledger *l, cx_tee *tee, const cx_chain_key *submitter,
                     const cx_chain_id *enclave_id, const cx_chain_id *job_id, cx_error *e);
/* The TEE gives up a job it accepted, with a reason class: the buyer is refunded now. */
cx_err cx_job_fail(cx_ledger *l, cx_tee *tee, const cx_chain_key *submitter,
                   const cx_chain_id *enclave_id, const cx_chain_id *job_id,
                   cx_chain_fail_reason reason, cx_error *e);
/* The buyer's model of a paid job: the sealed blob the statement names (checked against its
 * result_hash), opened with the model key the paying transaction revealed (unwrapped with the
 * buyer's key) and, for a model sealed with Seal, the share the key servers in seal (a
 * cx_seal_config) release to the buyer's account key. Any job not PAID: CX_ERR_STATE. *pt in
 * cx_secmem; blob_id gets the blob's id. account and seal may be NULL for a model without Seal. */
cx_err cx_job_model_fetch(cx_ledger *l, cx_store *s, const cx_chain_id *job_id,
                          const cx_x25519_key *buyer, const cx_chain_key *account,
                          const struct cx_seal_config *seal, uint8_t **pt, size_t *pt_len,
                          char blob_id[CX_STORE_ID_MAX], cx_error *e);

/* ---- the sealed channel between the ranks of one multi-rank job (rank_link.c) ----
 * Every rank is its own TEE; what crosses between ranks (gradients, statistics) is sealed with
 * AES-256-GCM under a key per pair of ranks, derived from the ranks' attested X25519 keys, the
 * job id and both ranks' attestation hashes; each message carries its place in the sequence, so
 * a tampered, replayed, reordered or foreign message fails (CX_ERR_AUTH) naming its sender.
 * Collectives run round the ring (rank r sends to r + 1): the sums are the same bits on every
 * rank, and again with the same ranks. */
typedef struct cx_rank_transport {
    /* Send send_len bytes of send to rank dst while receiving recv_len bytes from rank src into
     * recv (MPI_Sendrecv); dst or src -1: that half is skipped. */
    cx_err (*sendrecv)(void *ud, const void *send, size_t send_len, int dst, void *recv,
                       size_t recv_len, int src, cx_error *e);
    void *ud;
} cx_rank_transport;
typedef struct cx_rank_link_params {
    int rank, size;
    const uint8_t *job_id;             /* 32 bytes */
    const cx_x25519_key *mine;         /* this rank's attested X25519 key */
    const uint8_t (*peer_pks)[32];     /* every rank's X25519 public key, by rank */
    const uint8_t (*attestations)[32]; /* every rank's attestation document hash, by rank */
    cx_rank_transport transport;
} cx_rank_link_params;
typedef struct cx_rank_link cx_rank_link;
cx_err cx_rank_link_open(const cx_rank_link_params *p, cx_rank_link **out, cx_error *e);
void cx_rank_link_close(cx_rank_link *l);
/* Sums of buf over all ranks into every rank's buf (collective: every rank calls it). */
cx_err cx_rank_link_allreduce_f32(cx_rank_link *l, float *buf, size_t n, cx_error *e);
cx_err cx_rank_link_allreduce_f64(cx_rank_link *l, double *buf, size_t n, cx_error *e);
cx_err cx_rank_link_allreduce_max_f64(cx_rank_link *l, double *buf, size_t n, cx_error *e);
/* root's bytes into every rank's buf (collective). */
cx_err cx_rank_link_bcast(cx_rank_link *l, void *buf, size_t bytes, int root, cx_error *e);
/* A communicator whose collectives run over the sealed link, its messages carried by inner's
 * sendrecv (p's transport is ignored). It owns inner: destroying it destroys inner. */
cx_err cx_comm_sealed_create(cx_comm *inner, const cx_rank_link_params *p, cx_comm **out,
                             cx_error *e);
/* The same over an inner comm that outlives it (a worker's one MPI communicator, sealed anew
 * for each job): destroying it leaves inner alone. */
cx_err cx_comm_sealed_borrow(cx_comm *inner, const cx_rank_link_params *p, cx_comm **out,
                             cx_error *e);
/* *comm sealed with an ephemeral X25519 key per rank, exchanged over *comm itself (collective).
 * Nothing crosses in the clear, but without attestation the keys are not authenticated: it
 * keeps gradients from whoever reads the network, not from an active man in the middle. A
 * worker's ranks use cx_comm_sealed_create with their attested keys. On failure *comm is
 * unchanged. */
cx_err cx_comm_seal_ephemeral(cx_comm **comm, const uint8_t job_id[32], cx_error *e);

/* ---- the ranks of one multi-rank job meet (ranks.c) ----
 * Every rank is its own TEE. For each job each rank makes a fresh X25519 channel key and an
 * attestation document whose user_data is cx_job_rank_binding of it; the documents go to every
 * rank, and each rank checks every other one (cx_job_rank_doc_check) against its own
 * measurement: a rank running other code, or a document made for another job, place or rank 0,
 * is refused, and then no rank goes on. The channel between them is then sealed under those
 * attested keys (cx_comm_sealed_borrow). Rank 0's statement commits to the documents
 * (ranks_hash) and its bundle carries them, so that `cloakx verify` checks the same. */

/* SHA-256("cloakx/rank/v1" 0x00 || job id || u32le rank || u32le size || rank 0's Ed25519 key
 * (the registered enclave that signs the statement) || the rank's X25519 channel key). */
void cx_job_rank_binding(const uint8_t job_id[32], uint32_t rank, uint32_t size,
                         const uint8_t leader_pk[32], const uint8_t x25519_pk[32], uint8_t out[32]);
/* A rank's document: verifies under pol, PCR0 is measurement, user_data is the binding above;
 * rank 0's also attests leader_pk as its key. CX_ERR_VERIFY naming the rank and the check. */
cx_err cx_job_rank_doc_check(const uint8_t *doc, size_t len, const cx_nitro_policy *pol,
                             const uint8_t *measurement, size_t measurement_len,
                             const uint8_t job_id[32], uint32_t rank, uint32_t size,
                             const uint8_t leader_pk[32], const uint8_t x25519_pk[32], cx_error *e);
struct cx_job_ranks {
    int rank, size;
    cx_x25519_key *mine; /* this rank's channel key (this job only) */
    uint8_t (*pks)[32];  /* every rank's channel key, by rank */
    uint8_t (*att)[32];  /* SHA-256 of every rank's document */
    uint8_t **docs;      /* every rank's document, by rank */
    size_t *doc_lens;
    cx_comm *sealed; /* the job's channel, over inner (which it borrows) */
};
/* Collective over inner (the plain MPI communicator): the exchange and checks above with
 * this rank's tee; pol says which roots and documents are trusted (the simulated TEE's dev
 * root with allow_simulated). CX_ERR_VERIFY on every rank when any rank refuses another. */
cx_err cx_job_ranks_join(cx_comm *inner, cx_tee *tee, const cx_nitro_policy *pol,
                         const uint8_t job_id[32], const uint8_t leader_pk[32],
                         const cx_logger *log, cx_job_ranks **out, cx_error *e);
void cx_job_ranks_free(cx_job_ranks *r);

#endif
