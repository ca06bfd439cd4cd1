/* SHA-256 of weights files through OpenSSL's libcrypto, which picks the CPU's SHA extensions or
 * vector code at run time. Every weights load hashes the whole file, so this halved ResNet-50's
 * load against the portable C this file held before (docs/weights.md, "Identity"). */
#include <openssl/evp.h>

#include "backbone/weights.h"
#include "common/common.h"

enum { SHA_OK, SHA_NOMEM, SHA_OPENSSL_ERROR };

void rp__weights_sha256_init(rp__sha256 *s)
{
    s->ctx = EVP_MD_CTX_new();
    s->failed = !s->ctx ? SHA_NOMEM : EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1 ? SHA_OPENSSL_ERROR : SHA_OK;
}

void rp__weights_sha256_update(rp__sha256 *s, const void *data, size_t n)
{
    if (!s->failed && n && EVP_DigestUpdate(s->ctx, data, n) != 1) s->failed = SHA_OPENSSL_ERROR;
}

int rp__weights_sha256_hex(rp__sha256 *s, char hex[65])
{
    unsigned char digest[32];
    unsigned int len = 0;
    if (!s->failed && (EVP_DigestFinal_ex(s->ctx, digest, &len) != 1 || len != sizeof digest))
        s->failed = SHA_OPENSSL_ERROR;
    int failed = s->failed;
    rp__weights_sha256_discard(s);
    hex[0] = '\0';
    if (failed == SHA_NOMEM) return rp__fail(RP_E_NOMEM, "SHA-256 of the weights: out of memory");
    if (failed) return rp__fail(RP_E_INTERNAL, "SHA-256 of the weights: OpenSSL's digest failed");
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
    return RP_OK;
}

void rp__weights_sha256_discard(rp__sha256 *s)
{
    EVP_MD_CTX_free(s->ctx); /* NULL is fine */
    s->ctx = NULL;
    if (!s->failed) s->failed = SHA_OPENSSL_ERROR; /* a discarded context computes nothing more */
}
