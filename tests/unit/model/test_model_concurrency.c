/* Eight threads scoring one model at once (docs/threading.md: rp_score_image on one model from any
 * number of threads): every score, decision and heat map must equal the single-threaded ones bit
 * for bit. PatchCore and ReConPatch (its embedding) on a small random backbone, so no cached
 * weights are needed; the ThreadSanitizer build (make check-tsan) runs this suite. */
#include <math.h>
#include <pthread.h>

#include "model_fixture.h"

#define N_TEST 4
#define N_THREADS 8
#define ROUNDS 1

static char dir[256], weights_path[512];
static rp_image *test_images[N_TEST];

typedef struct scored {
    rp_score_result result;
    float *map;
    size_t map_floats;
} scored;

static void score_one(const rp_model *m, const rp_image *img, scored *out, int *rc)
{
    out->map_floats = (size_t)rp_image_width(img) * rp_image_height(img);
    if (!out->map) out->map = malloc(out->map_floats * sizeof(float));
    memset(&out->result, 0, sizeof out->result);
    out->result.struct_size = sizeof out->result;
    *rc = rp_score_image(m, img, &out->result, out->map, out->map_floats, NULL, 0);
}

typedef struct job {
    const rp_model *model;
    int first; /* each thread starts at another image */
    scored out[N_TEST];
    int rc;
} job;

static void *score_in_thread(void *arg)
{
    job *j = arg;
    j->rc = RP_OK;
    for (int r = 0; r < ROUNDS && j->rc == RP_OK; r++)
        for (int k = 0; k < N_TEST && j->rc == RP_OK; k++) {
            int i = (j->first + k) % N_TEST;
            score_one(j->model, test_images[i], &j->out[i], &j->rc);
        }
    return NULL;
}

static void eight_threads_match_serial(int32_t method)
{
    rp_image *train[4];
    fixture_train_images(train, 4);
    rp_model *m = fixture_train(weights_path, method, (const rp_image *const *)train, 4, 32, 0.5, 0.25);
    scored ref[N_TEST] = {0};
    for (int i = 0; i < N_TEST; i++) {
        int rc;
        score_one(m, test_images[i], &ref[i], &rc);
        ck_assert_msg(rc == RP_OK, "serial score %d: %s", i, rp_last_error_message());
        /* (the random backbone's distances are large: the reweighting factor can be 0) */
        ck_assert_msg(isfinite(ref[i].result.score_max) && ref[i].result.score_max > 0 && ref[i].result.score >= 0,
                      "image %d: score %g, max %g", i, ref[i].result.score, ref[i].result.score_max);
    }
    /* The thresholds came from the held-out image: the decisions are real ones, not NONE. */
    ck_assert_int_ne(ref[0].result.decision, RP_DECISION_NONE);
    job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].model = m;
        jobs[t].first = t % N_TEST;
        jobs[t].rc = -100;
        ck_assert_int_eq(pthread_create(&th[t], NULL, score_in_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++) ck_assert_int_eq(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < N_THREADS; t++) {
        ck_assert_msg(jobs[t].rc == RP_OK, "thread %d: %s", t, rp_error_name(jobs[t].rc));
        for (int i = 0; i < N_TEST; i++) {
            ck_assert_msg(memcmp(&jobs[t].out[i].result, &ref[i].result, sizeof ref[i].result) == 0,
                          "thread %d image %d: score %.9g != %.9g", t, i, jobs[t].out[i].result.score,
                          ref[i].result.score);
            ck_assert_msg(memcmp(jobs[t].out[i].map, ref[i].map, ref[i].map_floats * sizeof(float)) == 0,
                          "thread %d image %d: heat map differs", t, i);
            free(jobs[t].out[i].map);
        }
    }
    for (int i = 0; i < N_TEST; i++) free(ref[i].map);
    for (int i = 0; i < 4; i++) rp_image_free(train[i]);
    rp_model_free(m);
}

START_TEST(score_image__eight_threads_on_one_patchcore_model_match_serial)
{
    eight_threads_match_serial(RP_METHOD_PATCHCORE);
}
END_TEST

START_TEST(score_image__eight_threads_on_one_reconpatch_model_match_serial)
{
    eight_threads_match_serial(RP_METHOD_RECONPATCH);
}
END_TEST

int main(void)
{
    fixture_make_dir(dir, sizeof dir);
    snprintf(weights_path, sizeof weights_path, "%s/weights.safetensors", dir);
    if (fixture_write_weights(weights_path, 3)) return 1;
    test_images[0] = fixture_image("test/good/000.png");
    test_images[1] = fixture_image("test/broken_large/000.png");
    test_images[2] = fixture_image("test/good/005.png");
    test_images[3] = fixture_image("test/broken_large/004.png");

    Suite *s = suite_create("model_concurrency");
    TCase *tc = tcase_create("concurrency");
    tcase_add_test(tc, score_image__eight_threads_on_one_patchcore_model_match_serial);
    tcase_add_test(tc, score_image__eight_threads_on_one_reconpatch_model_match_serial);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    for (int i = 0; i < N_TEST; i++) rp_image_free(test_images[i]);
    fixture_remove_dir(dir);
    return rc;
}
