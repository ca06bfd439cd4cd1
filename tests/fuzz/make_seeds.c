/* Writes a seed corpus for fuzz_model_load into the folder given as argument: valid model files of
 * a small random backbone (embedded weights; referenced weights; PatchCore; ReConPatch with
 * thresholds; a keep_aspect model, which is written as format version 2, the others as version 1;
 * a model of three categories with thresholds, format version 4; ReConPatch over two categories with
 * a head each and a third added without one, format version 5), so the fuzzer starts from inputs
 * that reach every section's decoder in every version. */
#include "../unit/model/model_fixture.h"

/* PatchCore over three categories, one image each (CATS, two CBNK sections), with thresholds. */
static rp_model *train_categories(const char *weights, const rp_image *const *imgs)
{
    static const char *const names[3] = {"a", "bb", "ccc"};
    rp_model *m = fixture_train_categories(weights, RP_METHOD_PATCHCORE, imgs, 3, names, 0.01);
    rp_model_thresholds t = {.struct_size = sizeof t, .image_threshold = 1.5, .pixel_threshold = 2.5};
    rp_model_set_thresholds(m, &t);
    return m;
}

/* ReConPatch over two categories (category 1's own head: a CHED) and a third added with no head
 * (a CBNK of head kind "none"). */
static rp_model *train_category_heads(const char *weights, const rp_image *const *imgs)
{
    static const char *const names[2] = {"a", "bb"};
    rp_model *m = fixture_train_categories(weights, RP_METHOD_RECONPATCH, imgs, 2, names, 0.01);
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.heads = RP_HEADS_NONE;
    if (m && rp_model_add_normal_images(m, "ccc", imgs + 2, 1, &p, NULL, NULL)) {
        rp_model_free(m);
        return NULL;
    }
    return m;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    char weights[4096], path[4200];
    snprintf(weights, sizeof weights, "%s/seed-weights.safetensors", argv[1]);
    if (fixture_write_weights(weights, 1)) return 1;
    rp_image *imgs[3];
    fixture_train_images(imgs, 3);
    rp_model *pc = fixture_train(weights, RP_METHOD_PATCHCORE, (const rp_image *const *)imgs, 2, 16, 0.01, 0);
    rp_model *rc = fixture_train(weights, RP_METHOD_RECONPATCH, (const rp_image *const *)imgs, 3, 16, 0.01, 0.34);
    rp_model *aspect = fixture_train_keep_aspect(weights, (const rp_image *const *)imgs, 2, 16);
    rp_model *categories = train_categories(weights, (const rp_image *const *)imgs);
    rp_model *heads = train_category_heads(weights, (const rp_image *const *)imgs);
    if (!heads) {
        fprintf(stderr, "training the category heads model failed: %s\n", rp_last_error_message());
        return 1;
    }
    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    int err = 0;
    snprintf(path, sizeof path, "%s/patchcore-referenced.rpm", argv[1]);
    err |= rp_model_save(pc, path, &sp);
    snprintf(path, sizeof path, "%s/reconpatch-referenced.rpm", argv[1]);
    err |= rp_model_save(rc, path, &sp);
    snprintf(path, sizeof path, "%s/patchcore-keep-aspect-v2.rpm", argv[1]);
    err |= rp_model_save(aspect, path, &sp);
    snprintf(path, sizeof path, "%s/patchcore-categories-v4.rpm", argv[1]);
    err |= rp_model_save(categories, path, &sp);
    snprintf(path, sizeof path, "%s/reconpatch-category-heads-v5.rpm", argv[1]);
    err |= rp_model_save(heads, path, &sp);
    sp.embed_weights = 1;
    snprintf(path, sizeof path, "%s/reconpatch-embedded.rpm", argv[1]);
    err |= rp_model_save(rc, path, &sp);
    if (err) fprintf(stderr, "save failed: %s\n", rp_last_error_message());
    unlink(weights); /* the fuzz target never reads referenced weights */
    rp_model_free(pc);
    rp_model_free(rc);
    rp_model_free(aspect);
    rp_model_free(categories);
    rp_model_free(heads);
    rp_image_free(imgs[0]);
    rp_image_free(imgs[1]);
    rp_image_free(imgs[2]);
    return err ? 1 : 0;
}
