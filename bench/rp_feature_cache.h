/* The feature cache of bench/rp-tune ("rp-tune cache"): patch features of a category's train and
 * test images, the test labels and the masks in network-input geometry, so tuning and accuracy
 * experiments can train and score many times without running the backbone again.
 *
 * Layout (native-endian, this machine only): uint32 header {RP_FEATURE_CACHE_MAGIC, n_train,
 * n_test, patches per image, dim, side}, then the train features (n_train x patches x dim floats),
 * the test features, n_test labels (0 good, 1 defect) and n_test masks of side x side bytes (0/1).
 * Header-only: shared by the bench programs, not part of the library. */
#ifndef RP_FEATURE_CACHE_H
#define RP_FEATURE_CACHE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RP_FEATURE_CACHE_MAGIC 0x43465052u /* "RPFC" */

typedef struct rp_feature_cache {
    char name[256]; /* file name without its folder */
    uint32_t n_train, n_test, patches, dim, side;
    float *train, *test;
    uint8_t *labels, *masks;
} rp_feature_cache;

/* Read the cache at path into *c; on any failure print what went wrong and exit(1). */
static inline void rp_feature_cache_load(rp_feature_cache *c, const char *path, const char *program)
{
    FILE *f = fopen(path, "rb");
    uint32_t hdr[6];
    if (!f || fread(hdr, sizeof hdr, 1, f) != 1 || hdr[0] != RP_FEATURE_CACHE_MAGIC) {
        fprintf(stderr, "%s: %s is not a feature cache of rp-tune\n", program, path);
        exit(1);
    }
    c->n_train = hdr[1], c->n_test = hdr[2], c->patches = hdr[3], c->dim = hdr[4], c->side = hdr[5];
    const size_t per = (size_t)c->patches * c->dim, npix = (size_t)c->side * c->side;
    c->train = malloc(per * c->n_train * sizeof(float) + 1);
    c->test = malloc(per * c->n_test * sizeof(float) + 1);
    c->labels = malloc((size_t)c->n_test + 1);
    c->masks = malloc(npix * c->n_test + 1);
    if (!c->train || !c->test || !c->labels || !c->masks) {
        fprintf(stderr, "%s: out of memory reading %s\n", program, path);
        exit(1);
    }
    if (fread(c->train, sizeof(float), per * c->n_train, f) != per * c->n_train ||
        fread(c->test, sizeof(float), per * c->n_test, f) != per * c->n_test ||
        fread(c->labels, 1, c->n_test, f) != c->n_test || fread(c->masks, 1, npix * c->n_test, f) != npix * c->n_test) {
        fprintf(stderr, "%s: %s is truncated\n", program, path);
        exit(1);
    }
    fclose(f);
    const char *base = strrchr(path, '/');
    snprintf(c->name, sizeof c->name, "%s", base ? base + 1 : path);
}

#endif
