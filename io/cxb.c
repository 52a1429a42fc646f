/* cxb.c — the sealed-blob format (.cxb, io/FORMAT.md): header build/parse, streaming seal,
 * opening a header with the recipient key, and per-chunk AES-256-GCM with fault naming. */
#include "cx_io.h"
#include "cxb_internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const uint8_t cxb_magic[4] = {'C', 'X', 'B', '1'};
#define CXB_VERSION 1
#define CXB_SEALED_KEY_LEN (32 + 16)
#define CXB_TAIL_LEN (32 + 32 + CXB_SEALED_KEY_LEN) /* suite 1: key id, enc, sealed data key */
#define CXB_OBJECT_LEN_LEN 2                         /* suite 2: the key object's length */
static const char hpke_info[] = "cloakx/cxb/v1 data key";
static const char chunk_info[] = "cloakx/cxb/v1 chunk key";
/* How far from its position a misplaced chunk is looked for when naming a fault: at most
 * 2 * FAULT_WINDOW positions, each one AES block (see cx_cxb_chunk_decrypt), so the search
 * after a failed chunk costs one more pass over the chunk plus 2 * FAULT_WINDOW * 16 bytes. */
#define FAULT_WINDOW 64

struct cx_cxb_ctx {
    uint8_t chunk_key[32]; /* first: the struct lives in secmem */
    cx_cxb_header h;
};

struct cx_cxb_worker {
    EVP_CIPHER_CTX *c;
    EVP_CIPHER *aes;
    EVP_CIPHER_CTX *ecb; /* one-block AES for the tag masks of the fault search */
    uint64_t bytes;      /* bytes run through AES by this worker (cx_cxb_worker_bytes) */
};

static const char *const type_names[] = {"raw", "csv", "jsonl", "f32", "model"};

const char *cx_content_type_name(cx_content_type t)
{
    return (unsigned)t < sizeof type_names / sizeof type_names[0] ? type_names[t] : NULL;
}

cx_err cx_content_type_parse(const char *name, cx_content_type *out, cx_error *e)
{
    for (unsigned i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *out = (cx_content_type)i;
            return CX_OK;
        }
    return cx_error_set(e, CX_ERR_ARG, "unknown content type '%s' (raw, csv, jsonl, f32, model)",
                        name);
}

/* --------------------------------------------------------------- readers -- */

static cx_err fd_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    int fd = (int)(intptr_t)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, len);
        if (n >= 0) {
            *got = (size_t)n;
            return CX_OK;
        }
        if (errno != EINTR)
            return cx_error_errno(e, CX_ERR_IO, errno, "read");
    }
}

void cx_reader_from_fd(cx_reader *r, int fd)
{
    r->read = fd_read;
    r->close = NULL;
    r->ctx = (void *)(intptr_t)fd;
}

static cx_err mem_read(void *ctx, void *buf, size_t len, size_t *got, cx_error *e)
{
    (void)e;
    cx_mem_reader *m = ctx;
    size_t n = m->len - m->pos < len ? m->len - m->pos : len;
    if (n)
        memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    *got = n;
    return CX_OK;
}

void cx_reader_from_memory(cx_reader *r, cx_mem_reader *m, const void *data, size_t len)
{
    m->data = data;
    m->len = len;
    m->pos = 0;
    r->read = mem_read;
    r->close = NULL;
    r->ctx = m;
}

cx_err cx_reader_read_full(cx_reader *r, void *buf, size_t len, size_t *got, cx_error *e)
{
    size_t have = 0;
    while (have < len) {
        size_t n = 0;
        cx_err rc = r->read(r->ctx, (uint8_t *)buf + have, len - have, &n, e);
        if (rc != CX_OK) {
            *got = have;
            return rc;
        }
        if (n == 0)
            break;
        have += n;
    }
    *got = have;
    return CX_OK;
}

/* ---------------------------------------------------------------- header -- */

static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static int printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static uint64_t chunk_count(uint64_t plaintext_len, uint32_t chunk_size)
{
    uint64_t n = plaintext_len / chunk_size + (plaintext_len % chunk_size != 0);
    return n ? n : 1;
}

size_t cx_cxb_chunk_plain_len(const cx_cxb_header *h, uint64_t i)
{
    if (i + 1 < h->chunk_count)
        return h->chunk_size;
    if (i + 1 > h->chunk_count)
        return 0;
    return (size_t)(h->plaintext_len - (h->chunk_count - 1) * (uint64_t)h->chunk_size);
}

uint64_t cx_cxb_chunk_offset(const cx_cxb_header *h, uint64_t i)
{
    return h->header_len + i * ((uint64_t)h->chunk_size + CX_CXB_TAG_LEN);
}

cx_err cx_cxb_header_parse(const uint8_t *buf, size_t len, cx_cxb_header *h, size_t *need,
                           cx_error *e)
{
    memset(h, 0, sizeof *h);
    if (need)
        *need = CX_CXB_FIXED_HEADER_LEN;
    if (len < 4 || memcmp(buf, cxb_magic, 4) != 0)
        return cx_error_set(e, CX_ERR_FORMAT, "not a sealed blob: bad magic (expected 'CXB1')");
    if (len < CX_CXB_FIXED_HEADER_LEN)
        return cx_error_set(e, CX_ERR_FORMAT, "sealed blob header truncated (%zu of %u bytes)",
                            len, CX_CXB_FIXED_HEADER_LEN);
    uint64_t v = get_be(buf + 4, 2);
    if (v != CXB_VERSION)
        return cx_error_set(e, CX_ERR_FORMAT, "header field version: %u is not supported (1)",
                            (unsigned)v);
    v = get_be(buf + 6, 2);
    if (v != CX_CXB_SUITE_HPKE && v != CX_CXB_SUITE_KEY_OBJECT)
        return cx_error_set(e, CX_ERR_FORMAT, "header field suite: %u is not supported (1, 2)",
                            (unsigned)v);
    h->suite = (unsigned)v;
    h->chunk_size = (uint32_t)get_be(buf + 8, 4);
    if (h->chunk_size < CX_CXB_MIN_CHUNK || h->chunk_size > CX_CXB_MAX_CHUNK)
        return cx_error_set(e, CX_ERR_FORMAT, "header field chunk_size: %u outside [%u, %u]",
                            h->chunk_size, CX_CXB_MIN_CHUNK, CX_CXB_MAX_CHUNK);
    h->plaintext_len = get_be(buf + 12, 8);
    if (h->plaintext_len > CX_CXB_MAX_PLAINTEXT)
        return cx_error_set(e, CX_ERR_FORMAT, "header field plaintext_len: %llu over the limit",
                            (unsigned long long)h->plaintext_len);
    if (buf[20] > CX_CONTENT_MODEL)
        return cx_error_set(e, CX_ERR_FORMAT, "header field content_type: unknown value %u",
                            buf[20]);
    h->content_type = (cx_content_type)buf[20];
    if (buf[21] != 0)
        return cx_error_set(e, CX_ERR_FORMAT, "header field flags: reserved bits set (0x%02x)",
                            buf[21]);
    size_t pl = buf[22], cl = buf[23];
    if (pl < 1 || pl > CX_CXB_MAX_POOL_ID)
        return cx_error_set(e, CX_ERR_FORMAT, "header field pool_id_len: %zu outside [1, %u]", pl,
                            CX_CXB_MAX_POOL_ID);
    if (cl < 1 || cl > CX_CXB_MAX_CONTRIBUTOR)
        return cx_error_set(e, CX_ERR_FORMAT,
                            "header field contributor_len: %zu outside [1, %u]", cl,
                            CX_CXB_MAX_CONTRIBUTOR);
    size_t total = CX_CXB_FIXED_HEADER_LEN + pl + cl +
                   (h->suite == CX_CXB_SUITE_HPKE ? CXB_TAIL_LEN : CXB_OBJECT_LEN_LEN);
    if (need)
        *need = total;
    if (len < total)
        return cx_error_set(e, CX_ERR_FORMAT, "sealed blob header truncated (%zu of %zu bytes)",
                            len, total);
    if (h->suite == CX_CXB_SUITE_KEY_OBJECT) {
        h->key_object_off = total;
        h->key_object_len = (size_t)get_be(buf + total - CXB_OBJECT_LEN_LEN, 2);
        if (h->key_object_len < 1 || h->key_object_len > CX_CXB_MAX_KEY_OBJECT)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "header field key_object_len: %zu outside [1, %u]",
                                h->key_object_len, CX_CXB_MAX_KEY_OBJECT);
        total += h->key_object_len;
        if (need)
            *need = total;
        if (len < total)
            return cx_error_set(e, CX_ERR_FORMAT,
                                "sealed blob header truncated (%zu of %zu bytes)", len, total);
    }
    const char *pool = (const char *)buf + CX_CXB_FIXED_HEADER_LEN;
    const char *contrib = pool + pl;
    if (!printable(pool, pl))
        return cx_error_set(e, CX_ERR_FORMAT, "header field pool_id: not printable ASCII");
    if (!printable(contrib, cl))
        return cx_error_set(e, CX_ERR_FORMAT, "header field contributor: not printable ASCII");
    memcpy(h->pool_id, pool, pl);
    memcpy(h->contributor, contrib, cl);
    if (h->suite == CX_CXB_SUITE_HPKE)
        memcpy(h->recipient_key_id, contrib + cl, 32);
    h->header_len = total;
    h->chunk_count = chunk_count(h->plaintext_len, h->chunk_size);
    h->blob_len = total + h->plaintext_len + h->chunk_count * CX_CXB_TAG_LEN;
    unsigned int hl = 0;
    if (EVP_Digest(buf, total, h->header_hash, &hl, EVP_sha256(), NULL) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "SHA-256 of header");
    return CX_OK;
}

cx_err cx_cxb_header_read(cx_reader *r, uint8_t buf[CX_CXB_MAX_HEADER_LEN], cx_cxb_header *h,
                          cx_error *e)
{
    size_t have = 0, need = CX_CXB_FIXED_HEADER_LEN;
    for (;;) {
        size_t got = 0;
        cx_err rc = cx_reader_read_full(r, buf + have, need - have, &got, e);
        if (rc != CX_OK)
            return cx_error_wrap(rc, e, "reading header: ");
        have += got;
        if (have < need) /* a stream cut short is an integrity failure, like a cut chunk */
            return cx_error_set(e, CX_ERR_AUTH,
                                "sealed blob truncated in its header (%zu of %zu bytes)", have,
                                need);
        size_t more = 0;
        cx_error pe;
        rc = cx_cxb_header_parse(buf, have, h, &more, &pe);
        if (rc == CX_OK)
            return CX_OK;
        if (more <= have || more > CX_CXB_MAX_HEADER_LEN) {
            if (e)
                *e = pe;
            return rc;
        }
        need = more;
    }
}

/* ------------------------------------------------------------------ seal -- */

static cx_err derive_chunk_key(const uint8_t data_key[32], const uint8_t header_hash[32],
                               uint8_t out[32], cx_error *e)
{
    uint8_t prk[32];
    cx_err rc = cx_io_hkdf_extract(header_hash, 32, data_key, 32, prk, e);
    if (rc == CX_OK)
        rc = cx_io_hkdf_expand(prk, (const uint8_t *)chunk_info, sizeof chunk_info - 1, out, 32,
                               e);
    cx_memwipe(prk, sizeof prk);
    return rc;
}

/* Whether pub is the canonical encoding (< 2^255 - 19, RFC 7748 §5). The key id is the
 * hash of these bytes and the recipient derives the canonical ones from its secret, so a
 * blob sealed to another encoding of the same point could never be opened. */
static int x25519_canonical(const uint8_t pub[32])
{
    if (pub[31] & 0x80)
        return 0;
    if (pub[31] != 0x7f || pub[0] < 0xed)
        return 1;
    for (int i = 1; i < 31; i++)
        if (pub[i] != 0xff)
            return 1;
    return 0;
}

/* Secrets of one seal, in one secmem block. */
typedef struct seal_secrets {
    uint8_t data_key[32];
    uint8_t chunk_key[32];
    cx_hpke_ctx hpke;
} seal_secrets;

/* Suite 1's header tail at hdr + *n: the recipient's key id, then a fresh data key sealed to
 * it with HPKE (every header byte before the sealed key is its associated data). */
static cx_err write_sealed_key(const cx_cxb_seal_params *p, uint8_t *hdr, size_t *n,
                               seal_secrets *s, cx_error *e)
{
    cx_err rc = cx_x25519_public_key_id(p->recipient_pub, hdr + *n, e);
    if (rc != CX_OK)
        return rc;
    *n += 32;
    if (RAND_priv_bytes(s->data_key, 32) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "random data key");
    rc = cx_hpke_setup_sender(p->recipient_pub, (const uint8_t *)hpke_info, sizeof hpke_info - 1,
                              NULL, hdr + *n, &s->hpke, e);
    if (rc != CX_OK)
        return rc;
    *n += 32;
    rc = cx_hpke_seal(&s->hpke, hdr, *n, s->data_key, 32, hdr + *n, e);
    if (rc == CX_OK)
        *n += CXB_SEALED_KEY_LEN;
    return rc;
}

/* Suite 2's header tail at hdr + *n: the key object's length and bytes; the data key is the
 * caller's (what the object yields). */
static cx_err write_key_object(const cx_cxb_seal_params *p, uint8_t *hdr, size_t *n,
                               uint8_t data_key[32])
{
    put_be(hdr + *n, p->key_object_len, CXB_OBJECT_LEN_LEN);
    *n += CXB_OBJECT_LEN_LEN;
    memcpy(hdr + *n, p->key_object, p->key_object_len);
    *n += p->key_object_len;
    memcpy(data_key, p->data_key, 32);
    return CX_OK;
}

cx_err cx_cxb_seal(const cx_cxb_seal_params *p, cx_reader *in, uint64_t plaintext_len,
                   cx_writer *out, cx_cxb_header *header, uint8_t tag_hash[32], cx_error *e)
{
    uint32_t cs = p->chunk_size ? p->chunk_size : CX_CXB_DEFAULT_CHUNK;
    if (cs < CX_CXB_MIN_CHUNK || cs > CX_CXB_MAX_CHUNK)
        return cx_error_set(e, CX_ERR_ARG, "chunk size %u outside [%u, %u]", cs,
                            CX_CXB_MIN_CHUNK, CX_CXB_MAX_CHUNK);
    size_t pl = p->pool_id ? strlen(p->pool_id) : 0;
    size_t cl = p->contributor ? strlen(p->contributor) : 0;
    if (pl < 1 || pl > CX_CXB_MAX_POOL_ID || !printable(p->pool_id, pl))
        return cx_error_set(e, CX_ERR_ARG, "pool id must be 1..%u printable ASCII characters",
                            CX_CXB_MAX_POOL_ID);
    if (cl < 1 || cl > CX_CXB_MAX_CONTRIBUTOR || !printable(p->contributor, cl))
        return cx_error_set(e, CX_ERR_ARG,
                            "contributor address must be 1..%u printable ASCII characters",
                            CX_CXB_MAX_CONTRIBUTOR);
    if (!cx_content_type_name(p->content_type))
        return cx_error_set(e, CX_ERR_ARG, "unknown content type %d", (int)p->content_type);
    if (plaintext_len > CX_CXB_MAX_PLAINTEXT)
        return cx_error_set(e, CX_ERR_LIMIT, "plaintext of %llu bytes over the 1 PiB limit",
                            (unsigned long long)plaintext_len);
    const int by_object = p->key_object != NULL;
    if (by_object && (p->recipient_pub || !p->data_key || p->key_object_len < 1 ||
                      p->key_object_len > CX_CXB_MAX_KEY_OBJECT))
        return cx_error_set(e, CX_ERR_ARG,
                            "a key object (1..%u bytes) goes with its data key and no recipient",
                            CX_CXB_MAX_KEY_OBJECT);
    if (!by_object && (!p->recipient_pub || !x25519_canonical(p->recipient_pub)))
        return cx_error_set(e, CX_ERR_ARG, "recipient public key is not a canonical X25519 key "
                                           "(its holder could not open the blob)");

    uint8_t hdr[CX_CXB_MAX_HEADER_LEN];
    size_t n = 0;
    memcpy(hdr, cxb_magic, 4);
    put_be(hdr + 4, CXB_VERSION, 2);
    put_be(hdr + 6, by_object ? CX_CXB_SUITE_KEY_OBJECT : CX_CXB_SUITE_HPKE, 2);
    put_be(hdr + 8, cs, 4);
    put_be(hdr + 12, plaintext_len, 8);
    hdr[20] = (uint8_t)p->content_type;
    hdr[21] = 0;
    hdr[22] = (uint8_t)pl;
    hdr[23] = (uint8_t)cl;
    n = CX_CXB_FIXED_HEADER_LEN;
    memcpy(hdr + n, p->pool_id, pl), n += pl;
    memcpy(hdr + n, p->contributor, cl), n += cl;

    seal_secrets *s = cx_secmem_alloc(sizeof *s, 0, e);
    if (!s)
        return CX_ERR_NOMEM;
    uint8_t *pbuf = NULL, *cbuf = NULL;
    EVP_CIPHER_CTX *c = NULL;
    EVP_MD_CTX *th = NULL;
    cx_cxb_header h;
    cx_err rc = by_object ? write_key_object(p, hdr, &n, s->data_key)
                          : write_sealed_key(p, hdr, &n, s, e);
    if (rc != CX_OK)
        goto done;
    rc = cx_cxb_header_parse(hdr, n, &h, NULL, e);
    if (rc != CX_OK)
        goto done;
    rc = derive_chunk_key(s->data_key, h.header_hash, s->chunk_key, e);
    if (rc != CX_OK)
        goto done;
    rc = out->write(out->ctx, hdr, n, e);
    if (rc != CX_OK)
        goto done;

    pbuf = cx_secmem_alloc(cs, 0, e);
    cbuf = malloc((size_t)cs + CX_CXB_TAG_LEN);
    c = EVP_CIPHER_CTX_new();
    th = EVP_MD_CTX_new();
    if (!pbuf || !cbuf || !c || !th) {
        rc = cx_error_set(e, CX_ERR_NOMEM, "seal buffers");
        goto done;
    }
    if (EVP_DigestInit_ex(th, EVP_sha256(), NULL) != 1 ||
        EVP_EncryptInit_ex2(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "seal cipher init");
        goto done;
    }
    for (uint64_t i = 0; i < h.chunk_count; i++) {
        size_t len = cx_cxb_chunk_plain_len(&h, i), got = 0;
        rc = cx_reader_read_full(in, pbuf, len, &got, e);
        if (rc != CX_OK)
            goto done;
        if (got != len) {
            rc = cx_error_set(e, CX_ERR_FORMAT,
                              "input ended after %llu bytes; %llu were announced",
                              (unsigned long long)(i * (uint64_t)cs + got),
                              (unsigned long long)plaintext_len);
            goto done;
        }
        uint8_t nonce[12];
        int last = i + 1 == h.chunk_count, ol = 0;
        cx_cxb_nonce(i, last, nonce);
        if (EVP_EncryptInit_ex2(c, NULL, s->chunk_key, nonce, NULL) != 1 ||
            (len && EVP_EncryptUpdate(c, cbuf, &ol, pbuf, (int)len) != 1) ||
            EVP_EncryptFinal_ex(c, cbuf + len, &ol) != 1 ||
            EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, cbuf + len) != 1 ||
            EVP_DigestUpdate(th, cbuf + len, 16) != 1) {
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "sealing chunk %llu", (unsigned long long)i);
            goto done;
        }
        rc = out->write(out->ctx, cbuf, len + 16, e);
        if (rc != CX_OK)
            goto done;
    }
    {
        uint8_t extra;
        size_t got = 0;
        rc = cx_reader_read_full(in, &extra, 1, &got, e);
        if (rc == CX_OK && got)
            rc = cx_error_set(e, CX_ERR_FORMAT, "input is longer than the %llu bytes announced",
                              (unsigned long long)plaintext_len);
        if (rc != CX_OK)
            goto done;
    }
    uint8_t th_out[32];
    unsigned int thl = 0;
    if (EVP_DigestFinal_ex(th, th_out, &thl) != 1) {
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "tag hash");
        goto done;
    }
    if (header)
        *header = h;
    if (tag_hash)
        memcpy(tag_hash, th_out, 32);
done:
    EVP_CIPHER_CTX_free(c);
    EVP_MD_CTX_free(th);
    cx_secmem_free(pbuf);
    free(cbuf);
    cx_secmem_free(s);
    return rc;
}

/* ------------------------------------------------------------------ open -- */

/* The data key known for exactly this header (suite 2: recovered from the key servers; either
 * suite: handed over by the job's rank 0 to the rank that decrypts the blob); NULL: none. */
static const cx_cxb_known_key *find_known(const cx_cxb_header *h, const cx_cxb_keys *keys)
{
    for (size_t i = 0; keys && i < keys->n_known; i++)
        if (CRYPTO_memcmp(keys->known[i].header_hash, h->header_hash, CX_CXB_HASH_LEN) == 0)
            return &keys->known[i];
    return NULL;
}

static cx_err open_known(const cx_cxb_header *h, const cx_cxb_known_key *k, cx_cxb_ctx **out,
                         cx_error *e)
{
    cx_cxb_ctx *c = cx_secmem_alloc(sizeof *c, 0, e);
    if (!c)
        return CX_ERR_NOMEM;
    cx_err rc = derive_chunk_key(k->data_key, h->header_hash, c->chunk_key, e);
    if (rc != CX_OK) {
        cx_secmem_free(c);
        return rc;
    }
    c->h = *h;
    *out = c;
    return CX_OK;
}

/* Suite 1: the data key HPKE-sealed in the header, opened with the recipient's key (the
 * header is the AAD: an edited byte fails here). */
static cx_err open_sealed_key(const uint8_t *hdr, const cx_cxb_header *h, const cx_x25519_key *key,
                              uint8_t data_key[32], cx_error *e)
{
    if (!key)
        return cx_error_set(e, CX_ERR_VERIFY, "sealed to a recipient key, and none is held");
    uint8_t id[32];
    cx_x25519_key_id(key, id);
    if (memcmp(id, h->recipient_key_id, 32) != 0) {
        char want[17], have[17];
        cx_hex_encode(h->recipient_key_id, 8, want, sizeof want, NULL);
        cx_hex_encode(id, 8, have, sizeof have, NULL);
        return cx_error_set(e, CX_ERR_VERIFY,
                            "sealed to another recipient: header key id %s..., this key's id "
                            "%s... (wrong key)",
                            want, have);
    }
    cx_hpke_ctx *hpke = cx_secmem_alloc(sizeof *hpke, 0, e);
    if (!hpke)
        return CX_ERR_NOMEM;
    size_t aad_len = h->header_len - CXB_SEALED_KEY_LEN;
    const uint8_t *enc = hdr + aad_len - 32;
    cx_err rc = cx_hpke_setup_recipient(enc, cx_x25519_key_secret(key), (const uint8_t *)hpke_info,
                                        sizeof hpke_info - 1, hpke, e);
    /* enc is a header field: one that is no usable X25519 point (small order) is an edit */
    if (rc == CX_ERR_CRYPTO)
        rc = cx_error_set(e, CX_ERR_AUTH,
                          "header authentication failed: a header byte was edited (its "
                          "encapsulated key is not a usable X25519 public key)");
    if (rc == CX_OK) {
        rc = cx_hpke_open(hpke, hdr, aad_len, hdr + aad_len, CXB_SEALED_KEY_LEN, data_key, e);
        if (rc == CX_ERR_AUTH)
            cx_error_set(e, CX_ERR_AUTH,
                         "header authentication failed: a header byte was edited (the data key "
                         "does not open with this recipient key)");
    }
    cx_secmem_free(hpke);
    return rc;
}

cx_err cx_cxb_header_data_key(const uint8_t *hdr, size_t hdr_len, const cx_x25519_key *key,
                              uint8_t data_key[32], cx_error *e)
{
    cx_cxb_header h;
    cx_err rc = cx_cxb_header_parse(hdr, hdr_len, &h, NULL, e);
    if (rc != CX_OK)
        return rc;
    if (h.suite == CX_CXB_SUITE_KEY_OBJECT)
        return cx_error_set(e, CX_ERR_ARG,
                            "its data key is in a key object (Seal), not sealed to a recipient");
    return open_sealed_key(hdr, &h, key, data_key, e);
}

cx_err cx_cxb_open(const uint8_t *hdr, size_t hdr_len, const cx_x25519_key *key, cx_cxb_ctx **out,
                   cx_error *e)
{
    cx_cxb_keys keys = {.x25519 = key};
    return cx_cxb_open_keys(hdr, hdr_len, &keys, out, e);
}

cx_err cx_cxb_open_keys(const uint8_t *hdr, size_t hdr_len, const cx_cxb_keys *keys,
                        cx_cxb_ctx **out, cx_error *e)
{
    cx_cxb_header h;
    cx_err rc = cx_cxb_header_parse(hdr, hdr_len, &h, NULL, e);
    if (rc != CX_OK)
        return rc;
    const cx_cxb_known_key *k = find_known(&h, keys);
    if (k)
        return open_known(&h, k, out, e);
    if (h.suite == CX_CXB_SUITE_KEY_OBJECT)
        return cx_error_set(e, CX_ERR_VERIFY,
                            "its data key is in a key object (Seal): no key was recovered for "
                            "this header from the key servers");
    uint8_t *data_key = cx_secmem_alloc(32, 0, e);
    if (!data_key)
        return CX_ERR_NOMEM;
    cx_cxb_ctx *c = NULL;
    rc = open_sealed_key(hdr, &h, keys ? keys->x25519 : NULL, data_key, e);
    if (rc == CX_OK && !(c = cx_secmem_alloc(sizeof *c, 0, e)))
        rc = CX_ERR_NOMEM;
    if (rc == CX_OK)
        rc = derive_chunk_key(data_key, h.header_hash, c->chunk_key, e);
    cx_secmem_free(data_key);
    if (rc != CX_OK) {
        cx_secmem_free(c);
        return rc;
    }
    c->h = h;
    *out = c;
    return CX_OK;
}

const cx_cxb_header *cx_cxb_ctx_header(const cx_cxb_ctx *c) { return &c->h; }
void cx_cxb_ctx_free(cx_cxb_ctx *c) { cx_secmem_free(c); }

cx_err cx_cxb_worker_new(cx_cxb_worker **out, cx_error *e)
{
    cx_cxb_worker *w = calloc(1, sizeof *w);
    if (!w)
        return cx_error_set(e, CX_ERR_NOMEM, "cipher worker");
    w->aes = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    w->c = EVP_CIPHER_CTX_new();
    w->ecb = EVP_CIPHER_CTX_new();
    if (!w->aes || !w->c || !w->ecb ||
        EVP_DecryptInit_ex2(w->c, w->aes, NULL, NULL, NULL) != 1 ||
        EVP_EncryptInit_ex2(w->ecb, EVP_aes_256_ecb(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(w->ecb, 0) != 1) {
        cx_cxb_worker_free(w);
        return cx_error_openssl(e, CX_ERR_CRYPTO, "AES-256-GCM worker");
    }
    *out = w;
    return CX_OK;
}

void cx_cxb_worker_free(cx_cxb_worker *w)
{
    if (!w)
        return;
    EVP_CIPHER_CTX_free(w->c);
    EVP_CIPHER_CTX_free(w->ecb);
    EVP_CIPHER_free(w->aes);
    free(w);
}

uint64_t cx_cxb_worker_bytes(const cx_cxb_worker *w) { return w ? w->bytes : 0; }

/* E_K(J0) for the chunk at (index, last): GCM's tag is GHASH_H(C) xor this block (96-bit
 * nonce, so J0 = nonce || 0^31 || 1). */
static int tag_mask(const cx_cxb_ctx *c, cx_cxb_worker *w, uint64_t index, int last,
                    uint8_t mask[16])
{
    uint8_t j0[16] = {0};
    int ol = 0;
    cx_cxb_nonce(index, last, j0);
    j0[15] = 1;
    w->bytes += 16;
    return EVP_EncryptInit_ex2(w->ecb, NULL, c->chunk_key, NULL, NULL) == 1 &&
           EVP_EncryptUpdate(w->ecb, mask, &ol, j0, 16) == 1 && ol == 16;
}

/* One GCM pass of len bytes in -> out under (index, last): dec=1 checks tag (returns 1 when
 * authentic), dec=0 runs the same keystream forwards (undoes an in-place decryption). */
static int gcm_pass(const cx_cxb_ctx *c, cx_cxb_worker *w, uint64_t index, int last, int dec,
                    const uint8_t *in, size_t len, uint8_t *out, const uint8_t *tag)
{
    uint8_t nonce[12];
    int ol = 0;
    cx_cxb_nonce(index, last, nonce);
    w->bytes += len;
    if (EVP_CipherInit_ex2(w->c, NULL, c->chunk_key, nonce, dec ? 0 : 1, NULL) != 1)
        return -1;
    if (len && EVP_CipherUpdate(w->c, out, &ol, in, (int)len) != 1)
        return -1;
    if (!dec)
        return EVP_CipherFinal_ex(w->c, out + len, &ol) == 1 ? 1 : -1;
    if (EVP_CIPHER_CTX_ctrl(w->c, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag) != 1)
        return -1;
    return EVP_CipherFinal_ex(w->c, out + len, &ol) == 1 ? 1 : 0;
}

cx_err cx_cxb_chunk_decrypt(const cx_cxb_ctx *c, cx_cxb_worker *w, uint64_t i, const uint8_t *in,
                            size_t in_len, uint8_t *out, cx_cxb_fault *fault, uint64_t *found,
                            cx_error *e)
{
    const cx_cxb_header *h = &c->h;
    if (fault)
        *fault = CX_CXB_FAULT_NONE;
    if (i >= h->chunk_count)
        return cx_error_set(e, CX_ERR_ARG, "chunk %llu: blob has only %llu chunks",
                            (unsigned long long)i, (unsigned long long)h->chunk_count);
    size_t want = cx_cxb_chunk_plain_len(h, i) + CX_CXB_TAG_LEN;
    if (in_len != want) {
        if (fault)
            *fault = CX_CXB_FAULT_LENGTH;
        return cx_error_set(e, CX_ERR_AUTH, "chunk %llu: %zu bytes, expected %zu",
                            (unsigned long long)i, in_len, want);
    }
    size_t len = want - CX_CXB_TAG_LEN;
    uint8_t tag[16];
    memcpy(tag, in + len, 16);
    int last = i + 1 == h->chunk_count;
    int ok = gcm_pass(c, w, i, last, 1, in, len, out, tag);
    if (ok == 1)
        return CX_OK;
    if (ok < 0)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "chunk %llu: cipher", (unsigned long long)i);
    /* Failed: look for the position these bytes belong to, so the message can say what
     * happened. GHASH_H(C) does not depend on the nonce, so re-sealing the bytes just
     * decrypted under position i (which also undoes an in-place decryption) yields
     * GHASH_H(C) = tag_i xor E_K(J0_i) once; position j then matches when
     * tag == GHASH_H(C) xor E_K(J0_j), one AES block each, never another pass over the
     * chunk. */
    uint8_t tag_i[16], ghash[16], mask[16];
    int sealed = gcm_pass(c, w, i, last, 0, out, len, out, NULL) == 1 &&
                 EVP_CIPHER_CTX_ctrl(w->c, EVP_CTRL_GCM_GET_TAG, 16, tag_i) == 1 &&
                 tag_mask(c, w, i, last, mask);
    if (out != in)
        cx_memwipe(out, len);
    if (!sealed)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "chunk %llu: cipher", (unsigned long long)i);
    for (int k = 0; k < 16; k++)
        ghash[k] = tag_i[k] ^ mask[k];
    uint64_t lo = i > FAULT_WINDOW ? i - FAULT_WINDOW : 0;
    uint64_t hi = i + FAULT_WINDOW < h->chunk_count ? i + FAULT_WINDOW + 1 : h->chunk_count;
    int64_t hit = -1;
    for (uint64_t j = lo; j < hi && hit < 0; j++) {
        if (j == i || cx_cxb_chunk_plain_len(h, j) != len)
            continue;
        if (!tag_mask(c, w, j, j + 1 == h->chunk_count, mask))
            return cx_error_openssl(e, CX_ERR_CRYPTO, "chunk %llu: cipher",
                                    (unsigned long long)i);
        int same = 1;
        for (int k = 0; k < 16; k++)
            same &= (ghash[k] ^ mask[k]) == tag[k];
        if (same)
            hit = (int64_t)j;
    }
    if (hit >= 0) {
        if (fault)
            *fault = CX_CXB_FAULT_MOVED;
        if (found)
            *found = (uint64_t)hit;
        return cx_error_set(e, CX_ERR_AUTH, "chunk %llu: holds chunk %lld (chunk %s)",
                            (unsigned long long)i, (long long)hit,
                            (uint64_t)hit < i ? "duplicated" : "dropped or chunks reordered");
    }
    if (fault)
        *fault = CX_CXB_FAULT_ALTERED;
    return cx_error_set(e, CX_ERR_AUTH, "chunk %llu: authentication failed (chunk altered)",
                        (unsigned long long)i);
}
