/* libreconpatch: version, error codes, logging and the conventions every other header follows.
 *
 * Conventions (docs/api-conventions.md has the whole story):
 *  - every fallible function returns int: 0 (RP_OK) on success, a negative RP_E_* code on failure;
 *  - the message of the last failure is thread-local: rp_last_error_message();
 *  - params structs start with uint32_t struct_size and are filled by rp_<x>_params_init();
 *    a zero field means "the default";
 *  - handles are opaque typed pointers; rp_<x>_free(NULL) is a no-op. */
#ifndef RECONPATCH_CORE_H
#define RECONPATCH_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(RP_BUILDING_LIBRARY) && defined(__GNUC__)
#define RP_API __attribute__((visibility("default")))
#else
#define RP_API
#endif

/* ---- version ---------------------------------------------------------------------------- */
#define RP_VERSION_MAJOR 0
#define RP_VERSION_MINOR 1
#define RP_VERSION_PATCH 0
#define RP_VERSION_NUMBER (RP_VERSION_MAJOR * 10000 + RP_VERSION_MINOR * 100 + RP_VERSION_PATCH)

/* "0.1.0": the version of the library actually loaded (may differ from the macros above). */
RP_API const char *rp_version_string(void);
/* major * 10000 + minor * 100 + patch of the loaded library. */
RP_API uint32_t rp_version_number(void);

/* ---- errors (append-only, never renumbered) --------------------------------------------- */
#define RP_OK 0
#define RP_E_INVALID_ARG (-1)  /* a NULL pointer, a zero size, an out-of-range value */
#define RP_E_NOMEM (-2)        /* an allocation failed */
#define RP_E_IO (-3)           /* a file could not be opened, read or written */
#define RP_E_FORMAT (-4)       /* damaged or unrecognised data: bad magic, truncated file, bad JSON */
#define RP_E_VERSION (-5)      /* newer format, or a params struct larger than this library knows */
#define RP_E_UNSUPPORTED (-6)  /* well-formed but not supported (a pixel layout, an architecture) */
#define RP_E_LIMIT (-7)        /* over a configured limit (pixel count, memory) */
#define RP_E_STATE (-8)        /* the handle is not in the state the call needs (bank not frozen) */
#define RP_E_CANCELLED (-9)    /* a progress callback returned non-zero */
#define RP_E_BACKEND (-10)     /* oneDNN or BLAS reported a failure */
#define RP_E_SHAPE (-11)       /* a buffer has the wrong size, or two things that must agree do not:
                                  architecture, geometry or dimension (every such mismatch) */
#define RP_E_INTERNAL (-12)    /* a bug: please report it with the message */
#define RP_E_DIVERGED (-13)    /* training diverged: the loss became NaN or infinite (lower lr) */

/* Code of the last failure on this thread (RP_OK if the last call succeeded). */
RP_API int rp_last_error_code(void);
/* Message of the last failure on this thread, naming the function and values; "" after success.
 * Never NULL. Valid until the next rp_* call on this thread. */
RP_API const char *rp_last_error_message(void);
/* Constant name of a code: "RP_E_FORMAT". Never NULL ("RP_E_UNKNOWN" for unknown codes). */
RP_API const char *rp_error_name(int code);

/* ---- logging ----------------------------------------------------------------------------- */
#define RP_LOG_ERROR 1
#define RP_LOG_WARN 2
#define RP_LOG_INFO 3
#define RP_LOG_DEBUG 4

typedef void (*rp_log_fn)(int32_t level, const char *message, void *user_data);

/* Route library messages up to max_level to fn (NULL restores the default). By default the library
 * prints nothing, unless the environment variable RP_LOG=error|warn|info|debug asks for stderr.
 * Process-wide; call it before starting threads that use the library. */
RP_API void rp_set_log_callback(rp_log_fn fn, int32_t max_level, void *user_data);

/* ---- progress ---------------------------------------------------------------------------- */
/* Passed to progress callbacks of long calls. A non-zero return from the callback cancels the
 * call, which then returns RP_E_CANCELLED. Fields that do not apply are -1 / NaN. */
typedef struct rp_progress {
    uint32_t struct_size;
    int32_t stage;       /* RP_STAGE_* below */
    int64_t done;        /* units done in this stage */
    int64_t total;       /* units in this stage (-1 if unknown) */
    int32_t epoch;       /* trainer: epoch index, from 0 */
    int32_t step;        /* trainer: step within the epoch */
    double loss;         /* trainer: training loss of the last step */
    double val_loss;     /* trainer: last validation loss */
} rp_progress;

#define RP_STAGE_FEATURES 1  /* extracting patch features from images */
#define RP_STAGE_TRAIN 2     /* training the embedding head */
#define RP_STAGE_CORESET 3   /* selecting the memory bank's coreset */
#define RP_STAGE_SCORE 4     /* scoring images */

typedef int (*rp_progress_fn)(const rp_progress *progress, void *user_data);

/* ---- where the time goes ------------------------------------------------------------------ */
/* Stage clocks for profiling a host application's scoring (docs/scoring.md, "Where the time goes").
 * With timing on, every call adds the wall time of each of its stages to the calling thread's
 * totals; rp_timing_take copies them out and resets them. What a call spends outside the stages
 * (checks, allocations, copies) is its whole time minus their sum. Off by default: a stage then
 * costs no clock read. */
#define RP_TIMING_DECODE 0       /* rp_image_load_*: decoding PNG / JPEG */
#define RP_TIMING_PREPROCESS 1   /* resize, crop, normalise to the network input */
#define RP_TIMING_BACKBONE 2     /* the CNN through layer3 */
#define RP_TIMING_AGGREGATE 3    /* locally aware patch features (pooling, upsampling, merge) */
#define RP_TIMING_ROUTE 4        /* choosing the category of a model of several */
#define RP_TIMING_HEAD 5         /* the embedding f (ReConPatch, PCA) */
#define RP_TIMING_KNN 6          /* nearest bank entry of every patch */
#define RP_TIMING_REWEIGHT 7     /* the image score's reweighting (the nearest entry's neighbours) */
#define RP_TIMING_MAP 8          /* the anomaly map in network-input geometry (upsample, smooth) */
#define RP_TIMING_MAP_TO_IMAGE 9 /* the map taken back to the image's own geometry */
#define RP_TIMING_COUNT 10

/* Switch the stage clocks on (non-zero) or off, process-wide. */
RP_API void rp_timing_enable(int on);
/* The calling thread's totals since the last take, in seconds, into seconds_out[0..RP_TIMING_COUNT-1]
 * (count >= RP_TIMING_COUNT, else RP_E_SHAPE), then zero them. */
RP_API int rp_timing_take(double *seconds_out, size_t count);
/* "decode", "preprocess", ... ("" out of range). */
RP_API const char *rp_timing_stage_name(int32_t stage);

#ifdef __cplusplus
}
#endif
#endif
