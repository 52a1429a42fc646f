/* tee_sim.c — the SIMULATED TEE for development and CI: software keys, and documents in the
 * exact AWS Nitro format (COSE_Sign1, ES384, same CBOR fields) signed by a development CA.
 *
 * What it simulates, and how verifiers tell:
 * - module_id starts with "cloakx-simulated-" and every certificate's subject carries
 *   O = CX_NITRO_SIM_SUBJECT_MARK; cx_nitro_verify refuses such documents unless
 *   allow_simulated, and they only chain to the development root made here.
 * - PCR0 = PCR2 = SHA-384 of the running binary (/proc/self/exe), so the "measurement" is
 *   the code that runs; PCR1 = SHA-384("cloakx simulated TEE: no kernel measured");
 *   PCR3..15 = 48 zero bytes (nothing measured). Real Nitro PCRs measure the EIF instead.
 *   In debug_mode PCR0..2 are zeros, as a real debug-mode enclave reports them.
 * - The dev CA key lives unencrypted in devca_dir (made once, "install time"); enclave keys
 *   are persisted only if the caller gives a state_dir, in a 0600 file marked SIMULATED.
 *   A real enclave never writes its keys anywhere. */
#include "attest_cbor.h"
#include "tee_internal.h"
#include "x509_verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define SIM_PCRS 16
#define SIM_LEAF_LIFETIME_S (3 * 3600) /* like a real NSM leaf (≈3 h) */
#define SIM_ROOT_LIFETIME_S (20LL * 365 * 24 * 3600)

typedef struct sim_impl {
    EVP_PKEY *root_key;
    X509 *root;
    uint8_t *root_der;
    size_t root_der_len;
    uint8_t pcr0[48];
    int debug_mode;
    char module_id[64];
} sim_impl;

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ------------------------------------------------------------- dev CA -- */

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return 0;
    int ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A certificate for key, signed by issuer_key (issuer NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long not_before_off, long lifetime, int ca)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    X509_NAME *name = X509_NAME_new();
    int ok = x && serial && name && X509_set_version(x, 2) == 1 &&
             BN_rand(serial, 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1 &&
             BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != NULL &&
             X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"ZZ", -1,
                                        -1, 0) == 1 &&
             X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                        (const unsigned char *)CX_NITRO_SIM_SUBJECT_MARK, -1, -1,
                                        0) == 1 &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                        -1, 0) == 1 &&
             X509_set_subject_name(x, name) == 1 &&
             X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1 &&
             X509_gmtime_adj(X509_getm_notBefore(x), not_before_off) != NULL &&
             X509_gmtime_adj(X509_getm_notAfter(x), lifetime) != NULL &&
             X509_set_pubkey(x, key) == 1;
    if (ok && ca)
        ok = add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE") &&
             add_ext(x, issuer ? issuer : x, NID_key_usage,
                     "critical,keyCertSign,cRLSign,digitalSignature");
    else if (ok)
        ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
             add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
    if (ok)
        ok = add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash") &&
             add_ext(x, issuer ? issuer : x, NID_authority_key_identifier, "keyid:always");
    if (ok)
        ok = X509_sign(x, issuer_key, EVP_sha384()) > 0;
    BN_free(serial);
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static cx_err write_pem(const char *path, int is_key, void *obj, mode_t mode, cx_error *e)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return cx_error_openssl(e, CX_ERR_NOMEM, "tee sim: BIO");
    int ok = is_key ? PEM_write_bio_PrivateKey(b, obj, NULL, NULL, 0, NULL, NULL)
                    : PEM_write_bio_X509(b, obj);
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    cx_err rc = ok && len > 0 ? cx_file_write_atomic(path, data, (size_t)len, mode, e)
                              : cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: PEM encoding");
    if (len > 0)
        cx_memwipe(data, (size_t)len);
    BIO_free(b);
    return rc;
}

cx_err cx_tee_sim_devca_create(const char *devca_dir, cx_error *e)
{
    if (!devca_dir)
        return cx_error_set(e, CX_ERR_ARG, "tee sim: no dev CA directory");
    cx_err rc = cx_mkdir_p(devca_dir, 0700, e);
    if (rc != CX_OK)
        return rc;
    char *cert_path = path_join(devca_dir, CX_TEE_SIM_ROOT_CERT);
    char *key_path = path_join(devca_dir, CX_TEE_SIM_ROOT_KEY);
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    if (!cert_path || !key_path) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "tee sim: out of memory");
        goto out;
    }
    if (access(cert_path, F_OK) == 0 && access(key_path, F_OK) == 0)
        goto out; /* made before: keep it, documents already issued chain to it */
    key = EVP_EC_gen("P-384");
    if (!key) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: P-384 key generation");
        goto out;
    }
    cert = make_cert(key, "cloakx simulated TEE development root", NULL, key, -3600,
                     (long)SIM_ROOT_LIFETIME_S, 1);
    if (!cert) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: making the dev root certificate");
        goto out;
    }
    rc = write_pem(key_path, 1, key, 0600, e);
    if (rc == CX_OK)
        rc = write_pem(cert_path, 0, cert, 0644, e);
out:
    EVP_PKEY_free(key);
    X509_free(cert);
    free(cert_path);
    free(key_path);
    return rc;
}

/* ---------------------------------------------------------- enclave keys -- */

static const char STATE_HEAD[] =
    "{\"simulated\": true, \"warning\": \"SIMULATED TEE enclave keys, NOT protected by any "
    "hardware: development only\", \"ed25519_seed\": \"";
static const char STATE_MID[] = "\", \"x25519_secret\": \"";
static const char STATE_TAIL[] = "\"}\n";
#define STATE_LEN (sizeof STATE_HEAD - 1 + 64 + sizeof STATE_MID - 1 + 64 + sizeof STATE_TAIL - 1)

static cx_err state_save(cx_tee *t, const char *path, cx_error *e)
{
    char *buf = cx_secmem_alloc(STATE_LEN + 1, 0, e);
    if (!buf)
        return e ? e->code : CX_ERR_NOMEM;
    size_t n = 0;
    memcpy(buf, STATE_HEAD, sizeof STATE_HEAD - 1);
    n += sizeof STATE_HEAD - 1;
    cx_hex_encode(t->secrets, 32, buf + n, 65, NULL);
    n += 64;
    memcpy(buf + n, STATE_MID, sizeof STATE_MID - 1);
    n += sizeof STATE_MID - 1;
    cx_hex_encode(t->secrets + 32, 32, buf + n, 65, NULL);
    n += 64;
    memcpy(buf + n, STATE_TAIL, sizeof STATE_TAIL - 1);
    n += sizeof STATE_TAIL - 1;
    cx_err rc = cx_file_write_atomic(path, buf, n, 0600, e);
    cx_secmem_free(buf);
    return rc;
}

/* Returns CX_ERR_NOTFOUND when there is no state yet. */
static cx_err state_load(cx_tee *t, const char *path, cx_error *e)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? CX_ERR_NOTFOUND
                               : cx_error_errno(e, CX_ERR_IO, errno, "tee sim: stat %s", path);
    if (st.st_mode & 0077)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "tee sim: %s is readable by others (mode %03o); refusing it", path,
                            (unsigned)(st.st_mode & 0777));
    uint8_t *raw = NULL;
    size_t len = 0;
    cx_err rc = cx_file_read_all(path, 4096, &raw, &len, e);
    if (rc != CX_OK)
        return rc;
    uint8_t *keys = cx_secmem_alloc(64, 0, e);
    if (!keys) {
        cx_memwipe(raw, len);
        free(raw);
        return e ? e->code : CX_ERR_NOMEM;
    }
    const char *s = (const char *)raw;
    size_t got1 = 0, got2 = 0;
    if (len != STATE_LEN || memcmp(s, STATE_HEAD, sizeof STATE_HEAD - 1) != 0 ||
        cx_hex_decode(s + sizeof STATE_HEAD - 1, 64, keys, 32, &got1, NULL) != CX_OK ||
        memcmp(s + sizeof STATE_HEAD - 1 + 64, STATE_MID, sizeof STATE_MID - 1) != 0 ||
        cx_hex_decode(s + sizeof STATE_HEAD - 1 + 64 + sizeof STATE_MID - 1, 64, keys + 32, 32,
                      &got2, NULL) != CX_OK ||
        got1 != 32 || got2 != 32)
        rc = cx_error_set(e, CX_ERR_FORMAT, "tee sim: %s is not a simulated-enclave key file",
                          path);
    else
        rc = cx_tee_keys_set(t, keys, keys + 32, e);
    cx_memwipe(raw, len);
    free(raw);
    cx_secmem_free(keys);
    return rc;
}

/* ------------------------------------------------------------- documents -- */

typedef struct dbuf {
    uint8_t *b;
    size_t n, cap;
    int oom;
} dbuf;

static void d_put(dbuf *d, const void *p, size_t len)
{
    if (d->oom)
        return;
    if (d->n + len > d->cap) {
        size_t cap = (d->cap ? d->cap * 2 : 1024);
        while (cap < d->n + len)
            cap *= 2;
        uint8_t *nb = realloc(d->b, cap);
        if (!nb) {
            d->oom = 1;
            return;
        }
        d->b = nb;
        d->cap = cap;
    }
    memcpy(d->b + d->n, p, len);
    d->n += len;
}

static void d_head(dbuf *d, unsigned major, uint64_t arg)
{
    uint8_t h[9];
    d_put(d, h, cx_cbor_head(h, major, arg));
}

static void d_bytes(dbuf *d, const void *p, size_t len)
{
    d_head(d, 2, len);
    d_put(d, p, len);
}

static void d_text(dbuf *d, const char *s)
{
    d_head(d, 3, strlen(s));
    d_put(d, s, strlen(s));
}

static void d_opt(dbuf *d, const uint8_t *p, size_t len)
{
    static const uint8_t null = 0xf6;
    if (p)
        d_bytes(d, p, len);
    else
        d_put(d, &null, 1);
}

static cx_err sha384_of(const void *p, size_t n, uint8_t out[48], cx_error *e)
{
    unsigned int len = 0;
    if (EVP_Digest(p, n, out, &len, EVP_sha384(), NULL) != 1 || len != 48)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: SHA-384");
    return CX_OK;
}

static cx_err der_of(X509 *x, uint8_t **out, size_t *len, cx_error *e)
{
    unsigned char *p = NULL;
    int n = i2d_X509(x, &p);
    if (n <= 0)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: DER encoding");
    *out = p;
    *len = (size_t)n;
    return CX_OK;
}

static cx_err sim_attest(cx_tee *t, const uint8_t *ud, size_t ud_len, const uint8_t *nonce,
                         size_t nonce_len, const uint8_t *pk, size_t pk_len, uint8_t **doc,
                         size_t *doc_len, cx_error *e)
{
    sim_impl *s = t->impl;
    EVP_PKEY *leaf_key = EVP_EC_gen("P-384");
    X509 *leaf = NULL;
    uint8_t *leaf_der = NULL, *tbs = NULL;
    size_t leaf_der_len = 0, tbs_len = 0;
    dbuf pl = {0}, cose = {0};
    cx_err rc = CX_OK;
    if (!leaf_key) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: P-384 leaf key");
        goto out;
    }
    /* A fresh short-lived leaf per document, as the NSM does. */
    leaf = make_cert(leaf_key, s->module_id, s->root, s->root_key, -60, SIM_LEAF_LIFETIME_S, 0);
    if (!leaf) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: leaf certificate");
        goto out;
    }
    rc = der_of(leaf, &leaf_der, &leaf_der_len, e);
    if (rc != CX_OK)
        goto out;
    uint8_t pcr1[48], zero[48] = {0};
    static const char no_kernel[] = "cloakx simulated TEE: no kernel measured";
    rc = sha384_of(no_kernel, sizeof no_kernel - 1, pcr1, e);
    if (rc != CX_OK)
        goto out;

    /* Same keys in the same order as real NSM documents (spec §1.3). */
    d_head(&pl, 5, 9);
    d_text(&pl, "module_id");
    d_text(&pl, s->module_id);
    d_text(&pl, "digest");
    d_text(&pl, "SHA384");
    d_text(&pl, "timestamp");
    d_head(&pl, 0, cx_unix_ms());
    d_text(&pl, "pcrs");
    d_head(&pl, 5, SIM_PCRS);
    for (unsigned i = 0; i < SIM_PCRS; i++) {
        d_head(&pl, 0, i);
        const uint8_t *v = i == 0 || i == 2 ? s->pcr0 : i == 1 ? pcr1 : zero;
        d_bytes(&pl, s->debug_mode && i <= 2 ? zero : v, 48);
    }
    d_text(&pl, "certificate");
    d_bytes(&pl, leaf_der, leaf_der_len);
    d_text(&pl, "cabundle");
    d_head(&pl, 4, 1);
    d_bytes(&pl, s->root_der, s->root_der_len);
    d_text(&pl, "public_key");
    d_opt(&pl, pk, pk_len);
    d_text(&pl, "user_data");
    d_opt(&pl, ud, ud_len);
    d_text(&pl, "nonce");
    d_opt(&pl, nonce, nonce_len);
    if (pl.oom) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "tee sim: out of memory");
        goto out;
    }
    static const uint8_t prot[] = {0xa1, 0x01, 0x38, 0x22};
    rc = cx_cose_sig_structure(prot, sizeof prot, pl.b, pl.n, &tbs, &tbs_len, e);
    if (rc != CX_OK)
        goto out;
    uint8_t sig[96];
    rc = cx_attest_es384_sign(leaf_key, tbs, tbs_len, sig, e);
    if (rc != CX_OK) {
        cx_error_prefix(e, "tee sim: ");
        goto out;
    }
    d_head(&cose, 4, 4);
    d_bytes(&cose, prot, sizeof prot);
    d_head(&cose, 5, 0);
    d_bytes(&cose, pl.b, pl.n);
    d_bytes(&cose, sig, sizeof sig);
    if (cose.oom) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "tee sim: out of memory");
        goto out;
    }
    *doc = cose.b;
    *doc_len = cose.n;
    cose.b = NULL;
out:
    free(cose.b);
    free(pl.b);
    free(tbs);
    OPENSSL_free(leaf_der);
    X509_free(leaf);
    EVP_PKEY_free(leaf_key);
    return rc;
}

static void sim_close(cx_tee *t)
{
    sim_impl *s = t->impl;
    if (!s)
        return;
    EVP_PKEY_free(s->root_key);
    X509_free(s->root);
    OPENSSL_free(s->root_der);
    free(s);
}

static const cx_tee_ops SIM_OPS = {
    .name = "sim",
    .simulated = 1,
    .attest = sim_attest,
    .sign = cx_tee_ed25519_sign,
    .close = sim_close,
};

static cx_err hash_file(const char *path, uint8_t out[48], cx_error *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cx_error_errno(e, CX_ERR_IO, errno, "tee sim: open %s", path);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    cx_err rc = CX_OK;
    if (!md || EVP_DigestInit_ex(md, EVP_sha384(), NULL) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: SHA-384");
        goto out;
    }
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = cx_error_errno(e, CX_ERR_IO, errno, "tee sim: reading %s", path);
            goto out;
        }
        if (n == 0)
            break;
        if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: SHA-384");
            goto out;
        }
    }
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 48)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "tee sim: SHA-384");
out:
    EVP_MD_CTX_free(md);
    close(fd);
    return rc;
}

static cx_err load_devca(sim_impl *s, const char *dir, cx_error *e)
{
    char *cert_path = path_join(dir, CX_TEE_SIM_ROOT_CERT);
    char *key_path = path_join(dir, CX_TEE_SIM_ROOT_KEY);
    cx_err rc = CX_OK;
    FILE *f = NULL;
    if (!cert_path || !key_path) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "tee sim: out of memory");
        goto out;
    }
    f = fopen(cert_path, "re");
    if (!f) {
        rc = cx_error_errno(e, errno == ENOENT ? CX_ERR_NOTFOUND : CX_ERR_IO, errno,
                            "tee sim: dev root %s (run cx_tee_sim_devca_create first)", cert_path);
        goto out;
    }
    s->root = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    f = fopen(key_path, "re");
    if (!f) {
        rc = cx_error_errno(e, CX_ERR_IO, errno, "tee sim: dev root key %s", key_path);
        goto out;
    }
    s->root_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!s->root || !s->root_key || X509_check_private_key(s->root, s->root_key) != 1) {
        rc = cx_error_openssl(e, CX_ERR_FORMAT, "tee sim: dev CA in %s is unreadable or mismatched",
                              dir);
        goto out;
    }
    rc = der_of(s->root, &s->root_der, &s->root_der_len, e);
out:
    free(cert_path);
    free(key_path);
    return rc;
}

cx_err cx_tee_sim_open(const cx_tee_sim_config *cfg, cx_tee **out, cx_error *e)
{
    *out = NULL;
    if (!cfg || !cfg->devca_dir)
        return cx_error_set(e, CX_ERR_ARG, "tee sim: a dev CA directory is required");
    sim_impl *s = calloc(1, sizeof *s);
    if (!s)
        return cx_error_set(e, CX_ERR_NOMEM, "tee sim: out of memory");
    cx_tee *t = NULL;
    char *state_path = NULL;
    s->debug_mode = cfg->debug_mode;
    cx_err rc = load_devca(s, cfg->devca_dir, e);
    if (rc == CX_OK)
        rc = hash_file(cfg->exe_path ? cfg->exe_path : "/proc/self/exe", s->pcr0, e);
    if (rc != CX_OK) {
        sim_close(&(cx_tee){.impl = s});
        return rc;
    }
    rc = cx_tee_new(&SIM_OPS, s, cfg->log, &t, e);
    if (rc != CX_OK) {
        sim_close(&(cx_tee){.impl = s});
        return rc;
    }
    if (cfg->state_dir) {
        rc = cx_mkdir_p(cfg->state_dir, 0700, e);
        if (rc == CX_OK) {
            state_path = path_join(cfg->state_dir, CX_TEE_SIM_STATE_FILE);
            rc = state_path ? state_load(t, state_path, e)
                            : cx_error_set(e, CX_ERR_NOMEM, "tee sim: out of memory");
        }
        if (rc == CX_ERR_NOTFOUND) {
            rc = cx_tee_keys_generate(t, e);
            if (rc == CX_OK)
                rc = state_save(t, state_path, e);
            if (rc == CX_OK)
                cx_log_warn(cfg->log, "tee sim: SIMULATED enclave keys created in %s",
                            state_path);
        }
    } else {
        rc = cx_tee_keys_generate(t, e);
    }
    if (rc == CX_OK) {
        char hex[17];
        cx_hex_encode(t->ed_pk, 8, hex, sizeof hex, NULL);
        snprintf(s->module_id, sizeof s->module_id, "%s%s", CX_NITRO_SIM_MODULE_PREFIX, hex);
        cx_log_info(cfg->log, "tee sim: SIMULATED enclave %s ready", s->module_id);
        *out = t;
    } else {
        cx_tee_close(t);
    }
    free(state_path);
    return rc;
}
