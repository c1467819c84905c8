/* librbd's client-side encryption in the data engine: aes-xts-plain64 per sector with OpenSSL.
 * The header, key derivation and keyslots are the core's (curverbd/core/luks.py); C gets the
 * volume key, the sector size and the data offset (struct crbd_crypto_info) and:
 *  - shifts every I/O of the image by the data offset (io.c, crbd_io_submit);
 *  - encrypts / decrypts whole sectors in the bounce buffer of the op (io.c): the IV of a sector is
 *    its byte offset in the data area / 512, little endian (plain64; cryptsetup's LUKS2 and librbd
 *    count 4096-byte sectors in 512-byte units too);
 *  - reads an all-zero raw sector as zeros: never written or discarded (librbd reads an object
 *    that does not exist as zeros the same way), so whole-block discards stay discards.
 * An unencrypted image has img->crypto == NULL and never comes here. */
#include "internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct crbd_crypto {
    const EVP_CIPHER *cipher;
    unsigned char key[64];
    int key_len;
    uint32_t sector_size;
    uint64_t data_offset;
};

int crbd_crypto_new(const unsigned char *key, uint32_t key_len, uint32_t sector_size, uint64_t data_offset,
                    struct crbd_crypto **out)
{
    *out = NULL;
    const EVP_CIPHER *cipher = key_len == 32 ? EVP_aes_128_xts() : key_len == 64 ? EVP_aes_256_xts() : NULL;
    if (!cipher) {
        crbd_log("encryption: a %u-byte XTS key is not supported (32 or 64)", key_len);
        return -EINVAL;
    }
    if (sector_size < 512 || sector_size > 4096 || (sector_size & (sector_size - 1)) || data_offset % 4096) {
        crbd_log("encryption: sector size %u / data offset %llu not supported (512..4096, 4 KiB aligned)",
                 sector_size, (unsigned long long)data_offset);
        return -EINVAL;
    }
    struct crbd_crypto *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cipher = cipher;
    memcpy(c->key, key, key_len);
    c->key_len = (int)key_len;
    c->sector_size = sector_size;
    c->data_offset = data_offset;
    *out = c;
    return 0;
}

void crbd_crypto_free(struct crbd_crypto *c)
{
    if (c) {
        OPENSSL_cleanse(c->key, sizeof c->key);
        free(c);
    }
}

uint64_t crbd_crypto_data_offset(const struct crbd_crypto *c)
{
    return c->data_offset;
}

static int all_zero(const unsigned char *p, size_t n)
{
    return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* Encrypt (encrypt=1) or decrypt in place len bytes at raw image offset raw_off: whole sectors
 * of the data area (raw_off >= data offset). 0, or -EIO (logged). */
int crbd_crypto_run(const struct crbd_crypto *c, int encrypt, unsigned char *buf, uint64_t len, uint64_t raw_off)
{
    uint64_t ss = c->sector_size;
    if (raw_off < c->data_offset || (raw_off - c->data_offset) % ss || len % ss) {
        crbd_log("encryption: %llu bytes at %llu are not whole sectors of the data area (internal error)",
                 (unsigned long long)len, (unsigned long long)raw_off);
        return -EIO;
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || !EVP_CipherInit_ex(ctx, c->cipher, NULL, c->key, NULL, encrypt)) {
        EVP_CIPHER_CTX_free(ctx);
        crbd_log("encryption: OpenSSL's aes-xts does not start (EVP_CipherInit_ex failed)");
        return -EIO;
    }
    uint64_t pos_in_area = raw_off - c->data_offset;
    int r = 0;
    for (uint64_t at = 0; at < len; at += ss) {
        unsigned char *p = buf + at;
        if (!encrypt && all_zero(p, ss))
            continue;   /* never written: reads as zeros */
        unsigned char iv[16] = { 0 };
        uint64_t sector = (pos_in_area + at) / 512;
        for (int i = 0; i < 8; i++)
            iv[i] = (unsigned char)(sector >> (8 * i));
        int outl = 0;
        if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1) || !EVP_CipherUpdate(ctx, p, &outl, p, (int)ss) ||
            (uint64_t)outl != ss) {
            crbd_log("encryption: OpenSSL's aes-xts failed on sector %llu", (unsigned long long)sector);
            r = -EIO;
            break;
        }
    }
    EVP_CIPHER_CTX_free(ctx);
    return r;
}
