/* cmd_attest_nitro.c — `cloakx attest verify-nitro` (verify an AWS Nitro attestation document
 * against a pinned root, a time and a PCR policy) and `cloakx attest inspect` (pretty-print). */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "attest_inspect.h"
#include "cx_attest.h"

#define DOC_FILE_MAX (4u * CX_NITRO_DOC_MAX) /* hex text of the largest document, and slack */

/* Read a document: raw CBOR bytes, or its hex text (what Nautilus' /get_attestation returns);
 * max bounds the file. */
static cx_err read_doc(const char *path, size_t max, uint8_t **doc, size_t *len, cx_error *e)
{
    uint8_t *raw = NULL;
    size_t n = 0;
    cx_err rc = cx_file_read_all(path, max, &raw, &n, e);
    if (rc != CX_OK)
        return rc;
    size_t lo = 0, hi = n;
    while (lo < hi && isspace(raw[lo]))
        lo++;
    while (hi > lo && isspace(raw[hi - 1]))
        hi--;
    int is_hex = hi > lo;
    for (size_t i = lo; i < hi && is_hex; i++)
        is_hex = isxdigit(raw[i]) || (i == lo + 1 && (raw[i] == 'x' || raw[i] == 'X'));
    if (is_hex) {
        uint8_t *bin = malloc((hi - lo) / 2 + 1);
        size_t bl = 0;
        if (!bin) {
            free(raw);
            return cx_error_set(e, CX_ERR_NOMEM, "out of memory");
        }
        rc = cx_hex_decode((const char *)raw + lo, hi - lo, bin, (hi - lo) / 2 + 1, &bl, e);
        free(raw);
        if (rc != CX_OK) {
            free(bin);
            return cx_error_wrap(rc, e, "%s: ", path);
        }
        *doc = bin;
        *len = bl;
        return CX_OK;
    }
    *doc = raw;
    *len = n;
    return CX_OK;
}

static json_t *hex_or_null(int has, const uint8_t *p, size_t n)
{
    return has ? cx_job_hex_json(p, n) : json_null();
}

static json_t *doc_to_json(const cx_nitro_doc *d)
{
    json_t *pcrs = json_object();
    for (unsigned i = 0; pcrs && i < CX_NITRO_PCR_COUNT; i++)
        if (d->pcr_present & (1u << i)) {
            char key[4];
            snprintf(key, sizeof key, "%u", i);
            json_object_set_new(pcrs, key, hex_or_null(1, d->pcr[i], d->pcr_len[i]));
        }
    return json_pack("{s:s, s:s, s:I, s:o*, s:o*, s:o*, s:o*, s:b, s:b}", "module_id",
                     d->module_id, "digest", d->digest, "timestamp", (json_int_t)d->timestamp_ms,
                     "pcrs", pcrs, "public_key",
                     hex_or_null(d->has_public_key, d->public_key, d->public_key_len),
                     "user_data", hex_or_null(d->has_user_data, d->user_data, d->user_data_len),
                     "nonce", hex_or_null(d->has_nonce, d->nonce, d->nonce_len), "debug",
                     d->debug, "simulated", d->simulated);
}

static void fmt_ms(uint64_t ms, char *out, size_t cap)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm) || !strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(out, cap, "?");
    else
        snprintf(out + strlen(out), cap - strlen(out), ".%03u UTC", (unsigned)(ms % 1000));
}

static void print_hex_field(const char *label, int has, const uint8_t *p, size_t n)
{
    if (!has) {
        printf("%-12s null\n", label);
        return;
    }
    char *h = cx_hex_dup(p, n);
    printf("%-12s %zu bytes %s\n", label, n, h ? h : "?");
    free(h);
}

static void print_doc(const cx_nitro_doc *d)
{
    char ts[64];
    fmt_ms(d->timestamp_ms, ts, sizeof ts);
    printf("module_id    %s%s\n", d->module_id, d->simulated ? "   [SIMULATED TEE]" : "");
    printf("digest       %s\n", d->digest);
    printf("timestamp    %llu (%s)\n", (unsigned long long)d->timestamp_ms, ts);
    printf("pcrs%s\n", d->debug ? "         (PCR0 all zeros: DEBUG enclave)" : "");
    for (unsigned i = 0; i < CX_NITRO_PCR_COUNT; i++)
        if (d->pcr_present & (1u << i)) {
            char h[2 * CX_NITRO_PCR_MAXLEN + 1];
            cx_hex_encode(d->pcr[i], d->pcr_len[i], h, sizeof h, NULL);
            printf("  %2u         %s\n", i, h);
        }
    print_hex_field("public_key", d->has_public_key, d->public_key, d->public_key_len);
    print_hex_field("user_data", d->has_user_data, d->user_data, d->user_data_len);
    print_hex_field("nonce", d->has_nonce, d->nonce, d->nonce_len);
}

static int parse_pcr_arg(const char *s, cx_nitro_pcr_expect *x, uint8_t *buf)
{
    char *end = NULL;
    errno = 0;
    unsigned long idx = strtoul(s, &end, 10);
    if (errno || end == s || *end != '=' || idx >= CX_NITRO_PCR_COUNT)
        return -1;
    size_t n = 0;
    const char *hex = end + 1;
    if (cx_hex_decode(hex, strlen(hex), buf, CX_NITRO_PCR_MAXLEN, &n, NULL) != CX_OK ||
        (n != 32 && n != 48 && n != 64))
        return -1;
    x->index = (unsigned)idx;
    x->value = buf;
    x->len = n;
    return 0;
}

int cmd_attest_verify_nitro(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx attest verify-nitro DOC [--root PEM] [--at UNIX_MS|doc]\n"
               "         [--pcr N=HEX]... [--allow-debug] [--allow-simulated] [--json]\n\n"
               "Verifies an AWS Nitro attestation document (COSE_Sign1, raw bytes or hex text):\n"
               "strict CBOR format, certificate chain from cabundle to the pinned root (AWS\n"
               "Nitro root G1 unless --root), validity at --at (ms since the epoch; 'doc' = the\n"
               "document's own timestamp; default now), the ES384 signature, and the PCR policy.\n"
               "Debug enclaves (PCR0 all zeros) and documents of the simulated TEE are refused\n"
               "unless allowed. Exit 0 and the parsed fields, or exit 3 naming the failed check:\n"
               "signature, chain, expired, root, pcr N, debug, simulated, format: ...\n");
        return CX_EXIT_OK;
    }
    const char *doc_path = NULL, *root_path = NULL;
    cx_nitro_pcr_expect pcrs[CX_NITRO_PCR_COUNT];
    uint8_t pcr_vals[CX_NITRO_PCR_COUNT][CX_NITRO_PCR_MAXLEN];
    cx_nitro_policy pol = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--root") == 0 && i + 1 < argc)
            root_path = argv[++i];
        else if (strcmp(a, "--at") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "doc") == 0)
                pol.at_doc_time = 1;
            else {
                char *end = NULL;
                errno = 0;
                unsigned long long ms = strtoull(v, &end, 10);
                if (errno || end == v || *end || ms == 0 || v[0] == '-')
                    return cli_usage(cli, "--at wants milliseconds since the epoch or 'doc'");
                pol.at_ms = ms;
            }
        } else if (strcmp(a, "--pcr") == 0 && i + 1 < argc) {
            if (pol.n_pcrs >= CX_NITRO_PCR_COUNT)
                return cli_usage(cli, "too many --pcr options");
            if (parse_pcr_arg(argv[++i], &pcrs[pol.n_pcrs], pcr_vals[pol.n_pcrs]) != 0)
                return cli_usage(cli, "--pcr wants N=HEX (N 0..31, 32/48/64 bytes of hex)");
            pol.n_pcrs++;
        } else if (strcmp(a, "--allow-debug") == 0)
            pol.allow_debug = 1;
        else if (strcmp(a, "--allow-simulated") == 0)
            pol.allow_simulated = 1;
        else if (a[0] == '-' && a[1])
            return cli_usage(cli, "unknown option '%s'", a);
        else if (!doc_path)
            doc_path = a;
        else
            return cli_usage(cli, "unexpected argument '%s'", a);
    }
    if (!doc_path)
        return cli_usage(cli, "missing DOC");
    pol.pcrs = pcrs;

    cx_error e = {0};
    uint8_t *doc = NULL, *root = NULL;
    size_t doc_len = 0, root_len = 0;
    if (read_doc(doc_path, DOC_FILE_MAX, &doc, &doc_len, &e) != CX_OK)
        return cli_fail(cli, &e);
    if (root_path) {
        if (cx_file_read_all(root_path, 1u << 20, &root, &root_len, &e) != CX_OK) {
            free(doc);
            return cli_fail(cli, &e);
        }
        pol.root_pem = (const char *)root;
        pol.root_pem_len = root_len;
    }
    cx_nitro_doc d;
    cx_nitro_check failed = CX_NITRO_CHECK_OK;
    cx_err rc = cx_nitro_verify(doc, doc_len, &pol, &d, &failed, &e);
    free(doc);
    free(root);
    if (rc != CX_OK) {
        /* Every refusal of the document, a malformed one included, is a verification
         * failure (exit 3); only a bad --root stays a usage error. */
        if (rc != CX_ERR_ARG && rc != CX_ERR_NOMEM && rc != CX_ERR_CRYPTO)
            e.code = CX_ERR_VERIFY;
        return cli_fail(cli, &e);
    }
    if (d.simulated)
        cx_log_warn(&cli->log, "document of the SIMULATED TEE (development only)");
    int out;
    if (cli->json) {
        json_t *j = doc_to_json(&d);
        if (!j) {
            cx_nitro_doc_free(&d);
            cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
            return cli_fail(cli, &e);
        }
        out = cli_print_json(cli, j);
    } else {
        printf("verified: signature, chain to %s, validity, PCR policy (%zu PCRs pinned)\n",
               root_path ? root_path : "AWS Nitro root G1", pol.n_pcrs);
        print_doc(&d);
        out = fflush(stdout) == 0 ? CX_EXIT_OK : CX_EXIT_FAILURE;
    }
    cx_nitro_doc_free(&d);
    return out;
}

/* ------------------------------------------------------------- inspect -- */

static void print_cert(const char *label, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x) {
        printf("  %-10s (%zu bytes, not parseable X.509)\n", label, len);
        return;
    }
    char subj[256] = "?";
    X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof subj);
    BIO *b = BIO_new(BIO_s_mem());
    char nb[64] = "?", na[64] = "?";
    if (b) {
        int n;
        if (ASN1_TIME_print(b, X509_get0_notBefore(x)) == 1 && (n = BIO_read(b, nb, 63)) > 0)
            nb[n] = 0;
        if (ASN1_TIME_print(b, X509_get0_notAfter(x)) == 1 && (n = BIO_read(b, na, 63)) > 0)
            na[n] = 0;
        BIO_free(b);
    }
    printf("  %-10s %s\n  %-10s valid %s -> %s\n", label, subj, "", nb, na);
    X509_free(x);
}

static void print_binding(const cx_nitro_doc *d)
{
    cx_bind_user_data ud;
    if (!d->has_user_data || cx_bind_user_data_decode(d->user_data, d->user_data_len, &ud, NULL))
        return;
    char h[97];
    printf("user_data is a CloakX GPU binding (CXAT v1):\n");
    cx_hex_encode(ud.job_id, 32, h, sizeof h, NULL);
    printf("  job_id     %s\n", h);
    cx_hex_encode(ud.challenge, 32, h, sizeof h, NULL);
    printf("  challenge  %s\n", h);
    cx_hex_encode(ud.gpu_nonce, 32, h, sizeof h, NULL);
    printf("  gpu_nonce  %s\n", h);
    cx_hex_encode(ud.gpu_digest, 48, h, sizeof h, NULL);
    printf("  gpu_digest %s\n", h);
}

static int inspect_nitro(cx_cli *cli, const uint8_t *buf, size_t len)
{
    cx_nitro_doc d;
    cx_error e = {0};
    if (cx_nitro_doc_parse(buf, len, &d, &e) != CX_OK) {
        e.code = CX_ERR_VERIFY;
        return cli_fail(cli, &e);
    }
    int out;
    if (cli->json) {
        json_t *j = doc_to_json(&d);
        if (j)
            json_object_set_new(j, "kind", json_string("nitro"));
        if (j)
            json_object_set_new(j, "verified", json_false());
        out = j ? cli_print_json(cli, j) : CX_EXIT_FAILURE;
    } else {
        printf("AWS Nitro attestation document (COSE_Sign1, ES384), %zu bytes — NOT verified "
               "(use 'cloakx attest verify-nitro')\n",
               len);
        print_doc(&d);
        printf("certificates (leaf, then cabundle from the root down):\n");
        print_cert("leaf", d.certificate, d.certificate_len);
        for (size_t i = 0; i < d.cabundle_count; i++) {
            char label[16];
            snprintf(label, sizeof label, "cabundle[%zu]", i);
            print_cert(label, d.cabundle[i], d.cabundle_len[i]);
        }
        print_binding(&d);
        out = fflush(stdout) == 0 ? CX_EXIT_OK : CX_EXIT_FAILURE;
    }
    cx_nitro_doc_free(&d);
    return out;
}

/* Artefact kinds that inspect recognises, tried in order: a cheap detector on the bytes and a
 * printer (the non-Nitro ones live in attest_inspect.c). */
typedef struct inspect_kind {
    const char *name;
    int (*detect)(const uint8_t *buf, size_t len);
    int (*print)(cx_cli *cli, const uint8_t *buf, size_t len);
} inspect_kind;

static int detect_nitro(const uint8_t *buf, size_t len)
{
    /* untagged COSE_Sign1 array(4) + protected bstr(4), or tag 18 in front */
    return len > 2 && ((buf[0] == 0x84 && buf[1] == 0x44) || (buf[0] == 0xd2 && buf[1] == 0x84));
}

static const inspect_kind INSPECT_KINDS[] = {
    {"nitro", detect_nitro, inspect_nitro},
    {"gpu_report", attest_detect_gpu_report, attest_inspect_gpu_report},
    {"gpu_evidence", attest_detect_gpu_evidence, attest_inspect_gpu_evidence},
    {"result_bundle", attest_detect_bundle, attest_inspect_bundle},
    {NULL, NULL, NULL},
};

int cmd_attest_inspect(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx attest inspect FILE [--json]\n\n"
               "Detects the kind of attestation artefact in FILE and prints it for a person\n"
               "without verifying it. Known kinds: AWS Nitro attestation document (raw or hex),\n"
               "NVIDIA GPU report (raw SPDM GET_MEASUREMENTS || MEASUREMENTS), GPU evidence\n"
               "JSON (the list NVIDIA's tools read), CloakX result bundle (chain/RULES.md §5).\n"
               "A file that does not parse as its kind is refused with exit 3.\n");
        return CX_EXIT_OK;
    }
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            return cli_usage(cli, "unknown option '%s'", argv[i]);
        if (path)
            return cli_usage(cli, "unexpected argument '%s'", argv[i]);
        path = argv[i];
    }
    if (!path)
        return cli_usage(cli, "missing FILE");
    cx_error e = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    /* the largest kind is the result bundle; each parser applies its own limit */
    if (read_doc(path, CX_BUNDLE_MAX_BYTES, &buf, &len, &e) != CX_OK)
        return cli_fail(cli, &e);
    for (const inspect_kind *k = INSPECT_KINDS; k->name; k++)
        if (k->detect(buf, len)) {
            int rc = k->print(cli, buf, len);
            free(buf);
            return rc;
        }
    free(buf);
    cx_error_set(&e, CX_ERR_FORMAT, "format: %s: not a known attestation artefact", path);
    return cli_fail(cli, &e);
}
