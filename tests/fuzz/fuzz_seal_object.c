/* fuzz_seal_object.c — libFuzzer target for Seal's EncryptedObject decoder: whatever it
 * accepts re-encodes to exactly the input bytes (one canonical encoding), what it refuses
 * leaves nothing allocated, and an accepted object's nonce is put through blst's decoding. */
#include <stdlib.h>
#include <string.h>

#include "cx_seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cx_seal_object *o = NULL;
    if (cx_seal_object_decode(data, size, &o, NULL) != CX_OK) {
        if (o)
            __builtin_trap();
        return 0;
    }
    uint8_t *re = NULL;
    size_t rl = 0;
    if (cx_seal_object_encode(o, &re, &rl, NULL) != CX_OK || rl != size ||
        memcmp(re, data, size) != 0)
        __builtin_trap();
    free(re);
    /* a fixed valid user secret key: exercises G2 decompression and the subgroup check */
    static const uint8_t g1_generator[CX_SEAL_G1_LEN] = {
        0x97, 0xf1, 0xd3, 0xa7, 0x31, 0x97, 0xd7, 0x94, 0x26, 0x95, 0x63, 0x8c,
        0x4f, 0xa9, 0xac, 0x0f, 0xc3, 0x68, 0x8c, 0x4f, 0x97, 0x74, 0xb9, 0x05,
        0xa1, 0x4e, 0x3a, 0x3f, 0x17, 0x1b, 0xac, 0x58, 0x6c, 0x55, 0xe8, 0x3f,
        0xf9, 0x7a, 0x1a, 0xef, 0xfb, 0x3a, 0xf0, 0x0a, 0xdb, 0x22, 0xc6, 0xbb};
    uint8_t gt[CX_SEAL_GT_LEN];
    (void)cx_seal_decap(g1_generator, o->nonce, gt, NULL);
    cx_seal_object_free(o);
    return 0;
}
