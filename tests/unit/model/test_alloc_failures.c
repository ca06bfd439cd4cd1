/* Out of memory at every allocation in turn: decoding a PNG and a JPEG from memory, loading
 * safetensors weights, loading a model and saving one. The hook of common/alloc.h makes the n-th
 * allocation of the library fail; for n = 1, 2, ... until the call no longer reaches an n-th
 * allocation, each call must fail with RP_E_NOMEM (its outputs NULL, a message saying so) and
 * then, with the hook off, succeed exactly as before. Nothing may leak (make check-sanitize runs
 * this test under LeakSanitizer). A failed save must leave the previous file byte for byte and
 * no temporary file beside it. Allocations inside libpng, libjpeg, cJSON and oneDNN are theirs and
 * not counted. */
#include <dirent.h>

#include "backbone/weights.h"
#include "common/alloc.h"
#include "model_fixture.h"

static char dir[256], weights_path[512];

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    ck_assert(fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

/* The message of an injected failure must say what ran out. */
static void expect_nomem(int rc, uint64_t n, const char *what)
{
    ck_assert_msg(rc == RP_E_NOMEM, "%s, allocation %llu failed: %s (%s), expected RP_E_NOMEM", what,
                  (unsigned long long)n, rp_error_name(rc), rp_last_error_message());
    ck_assert_int_eq(rp_last_error_code(), RP_E_NOMEM);
    ck_assert_msg(rp_last_error_message()[0] != 0, "%s, allocation %llu: empty message", what, (unsigned long long)n);
}

/* Decode data with allocation n failing, for n = 1.. until none fails; returns how many ran. */
static uint64_t decode_every_failure(const uint8_t *data, size_t size, const char *what)
{
    rp_image *ref = NULL;
    ck_assert_int_eq(rp_image_load_memory(data, size, NULL, &ref), RP_OK);
    for (uint64_t n = 1;; n++) {
        rp_image *img = (rp_image *)data; /* must become NULL on failure */
        rp__alloc_fail_at(n);
        int rc = rp_image_load_memory(data, size, NULL, &img);
        int injected = rp__alloc_failure_injected();
        rp__alloc_fail_at(0);
        if (!injected) {
            ck_assert_msg(rc == RP_OK, "%s: %s", what, rp_last_error_message());
            ck_assert_uint_eq(rp_image_width(img), rp_image_width(ref));
            ck_assert_uint_eq(rp_image_height(img), rp_image_height(ref));
            size_t bytes = (size_t)rp_image_width(ref) * rp_image_height(ref) * rp_image_channels(ref);
            ck_assert(memcmp(rp_image_pixels(img), rp_image_pixels(ref), bytes) == 0);
            rp_image_free(img);
            rp_image_free(ref);
            return n - 1;
        }
        expect_nomem(rc, n, what);
        ck_assert_ptr_null(img);
    }
}

START_TEST(decode__png_and_jpeg_from_memory_fail_cleanly_at_every_allocation)
{
    char path[4096];
    size_t size;
    snprintf(path, sizeof path, "%s/examples/data/bottle/test/good/000.png", rp_test_source_dir());
    uint8_t *png = read_all(path, &size);
    uint64_t n = decode_every_failure(png, size, "PNG");
    ck_assert_uint_ge(n, 2); /* the image and its pixels at least */
    free(png);
    static const char *const jpegs[] = {"jpeg_rgb420.jpg", "jpeg_gray.jpg", "jpeg_cmyk_adobe.jpg"};
    for (size_t j = 0; j < sizeof jpegs / sizeof jpegs[0]; j++) {
        snprintf(path, sizeof path, "%s/tests/data/images/decode/%s", rp_test_source_dir(), jpegs[j]);
        uint8_t *jpeg = read_all(path, &size);
        ck_assert_uint_ge(decode_every_failure(jpeg, size, jpegs[j]), 1);
        free(jpeg);
    }
}
END_TEST

START_TEST(weights__safetensors_load_fails_cleanly_at_every_allocation)
{
    rp__weights *ref = NULL;
    ck_assert_int_eq(rp__weights_load_safetensors(weights_path, &ref), RP_OK);
    uint64_t n = 1;
    for (;; n++) {
        rp__weights *w = (rp__weights *)weights_path; /* must become NULL on failure */
        rp__alloc_fail_at(n);
        int rc = rp__weights_load_safetensors(weights_path, &w);
        int injected = rp__alloc_failure_injected();
        rp__alloc_fail_at(0);
        if (!injected) {
            ck_assert_int_eq(rc, RP_OK);
            rp__weights_free(w);
            break;
        }
        expect_nomem(rc, n, "rp__weights_load_safetensors");
        ck_assert_ptr_null(w);
    }
    ck_assert_uint_ge(n, 3);
    rp__weights_free(ref);
}
END_TEST

/* Files in dir other than keep (a temporary file left by a failed save would show here). */
static int other_files(const char *keep)
{
    DIR *d = opendir(dir);
    ck_assert(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strcmp(e->d_name, keep) && strcmp(e->d_name, "weights.safetensors")) n++;
    closedir(d);
    return n;
}

/* A model of two categories (one image each), as docs/unified.md describes: its file has the
 * CATS and CBNK sections. */
static rp_model *train_categorised(int32_t method, const rp_image *const *train, double coreset)
{
    static const char *const names[2] = {"first", "second"};
    return fixture_train_categories(weights_path, method, train, 2, names, coreset);
}

static rp_model *train_plain(int32_t method, const rp_image *const *train, double coreset)
{
    return fixture_train(weights_path, method, train, 2, 16, coreset, 0);
}

typedef rp_model *(*model_maker)(int32_t method, const rp_image *const *train, double coreset);

static void load_and_save_fail_cleanly(int32_t method, model_maker make)
{
    rp_image *train[2];
    fixture_train_images(train, 2);
    rp_model *m = make(method, (const rp_image *const *)train, 0.25);
    char path[700], other[700];
    snprintf(path, sizeof path, "%s/model.rpm", dir);
    snprintf(other, sizeof other, "%s/other.rpm", dir);
    ck_assert_int_eq(rp_model_save(m, path, NULL), RP_OK);
    size_t ref_size;
    uint8_t *ref = read_all(path, &ref_size);
    rp_image *probe = fixture_image("test/broken_large/000.png");
    rp_score_result want = {.struct_size = sizeof want};
    ck_assert_int_eq(rp_score_image(m, probe, &want, NULL, 0, NULL, 0), RP_OK);

    /* Load. */
    uint64_t n = 1;
    for (;; n++) {
        rp_model *loaded = (rp_model *)path; /* must become NULL on failure */
        rp__alloc_fail_at(n);
        int rc = rp_model_load(path, NULL, &loaded);
        int injected = rp__alloc_failure_injected();
        rp__alloc_fail_at(0);
        if (!injected) {
            ck_assert_msg(rc == RP_OK, "%s", rp_last_error_message());
            rp_score_result got = {.struct_size = sizeof got};
            ck_assert_int_eq(rp_score_image(loaded, probe, &got, NULL, 0, NULL, 0), RP_OK);
            ck_assert(got.score == want.score && got.score_max == want.score_max);
            rp_model_free(loaded);
            break;
        }
        expect_nomem(rc, n, "rp_model_load");
        ck_assert_ptr_null(loaded);
    }
    ck_assert_uint_ge(n, 10);
    printf("rp_model_load: %llu allocations, each failure RP_E_NOMEM\n", (unsigned long long)(n - 1));

    /* Save over the existing file: a failure leaves it as it was, and no temporary file. An
     * other model is saved so that a success would change the bytes. */
    rp_model *m2 = make(method, (const rp_image *const *)train, 1.0);
    ck_assert_int_eq(rp_model_save(m2, other, NULL), RP_OK);
    size_t other_size;
    uint8_t *other_bytes = read_all(other, &other_size);
    ck_assert(other_size != ref_size || memcmp(other_bytes, ref, ref_size) != 0);
    remove(other);
    for (n = 1;; n++) {
        rp__alloc_fail_at(n);
        int rc = rp_model_save(m2, path, NULL);
        int injected = rp__alloc_failure_injected();
        rp__alloc_fail_at(0);
        if (!injected) {
            ck_assert_msg(rc == RP_OK, "%s", rp_last_error_message());
            break;
        }
        expect_nomem(rc, n, "rp_model_save");
        size_t size;
        uint8_t *now = read_all(path, &size);
        ck_assert_msg(size == ref_size && memcmp(now, ref, size) == 0, "allocation %llu: the old file changed",
                      (unsigned long long)n);
        free(now);
        ck_assert_msg(other_files("model.rpm") == 0, "allocation %llu: a temporary file was left",
                      (unsigned long long)n);
    }
    ck_assert_uint_ge(n, 2);
    printf("rp_model_save: %llu allocations, each failure RP_E_NOMEM\n", (unsigned long long)(n - 1));
    /* the successful save wrote m2 */
    size_t size;
    uint8_t *now = read_all(path, &size);
    ck_assert(size == other_size && memcmp(now, other_bytes, size) == 0);
    free(now);
    free(other_bytes);
    free(ref);
    remove(path);
    rp_image_free(probe);
    rp_model_free(m2);
    rp_model_free(m);
    for (int i = 0; i < 2; i++) rp_image_free(train[i]);
}

START_TEST(model__patchcore_load_and_save_fail_cleanly_at_every_allocation)
{
    load_and_save_fail_cleanly(RP_METHOD_PATCHCORE, train_plain);
}
END_TEST

START_TEST(model__reconpatch_load_and_save_fail_cleanly_at_every_allocation)
{
    load_and_save_fail_cleanly(RP_METHOD_RECONPATCH, train_plain);
}
END_TEST

START_TEST(model__categorised_load_and_save_fail_cleanly_at_every_allocation)
{
    load_and_save_fail_cleanly(RP_METHOD_RECONPATCH, train_categorised);
}
END_TEST

/* Adding a product: every failure leaves the model as it was (categories, routing, scores). Each
 * attempt starts from the model as saved (reloaded with the hook off after a success). A failure that a
 * fallback path absorbs (the coreset's scratch, say) must still give the full result. */
START_TEST(model__add_normals_fails_cleanly_at_every_allocation)
{
    rp_image *train[2];
    fixture_train_images(train, 2);
    rp_model *trained = train_categorised(RP_METHOD_RECONPATCH, (const rp_image *const *)train, 0.25);
    char path[700];
    snprintf(path, sizeof path, "%s/categorised.rpm", dir);
    ck_assert_int_eq(rp_model_save(trained, path, NULL), RP_OK);
    rp_model_free(trained);
    rp_image *probe = fixture_image("test/broken_large/000.png");
    rp_train_params p;
    rp_train_params_init(&p, sizeof p);
    p.calibration_fraction = 0.5; /* the calibration step too */
    fixture_params small; /* the new product's own head: the fixture's small trainer, one image */
    fixture_params_init(&small, weights_path, RP_METHOD_RECONPATCH, 16, 0.25);
    small.tp.val_fraction = -1;
    p.trainer = &small.tp;
    uint64_t n = 1, absorbed = 0;
    rp_model *m = NULL;
    rp_score_result want = {.struct_size = sizeof want};
    for (;; n++) {
        if (!m) { /* a failed attempt leaves the model as it was: reload only after a success */
            ck_assert_int_eq(rp_model_load(path, NULL, &m), RP_OK);
            ck_assert_int_eq(rp_score_image(m, probe, &want, NULL, 0, NULL, 0), RP_OK);
        }
        rp__alloc_fail_at(n);
        int rc = rp_model_add_normal_images(m, "third", (const rp_image *const *)train, 2, &p, NULL, NULL);
        int injected = rp__alloc_failure_injected();
        rp__alloc_fail_at(0);
        if (rc == RP_OK) {
            ck_assert_uint_eq(rp_model_category_count(m), 3);
            rp_model_thresholds t = {.struct_size = sizeof t};
            ck_assert_int_eq(rp_model_get_category_thresholds(m, 2, &t, sizeof t), RP_OK);
            ck_assert_uint_eq(t.calibration_images, 1);
            absorbed += injected;
            rp_model_free(m);
            m = NULL;
        } else {
            expect_nomem(rc, n, "rp_model_add_normal_images");
            ck_assert_uint_eq(rp_model_category_count(m), 2);
            rp_score_result got = {.struct_size = sizeof got};
            ck_assert_int_eq(rp_score_image(m, probe, &got, NULL, 0, NULL, 0), RP_OK);
            ck_assert(got.score == want.score && got.category == want.category);
        }
        if (!injected) break;
    }
    rp_model_free(m);
    ck_assert_uint_ge(n, 10);
    printf("rp_model_add_normal_images: %llu allocations, each failure RP_E_NOMEM or (%llu) absorbed by a "
           "fallback with the full result\n", (unsigned long long)(n - 1), (unsigned long long)absorbed);
    remove(path);
    rp_image_free(probe);
    for (int i = 0; i < 2; i++) rp_image_free(train[i]);
}
END_TEST

int main(void)
{
    fixture_make_dir(dir, sizeof dir);
    snprintf(weights_path, sizeof weights_path, "%s/weights.safetensors", dir);
    if (fixture_write_weights(weights_path, 11)) return 1;
    Suite *s = suite_create("alloc_failures");
    TCase *tc = tcase_create("alloc_failures");
    tcase_add_test(tc, decode__png_and_jpeg_from_memory_fail_cleanly_at_every_allocation);
    tcase_add_test(tc, weights__safetensors_load_fails_cleanly_at_every_allocation);
    tcase_add_test(tc, model__patchcore_load_and_save_fail_cleanly_at_every_allocation);
    tcase_add_test(tc, model__reconpatch_load_and_save_fail_cleanly_at_every_allocation);
    tcase_add_test(tc, model__categorised_load_and_save_fail_cleanly_at_every_allocation);
    tcase_add_test(tc, model__add_normals_fails_cleanly_at_every_allocation);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_remove_dir(dir);
    return rc;
}
