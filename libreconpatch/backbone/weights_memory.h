/* Backbone weights as safetensors bytes in memory, so a saved model can carry its backbone inside
 * the model file (libreconpatch/model) and load it back through the same parser as a .safetensors
 * file; and a TF.js model.json with its shards in memory (the same reader as the files; the fuzz
 * targets use both). Internal. */
#ifndef RP_BACKBONE_WEIGHTS_MEMORY_H
#define RP_BACKBONE_WEIGHTS_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "backbone/weights.h"

/* The safetensors parser (weights_safetensors.c). Takes ownership of buf (malloc'd): it becomes
 * the weights' storage on success and is freed on failure. label names the source in messages;
 * sha is recorded as the weights' sha256. */
int rp__weights_parse_safetensors(const char *label, uint8_t *buf, uint64_t size, const char sha[65],
                                  rp__weights **out);

/* Parse size bytes of a safetensors file held in memory (copied; the caller keeps data).
 * The weights' sha256 is that of these bytes. label names the source in messages. */
int rp__weights_load_safetensors_memory(const void *data, size_t size, const char *label, rp__weights **out);

/* A TF.js shard held in memory: the name model.json's "paths" use for it, and its bytes. */
typedef struct rp__tfjs_shard {
    const char *name;
    const void *data;
    size_t size;
} rp__tfjs_shard;

/* Parse a TF.js layers model.json held in memory (json_size bytes, no NUL needed) whose shard
 * paths name entries of shards[0..n_shards-1] (borrowed for the call; the same path checks, size
 * checks, name mapping and ResNet check as rp__weights_load_tfjs). The weights' sha256 is that of
 * the JSON bytes then the shards in manifest order. label names the source in messages. */
int rp__weights_load_tfjs_memory(const char *label, const void *json, size_t json_size, const rp__tfjs_shard *shards,
                                 size_t n_shards, rp__weights **out);

/* Serialise w as a safetensors file in memory: every tensor as F32 under its torchvision name, in
 * w's order, and __metadata__ {"reconpatch.layout", "reconpatch.arch", "reconpatch.source_sha256"}
 * so the loader restores layout and arch. The header is padded with spaces to a multiple of 8
 * bytes. *bytes_out is malloc'd (free() it). */
int rp__weights_to_safetensors(const rp__weights *w, uint8_t **bytes_out, size_t *size_out);

#endif
