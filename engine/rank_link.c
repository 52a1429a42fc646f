/* rank_link.c — the sealed channel between the ranks of one multi-rank job (issue 17): pair
 * keys from the ranks' attested X25519 keys, AES-256-GCM on every message, ring collectives. */
#include "cx_engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#define TAG_LEN 16
#define INFO_LABEL "cloakx rank link v1"

struct cx_rank_link {
    int rank, size;
    uint8_t job[32];
    /* the keys of the links to the ring's neighbours; one key per unordered pair, each
     * direction its own nonces (the sender's rank in the nonce) */
    uint8_t *key_next, *key_prev;  /* 32 bytes each, secure memory */
    uint64_t sent_next, recv_prev; /* message counters: a message out of order fails */
    cx_rank_transport t;
    EVP_CIPHER_CTX *cc;
    uint8_t *buf;   /* one sealed message going out and one coming in */
    size_t buf_cap; /* bytes of each half */
};

/* X25519(mine, peer) -> HKDF-SHA256(salt = job id, info = label || low rank || high rank || their
 * two attestation hashes, low first): the pair's key, bound to the job and to both ranks' attested
 * documents, so a rank that attested nothing (or something else) derives another key. */
static cx_err pair_key(const cx_x25519_key *mine, int me, int peer, const uint8_t peer_pk[32],
                       const uint8_t my_att[32], const uint8_t peer_att[32], const uint8_t job[32],
                       uint8_t out[32], cx_error *e)
{
    EVP_PKEY *sk =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, cx_x25519_key_secret(mine), 32);
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pk, 32);
    EVP_PKEY_CTX *dc = sk ? EVP_PKEY_CTX_new(sk, NULL) : NULL;
    uint8_t shared[32];
    size_t slen = sizeof shared;
    cx_err rc = CX_OK;
    if (!sk || !pk || !dc || EVP_PKEY_derive_init(dc) <= 0 ||
        EVP_PKEY_derive_set_peer(dc, pk) <= 0 || EVP_PKEY_derive(dc, shared, &slen) <= 0 ||
        slen != sizeof shared)
        rc = cx_error_openssl(e, CX_ERR_CRYPTO, "rank link: X25519 with rank %d", peer);
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(sk);
    uint8_t info[sizeof INFO_LABEL - 1 + 8 + 64];
    const int lo = me < peer ? me : peer, hi = me < peer ? peer : me;
    memcpy(info, INFO_LABEL, sizeof INFO_LABEL - 1);
    size_t o = sizeof INFO_LABEL - 1;
    for (int i = 0; i < 4; i++)
        info[o + i] = (uint8_t)((unsigned)lo >> (8 * i)),
                 info[o + 4 + i] = (uint8_t)((unsigned)hi >> (8 * i));
    o += 8;
    memcpy(info + o, me < peer ? my_att : peer_att, 32);
    memcpy(info + o + 32, me < peer ? peer_att : my_att, 32);
    EVP_KDF *kdf = rc == CX_OK ? EVP_KDF_fetch(NULL, "HKDF", NULL) : NULL;
    EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    EVP_KDF_free(kdf);
    if (rc == CX_OK) {
        OSSL_PARAM ps[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, shared, sizeof shared),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)job, 32),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof info),
            OSSL_PARAM_construct_end()};
        if (!kc || EVP_KDF_derive(kc, out, 32, ps) <= 0)
            rc = cx_error_openssl(e, CX_ERR_CRYPTO, "rank link: HKDF");
    }
    EVP_KDF_CTX_free(kc);
    cx_memwipe(shared, sizeof shared);
    return rc;
}

cx_err cx_rank_link_open(const cx_rank_link_params *p, cx_rank_link **out, cx_error *e)
{
    *out = NULL;
    if (!p || !p->mine || !p->peer_pks || !p->attestations || !p->transport.sendrecv ||
        p->size < 1 || p->rank < 0 || p->rank >= p->size)
        return cx_error_set(e, CX_ERR_ARG, "rank link: bad parameters (rank %d of %d)",
                            p ? p->rank : -1, p ? p->size : 0);
    cx_rank_link *l = calloc(1, sizeof *l);
    if (!l)
        return cx_error_set(e, CX_ERR_NOMEM, "rank link: out of memory");
    l->rank = p->rank;
    l->size = p->size;
    l->t = p->transport;
    memcpy(l->job, p->job_id, 32);
    cx_err rc = CX_OK;
    if (!(l->key_next = cx_secmem_alloc(32, 0, e)) || !(l->key_prev = cx_secmem_alloc(32, 0, e)))
        rc = CX_ERR_NOMEM;
    const int next = (p->rank + 1) % p->size, prev = (p->rank + p->size - 1) % p->size;
    if (rc == CX_OK && p->size > 1)
        rc = pair_key(p->mine, p->rank, next, p->peer_pks[next], p->attestations[p->rank],
                      p->attestations[next], p->job_id, l->key_next, e);
    if (rc == CX_OK && p->size > 1)
        rc = pair_key(p->mine, p->rank, prev, p->peer_pks[prev], p->attestations[p->rank],
                      p->attestations[prev], p->job_id, l->key_prev, e);
    if (rc == CX_OK && !(l->cc = EVP_CIPHER_CTX_new()))
        rc = cx_error_set(e, CX_ERR_NOMEM, "rank link: out of memory");
    if (rc != CX_OK) {
        cx_rank_link_close(l);
        return rc;
    }
    *out = l;
    return CX_OK;
}

void cx_rank_link_close(cx_rank_link *l)
{
    if (!l)
        return;
    cx_secmem_free(l->key_next);
    cx_secmem_free(l->key_prev);
    EVP_CIPHER_CTX_free(l->cc);
    if (l->buf)
        cx_memwipe(l->buf, 2 * l->buf_cap);
    free(l->buf);
    free(l);
}

/* nonce = sender rank (4 bytes LE) || counter (8 bytes LE); AAD = job || sender || receiver ||
 * counter: a message is for this job, this direction and this place in the sequence. */
static void nonce_aad(const cx_rank_link *l, int from, int to, uint64_t n, uint8_t nonce[12],
                      uint8_t aad[48])
{
    for (int i = 0; i < 4; i++)
        nonce[i] = (uint8_t)((unsigned)from >> (8 * i));
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
    memcpy(aad, l->job, 32);
    memcpy(aad + 32, nonce, 4);
    for (int i = 0; i < 4; i++)
        aad[36 + i] = (uint8_t)((unsigned)to >> (8 * i));
    memcpy(aad + 40, nonce + 4, 8);
}

static cx_err gcm(cx_rank_link *l, int enc, const uint8_t *key, int from, int to, uint64_t n,
                  const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[TAG_LEN], cx_error *e)
{
    uint8_t nonce[12], aad[48];
    nonce_aad(l, from, to, n, nonce, aad);
    int ol = 0, fl = 0;
    if (len > (size_t)INT32_MAX)
        return cx_error_set(e, CX_ERR_LIMIT, "rank link: a message of %zu bytes", len);
    if (EVP_CipherInit_ex(l->cc, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1 ||
        EVP_CipherUpdate(l->cc, NULL, &ol, aad, sizeof aad) != 1 ||
        EVP_CipherUpdate(l->cc, out, &ol, in, (int)len) != 1)
        return cx_error_openssl(e, CX_ERR_CRYPTO, "rank link: AES-256-GCM");
    if (enc) {
        if (EVP_CipherFinal_ex(l->cc, out + ol, &fl) != 1 ||
            EVP_CIPHER_CTX_ctrl(l->cc, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
            return cx_error_openssl(e, CX_ERR_CRYPTO, "rank link: AES-256-GCM");
        return CX_OK;
    }
    if (EVP_CIPHER_CTX_ctrl(l->cc, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1 ||
        EVP_CipherFinal_ex(l->cc, out + ol, &fl) != 1) {
        cx_memwipe(out, len);
        return cx_error_set(e, CX_ERR_AUTH,
                            "rank link: message %llu from rank %d does not authenticate "
                            "(tampered, replayed, out of order, or a rank with other keys)",
                            (unsigned long long)n, from);
    }
    return CX_OK;
}

/* One ring step: send len bytes of out to the next rank and receive len bytes from the previous
 * into in, sealed both ways (send NULL: only receive; in NULL: only send). */
static cx_err ring_step(cx_rank_link *l, const void *out, void *in, size_t len, cx_error *e)
{
    const size_t cap = len + TAG_LEN;
    if (cap > l->buf_cap) {
        uint8_t *nb = calloc(2, cap);
        if (!nb)
            return cx_error_set(e, CX_ERR_NOMEM, "rank link: out of memory");
        if (l->buf)
            cx_memwipe(l->buf, 2 * l->buf_cap);
        free(l->buf);
        l->buf = nb;
        l->buf_cap = cap;
    }
    uint8_t *sb = l->buf, *rb = l->buf + l->buf_cap;
    const int next = (l->rank + 1) % l->size, prev = (l->rank + l->size - 1) % l->size;
    cx_err rc = CX_OK;
    if (out && (rc = gcm(l, 1, l->key_next, l->rank, next, l->sent_next, out, len, sb, sb + len,
                         e)) != CX_OK)
        return rc;
    if ((rc = l->t.sendrecv(l->t.ud, out ? sb : NULL, out ? cap : 0, out ? next : -1,
                            in ? rb : NULL, in ? cap : 0, in ? prev : -1, e)) != CX_OK)
        return cx_error_wrap(rc, e, "rank link (rank %d): ", l->rank);
    if (out)
        l->sent_next++;
    if (in) {
        rc = gcm(l, 0, l->key_prev, prev, l->rank, l->recv_prev, rb, len, in, rb + len, e);
        l->recv_prev++;
    }
    cx_memwipe(sb, cap);
    return rc;
}

/* Sum across ranks, the ring way: a reduce-scatter then an all-gather, size - 1 steps each.
 * Chunk c is summed in one order (from rank c + 1 round the ring) and then copied to every
 * rank, so every rank ends with the same bits, and the same ranks give the same bits again. */
static cx_err ring_allreduce(cx_rank_link *l, void *buf, size_t n, size_t elem, int dbl, int max,
                             cx_error *e)
{
    const int P = l->size;
    if (P == 1 || n == 0)
        return CX_OK;
    const size_t per = (n + (size_t)P - 1) / (size_t)P;
    /* every message is one full chunk (a shorter last chunk padded): both ends of a link know
     * its length without agreeing on which chunk it is */
    uint8_t *out = calloc(per, elem), *in = calloc(per, elem), *b = buf;
    cx_err rc = out && in ? CX_OK : cx_error_set(e, CX_ERR_NOMEM, "rank link: out of memory");
#define CHUNK_LO(c) ((size_t)(c)*per < n ? (size_t)(c)*per : n)
#define CHUNK_LEN(c) (CHUNK_LO((c) + 1) - CHUNK_LO(c))
    /* steps 0 .. P-2 reduce-scatter (add what comes in), P-1 .. 2P-3 all-gather (keep it) */
    for (int s = 0; rc == CX_OK && s < 2 * (P - 1); s++) {
        const int gather = s >= P - 1, k = gather ? s - (P - 1) : s;
        const int sc = ((l->rank + gather - k) % P + P) % P;
        const int rcv = ((l->rank + gather - k - 1) % P + P) % P;
        const size_t rlen = CHUNK_LEN(rcv);
        memset(out, 0, per * elem);
        memcpy(out, b + CHUNK_LO(sc) * elem, CHUNK_LEN(sc) * elem);
        if ((rc = ring_step(l, out, in, per * elem, e)) != CX_OK)
            break;
        if (gather) {
            memcpy(b + CHUNK_LO(rcv) * elem, in, rlen * elem);
        } else if (dbl) {
            double *d = (double *)(void *)b + CHUNK_LO(rcv);
            const double *v = (const double *)(void *)in;
            for (size_t i = 0; i < rlen; i++)
                d[i] = !max ? d[i] + v[i] : v[i] > d[i] || isnan(v[i]) ? v[i] : d[i]; /* NaN wins */
        } else {
            float *d = (float *)(void *)b + CHUNK_LO(rcv);
            const float *v = (const float *)(void *)in;
            for (size_t i = 0; i < rlen; i++)
                d[i] += v[i];
        }
    }
#undef CHUNK_LO
#undef CHUNK_LEN
    /* the chunks are gradients: wiped like any plaintext */
    if (out)
        cx_memwipe(out, per * elem);
    if (in)
        cx_memwipe(in, per * elem);
    free(out);
    free(in);
    return rc;
}

cx_err cx_rank_link_allreduce_f32(cx_rank_link *l, float *buf, size_t n, cx_error *e)
{
    return ring_allreduce(l, buf, n, sizeof(float), 0, 0, e);
}

cx_err cx_rank_link_allreduce_f64(cx_rank_link *l, double *buf, size_t n, cx_error *e)
{
    return ring_allreduce(l, buf, n, sizeof(double), 1, 0, e);
}

cx_err cx_rank_link_allreduce_max_f64(cx_rank_link *l, double *buf, size_t n, cx_error *e)
{
    return ring_allreduce(l, buf, n, sizeof(double), 1, 1, e);
}

/* ------------------------------------------------- as a communicator -- */

typedef struct sealed_comm {
    cx_comm *inner;
    cx_rank_link *link;
    int owns_inner;
} sealed_comm;

static cx_err sealed_f32(cx_comm *c, float *buf, size_t n, cx_error *e)
{
    return cx_rank_link_allreduce_f32(((sealed_comm *)c->impl)->link, buf, n, e);
}

static cx_err sealed_f64(cx_comm *c, double *buf, size_t n, cx_comm_op op, cx_error *e)
{
    cx_rank_link *l = ((sealed_comm *)c->impl)->link;
    return op == CX_COMM_MAX ? cx_rank_link_allreduce_max_f64(l, buf, n, e)
                             : cx_rank_link_allreduce_f64(l, buf, n, e);
}

static cx_err sealed_bcast(cx_comm *c, void *buf, size_t bytes, int root, cx_error *e)
{
    return cx_rank_link_bcast(((sealed_comm *)c->impl)->link, buf, bytes, root, e);
}

static void sealed_abort(cx_comm *c, int code)
{
    cx_comm *inner = ((sealed_comm *)c->impl)->inner;
    if (inner->abort)
        inner->abort(inner, code);
}

static void sealed_destroy(cx_comm *c)
{
    sealed_comm *s = c->impl;
    cx_rank_link_close(s->link);
    if (s->owns_inner)
        cx_comm_destroy(s->inner);
    free(s);
    free(c);
}

static cx_err inner_sendrecv(void *ud, const void *send, size_t send_len, int dst, void *recv,
                             size_t recv_len, int src, cx_error *e)
{
    cx_comm *inner = ud;
    return inner->sendrecv(inner, send, send_len, dst, recv, recv_len, src, e);
}

static cx_err sealed_new(cx_comm *inner, const cx_rank_link_params *p, int owns_inner,
                         cx_comm **out, cx_error *e)
{
    *out = NULL;
    if (!inner || !inner->sendrecv || !p || p->rank != inner->rank || p->size != inner->size)
        return cx_error_set(e, CX_ERR_ARG, "sealed comm: the link's ranks are not the comm's");
    cx_rank_link_params lp = *p;
    lp.transport = (cx_rank_transport){inner_sendrecv, inner};
    cx_comm *c = calloc(1, sizeof *c);
    sealed_comm *s = calloc(1, sizeof *s);
    cx_err rc = c && s ? cx_rank_link_open(&lp, &s->link, e)
                       : cx_error_set(e, CX_ERR_NOMEM, "sealed comm: out of memory");
    if (rc != CX_OK) {
        free(s);
        free(c);
        return rc;
    }
    s->inner = inner;
    s->owns_inner = owns_inner;
    *c = (cx_comm){.name = "mpi, sealed",
                   .rank = inner->rank,
                   .size = inner->size,
                   .allreduce_f32 = sealed_f32,
                   .allreduce_f64 = sealed_f64,
                   .bcast = sealed_bcast,
                   .abort = sealed_abort,
                   .destroy = sealed_destroy,
                   .impl = s};
    *out = c;
    return CX_OK;
}

cx_err cx_comm_sealed_create(cx_comm *inner, const cx_rank_link_params *p, cx_comm **out,
                             cx_error *e)
{
    return sealed_new(inner, p, 1, out, e);
}

cx_err cx_comm_sealed_borrow(cx_comm *inner, const cx_rank_link_params *p, cx_comm **out,
                             cx_error *e)
{
    return sealed_new(inner, p, 0, out, e);
}

cx_err cx_comm_seal_ephemeral(cx_comm **comm, const uint8_t job_id[32], cx_error *e)
{
    cx_comm *inner = *comm;
    const int P = inner->size;
    cx_x25519_key *mine = NULL;
    uint8_t(*pks)[32] = calloc((size_t)P, 32), (*att)[32] = calloc((size_t)P, 32);
    cx_err rc = pks && att ? cx_x25519_key_generate(&mine, e)
                           : cx_error_set(e, CX_ERR_NOMEM, "sealed comm: out of memory");
    /* every rank's public key to every rank (unauthenticated: no attestation here) */
    for (int r = 0; rc == CX_OK && r < P; r++) {
        if (r == inner->rank)
            memcpy(pks[r], cx_x25519_key_public(mine), 32);
        rc = inner->bcast(inner, pks[r], 32, r, e);
    }
    cx_comm *sealed = NULL;
    if (rc == CX_OK) {
        cx_rank_link_params p = {.rank = inner->rank,
                                 .size = P,
                                 .job_id = job_id,
                                 .mine = mine,
                                 .peer_pks = (const uint8_t(*)[32])pks,
                                 .attestations = (const uint8_t(*)[32])att};
        rc = cx_comm_sealed_create(inner, &p, &sealed, e);
    }
    if (rc == CX_OK)
        *comm = sealed;
    cx_x25519_key_free(mine);
    free(pks);
    free(att);
    return rc;
}

cx_err cx_rank_link_bcast(cx_rank_link *l, void *buf, size_t bytes, int root, cx_error *e)
{
    const int P = l->size;
    if (root < 0 || root >= P)
        return cx_error_set(e, CX_ERR_ARG, "rank link: root %d of %d ranks", root, P);
    /* round the ring from root: step s, rank root + s passes it on; the last holder sends no more
     */
    const int pos = ((l->rank - root) % P + P) % P;
    for (int s = 0; s < P - 1; s++) {
        const int sends = pos == s, gets = pos == s + 1;
        if (!sends && !gets)
            continue;
        cx_err rc = ring_step(l, sends ? buf : NULL, gets ? buf : NULL, bytes, e);
        if (rc != CX_OK)
            return rc;
    }
    return CX_OK;
}
