/* cx_chain.h — the ledger interface (pools, contributions, jobs, enclaves, results, balances,
 * events with cursors), its local SQLite backend, the enclave's job messages, Sui addresses and
 * keys, the payout split. BCS, Ed25519 and the result statement codec are proto's (cx_proto.h). */
#ifndef CX_CHAIN_H
#define CX_CHAIN_H

#include "cx_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================== ids, addresses, keys ===================== */

/* Object ids and addresses are 32 bytes, shown as 0x + 64 lowercase hex (like Sui). */
enum {
    CX_CHAIN_ID_LEN = CX_BCS_ADDR_LEN,
    CX_CHAIN_ID_HEX_LEN = CX_ADDR_HEX_LEN, /* "0x" + 64 hex, without the NUL */
    CX_CHAIN_ED25519_PK_LEN = CX_ED25519_PK_LEN,
    CX_CHAIN_ED25519_SIG_LEN = CX_ED25519_SIG_LEN,
    CX_CHAIN_X25519_PK_LEN = 32,
    CX_CHAIN_MEASUREMENT_MAX = 64, /* PCR0 is 48 bytes (SHA-384) */
    CX_CHAIN_BLOB_ID_MAX = 64,
    CX_CHAIN_HASH_MAX = 64,
    CX_CHAIN_THEME_MAX = 200,
    CX_CHAIN_MAX_MEASUREMENTS = 16,
    CX_CHAIN_CURSOR_MAX = 256, /* Sui GraphQL endCursor strings are opaque and longer */
    CX_CHAIN_BPS_DENOM = 10000,
    CX_CHAIN_FORBIDDEN_MAX = 32,    /* forbidden column names of a pool's policy */
    CX_CHAIN_COLUMN_NAME_MAX = 128, /* bytes of one such name */
};

typedef struct cx_chain_id {
    uint8_t b[CX_CHAIN_ID_LEN];
} cx_chain_id;
typedef cx_chain_id cx_chain_addr;

/* "0x" + 64 hex into out (cap >= 67). */
void cx_chain_id_to_hex(const cx_chain_id *id, char out[CX_CHAIN_ID_HEX_LEN + 1]);
/* Strict: "0x" + exactly 64 hex digits. */
cx_err cx_chain_id_from_hex(const char *s, cx_chain_id *id, cx_error *e);
int cx_chain_id_equal(const cx_chain_id *a, const cx_chain_id *b);
int cx_chain_id_is_zero(const cx_chain_id *a);

/* Sui address of an Ed25519 key: BLAKE2b-256(0x00 || pk) (spec §3.5). */
cx_err cx_chain_addr_from_ed25519(const uint8_t pk[CX_CHAIN_ED25519_PK_LEN], cx_chain_addr *out,
                                  cx_error *e);

/* An account key (Ed25519): the seed lives in cx_secmem and is wiped on free. Chain keeps no
 * key file of its own: keys on disk are io's (cloakx keygen), converted with _from_seed. */
typedef struct cx_chain_key cx_chain_key;
cx_err cx_chain_key_generate(cx_chain_key **out, cx_error *e);
cx_err cx_chain_key_from_seed(const uint8_t seed[32], cx_chain_key **out, cx_error *e);
void cx_chain_key_free(cx_chain_key *k);
const uint8_t *cx_chain_key_public(const cx_chain_key *k); /* 32 bytes */
const cx_chain_addr *cx_chain_key_address(const cx_chain_key *k);
/* Plain RFC 8032 Ed25519 (cx_ed25519_sign); verify with cx_ed25519_verify. */
cx_err cx_chain_key_sign(const cx_chain_key *k, const uint8_t *msg, size_t len,
                         uint8_t sig[CX_CHAIN_ED25519_SIG_LEN], cx_error *e);

typedef struct cx_chain_rows {
    cx_chain_addr contributor;
    uint64_t rows;
} cx_chain_rows;

/* ===================== enclave job messages (layout: chain/RULES.md §6) =====================
 * What the enclave signs besides its result: that it accepted a job (the escrow is then locked
 * to it), that it failed one (the buyer is refunded), and the model key it releases to the
 * buyer with its result (revealed by the ledger only in the transaction that pays). Each is a
 * Nautilus IntentMessage{intent, timestamp_ms, payload} in BCS, signed like the statement. */

typedef enum cx_chain_msg_intent {
    CX_CHAIN_MSG_ACCEPT = 1, /* JobAcceptance */
    CX_CHAIN_MSG_FAIL = 2,   /* JobFailure */
    CX_CHAIN_MSG_KEY = 3,    /* KeyRelease */
} cx_chain_msg_intent;

enum {
    CX_CHAIN_MSG_VERSION = 1,
    /* HPKE enc (32) || AES-256-GCM of a 32-byte X25519 secret (32 + 16): 80; room to spare */
    CX_CHAIN_WRAPPED_KEY_MAX = 256,
};

/* Why an enclave gave a job up: a class, never data (a message could leak what it saw). */
typedef enum cx_chain_fail_reason {
    CX_CHAIN_FAIL_SPEC = 1,     /* the job request cannot be run (spec, buyer key) */
    CX_CHAIN_FAIL_DATA = 2,     /* no usable data for it */
    CX_CHAIN_FAIL_COMPUTE = 3,  /* training failed or went over its budget */
    CX_CHAIN_FAIL_INTERNAL = 4, /* the enclave itself failed */
} cx_chain_fail_reason;
const char *cx_chain_fail_reason_name(cx_chain_fail_reason r); /* "spec", "data", ... */

typedef struct cx_chain_msg {
    uint8_t intent; /* cx_chain_msg_intent */
    uint64_t timestamp_ms;
    uint8_t version;
    cx_chain_id job_id, pool_id;
    uint8_t code_measurement[CX_CHAIN_MEASUREMENT_MAX];
    size_t code_measurement_len;
    uint8_t config_hash[32]; /* ACCEPT: SHA-256 of the job spec (the ledger's spec_hash) */
    uint8_t reason;          /* FAIL: cx_chain_fail_reason */
    uint8_t result_hash[32]; /* KEY: the statement's result_hash (the sealed model blob) */
    uint8_t wrapped_key[CX_CHAIN_WRAPPED_KEY_MAX]; /* KEY: HPKE-wrapped to the buyer */
    size_t wrapped_key_len;
} cx_chain_msg;

/* The signing bytes of m (*out malloc'ed); refuses what the decoder would refuse. */
cx_err cx_chain_msg_encode(const cx_chain_msg *m, uint8_t **out, size_t *len, cx_error *e);
/* Strict: known intent, version, exact lengths, a reason in range, no trailing bytes. */
cx_err cx_chain_msg_decode(const uint8_t *b, size_t len, cx_chain_msg *out, cx_error *e);

/* ===================== payout split (RULES.md §3) ===================== */

typedef struct cx_chain_payout {
    cx_chain_addr to;
    uint64_t amount;
} cx_chain_payout;

typedef struct cx_chain_split {
    uint64_t protocol_fee, operator_fee, contributors_total;
    cx_chain_payout *payouts; /* one per contributor with capped rows > 0, ascending address */
    size_t n_payouts;
} cx_chain_split;

/* Split pay exactly; rows are capped at max_rows (0 = no cap). Contributors with 0 rows get
 * nothing and are not listed. Fails (CX_ERR_ARG) if bps sum > 10000 or rows are not strictly
 * ascending by address. If no contributor has rows, contributors_total is what is left and
 * n_payouts is 0 (the caller refunds in that case, RULES.md §3). */
cx_err cx_chain_split_compute(uint64_t pay, uint32_t protocol_bps, uint32_t operator_bps,
                              uint64_t max_rows, const cx_chain_rows *rows, size_t n_rows,
                              cx_chain_split *out, cx_error *e);
void cx_chain_split_free(cx_chain_split *s);

/* ===================== Sui transactions (spec §3; chain/sui_tx.c) =====================
 * TransactionData V1 of programmable transactions, byte for byte as @mysten/sui 2.33.x builds
 * it: inputs (pure, owned/immutable, shared, receiving object refs), commands (MoveCall,
 * TransferObjects, SplitCoins, MergeCoins, MakeMoveVec), gas data and expiration; the strict
 * decoder of the same; intent signing digests, Ed25519 serialized signatures, transaction
 * digests (base58) and `suiprivkey` keys. */

enum {
    CX_SUI_DIGEST_LEN = 32,
    CX_SUI_SIGNATURE_LEN = 97,      /* flag 0x00 || Ed25519 signature || public key */
    CX_SUI_SIGNATURE_B64_LEN = 132, /* its standard base64, without the NUL */
    CX_SUI_DIGEST_B58_MAX = 44,     /* base58 of 32 bytes, without the NUL */
    CX_SUI_PRIVKEY_LEN = 70,        /* "suiprivkey1" + 59 bech32 characters */
    CX_SUI_IDENT_MAX = 128,         /* Move identifiers (module, function, struct names) */
    CX_SUI_TYPE_DEPTH_MAX = 16,     /* nesting of type tags (Sui's max type argument depth) */
    CX_SUI_TYPE_ARGS_MAX = 16,      /* type arguments of a call or a struct */
    CX_SUI_INPUTS_MAX = 2048,
    CX_SUI_COMMANDS_MAX = 1024,
    CX_SUI_COMMAND_ARGS_MAX = 2048,
    CX_SUI_PURE_MAX = 16384, /* Sui's max pure argument size */
    CX_SUI_GAS_OBJECTS_MAX = 256,
};

/* Intent scopes (spec §3.4). */
enum { CX_SUI_INTENT_TRANSACTION = 0, CX_SUI_INTENT_PERSONAL_MESSAGE = 3 };

typedef struct cx_sui_object_ref {
    cx_chain_id id;
    uint64_t version;
    uint8_t digest[CX_SUI_DIGEST_LEN];
} cx_sui_object_ref;

/* A Move type tag; vector and struct tags own their parts (cx_sui_type_free). */
typedef enum cx_sui_type_kind {
    CX_SUI_TYPE_BOOL = 0,
    CX_SUI_TYPE_U8 = 1,
    CX_SUI_TYPE_U64 = 2,
    CX_SUI_TYPE_U128 = 3,
    CX_SUI_TYPE_ADDRESS = 4,
    CX_SUI_TYPE_SIGNER = 5,
    CX_SUI_TYPE_VECTOR = 6,
    CX_SUI_TYPE_STRUCT = 7,
    CX_SUI_TYPE_U16 = 8,
    CX_SUI_TYPE_U32 = 9,
    CX_SUI_TYPE_U256 = 10,
} cx_sui_type_kind;

typedef struct cx_sui_type {
    cx_sui_type_kind kind;
    struct cx_sui_type *elem; /* VECTOR */
    cx_chain_addr address;    /* STRUCT */
    char module[CX_SUI_IDENT_MAX + 1], name[CX_SUI_IDENT_MAX + 1];
    struct cx_sui_type *params;
    size_t n_params;
} cx_sui_type;

/* A Sui address or object id as users write it: "0x" + 1..64 hex digits, left-padded. */
cx_err cx_sui_address_parse(const char *s, cx_chain_addr *out, cx_error *e);

/* "u64", "vector<u8>", "0x2::coin::Coin<0x2::sui::SUI>" (short addresses are padded). */
cx_err cx_sui_type_parse(const char *s, cx_sui_type *out, cx_error *e);
/* The SDK's normalized text: addresses as 0x + 64 hex. *out is malloc'ed. */
cx_err cx_sui_type_format(const cx_sui_type *t, char **out, cx_error *e);
void cx_sui_type_free(cx_sui_type *t);

typedef enum cx_sui_arg_kind {
    CX_SUI_ARG_GAS_COIN = 0,
    CX_SUI_ARG_INPUT = 1,
    CX_SUI_ARG_RESULT = 2,
    CX_SUI_ARG_NESTED_RESULT = 3,
} cx_sui_arg_kind;

typedef struct cx_sui_arg {
    cx_sui_arg_kind kind;
    uint16_t index, sub; /* sub: NESTED_RESULT's result index */
} cx_sui_arg;

cx_sui_arg cx_sui_gas_coin(void);
/* result i of a command's result (e.g. the first coin of a SplitCoins). */
cx_sui_arg cx_sui_nested(cx_sui_arg result, uint16_t i);

typedef enum cx_sui_input_kind {
    CX_SUI_INPUT_PURE = 0,
    CX_SUI_INPUT_OWNED = 1,     /* ImmOrOwnedObject: the object's current ref */
    CX_SUI_INPUT_SHARED = 2,    /* SharedObject: id, initial shared version, mutable */
    CX_SUI_INPUT_RECEIVING = 3, /* Receiving: the ref of an object sent to an object */
} cx_sui_input_kind;

typedef struct cx_sui_input {
    cx_sui_input_kind kind;
    uint8_t *pure; /* PURE: the BCS of the value (malloc'ed) */
    size_t pure_len;
    cx_sui_object_ref ref;           /* OWNED, RECEIVING; SHARED uses ref.id only */
    uint64_t initial_shared_version; /* SHARED */
    int is_mutable;                  /* SHARED */
} cx_sui_input;

typedef enum cx_sui_command_kind {
    CX_SUI_CMD_MOVE_CALL = 0,
    CX_SUI_CMD_TRANSFER_OBJECTS = 1,
    CX_SUI_CMD_SPLIT_COINS = 2,
    CX_SUI_CMD_MERGE_COINS = 3,
    CX_SUI_CMD_MAKE_MOVE_VEC = 5,
} cx_sui_command_kind;

typedef struct cx_sui_command {
    cx_sui_command_kind kind;
    cx_chain_addr package; /* MOVE_CALL */
    char module[CX_SUI_IDENT_MAX + 1], function[CX_SUI_IDENT_MAX + 1];
    cx_sui_type *type_args; /* MOVE_CALL type arguments; MAKE_MOVE_VEC: 0 or 1 element type */
    size_t n_type_args;
    /* MOVE_CALL arguments, TRANSFER_OBJECTS objects, SPLIT_COINS amounts, MERGE_COINS sources,
     * MAKE_MOVE_VEC elements */
    cx_sui_arg *args;
    size_t n_args;
    cx_sui_arg target; /* TRANSFER_OBJECTS address, SPLIT_COINS coin, MERGE_COINS destination */
} cx_sui_command;

typedef struct cx_sui_tx {
    cx_sui_input *inputs;
    size_t n_inputs;
    cx_sui_command *commands;
    size_t n_commands;
    cx_chain_addr sender;
    cx_sui_object_ref *gas_payment;
    size_t n_gas_payment;
    cx_chain_addr gas_owner;
    uint64_t gas_price, gas_budget;
    int has_expiration_epoch; /* 0: TransactionExpiration::None */
    uint64_t expiration_epoch;
} cx_sui_tx;

void cx_sui_tx_init(cx_sui_tx *tx);
void cx_sui_tx_free(cx_sui_tx *tx);

/* Inputs, in the order added; *out is the argument naming the input. */
cx_err cx_sui_tx_pure(cx_sui_tx *tx, const uint8_t *bcs, size_t len, cx_sui_arg *out, cx_error *e);
cx_err cx_sui_tx_pure_u64(cx_sui_tx *tx, uint64_t v, cx_sui_arg *out, cx_error *e);
cx_err cx_sui_tx_pure_address(cx_sui_tx *tx, const cx_chain_addr *a, cx_sui_arg *out, cx_error *e);
cx_err cx_sui_tx_pure_bytes(cx_sui_tx *tx, const uint8_t *p, size_t n, cx_sui_arg *out,
                            cx_error *e); /* vector<u8> (and String, whose BCS is the same) */
cx_err cx_sui_tx_object(cx_sui_tx *tx, const cx_sui_object_ref *ref, cx_sui_arg *out, cx_error *e);
cx_err cx_sui_tx_shared(cx_sui_tx *tx, const cx_chain_id *id, uint64_t initial_shared_version,
                        int is_mutable, cx_sui_arg *out, cx_error *e);
cx_err cx_sui_tx_receiving(cx_sui_tx *tx, const cx_sui_object_ref *ref, cx_sui_arg *out,
                           cx_error *e);

/* Commands; *result (may be NULL) names the command's result. */
cx_err cx_sui_tx_move_call(cx_sui_tx *tx, const cx_chain_addr *package, const char *module,
                           const char *function, const char *const *type_args, size_t n_type_args,
                           const cx_sui_arg *args, size_t n_args, cx_sui_arg *result, cx_error *e);
cx_err cx_sui_tx_split_coins(cx_sui_tx *tx, cx_sui_arg coin, const cx_sui_arg *amounts, size_t n,
                             cx_sui_arg *result, cx_error *e);
cx_err cx_sui_tx_merge_coins(cx_sui_tx *tx, cx_sui_arg destination, const cx_sui_arg *sources,
                             size_t n, cx_error *e);
cx_err cx_sui_tx_transfer_objects(cx_sui_tx *tx, const cx_sui_arg *objects, size_t n,
                                  cx_sui_arg address, cx_error *e);
/* elem_type may be NULL (the SDK leaves it out when the elements are objects). */
cx_err cx_sui_tx_make_move_vec(cx_sui_tx *tx, const char *elem_type, const cx_sui_arg *elements,
                               size_t n, cx_sui_arg *result, cx_error *e);

/* BCS TransactionData (V1 enum tag included); refuses arguments that name no input or a
 * later command. *out malloc'ed. */
cx_err cx_sui_tx_encode(const cx_sui_tx *tx, uint8_t **out, size_t *len, cx_error *e);
/* BCS ProgrammableTransaction alone (inputs and commands; what Seal's fetch_key carries as
 * "ptb"), and its strict decoder (tx's other fields left zero). */
cx_err cx_sui_ptb_encode(const cx_sui_tx *tx, uint8_t **out, size_t *len, cx_error *e);
cx_err cx_sui_ptb_decode(const uint8_t *b, size_t len, cx_sui_tx *out, cx_error *e);
/* Strict decoder of what encode writes; other transaction kinds, commands, call args and
 * expirations are CX_ERR_UNSUPPORTED. out is initialised here; free with cx_sui_tx_free. */
cx_err cx_sui_tx_decode(const uint8_t *b, size_t len, cx_sui_tx *out, cx_error *e);

/* BLAKE2b-256(intent(scope, 0, 0) || msg): the Ed25519 message of a Sui signature. For a
 * personal message msg must already be BCS vector<u8> (see cx_sui_personal_message_sign). */
cx_err cx_sui_intent_digest(uint8_t scope, const uint8_t *msg, size_t len,
                            uint8_t out[CX_SUI_DIGEST_LEN], cx_error *e);
/* BLAKE2b-256("TransactionData::" || tx bytes): the transaction's id. */
cx_err cx_sui_tx_digest(const uint8_t *tx, size_t len, uint8_t out[CX_SUI_DIGEST_LEN], cx_error *e);
/* flag 0x00 || Ed25519(intent digest) || public key, over TransactionData bytes. */
cx_err cx_sui_tx_sign(const cx_chain_key *k, const uint8_t *tx, size_t len,
                      uint8_t out[CX_SUI_SIGNATURE_LEN], cx_error *e);
/* BLAKE2b-256 intent digest of msg (raw bytes) as a Sui personal message: BCS vector<u8> of msg
 * under scope 3. What a wallet's signPersonalMessage signs. */
cx_err cx_sui_personal_message_digest(const uint8_t *msg, size_t len,
                                      uint8_t out[CX_SUI_DIGEST_LEN], cx_error *e);
cx_err cx_sui_personal_message_sign(const cx_chain_key *k, const uint8_t *msg, size_t len,
                                    uint8_t out[CX_SUI_SIGNATURE_LEN], cx_error *e);
/* The Ed25519 signature sig (64 bytes, without the flag and key) by pk over msg as a personal
 * message; CX_ERR_AUTH when it does not verify. */
cx_err cx_sui_personal_message_verify(const uint8_t pk[CX_CHAIN_ED25519_PK_LEN], const uint8_t *msg,
                                      size_t len, const uint8_t sig[CX_CHAIN_ED25519_SIG_LEN],
                                      cx_error *e);

/* Bitcoin-alphabet base58 (digests as Sui shows them). */
cx_err cx_sui_base58_encode(const uint8_t *b, size_t len, char *out, size_t cap, cx_error *e);
cx_err cx_sui_base58_decode(const char *s, uint8_t *out, size_t cap, size_t *out_len, cx_error *e);
/* `suiprivkey1…` (bech32, flag 0x00 = Ed25519 || 32-byte seed). Decode refuses other key
 * schemes (CX_ERR_UNSUPPORTED), a bad checksum or mixed case (CX_ERR_FORMAT). */
cx_err cx_sui_privkey_encode(const uint8_t seed[32], char out[CX_SUI_PRIVKEY_LEN + 1], cx_error *e);
cx_err cx_sui_privkey_decode(const char *s, uint8_t seed[32], cx_error *e);

/* ===================== Sui GraphQL client (spec §2.2; chain/sui_graphql.c) =====================
 * POST {"query","variables"} over libcurl; retries with exponential backoff on connection
 * errors, HTTP 5xx and 429 (Retry-After honoured, capped); a timeout per attempt; every response
 * size-limited; GraphQL errors[] reported with their messages. */

struct json_t;

typedef struct cx_sui_gql_opts {
    const char *url;         /* e.g. https://graphql.testnet.sui.io/graphql */
    long connect_timeout_ms; /* 0 = 5000 */
    long timeout_ms;         /* per attempt, 0 = 30000 */
    int max_attempts;        /* 0 = 5 */
    long backoff_ms;         /* first retry delay, doubled each time; 0 = 200 */
    long backoff_max_ms;     /* 0 = 10000 (also caps Retry-After) */
    size_t max_response;     /* bytes, 0 = 8 MiB */
} cx_sui_gql_opts;

typedef struct cx_sui_gql cx_sui_gql;

cx_err cx_sui_gql_open(const cx_sui_gql_opts *o, cx_sui_gql **out, cx_error *e);
void cx_sui_gql_close(cx_sui_gql *g);
/* Attempts the last call made (1 = no retry): for tests and logs. */
int cx_sui_gql_attempts(const cx_sui_gql *g);
/* One query; variables may be NULL (borrowed). *data (a new reference) is the response's "data".
 * GraphQL errors[] -> CX_ERR_VERIFY with the messages; malformed JSON -> CX_ERR_FORMAT; a
 * response above max_response -> CX_ERR_LIMIT; transport failure after the retries -> CX_ERR_NET.
 */
cx_err cx_sui_gql_query(cx_sui_gql *g, const char *query, struct json_t *variables,
                        struct json_t **data, cx_error *e);

/* The query texts the client sends, NULL-terminated: a test validates them against the
 * SDK's GraphQL schema. */
extern const char *const cx_sui_gql_query_texts_for_tests[];

enum { CX_SUI_CHAIN_ID_MAX = 64, CX_SUI_TYPE_REPR_MAX = 512 };

cx_err cx_sui_gql_chain_identifier(cx_sui_gql *g, char out[CX_SUI_CHAIN_ID_MAX + 1], cx_error *e);
cx_err cx_sui_gql_reference_gas_price(cx_sui_gql *g, uint64_t *out, cx_error *e);

typedef enum cx_sui_owner_kind {
    CX_SUI_OWNER_ADDRESS = 0,
    CX_SUI_OWNER_OBJECT = 1,
    CX_SUI_OWNER_SHARED = 2,
    CX_SUI_OWNER_IMMUTABLE = 3,
    CX_SUI_OWNER_OTHER = 4,
} cx_sui_owner_kind;

typedef struct cx_sui_object {
    cx_sui_object_ref ref; /* id, current version, digest */
    cx_sui_owner_kind owner_kind;
    cx_chain_addr owner;             /* ADDRESS / OBJECT */
    uint64_t initial_shared_version; /* SHARED */
    char type[CX_SUI_TYPE_REPR_MAX + 1];
    uint8_t *bcs; /* the Move object's contents (malloc'ed), NULL for packages */
    size_t bcs_len;
} cx_sui_object;
void cx_sui_object_free(cx_sui_object *o);
/* CX_ERR_NOTFOUND when the object does not exist. */
cx_err cx_sui_gql_object(cx_sui_gql *g, const cx_chain_id *id, cx_sui_object *out, cx_error *e);

typedef struct cx_sui_coin {
    cx_sui_object_ref ref;
    uint64_t balance;
} cx_sui_coin;
/* One page of an owner's coins of coin_type (NULL = 0x2::sui::SUI); cursor "" = first page. */
cx_err cx_sui_gql_coins(cx_sui_gql *g, const cx_chain_addr *owner, const char *coin_type,
                        const char *cursor, cx_sui_coin **out, size_t *n,
                        char next_cursor[CX_CHAIN_CURSOR_MAX], int *has_next, cx_error *e);

typedef struct cx_sui_event {
    uint8_t tx_digest[CX_SUI_DIGEST_LEN];
    cx_chain_addr sender;
    uint64_t timestamp_ms; /* 0 when the server gave none */
    char type[CX_SUI_TYPE_REPR_MAX + 1];
    uint8_t *bcs;
    size_t bcs_len;
} cx_sui_event;
void cx_sui_events_free(cx_sui_event *ev, size_t n);
/* Events whose type matches type_filter ("0xPKG", "0xPKG::module" or a full type), after cursor
 * ("" = from the start), at most 50 a page. next_cursor is the page's endCursor (unchanged when
 * the page is empty). */
cx_err cx_sui_gql_events(cx_sui_gql *g, const char *type_filter, const char *cursor,
                         cx_sui_event **out, size_t *n, char next_cursor[CX_CHAIN_CURSOR_MAX],
                         int *has_next, cx_error *e);

typedef struct cx_sui_effects {
    int success;
    char digest[CX_SUI_DIGEST_B58_MAX + 1];
    char error[512];     /* executionError.message when it failed */
    uint64_t abort_code; /* when it failed with a Move abort, else 0 */
    int has_abort_code;
    cx_chain_id *created; /* objects the transaction created (malloc'ed) */
    size_t n_created;
    cx_sui_event *events;
    size_t n_events;
} cx_sui_effects;
void cx_sui_effects_free(cx_sui_effects *fx);
/* Execute signed TransactionData; waits for finality. A transaction that executed and failed
 * is CX_OK with success = 0 (the abort code tells which rule refused it). */
cx_err cx_sui_gql_execute(cx_sui_gql *g, const uint8_t *tx, size_t len,
                          const uint8_t sig[CX_SUI_SIGNATURE_LEN], cx_sui_effects *out,
                          cx_error *e);
/* Dry run (no signature): success, and the gas it would use (computation + storage - rebate). */
cx_err cx_sui_gql_simulate(cx_sui_gql *g, const uint8_t *tx, size_t len, int *success,
                           uint64_t *gas_used, char error[512], cx_error *e);

/* ===================== the ledger interface ===================== */

typedef enum cx_ledger_job_state {
    CX_LEDGER_JOB_OPEN = 0,     /* payment escrowed, no enclave has taken the job */
    CX_LEDGER_JOB_PAID = 1,     /* result accepted, payment released, model key revealed */
    CX_LEDGER_JOB_REFUNDED = 2, /* k not reached, enclave failure or expiry: buyer refunded */
    CX_LEDGER_JOB_ACCEPTED = 3, /* an enclave accepted it: escrow locked to its result */
} cx_ledger_job_state;
/* "open", "paid", "refunded", "accepted" */
const char *cx_ledger_job_state_name(cx_ledger_job_state s);

/* After the deadline an accepted job still takes its enclave's result (or failure) for this
 * long; then anyone may refund it (RULES.md §2: an operator that vanished). */
#define CX_LEDGER_RESULT_GRACE_MS 3600000ull

typedef enum cx_ledger_event_kind {
    CX_LEDGER_EV_POOL_CREATED = 1,
    CX_LEDGER_EV_ENCLAVE_REGISTERED = 2,
    CX_LEDGER_EV_CONTRIBUTION_REGISTERED = 3,
    CX_LEDGER_EV_JOB_CREATED = 4,
    CX_LEDGER_EV_RESULT_SUBMITTED = 5,
    CX_LEDGER_EV_PAYMENT_RELEASED = 6,
    CX_LEDGER_EV_JOB_REFUNDED = 7,
    CX_LEDGER_EV_POOL_ENCLAVE_ADDED = 8,
    CX_LEDGER_EV_JOB_ACCEPTED = 9,
    CX_LEDGER_EV_JOB_FAILED = 10,
} cx_ledger_event_kind;
/* "PoolCreated", "JobCreated", ... (the Move event struct names). */
const char *cx_ledger_event_kind_name(cx_ledger_event_kind k);

/* A pool's policy (RULES.md §1, §8, §9.8), fixed when the pool is created: what a job's spec
 * may ask of the pool's data. The ledger holds it; `cloakx job create` refuses a spec that
 * breaks it before paying, and the enclave checks it again on the spec it runs (a job that
 * breaks it fails with reason `spec`). Zero means no limit; an empty list forbids nothing. */
typedef struct cx_ledger_pool_policy {
    int require_dp;             /* a job's spec must have "privacy" (DP-SGD) */
    uint64_t max_epsilon_micro; /* cap on the job's total ε (all DP mechanisms), ε × 10^6 */
    /* the compute budget per job (§8); the worker runs under min(this, its operator's) */
    uint64_t max_params;
    uint64_t max_epochs;
    uint64_t max_flops;
    /* columns that may never be a feature or the label (ASCII case-insensitive) */
    char forbidden_columns[CX_CHAIN_FORBIDDEN_MAX][CX_CHAIN_COLUMN_NAME_MAX + 1];
    size_t n_forbidden;
    /* how a blob's data key may be sealed (RULES.md §2.3): CX_LEDGER_SEALING_* bits, 0 = any */
    uint8_t sealing;
} cx_ledger_pool_policy;

/* The sealings a pool may accept (cx_ledger_pool_policy.sealing): the data key HPKE-sealed to
 * one of the pool's enclaves (.cxb suite 1), or Seal-encrypted for the pool (suite 2). */
enum {
    CX_LEDGER_SEALING_HPKE = 1,
    CX_LEDGER_SEALING_SEAL = 2,
    CX_LEDGER_SEALING_ALL = CX_LEDGER_SEALING_HPKE | CX_LEDGER_SEALING_SEAL,
};
/* Whether the pool's policy accepts a blob sealed with CX_LEDGER_SEALING_HPKE or _SEAL. */
int cx_ledger_pool_accepts_sealing(const cx_ledger_pool_policy *p, unsigned sealing);
/* "hpke", "seal", "hpke,seal" (any: 0 or both bits) — for people and JSON. */
const char *cx_ledger_sealing_name(uint8_t sealing);

typedef struct cx_ledger_pool_params {
    const char *theme;
    uint64_t price;                              /* minimum payment of a job */
    uint32_t min_contributors;                   /* k >= 1 */
    uint64_t max_rows_per_contributor;           /* >= 1 */
    uint32_t operator_fee_bps, protocol_fee_bps; /* sum <= 10000 */
    const uint8_t *measurements[CX_CHAIN_MAX_MEASUREMENTS];
    size_t measurement_lens[CX_CHAIN_MAX_MEASUREMENTS];
    size_t n_measurements; /* >= 1 */
    cx_chain_addr operator_addr;
    cx_ledger_pool_policy policy; /* zeroed: no policy */
} cx_ledger_pool_params;

typedef struct cx_ledger_pool {
    cx_chain_id id;
    char theme[CX_CHAIN_THEME_MAX + 1];
    uint64_t price;
    uint32_t min_contributors;
    uint64_t max_rows_per_contributor;
    uint32_t operator_fee_bps, protocol_fee_bps;
    uint8_t measurements[CX_CHAIN_MAX_MEASUREMENTS][CX_CHAIN_MEASUREMENT_MAX];
    size_t measurement_lens[CX_CHAIN_MAX_MEASUREMENTS];
    size_t n_measurements;
    cx_chain_addr operator_addr, created_by;
    uint64_t created_ms;
    cx_ledger_pool_policy policy; /* pools of schema v3 and older: none (zeroed) */
    /* on Sui, the shared object's initial version (what a transaction naming it carries, e.g.
     * a Seal key request's PTB); 0 on the local ledger, which has no object versions */
    uint64_t shared_version;
} cx_ledger_pool;

typedef struct cx_ledger_enclave {
    cx_chain_id id;
    uint8_t ed25519_pk[CX_CHAIN_ED25519_PK_LEN];
    uint8_t x25519_pk[CX_CHAIN_X25519_PK_LEN];
    uint8_t measurement[CX_CHAIN_MEASUREMENT_MAX];
    size_t measurement_len;
    uint8_t attestation_hash[32]; /* SHA-256 of the attestation document */
    /* the document's id in the blob store (1..CX_CHAIN_BLOB_ID_MAX bytes on register; empty
     * only on rows migrated from schema v1, whose readers use base64url(attestation_hash)) */
    uint8_t attestation_blob_id[CX_CHAIN_BLOB_ID_MAX];
    size_t attestation_blob_id_len;
    cx_chain_addr registered_by;
    uint64_t registered_ms;
} cx_ledger_enclave;

typedef struct cx_ledger_contribution {
    cx_chain_id id;
    cx_chain_id pool_id;
    uint8_t blob_id[CX_CHAIN_BLOB_ID_MAX];
    size_t blob_id_len;
    cx_chain_addr contributor;
    uint64_t created_ms;
} cx_ledger_contribution;

typedef struct cx_ledger_job {
    cx_chain_id id, pool_id;
    cx_chain_addr buyer;
    uint8_t spec_hash[32];
    uint8_t spec_blob_id[CX_CHAIN_BLOB_ID_MAX];
    size_t spec_blob_id_len;
    uint64_t payment; /* escrowed */
    uint64_t deadline_ms;
    uint64_t created_ms;
    cx_ledger_job_state state;
    /* the enclave that accepted it, and when (zero / 0 when no enclave did) */
    cx_chain_id enclave_id;
    uint64_t accepted_ms;
    uint8_t fail_reason;     /* cx_chain_fail_reason when its enclave failed it, else 0 */
    uint64_t shared_version; /* as cx_ledger_pool's */
} cx_ledger_job;

typedef struct cx_ledger_result {
    cx_chain_id job_id, enclave_id;
    uint8_t *statement; /* the signed intent-message bytes (malloc'ed) */
    size_t statement_len;
    uint8_t signature[CX_CHAIN_ED25519_SIG_LEN];
    uint64_t accepted_contributors;
    uint64_t submitted_ms;
    cx_chain_split split; /* the payouts made (empty when refunded) */
    int refunded;
    /* the model key wrapped to the buyer (HPKE), from the enclave's key release: revealed
     * only when the result paid, else empty */
    uint8_t model_key[CX_CHAIN_WRAPPED_KEY_MAX];
    size_t model_key_len;
} cx_ledger_result;
void cx_ledger_result_free(cx_ledger_result *r);

typedef struct cx_ledger_event {
    uint64_t seq; /* position in the stream; the cursor is its decimal text */
    cx_ledger_event_kind kind;
    uint8_t tx_digest[32];
    uint64_t timestamp_ms;
    cx_chain_id object_id; /* the pool / enclave / contribution / job */
    cx_chain_id pool_id;   /* zero when not applicable */
    cx_chain_addr addr;    /* sender, contributor, or payee */
    uint64_t amount;       /* payment, payout, refund */
} cx_ledger_event;

/* An opaque ledger handle. Behind it is a table of backend functions (chain/ledger_internal.h):
 * the local SQLite ledger, or Sui (chain/ledger_sui.c) behind the same calls. Every mutating call
 * is a transaction signed by `signer`; the sender is its address. Arguments are checked here,
 * then the backend applies RULES.md. */
typedef struct cx_ledger cx_ledger;

/* Whether the policy forbids this column name (ASCII case-insensitive match). */
int cx_ledger_policy_forbids(const cx_ledger_pool_policy *p, const char *column);

cx_err cx_ledger_pool_create(cx_ledger *l, const cx_chain_key *signer,
                             const cx_ledger_pool_params *p, cx_chain_id *out, cx_error *e);
cx_err cx_ledger_pool_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_pool *out, cx_error *e);
cx_err cx_ledger_enclave_register(cx_ledger *l, const cx_chain_key *signer,
                                  const cx_ledger_enclave *en, cx_chain_id *out, cx_error *e);
/* What the Sui contract verifies itself when an enclave registers (RULES.md §2.1): the Nitro
 * attestation document (0x2::nitro_attestation checks it on chain and takes the Ed25519 key and
 * PCR0 from it) and the attested key's signature over the X25519 key (attestation/tee.c's
 * endorsement). The local ledger records the document's hash only, its client having verified
 * the document; the Sui backend refuses a registration without them (CX_ERR_UNSUPPORTED). */
typedef struct cx_ledger_attestation {
    const uint8_t *doc;
    size_t doc_len;
    const uint8_t *x25519_endorsement; /* 64 bytes */
} cx_ledger_attestation;
/* en's keys and measurement must be the document's. */
cx_err cx_ledger_enclave_register_attested(cx_ledger *l, const cx_chain_key *signer,
                                           const cx_ledger_enclave *en,
                                           const cx_ledger_attestation *att, cx_chain_id *out,
                                           cx_error *e);
cx_err cx_ledger_enclave_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_enclave *out,
                             cx_error *e);
/* Only the pool's operator adds an enclave to its pool (RULES.md §2.1); the enclave's
 * measurement must be one the pool accepts. */
cx_err cx_ledger_pool_enclave_add(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                                  const cx_chain_id *enclave, cx_error *e);
/* The sealing targets of a pool: the enclaves its operator added whose measurement it still
 * accepts, the most recently added first. */
cx_err cx_ledger_enclaves_for_pool(cx_ledger *l, const cx_chain_id *pool, cx_ledger_enclave **out,
                                   size_t *n, cx_error *e);
cx_err cx_ledger_contribution_register(cx_ledger *l, const cx_chain_key *signer,
                                       const cx_chain_id *pool, const uint8_t *blob_id,
                                       size_t blob_id_len, cx_chain_id *out, cx_error *e);
cx_err cx_ledger_contributions_list(cx_ledger *l, const cx_chain_id *pool,
                                    cx_ledger_contribution **out, size_t *n, cx_error *e);
cx_err cx_ledger_job_create(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *pool,
                            const uint8_t spec_hash[32], const uint8_t *spec_blob_id,
                            size_t spec_blob_id_len, uint64_t payment, uint64_t deadline_ms,
                            cx_chain_id *out, cx_error *e);
cx_err cx_ledger_job_get(cx_ledger *l, const cx_chain_id *id, cx_ledger_job *out, cx_error *e);
/* Enclave-signed bytes: a statement (RULES.md §4) or a job message (§6) and its signature. */
typedef struct cx_ledger_signed {
    const uint8_t *msg;
    size_t len;
    const uint8_t *sig; /* CX_CHAIN_ED25519_SIG_LEN bytes */
} cx_ledger_signed;

/* The enclave takes the job (RULES.md §2): OPEN -> ACCEPTED, escrow locked to it. */
cx_err cx_ledger_job_accept(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                            const cx_chain_id *enclave, const cx_ledger_signed *acceptance,
                            cx_error *e);
/* The accepting enclave gives the job up: ACCEPTED -> REFUNDED, nothing revealed. */
cx_err cx_ledger_job_fail(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                          const cx_ledger_signed *failure, cx_error *e);
/* The accepting enclave's result with its key release: paid (key revealed) or refunded (k not
 * reached; key not revealed), or refused with nothing recorded. */
cx_err cx_ledger_result_submit(cx_ledger *l, const cx_chain_key *signer, const cx_chain_id *job,
                               const cx_chain_id *enclave, const cx_ledger_signed *statement,
                               const cx_ledger_signed *key_release, cx_error *e);
cx_err cx_ledger_result_get(cx_ledger *l, const cx_chain_id *job, cx_ledger_result *out,
                            cx_error *e);
/* Anyone, once an OPEN job's deadline or an ACCEPTED job's deadline + grace has passed. */
cx_err cx_ledger_job_refund_expired(cx_ledger *l, const cx_chain_key *signer,
                                    const cx_chain_id *job, cx_error *e);
cx_err cx_ledger_balance_get(cx_ledger *l, const cx_chain_addr *a, uint64_t *out, cx_error *e);
cx_err cx_ledger_events_read(cx_ledger *l, const char *cursor, size_t max, cx_ledger_event **out,
                             size_t *n, char next_cursor[CX_CHAIN_CURSOR_MAX], cx_error *e);
void cx_ledger_close(cx_ledger *l);                     /* NULL is fine; frees l */
const char *cx_ledger_backend_name(const cx_ledger *l); /* "local" or "sui" */

/* ===================== local SQLite ledger ===================== */

enum { CX_LEDGER_LOCAL_SCHEMA_VERSION = 5 };

typedef struct cx_ledger_local_opts {
    cx_chain_addr protocol_addr;  /* receives protocol fees (zero address if unset) */
    uint64_t (*now_ms)(void *ud); /* the ledger clock; NULL = wall clock (cx_unix_ms) */
    void *clock_ud;
    int busy_timeout_ms; /* 0 = 10000 */
} cx_ledger_local_opts;

/* Open (creating or migrating) the ledger database at path. A newer schema than this build
 * knows is refused (CX_ERR_UNSUPPORTED). opts may be NULL. */
cx_err cx_ledger_local_open(const char *path, const cx_ledger_local_opts *opts, cx_ledger **out,
                            cx_error *e);
/* SIMULATED money: credit an address on the local ledger (a test/demo faucet; the Sui
 * backend has no such call). Refused on non-local ledgers. */
cx_err cx_ledger_local_faucet(cx_ledger *l, const cx_chain_addr *to, uint64_t amount, cx_error *e);

/* ===================== the contract's calls on Sui (chain/move; chain/sui_market.c)
 * ===================== Each builder appends to tx the inputs and MoveCall of one
 * `cloakx_market::market` function (chain/move/README.md), with the shared objects taken mutably
 * exactly where the Move function takes them by &mut. The caller sets sender and gas, encodes and
 * signs (sui_tx.c) and executes (sui_graphql.c); the events the package emits decode into
 * cx_ledger_event. */

typedef struct cx_sui_shared_ref {
    cx_chain_id id;
    uint64_t initial_shared_version;
} cx_sui_shared_ref;

typedef struct cx_sui_market {
    cx_chain_addr package;    /* the published cloakx_market package */
    cx_sui_shared_ref market; /* its shared Market registry */
    const char *coin_type;    /* what jobs pay in; NULL = 0x2::sui::SUI */
} cx_sui_market;

cx_err cx_sui_market_create_pool(cx_sui_tx *tx, const cx_sui_market *m,
                                 const cx_ledger_pool_params *p, cx_error *e);
/* Two calls: 0x2::nitro_attestation::load_nitro_attestation(document, clock), then
 * register_enclave with its result. */
cx_err cx_sui_market_register_enclave(cx_sui_tx *tx, const cx_sui_market *m, const uint8_t *doc,
                                      size_t doc_len, const uint8_t x25519_pk[32],
                                      const uint8_t endorsement[64], const uint8_t doc_sha256[32],
                                      const uint8_t *doc_blob_id, size_t doc_blob_id_len,
                                      cx_error *e);
/* enclave: the frozen Enclave object's current ref */
cx_err cx_sui_market_add_pool_enclave(cx_sui_tx *tx, const cx_sui_market *m,
                                      const cx_sui_shared_ref *pool,
                                      const cx_sui_object_ref *enclave, cx_error *e);
cx_err cx_sui_market_register_contribution(cx_sui_tx *tx, const cx_sui_market *m,
                                           const cx_sui_shared_ref *pool, const uint8_t *blob_id,
                                           size_t blob_id_len, cx_error *e);
/* The payment is split from the gas coin in the same transaction. */
cx_err cx_sui_market_create_job(cx_sui_tx *tx, const cx_sui_market *m,
                                const cx_sui_shared_ref *pool, const uint8_t spec_hash[32],
                                const uint8_t *spec_blob_id, size_t spec_blob_id_len,
                                uint64_t payment, uint64_t deadline_ms, cx_error *e);
cx_err cx_sui_market_accept_job(cx_sui_tx *tx, const cx_sui_market *m, const cx_sui_shared_ref *job,
                                const cx_sui_shared_ref *pool, const cx_sui_object_ref *enclave,
                                const uint8_t *msg, size_t len, const uint8_t sig[64], cx_error *e);
cx_err cx_sui_market_fail_job(cx_sui_tx *tx, const cx_sui_market *m, const cx_sui_shared_ref *job,
                              const cx_sui_object_ref *enclave, const uint8_t *msg, size_t len,
                              const uint8_t sig[64], cx_error *e);
cx_err cx_sui_market_submit_result(cx_sui_tx *tx, const cx_sui_market *m,
                                   const cx_sui_shared_ref *job, const cx_sui_shared_ref *pool,
                                   const cx_sui_object_ref *enclave, const uint8_t *statement,
                                   size_t statement_len, const uint8_t sig[64],
                                   const uint8_t *key_release, size_t key_release_len,
                                   const uint8_t key_sig[64], cx_error *e);
cx_err cx_sui_market_refund_expired(cx_sui_tx *tx, const cx_sui_market *m,
                                    const cx_sui_shared_ref *job, cx_error *e);

/* ===================== the `sui:` ledger backend (chain/ledger_sui.c) =====================
 * Every cx_ledger call on the published cloakx_market package: mutating calls are its Move calls
 * (above), signed with the caller's key as the Sui sender, gas paid from the sender's coins;
 * reads are GraphQL reads of its objects (pools, enclaves, jobs with their results) and its
 * event stream. Object ids and events are the contract's, one for one with the local ledger's.
 * What the contract does not keep is derived, and says so: a result's payouts are computed
 * again from its statement and pool (§3); contributions are found by their events; a balance is
 * the sum of the address's coins. There is no faucet (cx_ledger_local_faucet refuses). */

typedef struct cx_ledger_sui_opts {
    const char *graphql_url;    /* e.g. https://graphql.testnet.sui.io/graphql */
    cx_chain_addr package;      /* the published cloakx_market package */
    cx_chain_id market;         /* its shared Market object (made by the package's init) */
    const char *coin_type;      /* what jobs pay in; NULL = 0x2::sui::SUI */
    uint64_t gas_budget;        /* MIST per transaction; 0 = 50 000 000 */
    const cx_sui_gql_opts *gql; /* timeouts and retries (its url is ignored); may be NULL */
} cx_ledger_sui_opts;

/* Reads the Market (shared version, protocol address) once; fails if it is not the package's. */
cx_err cx_ledger_sui_open(const cx_ledger_sui_opts *o, cx_ledger **out, cx_error *e);
/* "sui:URL?package=0x..&market=0x..[&coin=TYPE][&gas_budget=MIST]"; gql may be NULL. */
cx_err cx_ledger_sui_open_url(const char *spec, const cx_sui_gql_opts *gql, cx_ledger **out,
                              cx_error *e);

/* An event of the package (type 0xPKG::market::<Kind>, BCS {object_id, pool_id, addr, amount,
 * timestamp_ms}) as a ledger event; seq is left 0 (Sui orders events by cursor).
 * CX_ERR_NOTFOUND for an event of another package or module. */
cx_err cx_sui_market_event_decode(const cx_sui_market *m, const cx_sui_event *ev,
                                  cx_ledger_event *out, cx_error *e);
/* The cx_err class of a cloakx_market abort code (chain/move/README.md): ARG, STATE, VERIFY,
 * AUTH (bad signature), FORMAT (wire), else INTERNAL. */
cx_err cx_sui_market_abort_class(uint64_t abort_code);

#ifdef CX_HAVE_SEAL
/* ---- Seal key servers (seal_access.c; built with the seal module): spec §4.6 ----
 * The marketplace's policies (RULES.md §2.3), functions of its Move package's seal_policy
 * module: a dataset key (identity: pool id || nonce) only for an enclave that the pool's
 * operator added to the pool, asking with its registered key; a model key (identity: job id)
 * only for the job's buyer, once the job is paid. */
#include "cx_seal.h"

#define CX_SEAL_POLICY_MODULE "seal_policy"
#define CX_SEAL_APPROVE_DATASET "seal_approve_dataset"
#define CX_SEAL_APPROVE_MODEL "seal_approve_model"
enum {
    CX_SEAL_TTL_MIN_MAX = 30, /* a session's longest life (the key servers' default) */
    CX_SEAL_SERVERS_MAX = 32, /* key servers asked at once */
    CX_SEAL_URL_MAX = 512,    /* a key server's base URL */
    CX_SEAL_ID_MAX = 1024,    /* an inner identity */
    CX_SEAL_APPROVE_OBJECTS_MAX = 8,
    CX_SEAL_APPROVE_IDS_MAX = 100, /* seal_approve calls in one request (the key servers' cap) */
};

/* An object argument of a seal_approve call: a shared object (initial_shared_version > 0) or
 * an immutable or owned one at (version, digest). */
typedef struct cx_seal_object_arg {
    cx_chain_id id;
    uint64_t initial_shared_version;
    uint64_t version;
    uint8_t digest[32];
} cx_seal_object_arg;
/* BCS ProgrammableTransaction of one call package::module::function(id, objects...), where
 * function starts with "seal_approve": what fetch_key carries as "ptb". */
cx_err cx_seal_ptb_approve(const cx_chain_addr *package, const char *module, const char *function,
                           const uint8_t *id, size_t id_len, const cx_seal_object_arg *objects,
                           size_t n_objects, uint8_t **ptb, size_t *ptb_len, cx_error *e);
/* The same for several ids in one request: one call per id (in order), the objects shared by
 * all; the key servers answer for every id or for none. */
cx_err cx_seal_ptb_approve_many(const cx_chain_addr *package, const char *module,
                                const char *function, const uint8_t *const *ids,
                                const size_t *id_lens, size_t n_ids,
                                const cx_seal_object_arg *objects, size_t n_objects, uint8_t **ptb,
                                size_t *ptb_len, cx_error *e);
/* Who asks for keys: an Ed25519 public key (its Sui address is the certificate's user) and a
 * function that signs with its secret (an account key, or an enclave's key inside its TEE). */
typedef struct cx_seal_user {
    const uint8_t *public_key; /* 32 bytes */
    cx_err (*sign)(void *ud, const uint8_t *msg, size_t len, uint8_t sig[CX_CHAIN_ED25519_SIG_LEN],
                   cx_error *e);
    void *ud;
} cx_seal_user;
/* An account key as a cx_seal_user (k must outlive it). */
cx_seal_user cx_seal_user_of_key(const cx_chain_key *k);
/* The fetch_key request body for ptb: a fresh ElGamal key (into *k: wipe it after use) and a
 * fresh session key, certified for ttl_min minutes from now_ms by user's personal-message
 * signature; the request signed by the session key. *body malloc'ed JSON. */
cx_err cx_seal_request_build(const cx_seal_user *user, const uint8_t package[CX_SEAL_ADDR_LEN],
                             const uint8_t *ptb, size_t ptb_len, uint32_t ttl_min, uint64_t now_ms,
                             cx_seal_elgamal_key *k, char **body, cx_error *e);

/* A key server as the requester pins it: base URL, KeyServer object id, public key. */
typedef struct cx_seal_endpoint {
    const char *url;
    uint8_t object_id[CX_SEAL_ADDR_LEN];
    uint8_t pk[CX_SEAL_G2_LEN];
} cx_seal_endpoint;

/* POSTs body to every server's /v1/fetch_key at once (timeout_ms each), opens and verifies the
 * answers as they come (cx_seal_collect_keys) and stops once they cover o's threshold; keys
 * (room for n) then hold the verified keys for cx_seal_decrypt. Too few: CX_ERR_VERIFY naming
 * every server that failed and why (its HTTP status and error kind, a timeout, a bad key). */
cx_err cx_seal_fetch_keys(const cx_seal_endpoint *servers, size_t n, const char *body,
                          long timeout_ms, const cx_seal_object *o, const cx_seal_elgamal_key *k,
                          cx_seal_key *keys, size_t *n_keys, cx_error *e);
/* One request for several objects (its PTB from cx_seal_ptb_approve_many with their ids): stops
 * once the answers cover every object's threshold; object j's verified keys are keys + j·n,
 * n_keys[j] of them. Too few for any object: CX_ERR_VERIFY, naming the servers that failed. */
cx_err cx_seal_fetch_keys_many(const cx_seal_endpoint *servers, size_t n, const char *body,
                               long timeout_ms, const cx_seal_object *const *objs, size_t n_objs,
                               const cx_seal_elgamal_key *k, cx_seal_key *keys, size_t *n_keys,
                               cx_error *e);

/* A key server that applies the marketplace's policies to the ledger (what the local key
 * server runs; a Sui key server evaluates the same rules in Move by dry run). */
typedef struct cx_seal_ks {
    uint8_t msk[CX_SEAL_SCALAR_LEN]; /* its master key */
    cx_chain_addr package;           /* the policy package it serves */
    cx_ledger *ledger;
    uint32_t max_ttl_min; /* 1..CX_SEAL_TTL_MIN_MAX */
    const cx_logger *log; /* one info line per request (ids, requester, answer); NULL: none */
} cx_seal_ks;

/* One fetch_key request (body, the Client-Sdk-Version header): checks the PTB (every command a
 * seal_approve call of the package, the id a pure vector<u8>), the certificate (its user's
 * signature, its lifetime at now_ms) and the request's session signature, then each call's
 * policy on the ledger; *status and *resp (malloc'ed JSON) are the HTTP answer: the keys, or
 * {"error","message"} with the key servers' error kinds (403 NoAccess, InvalidPTB, ...). A
 * cx_err other than CX_OK only when no answer could be made (out of memory). */
cx_err cx_seal_ks_fetch_key(const cx_seal_ks *ks, const char *body, size_t len,
                            const char *sdk_version, uint64_t now_ms, int *status, char **resp,
                            cx_error *e);
#endif

#ifdef __cplusplus
}
#endif
#endif /* CX_CHAIN_H */
