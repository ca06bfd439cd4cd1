/* The model object (struct rp_model) and putting one together: shared by its own files here
 * (model.c, assemble.c, the file format in model_save.c / model_load.c) and by the pipeline
 * (pipeline/train.c, pipeline/calibrate.c). Not installed. */
#ifndef RP_MODEL_INTERNAL_H
#define RP_MODEL_INTERNAL_H

#include "common/common.h"

/* What the backbone was: enough to find (referenced) or check (embedded) its weights again. */
typedef struct rp__backbone_identity {
    int32_t arch;          /* RP_ARCH_* (0 for reduced-width test networks) */
    int32_t layout;        /* RP_LAYOUT_* */
    char sha256[65];       /* of the original weights file(s), as rp__weights_load reports it */
    char *weights_path;    /* the file the model was built from (absolute when known); for a
                              model loaded with embedded weights the path recorded as a hint, or
                              NULL */
    uint8_t *embedded;     /* the embedded safetensors blob when loaded from such a file, so the
                              model can be saved again with its weights; else NULL */
    size_t embedded_size;
} rp__backbone_identity;

/* Which head made a category's bank vectors (docs/unified.md). Category 0 always has the model's.
 * The values are those the model file stores (CBNK offset 4, model_format.h). */
#define RP__HEAD_MODEL 0u /* the model's embedding (none for PatchCore) */
#define RP__HEAD_OWN 1u   /* the category's own_head, fitted on its images alone */
#define RP__HEAD_NONE 2u  /* no head: the backbone's patch features (a product added without one) */

/* One product the model knows: its own coreset bank, the scorer over it, its thresholds. A model
 * trained on one product has exactly one, unnamed. */
typedef struct rp__category {
    char *name;                     /* NULL for the one category of a single-product model */
    rp_bank *bank;
    rp_scorer *scorer;              /* borrows the model's extractor, this category's head and bank */
    rp_model_thresholds thresholds; /* rule NONE and NaN thresholds until calibrated */
    uint32_t head_kind;             /* RP__HEAD_* */
    rp_embedding *own_head;         /* owned; set only for RP__HEAD_OWN */
} rp__category;

/* The head that turns category c's patch features into its bank's vectors (NULL: none). */
const rp_embedding *rp__category_head(const rp_model *model, uint32_t c);

/* Which category an image belongs to: one global descriptor per training image (the mean of its
 * patch features, before any head) and that image's category. Empty for one category. */
typedef struct rp__router {
    float *descriptors; /* count x dim */
    uint32_t *category; /* count */
    uint32_t count, capacity, dim;
} rp__router;

struct rp_model {
    int32_t method;                     /* RP_METHOD_* */
    rp_extractor *extractor;
    rp_embedding *embedding;            /* NULL for PatchCore */
    uint32_t n_categories;              /* at least 1 */
    rp__category *categories;
    rp__router router;
    rp_extractor_params extractor_params; /* resolved (no zero defaults), weights_path NULL */
    rp__backbone_identity backbone;
};

/* No thresholds: rule NONE, every value NaN (a new category, before calibration). */
void rp__thresholds_none(rp_model_thresholds *t);

/* Most categories one model holds (a bound for the file reader). */
#define RP__MAX_CATEGORIES 1024u

/* A zeroed model of n_categories (1..RP__MAX_CATEGORIES) unnamed categories with no thresholds
 * (NaN), or NULL when out of memory. */
rp_model *rp__model_alloc(uint32_t n_categories);

/* After extractor, embedding and every category's bank are in place: record the extractor's
 * resolved params and create each category's scorer (its geometry taken from those params).
 * scorer_params may be NULL; fn names the public function for messages. */
int rp__model_finish(rp_model *model, const rp_scorer_params *scorer_params, const char *fn);

/* The scorer of category c (its bank in place) with the settings of category 0's. */
int rp__model_add_category_scorer(rp_model *model, uint32_t c);

/* ---- categories and routing (categories.c) ---- */

/* The global descriptor of one image: the mean over its patches of its patch features (dim floats). */
void rp__route_descriptor(const float *features, uint32_t patches, uint32_t dim, float *out);

/* The category of the training image whose descriptor is nearest (squared distance) to d;
 * 0 for a model of one category. */
uint32_t rp__route(const rp_model *model, const float *descriptor);

/* Append one training image's descriptor to the router (grows its arrays). RP_E_NOMEM only. */
int rp__router_add(rp__router *router, const float *descriptor, uint32_t dim, uint32_t category);

void rp__router_clear(rp__router *router);

/* The category of an image from its patch features (grid^2 x dim floats): rp__route of their
 * descriptor. RP_E_NOMEM only. */
int rp__route_features(const rp_model *model, const float *features, uint32_t patches, uint32_t dim,
                       uint32_t *category_out);

/* Score one image in category (below n_categories, or RP__ROUTE: the router chooses), writing the
 * category used to *category_out (may be NULL). result and map as rp_scorer_score (map in the
 * image's geometry); messages name the step that failed, the caller adds its own name. */
#define RP__ROUTE UINT32_MAX
int rp__model_score(const rp_model *model, uint32_t category, const rp_image *image, rp_score_result *result,
                    float *map_image_out, size_t map_image_floats, uint32_t *category_out);

/* The decision part of a score in category: category, threshold, decision, pixel_threshold. */
void rp__model_decide(const rp_model *model, uint32_t category, rp_score_result *full);

/* An rp_extractor_params with its defaults resolved, with the backbone loaded from
 * params->weights_path, recording the backbone's identity into *identity (weights_path made
 * absolute). On failure nothing is allocated. */
int rp__model_create_extractor(const rp_extractor_params *params, rp_extractor **extractor_out,
                               rp__backbone_identity *identity);

void rp__backbone_identity_clear(rp__backbone_identity *identity);

#endif
