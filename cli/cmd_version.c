/* cmd_version.c — `cloakx version`: the version and what this binary can do here:
 * build features (CUDA, OpenSSL, BLAS) and CPU features detected at run time. */
#include "cli.h"

#include <string.h>

#include <cblas.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <sqlite3.h>

#ifndef CLOAKX_VERSION
#define CLOAKX_VERSION "unknown"
#endif

int cmd_version(cx_cli *cli, int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: cloakx version [--json]\n\n"
               "Prints the version, the features this binary was built with (CUDA backend,\n"
               "OpenSSL, BLAS) and the CPU features detected on this machine now.\n");
        return CX_EXIT_OK;
    }
    if (argc > 1)
        return cli_usage(cli, "unexpected argument '%s'", argv[1]);

    cx_cpu_features f;
    cx_cpu_features_detect(&f);
#ifdef CLOAKX_HAVE_CUDA
    const int cuda = 1;
#else
    const int cuda = 0;
#endif
    const char *blas = openblas_get_config();
    int blas_threads = openblas_get_num_threads();
    const char *ossl = OpenSSL_version(OPENSSL_VERSION);
    curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

    if (cli->json) {
        json_t *j = json_pack(
            "{s:s, s:{s:b, s:s, s:s, s:i, s:s, s:s, s:s}, s:{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}}",
            "version", CLOAKX_VERSION, "build", "cuda", cuda, "openssl", ossl, "blas", blas,
            "blas_threads", blas_threads, "curl", cv->version, "sqlite", sqlite3_libversion(),
            "sodium", sodium_version_string(), "cpu", "aesni", f.aesni, "pclmul", f.pclmul, "avx",
            f.avx, "avx2", f.avx2, "avx512f", f.avx512f, "avx512bw", f.avx512bw, "vaes", f.vaes,
            "vpclmulqdq", f.vpclmulqdq, "sha", f.sha);
        if (!j) {
            cx_error e;
            cx_error_set(&e, CX_ERR_NOMEM, "building JSON");
            return cli_fail(cli, &e);
        }
        return cli_print_json(cli, j);
    }
    printf("cloakx %s\n", CLOAKX_VERSION);
    printf("build:   CUDA backend %s; %s; BLAS %s (%d threads); curl %s; SQLite %s; "
           "libsodium %s\n",
           cuda ? "yes" : "no", ossl, blas, blas_threads, cv->version, sqlite3_libversion(),
           sodium_version_string());
    printf("cpu:     AES-NI %s, PCLMUL %s, VAES %s, VPCLMULQDQ %s, AVX2 %s, AVX-512F %s, "
           "AVX-512BW %s, SHA %s\n",
           f.aesni ? "yes" : "no", f.pclmul ? "yes" : "no", f.vaes ? "yes" : "no",
           f.vpclmulqdq ? "yes" : "no", f.avx2 ? "yes" : "no", f.avx512f ? "yes" : "no",
           f.avx512bw ? "yes" : "no", f.sha ? "yes" : "no");
    return CX_EXIT_OK;
}
