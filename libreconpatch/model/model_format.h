/* The model file's constants, shared by the writer (model_save.c) and the reader (model_load.c).
 * docs/model-format.md is the byte-exact description; keep the two in step. */
#ifndef RP_MODEL_FORMAT_H
#define RP_MODEL_FORMAT_H

#include <stdint.h>

/* "\x89RPM\r\n\x1a\n": a high byte first (catches 7-bit transfers), CR LF and LF (catch newline
 * translation), ^Z (stops `type` on Windows). The PNG trick. */
#define RP__MODEL_MAGIC "\x89RPM\r\n\x1a\n"
#define RP__MODEL_MAGIC_SIZE 8

/* The file header: fixed at 32 bytes in every format version, so a reader can always check it
 * and then tell a newer version (RP_E_VERSION) from damage (RP_E_FORMAT). */
#define RP__MODEL_HEADER_SIZE 32u
#define RP__MODEL_SECTION_HEAD 16u /* id[4], flags u32, payload length u64 */
#define RP__MODEL_SECTION_CRC 4u

/* Section flag bit 0: a reader that does not know the section's id may skip it. */
#define RP__SECTION_OPTIONAL 1u

/* Section ids: four ASCII bytes, stored in this order. */
#define RP__SEC_MODEL "MODL"     /* method */
#define RP__SEC_EXTRACTOR "EXTR" /* extractor settings */
#define RP__SEC_BACKBONE "BKBN"  /* backbone identity and where its weights are */
#define RP__SEC_WEIGHTS "WGTS"   /* embedded weights: a safetensors file */
#define RP__SEC_HEAD "HEAD"      /* ReConPatch's representation layer f */
#define RP__SEC_BANK "BANK"      /* the memory bank vectors */
/* BANK flags (u32 at offset 4; reserved, 0, in version 1 files) */
#define RP__BANK_FLAG_KNN_INT8 1u /* rp_bank_params.knn_int8 */
#define RP__BANK_FLAG_KNN_BF16 2u /* rp_bank_params.knn_bf16 (never together with KNN_INT8) */
#define RP__SEC_SCORER "SCOR"    /* scorer params */
#define RP__SEC_THRESHOLDS "THRS" /* decision thresholds */
#define RP__SEC_CATEGORIES "CATS" /* format 4: the categories' names and the router's descriptors */
#define RP__SEC_CATEGORY_BANK "CBNK" /* format 4: bank and thresholds of one category after the first */
#define RP__SEC_CATEGORY_HEAD "CHED" /* format 5: the head of its own of one category after the first */
/* CBNK's u32 at offset 4 (0 in format 4): which head made the category's vectors, stored as the
 * model's RP__HEAD_* (model_internal.h): 0 the model's (HEAD; none for PatchCore), 1 its own (in a
 * CHED of the same category), 2 none (the backbone's patch features). */

/* BKBN storage values. */
#define RP__WEIGHTS_REFERENCED 1u
#define RP__WEIGHTS_EMBEDDED 2u

/* Exact payload sizes of the fixed sections (format version 2; EXTR grew by keep_aspect). */
#define RP__MODL_SIZE 8u
#define RP__EXTR_SIZE 52u
#define RP__EXTR_SIZE_V1 48u /* version 1 files: no keep_aspect, read as 0 */
#define RP__BKBN_FIXED_SIZE 80u /* then path_len bytes of path */
#define RP__SCOR_SIZE 16u
#define RP__THRS_SIZE 40u
#define RP__CATS_FIXED_SIZE 16u /* then the names, the descriptors' categories and the descriptors */
#define RP__CBNK_FIXED_SIZE (24u + RP__THRS_SIZE) /* then the bank vectors */
#define RP__CHED_FIXED_SIZE 16u /* category, reserved, in, out; then out x in weights and out biases */

/* Reader limits: far above any real model, low enough that sizes cannot overflow. */
#define RP__MODEL_MAX_DIM 65536u
#define RP__MODEL_MAX_PATH 4096u
#define RP__MODEL_DEFAULT_MAX_BYTES ((uint64_t)8 << 30)

#endif
