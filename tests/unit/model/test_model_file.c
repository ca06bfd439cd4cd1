/* The model file: round trips give bit-identical scores and maps, embedded and referenced weights,
 * every kind of damage, versions, and the atomic save under SIGKILL. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <dnnl.h>

#include "bank/bank_internal.h"
#include "bank/knn.h"
#include "model/le_bytes.h"
#include "model/model_io.h"
#include "model_fixture.h"

#define N_TRAIN 8
#define N_TEST 3

static char dir[256], weights_path[1024], weights2_path[1024];
static rp_image *train_images[N_TRAIN], *test_images[N_TEST];
static rp_model *model_pc, *model_rc, *model_small, *model_big;

/* Everything rp_score_image gives for the test images, to compare bit for bit. */
typedef struct outputs {
    rp_score_result result[N_TEST];
    float *map[N_TEST];
} outputs;

static void score_all(const rp_model *m, outputs *o)
{
    for (int i = 0; i < N_TEST; i++) {
        size_t n = (size_t)rp_image_width(test_images[i]) * rp_image_height(test_images[i]);
        o->map[i] = malloc(n * sizeof(float));
        memset(&o->result[i], 0, sizeof o->result[i]);
        o->result[i].struct_size = sizeof o->result[i];
        ck_assert_int_eq(rp_score_image(m, test_images[i], &o->result[i], o->map[i], n, NULL, 0), RP_OK);
    }
}

static int outputs_equal(const outputs *a, const outputs *b)
{
    for (int i = 0; i < N_TEST; i++) {
        size_t n = (size_t)rp_image_width(test_images[i]) * rp_image_height(test_images[i]);
        /* memcmp: NaN thresholds compare equal bit for bit, and "bit-identical" is the claim. */
        if (memcmp(&a->result[i], &b->result[i], sizeof a->result[i]) != 0) return 0;
        if (memcmp(a->map[i], b->map[i], n * sizeof(float)) != 0) return 0;
    }
    return 1;
}

static void outputs_free(outputs *o)
{
    for (int i = 0; i < N_TEST; i++) free(o->map[i]);
}

static const char *in_dir(char *buf, const char *name)
{
    snprintf(buf, 1024, "%s/%s", dir, name);
    return buf;
}

static void assert_same_model(const rp_model *a, const rp_model *b)
{
    outputs oa, ob;
    score_all(a, &oa);
    score_all(b, &ob);
    ck_assert_msg(outputs_equal(&oa, &ob), "scores or maps differ after the round trip");
    outputs_free(&oa);
    outputs_free(&ob);
    ck_assert_int_eq(rp_model_method(a), rp_model_method(b));
    uint64_t n = rp_bank_size(rp_model_bank(a));
    uint32_t d = rp_bank_dim(rp_model_bank(a));
    ck_assert_uint_eq(rp_bank_size(rp_model_bank(b)), n);
    ck_assert_uint_eq(rp_bank_dim(rp_model_bank(b)), d);
    float *va = malloc(n * d * sizeof(float)), *vb = malloc(n * d * sizeof(float));
    ck_assert_int_eq(rp_bank_get_vectors(rp_model_bank(a), va, n * d), RP_OK);
    ck_assert_int_eq(rp_bank_get_vectors(rp_model_bank(b), vb, n * d), RP_OK);
    ck_assert(memcmp(va, vb, n * d * sizeof(float)) == 0);
    free(va);
    free(vb);
    rp_model_thresholds ta, tb;
    ck_assert_int_eq(rp_model_get_thresholds(a, &ta, sizeof ta), RP_OK);
    ck_assert_int_eq(rp_model_get_thresholds(b, &tb, sizeof tb), RP_OK);
    ck_assert(memcmp(&ta, &tb, sizeof ta) == 0);
}

static rp_model *load_ok(const char *path, const rp_model_load_params *lp)
{
    rp_model *m = NULL;
    int rc = rp_model_load(path, lp, &m);
    ck_assert_msg(rc == RP_OK, "rp_model_load(%s): %s", path, rp_last_error_message());
    return m;
}

static void save_ok(const rp_model *m, const char *path, int embed, const char *weights)
{
    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    sp.embed_weights = (uint32_t)embed;
    sp.weights_path = weights;
    int rc = rp_model_save(m, path, &sp);
    ck_assert_msg(rc == RP_OK, "rp_model_save(%s): %s", path, rp_last_error_message());
}

START_TEST(crc32__matches_the_standard_check_value)
{
    /* The CRC-32 catalogue's check value for "123456789" (zlib, PNG, Ethernet). */
    ck_assert_uint_eq(rp__crc32(0, "123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(rp__crc32(rp__crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}
END_TEST

START_TEST(round_trip__patchcore_referenced_is_bit_identical)
{
    char path[1024];
    save_ok(model_pc, in_dir(path, "pc.rpm"), 0, NULL);
    rp_model *loaded = load_ok(path, NULL);
    assert_same_model(model_pc, loaded);
    ck_assert_ptr_null(rp_model_embedding(loaded));
    rp_model_free(loaded);
}
END_TEST

START_TEST(round_trip__reconpatch_embedded_is_bit_identical_with_head_and_thresholds)
{
    char path[1024];
    save_ok(model_rc, in_dir(path, "rc.rpm"), 1, NULL);
    rp_model *loaded = load_ok(path, NULL);
    assert_same_model(model_rc, loaded);
    const rp_embedding *ea = rp_model_embedding(model_rc), *eb = rp_model_embedding(loaded);
    ck_assert_ptr_nonnull(eb);
    uint32_t in = rp_embedding_in_dim(ea), out = rp_embedding_out_dim(ea);
    ck_assert_uint_eq(rp_embedding_in_dim(eb), in);
    ck_assert_uint_eq(rp_embedding_out_dim(eb), out);
    float *wa = malloc((size_t)in * out * 4), *wb = malloc((size_t)in * out * 4), ba[64], bb[64];
    ck_assert_int_eq(rp_embedding_get(ea, wa, (size_t)in * out, ba, out), RP_OK);
    ck_assert_int_eq(rp_embedding_get(eb, wb, (size_t)in * out, bb, out), RP_OK);
    ck_assert(memcmp(wa, wb, (size_t)in * out * 4) == 0 && memcmp(ba, bb, out * 4) == 0);
    free(wa);
    free(wb);
    rp_model_thresholds t;
    rp_model_get_thresholds(loaded, &t, sizeof t);
    ck_assert_int_eq(t.rule, RP_THRESHOLD_RULE_QUANTILE);
    ck_assert(isfinite(t.image_threshold) && isfinite(t.pixel_threshold));
    rp_model_free(loaded);
}
END_TEST

/* Walks the file with the layout of docs/model-format.md, independently of the reader. */
START_TEST(layout__header_and_sections_follow_the_documented_bytes)
{
    char path[1024];
    save_ok(model_pc, in_dir(path, "layout.rpm"), 0, NULL);
    uint8_t *d;
    size_t size;
    ck_assert_int_eq(fixture_read_file(path, &d, &size), 0);
    const uint8_t magic[8] = {0x89, 'R', 'P', 'M', 0x0D, 0x0A, 0x1A, 0x0A};
    ck_assert(memcmp(d, magic, 8) == 0);
    ck_assert_uint_eq(rp__le_get_u32(d + 8), 1); /* uses nothing of version 2 */
    ck_assert_uint_eq(rp__le_get_u64(d + 16), size);
    ck_assert_uint_eq(rp__le_get_u32(d + 28), rp__crc32(0, d, 28));
    const char *order[] = {"MODL", "EXTR", "BKBN", "BANK", "SCOR", "THRS"};
    ck_assert_uint_eq(rp__le_get_u32(d + 12), 6);
    size_t pos = 32;
    for (int i = 0; i < 6; i++) {
        ck_assert(memcmp(d + pos, order[i], 4) == 0);
        uint64_t len = rp__le_get_u64(d + pos + 8);
        const uint8_t *payload = d + pos + 16;
        ck_assert_uint_eq(rp__le_get_u32(payload + len), rp__crc32(0, d + pos, 16 + len));
        if (i == 0) ck_assert_int_eq((int32_t)rp__le_get_u32(payload), RP_METHOD_PATCHCORE);
        if (i == 1) {
            ck_assert_uint_eq(len, 48); /* version 1: no keep_aspect */
            ck_assert_uint_eq(rp__le_get_u32(payload + 8), 256);  /* resize */
            ck_assert_uint_eq(rp__le_get_u32(payload + 16), 0);   /* no_crop */
            ck_assert_uint_eq(rp__le_get_u32(payload + 12), 224); /* crop */
            ck_assert_uint_eq(rp__le_get_u32(payload + 24), 64);  /* feature_dim */
            ck_assert_uint_eq(rp__le_get_u32(payload + 28), 3);   /* patch_size */
        }
        if (i == 2) {
            ck_assert_uint_eq(rp__le_get_u32(payload + 72), 1); /* referenced */
            uint32_t n = rp__le_get_u32(payload + 76);
            ck_assert_uint_eq(len, 80 + n);
            ck_assert(n == strlen(weights_path) && memcmp(payload + 80, weights_path, n) == 0);
        }
        if (i == 3) {
            uint32_t dim = rp__le_get_u32(payload);
            uint64_t count = rp__le_get_u64(payload + 8);
            ck_assert_uint_eq(dim, 64);
            ck_assert_uint_eq(count, rp_bank_size(rp_model_bank(model_pc)));
            float first;
            rp_bank_get_vectors(rp_model_bank(model_pc), NULL, 0); /* (error path, ignored) */
            float *v = malloc(count * dim * 4);
            rp_bank_get_vectors(rp_model_bank(model_pc), v, count * dim);
            first = rp__le_get_f32(payload + 16);
            ck_assert(memcmp(&first, &v[0], 4) == 0);
            free(v);
        }
        pos += 16 + len + 4;
    }
    ck_assert_uint_eq(pos, size);
    free(d);
}
END_TEST

START_TEST(weights__embedded_model_loads_after_the_weights_file_is_gone)
{
    char wcopy[1024], emb[1024], ref[1024], again[1024];
    in_dir(wcopy, "gone.safetensors");
    ck_assert_int_eq(fixture_write_weights(wcopy, 1), 0); /* same bytes as weights_path */
    rp_model *m = fixture_train(wcopy, RP_METHOD_PATCHCORE, (const rp_image *const *)train_images, 4, 64, 0.05, 0);
    save_ok(m, in_dir(emb, "emb.rpm"), 1, NULL);
    save_ok(m, in_dir(ref, "ref.rpm"), 0, NULL);
    ck_assert_int_eq(unlink(wcopy), 0);
    rp_model *bad = (rp_model *)0x1;
    ck_assert_int_eq(rp_model_load(ref, NULL, &bad), RP_E_IO);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "gone.safetensors"));
    rp_model *loaded = load_ok(emb, NULL);
    assert_same_model(m, loaded);
    /* Saved again with its weights, the file is byte for byte the same. */
    save_ok(loaded, in_dir(again, "emb2.rpm"), 1, NULL);
    uint8_t *a, *b;
    size_t na, nb;
    ck_assert_int_eq(fixture_read_file(emb, &a, &na), 0);
    ck_assert_int_eq(fixture_read_file(again, &b, &nb), 0);
    ck_assert(na == nb && memcmp(a, b, na) == 0);
    free(a);
    free(b);
    /* Referenced: the path recorded as a hint is checked, and it is gone. */
    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    ck_assert_int_eq(rp_model_save(loaded, again, &sp), RP_E_IO);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "gone.safetensors"));
    /* ... and a file with the same bytes is accepted. */
    save_ok(loaded, again, 0, weights_path);
    rp_model *via_ref = load_ok(again, NULL);
    assert_same_model(m, via_ref);
    rp_model_free(via_ref);
    rp_model_free(loaded);
    rp_model_free(m);
}
END_TEST

START_TEST(weights__referenced_file_that_changed_fails_with_format)
{
    char wcopy[1024], path[1024];
    in_dir(wcopy, "changing.safetensors");
    ck_assert_int_eq(fixture_write_weights(wcopy, 1), 0);
    save_ok(model_pc, in_dir(path, "changing.rpm"), 0, wcopy);
    rp_model *m = load_ok(path, NULL);
    rp_model_free(m);
    ck_assert_int_eq(fixture_write_weights(wcopy, 2), 0); /* other weights, same path */
    m = (rp_model *)0x1;
    ck_assert_int_eq(rp_model_load(path, NULL, &m), RP_E_FORMAT);
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "sha256"));
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "changing.safetensors"));
    /* The caller can point the model at a file with the right content. */
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    lp.weights_path = weights_path;
    m = load_ok(path, &lp);
    assert_same_model(model_pc, m);
    rp_model_free(m);
}
END_TEST

START_TEST(weights__saving_a_reference_to_other_weights_fails_and_writes_nothing)
{
    char path[1024];
    in_dir(path, "never.rpm");
    rp_model_save_params sp;
    rp_model_save_params_init(&sp, sizeof sp);
    sp.weights_path = weights2_path;
    ck_assert_int_eq(rp_model_save(model_pc, path, &sp), RP_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "sha256"));
    ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(weights__relative_path_is_taken_from_the_model_folder)
{
    char path[1024], cwd[1024];
    save_ok(model_pc, in_dir(path, "relative.rpm"), 0, "weights.safetensors");
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir("/"), 0);
    rp_model *m = load_ok(path, NULL);
    ck_assert_int_eq(chdir(cwd), 0);
    assert_same_model(model_pc, m);
    rp_model_free(m);
}
END_TEST

static uint8_t *small_file(size_t *size)
{
    char path[1024];
    save_ok(model_small, in_dir(path, "small.rpm"), 0, NULL);
    uint8_t *d;
    ck_assert_int_eq(fixture_read_file(path, &d, size), 0);
    return d;
}

static void expect_load_error(const uint8_t *d, size_t size, int code, const char *what)
{
    rp_model *m = (rp_model *)0x1;
    int rc = rp_model_load_memory(d, size, NULL, &m);
    ck_assert_msg(rc == code, "%s: got %s (%s)", what, rp_error_name(rc), rp_last_error_message());
    ck_assert_ptr_null(m);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "rp_model_load_memory"));
}

/* A model trained in fp32 scores in bf16 when loaded so (where the CPU runs bf16 natively; elsewhere
 * the load refuses with RP_E_UNSUPPORTED): close scores, not the same ones; AUTO resolves. */
START_TEST(load__precision_override_scores_in_the_asked_precision)
{
    size_t size;
    uint8_t *d = small_file(&size);
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    lp.precision = 9;
    rp_model *m = (rp_model *)0x1;
    ck_assert_int_eq(rp_model_load_memory(d, size, &lp, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "params.precision 9"));
    const int native = (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
    lp.precision = RP_PRECISION_BF16;
    int rc = rp_model_load_memory(d, size, &lp, &m);
    if (!native) {
        ck_assert_int_eq(rc, RP_E_UNSUPPORTED);
    } else {
        ck_assert_int_eq(rc, RP_OK);
        rp_extractor_info info;
        info.struct_size = sizeof info;
        ck_assert_int_eq(rp_extractor_get_info(rp_model_extractor(m), &info, sizeof info), RP_OK);
        ck_assert_int_eq(info.precision, RP_PRECISION_BF16);
        int differ = 0;
        for (int i = 0; i < 3; i++) {
            rp_score_result a, b;
            a.struct_size = b.struct_size = sizeof a;
            ck_assert_int_eq(rp_score_image(model_small, test_images[i], &a, NULL, 0, NULL, 0), RP_OK);
            ck_assert_int_eq(rp_score_image(m, test_images[i], &b, NULL, 0, NULL, 0), RP_OK);
            ck_assert_msg(fabs(a.score - b.score) <= 0.05 * fabs(a.score), "fp32 %g, bf16 %g", a.score, b.score);
            differ += a.score != b.score;
        }
        ck_assert_msg(differ > 0, "bf16 scores identical to fp32: the bf16 backbone did not run");
        rp_model_free(m);
    }
    lp.precision = RP_PRECISION_AUTO;
    ck_assert_int_eq(rp_model_load_memory(d, size, &lp, &m), RP_OK);
    rp_extractor_info info;
    info.struct_size = sizeof info;
    ck_assert_int_eq(rp_extractor_get_info(rp_model_extractor(m), &info, sizeof info), RP_OK);
    ck_assert_int_eq(info.precision, native ? RP_PRECISION_BF16 : RP_PRECISION_FP32);
    rp_model_free(m);
    free(d);
}
END_TEST

START_TEST(damage__every_flipped_byte_fails_with_format)
{
    size_t size;
    uint8_t *d = small_file(&size);
    rp_model *m = NULL;
    ck_assert_int_eq(rp_model_load_memory(d, size, NULL, &m), RP_OK); /* intact: loads */
    rp_model_free(m);
    ck_assert_uint_lt(size, 65536); /* small enough to try every byte */
    for (size_t i = 0; i < size; i++) {
        d[i] ^= 0x5A;
        char what[64];
        snprintf(what, sizeof what, "byte %zu of %zu flipped", i, size);
        expect_load_error(d, size, RP_E_FORMAT, what);
        d[i] ^= 0x5A;
    }
    free(d);
}
END_TEST

START_TEST(damage__every_truncation_fails_with_format)
{
    size_t size;
    uint8_t *d = small_file(&size);
    for (size_t n = 0; n < size; n++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu of %zu", n, size);
        expect_load_error(d, n, RP_E_FORMAT, what);
    }
    /* A truncation whose header was made consistent again is still caught by the sections. */
    for (size_t n = 40; n < size; n += 97) {
        uint8_t *t = malloc(n);
        memcpy(t, d, n);
        rp__le_put_u64(t + 16, n);
        rp__le_put_u32(t + 28, rp__crc32(0, t, 28));
        expect_load_error(t, n, RP_E_FORMAT, "consistent header, truncated body");
        free(t);
    }
    free(d);
}
END_TEST

START_TEST(damage__trailing_bytes_and_bad_magic_fail_with_format)
{
    size_t size;
    uint8_t *d = small_file(&size);
    uint8_t *longer = malloc(size + 3);
    memcpy(longer, d, size);
    memset(longer + size, 0, 3);
    expect_load_error(longer, size + 3, RP_E_FORMAT, "trailing bytes");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "trailing"));
    d[1] = 'X';
    expect_load_error(d, size, RP_E_FORMAT, "bad magic");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "magic"));
    free(longer);
    free(d);
}
END_TEST

START_TEST(version__newer_format_fails_with_version)
{
    size_t size;
    uint8_t *d = small_file(&size);
    rp__le_put_u32(d + 8, RP_MODEL_FORMAT_VERSION + 1);
    rp__le_put_u32(d + 28, rp__crc32(0, d, 28));
    expect_load_error(d, size, RP_E_VERSION, "version + 1");
    char newer[32];
    snprintf(newer, sizeof newer, "version %d", RP_MODEL_FORMAT_VERSION + 1);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), newer));
    free(d);
}
END_TEST

/* The file rewritten in another format version: EXTR is 48 bytes in version 1 and 52 in version 2
 * (keep_aspect appended, 0 here); that section's length and CRC, the file size, the version and the
 * header CRC are updated. Nothing else differs between the two versions' layouts. */
static uint8_t *as_version(const uint8_t *d, size_t size, uint32_t version, size_t *new_size)
{
    const uint64_t extr_len = version == 1 ? 48 : 52;
    uint8_t *out = calloc(1, size + 4);
    size_t pos = 32, o = 32;
    memcpy(out, d, 32);
    for (uint32_t i = 0, n = rp__le_get_u32(d + 12); i < n; i++) {
        uint64_t len = rp__le_get_u64(d + pos + 8);
        const uint64_t new_len = memcmp(d + pos, "EXTR", 4) == 0 ? extr_len : len;
        memcpy(out + o, d + pos, 16 + (new_len < len ? new_len : len));
        rp__le_put_u64(out + o + 8, new_len);
        rp__le_put_u32(out + o + 16 + new_len, rp__crc32(0, out + o, 16 + new_len));
        pos += 16 + len + 4;
        o += 16 + new_len + 4;
    }
    rp__le_put_u32(out + 8, version);
    rp__le_put_u64(out + 16, o);
    rp__le_put_u32(out + 28, rp__crc32(0, out, 28));
    *new_size = o;
    return out;
}

START_TEST(version__model_without_version_2_options_is_written_as_format_1)
{
    size_t size, n;
    uint8_t *d = small_file(&size);
    /* Neither keep_aspect nor the int8 kNN: the oldest format, readable by older libraries. */
    ck_assert_uint_eq(rp__le_get_u32(d + 8), 1);
    rp_model *m = NULL;
    ck_assert_msg(rp_model_load_memory(d, size, NULL, &m) == RP_OK, "%s", rp_last_error_message());
    assert_same_model(model_small, m);
    rp_scorer_info si;
    ck_assert_int_eq(rp_scorer_get_info(rp_model_scorer(m), &si, sizeof si), RP_OK);
    ck_assert_uint_eq(si.keep_aspect, 0);
    rp_model_free(m);
    /* The same model as version 2 (keep_aspect 0) loads the same. */
    uint8_t *v2 = as_version(d, size, 2, &n);
    ck_assert_uint_eq(n, size + 4);
    ck_assert_msg(rp_model_load_memory(v2, n, NULL, &m) == RP_OK, "%s", rp_last_error_message());
    assert_same_model(model_small, m);
    rp_model_free(m);
    /* Each version has its own EXTR size: a header that disagrees with the body is damage. */
    rp__le_put_u32(v2 + 8, 1);
    rp__le_put_u32(v2 + 28, rp__crc32(0, v2, 28));
    expect_load_error(v2, n, RP_E_FORMAT, "version 1 header over a version 2 body");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "'EXTR' has 52 bytes, not 48 (format version 1)"));
    rp__le_put_u32(d + 8, 2);
    rp__le_put_u32(d + 28, rp__crc32(0, d, 28));
    expect_load_error(d, size, RP_E_FORMAT, "version 2 header over a version 1 body");
    free(v2);
    free(d);
}
END_TEST

/* A version 2 EXTR whose keep_aspect (offset 48) is set to value, CRC fixed. */
static void set_keep_aspect(uint8_t *d, uint32_t value)
{
    size_t pos = 32;
    while (memcmp(d + pos, "EXTR", 4) != 0) pos += 16 + rp__le_get_u64(d + pos + 8) + 4;
    uint64_t len = rp__le_get_u64(d + pos + 8);
    rp__le_put_u32(d + pos + 16 + 48, value);
    rp__le_put_u32(d + pos + 16 + len, rp__crc32(0, d + pos, 16 + len));
}

START_TEST(round_trip__keep_aspect_is_stored_and_scores_non_square_images_identically)
{
    /* Trained with keep_aspect: the file records it, the loaded model scores like the trained
     * one (bit for bit) on images whose aspect the flag changes, and the flag matters there. */
    rp_model *m = fixture_train_keep_aspect(weights_path, (const rp_image *const *)train_images, 4, 32);
    rp_scorer_info si;
    ck_assert_int_eq(rp_scorer_get_info(rp_model_scorer(m), &si, sizeof si), RP_OK);
    ck_assert_uint_eq(si.keep_aspect, 1);
    char path[1024];
    save_ok(m, in_dir(path, "aspect.rpm"), 0, NULL);
    uint8_t *d;
    size_t size;
    ck_assert_int_eq(fixture_read_file(path, &d, &size), 0);
    ck_assert_uint_eq(rp__le_get_u32(d + 8), 2); /* keep_aspect needs version 2 */
    rp_model *loaded = load_ok(path, NULL);
    ck_assert_int_eq(rp_scorer_get_info(rp_model_scorer(loaded), &si, sizeof si), RP_OK);
    ck_assert_uint_eq(si.keep_aspect, 1);
    ck_assert_uint_eq(si.resize, 256);

    rp_image *wide = fixture_non_square(test_images[1], 300, 200), *tall = fixture_non_square(test_images[2], 150, 260);
    const rp_image *imgs[2] = {wide, tall};
    for (int i = 0; i < 2; i++) {
        size_t n = (size_t)rp_image_width(imgs[i]) * rp_image_height(imgs[i]);
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
        rp_score_result ra = {.struct_size = sizeof ra}, rb = {.struct_size = sizeof rb}, rc = {.struct_size = sizeof rc};
        ck_assert_int_eq(rp_score_image(m, imgs[i], &ra, a, n, NULL, 0), RP_OK);
        ck_assert_int_eq(rp_score_image(loaded, imgs[i], &rb, b, n, NULL, 0), RP_OK);
        ck_assert(memcmp(&ra, &rb, sizeof ra) == 0 && memcmp(a, b, n * sizeof *a) == 0);
        /* the same file with keep_aspect cleared: a different geometry, so other scores */
        uint8_t *off = malloc(size);
        memcpy(off, d, size);
        set_keep_aspect(off, 0);
        rp_model *plain = NULL;
        ck_assert_int_eq(rp_model_load_memory(off, size, NULL, &plain), RP_OK);
        ck_assert_int_eq(rp_score_image(plain, imgs[i], &rc, c, n, NULL, 0), RP_OK);
        ck_assert_msg(ra.score != rc.score && memcmp(a, c, n * sizeof *a) != 0,
                      "image %d: keep_aspect made no difference", i);
        rp_model_free(plain);
        /* a keep_aspect value other than 0 / 1 is damage */
        set_keep_aspect(off, 2);
        expect_load_error(off, size, RP_E_FORMAT, "keep_aspect 2");
        free(off);
        free(a);
        free(b);
        free(c);
    }
    rp_image_free(wide);
    rp_image_free(tall);
    rp_model_free(loaded);
    rp_model_free(m);
    free(d);
}
END_TEST

/* A scorer over the model's extractor and bank, made with params p; returns the error code. */
static int scorer_over(const rp_model *m, const rp_scorer_params *p)
{
    rp_scorer *s = NULL;
    int rc = rp_scorer_create(rp_model_extractor(m), rp_model_embedding(m), rp_model_bank(m), p, &s);
    rp_scorer_free(s);
    return rc;
}

START_TEST(geometry__extractor_reports_it_and_a_scorer_takes_or_must_match_it)
{
    rp_model *m = fixture_train_keep_aspect(weights_path, (const rp_image *const *)train_images, 4, 32);
    rp_extractor_info ei = {.struct_size = sizeof ei};
    ck_assert_int_eq(rp_extractor_get_info(rp_model_extractor(m), &ei, sizeof ei), RP_OK);
    ck_assert_uint_eq(ei.resize, 256);
    ck_assert_uint_eq(ei.no_crop, 0);
    ck_assert_uint_eq(ei.keep_aspect, 1);
    ck_assert_int_eq(rp_extractor_get_info(rp_model_extractor(model_pc), &ei, sizeof ei), RP_OK);
    ck_assert_uint_eq(ei.keep_aspect, 0);
    /* An old caller's shorter struct ends before the appended fields: nothing written past it. */
    uint8_t old[64];
    memset(old, 0xAB, sizeof old);
    ((rp_extractor_info *)old)->struct_size = 48;
    ck_assert_int_eq(rp_extractor_get_info(rp_model_extractor(m), (rp_extractor_info *)old, 48), RP_OK);
    for (int i = 48; i < 64; i++) ck_assert_uint_eq(old[i], 0xAB);

    /* NULL params and zero fields take the extractor's geometry: its keep_aspect here. */
    rp_scorer *s = NULL;
    ck_assert_msg(rp_scorer_create(rp_model_extractor(m), rp_model_embedding(m), rp_model_bank(m), NULL, &s) == RP_OK,
                  "%s", rp_last_error_message());
    rp_scorer_info si = {.struct_size = sizeof si};
    ck_assert_int_eq(rp_scorer_get_info(s, &si, sizeof si), RP_OK);
    ck_assert_uint_eq(si.keep_aspect, 1);
    ck_assert_uint_eq(si.resize, 256);
    ck_assert_uint_eq(si.no_crop, 0);
    rp_scorer_free(s);
    rp_scorer_params p;
    rp_scorer_params_init(&p, sizeof p);
    p.keep_aspect = 1;
    ck_assert_msg(scorer_over(m, &p) == RP_OK, "%s", rp_last_error_message());
    /* A non-zero geometry other than the extractor's would map the scores back wrongly: refused,
     * with the one code of every mismatch. */
    p.resize = 288;
    ck_assert_int_eq(scorer_over(m, &p), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(),
                                 "params.resize 288 / no_crop 0 / keep_aspect 1 differ from the extractor's "
                                 "256 / 0 / 1"));
    p.resize = 0;
    p.keep_aspect = 0;
    p.no_crop = 1;
    ck_assert_int_eq(scorer_over(model_pc, &p), RP_E_SHAPE);
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "no_crop 1"));
    p.no_crop = 0;
    ck_assert_int_eq(scorer_over(model_pc, &p), RP_OK);
    rp_model_free(m);
}
END_TEST

/* An extractor at resize 320 and a scorer with NULL params: the scorer takes 320 (it used to
 * assume 256 and refuse the pair). */
START_TEST(geometry__null_scorer_params_follow_an_extractor_at_resize_320)
{
    rp_extractor_params ep;
    rp_extractor_params_init(&ep, sizeof ep);
    ep.weights_path = weights_path;
    ep.resize = 320;
    ep.feature_dim = 32;
    rp_extractor *e = NULL;
    ck_assert_msg(rp_extractor_create(&ep, &e) == RP_OK, "%s", rp_last_error_message());
    rp_extractor_info ei = {.struct_size = sizeof ei};
    ck_assert_int_eq(rp_extractor_get_info(e, &ei, sizeof ei), RP_OK);
    const size_t n = (size_t)ei.grid_size * ei.grid_size * ei.feature_dim;
    float *features = malloc(n * sizeof(float));
    ck_assert_int_eq(rp_extractor_patch_features(e, (const rp_image *const *)train_images, 1, features, n), RP_OK);
    rp_bank *bank = NULL;
    ck_assert_int_eq(rp_bank_create_frozen(features, (uint64_t)ei.grid_size * ei.grid_size, ei.feature_dim, NULL,
                                           &bank), RP_OK);
    rp_scorer *s = NULL;
    ck_assert_msg(rp_scorer_create(e, NULL, bank, NULL, &s) == RP_OK, "%s", rp_last_error_message());
    rp_scorer_info si = {.struct_size = sizeof si};
    ck_assert_int_eq(rp_scorer_get_info(s, &si, sizeof si), RP_OK);
    ck_assert_uint_eq(si.resize, 320);
    ck_assert_uint_eq(si.crop_offset, (320 - 224) / 2);
    /* the image it was built from scores 0 everywhere: every patch is in the bank */
    rp_score_result r = {.struct_size = sizeof r};
    ck_assert_int_eq(rp_scorer_score(s, train_images[0], &r, NULL, 0, NULL, 0), RP_OK);
    ck_assert_double_eq_tol(r.score_max, 0.0, 1e-3);
    rp_scorer_free(s);
    rp_bank_free(bank);
    free(features);
    rp_extractor_free(e);
}
END_TEST

/* Offset of the BANK section's header in a model file. */
static size_t bank_section_at(const uint8_t *d)
{
    size_t pos = 32;
    while (memcmp(d + pos, "BANK", 4) != 0) pos += 16 + rp__le_get_u64(d + pos + 8) + 4;
    return pos;
}

/* The BANK section's flags (offset 4) set to value, CRC fixed. */
static void set_bank_flags(uint8_t *d, uint32_t value)
{
    size_t pos = bank_section_at(d);
    uint64_t len = rp__le_get_u64(d + pos + 8);
    rp__le_put_u32(d + pos + 16 + 4, value);
    rp__le_put_u32(d + pos + 16 + len, rp__crc32(0, d + pos, 16 + len));
}

START_TEST(round_trip__knn_int8_flag_is_stored_and_unknown_bank_flags_fail)
{
    if (!rp__knn_int8_supported()) {
        fprintf(stderr, "skipping the int8 round trip: no AVX-512 VNNI\n");
        return;
    }
    size_t v1_size, size;
    uint8_t *v1 = small_file(&v1_size);
    ck_assert_int_eq(rp__bank_knn_int8(rp_model_bank(model_small)), 0);
    uint8_t *d = as_version(v1, v1_size, 2, &size);
    set_bank_flags(d, 1);
    rp_model *m = NULL;
    ck_assert_msg(rp_model_load_memory(d, size, NULL, &m) == RP_OK, "%s", rp_last_error_message());
    ck_assert_int_eq(rp__bank_knn_int8(rp_model_bank(m)), 1);
    /* saved again, the flag is in the file and survives a second load */
    char path[1024];
    save_ok(m, in_dir(path, "int8.rpm"), 0, NULL);
    uint8_t *again;
    size_t again_size;
    ck_assert_int_eq(fixture_read_file(path, &again, &again_size), 0);
    ck_assert_uint_eq(rp__le_get_u32(again + 8), 2); /* the flag needs version 2 */
    ck_assert_uint_eq(rp__le_get_u32(again + bank_section_at(again) + 16 + 4), 1);
    rp_model *m2 = load_ok(path, NULL);
    ck_assert_int_eq(rp__bank_knn_int8(rp_model_bank(m2)), 1);
    rp_model_free(m2);
    rp_model_free(m);
    free(again);
    /* bits other than knn_int8 and knn_bf16 are damage; in version 1 the field is reserved (0) */
    set_bank_flags(d, 4);
    expect_load_error(d, size, RP_E_FORMAT, "bank flags 4");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "unknown flags 0x4"));
    set_bank_flags(v1, 1);
    expect_load_error(v1, v1_size, RP_E_FORMAT, "bank flag 1 in a version 1 file");
    free(v1);
    free(d);
}
END_TEST

START_TEST(round_trip__knn_bf16_flag_is_stored_or_falls_back_to_fp32_and_both_flags_fail)
{
    size_t v1_size, size;
    uint8_t *v1 = small_file(&v1_size);
    uint8_t *d = as_version(v1, v1_size, 2, &size);
    set_bank_flags(d, 2);
    rp_model *m = NULL;
    ck_assert_msg(rp_model_load_memory(d, size, NULL, &m) == RP_OK, "%s", rp_last_error_message());
    /* where the CPU has no AVX512-BF16 the model still loads, with the exact fp32 search */
    const int native = rp__knn_bf16_supported();
    ck_assert_int_eq(rp__bank_knn_bf16(rp_model_bank(m)), native);
    ck_assert_int_eq(rp__bank_knn_int8(rp_model_bank(m)), 0);
    if (native) { /* saved again, the flag is in the file and survives a second load */
        char path[1024];
        save_ok(m, in_dir(path, "bf16.rpm"), 0, NULL);
        uint8_t *again;
        size_t again_size;
        ck_assert_int_eq(fixture_read_file(path, &again, &again_size), 0);
        ck_assert_uint_eq(rp__le_get_u32(again + 8), 2); /* the flag needs version 2 */
        ck_assert_uint_eq(rp__le_get_u32(again + bank_section_at(again) + 16 + 4), 2);
        rp_model *m2 = load_ok(path, NULL);
        ck_assert_int_eq(rp__bank_knn_bf16(rp_model_bank(m2)), 1);
        rp_model_free(m2);
        free(again);
    }
    rp_model_free(m);
    /* int8 and bf16 at once is damage, whatever the CPU */
    set_bank_flags(d, 3);
    expect_load_error(d, size, RP_E_FORMAT, "bank flags 3");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "both the int8 and the bf16 kNN"));
    free(v1);
    free(d);
}
END_TEST

/* The file with one more section appended (header count, size and CRC updated). */
static uint8_t *with_extra_section(const uint8_t *d, size_t size, uint32_t flags, size_t *new_size)
{
    const uint8_t payload[5] = {1, 2, 3, 4, 5};
    size_t extra = 16 + sizeof payload + 4;
    uint8_t *out = malloc(size + extra);
    memcpy(out, d, size);
    uint8_t *s = out + size;
    memcpy(s, "XTRA", 4);
    rp__le_put_u32(s + 4, flags);
    rp__le_put_u64(s + 8, sizeof payload);
    memcpy(s + 16, payload, sizeof payload);
    rp__le_put_u32(s + 16 + sizeof payload, rp__crc32(0, s, 16 + sizeof payload));
    rp__le_put_u32(out + 12, rp__le_get_u32(out + 12) + 1);
    rp__le_put_u64(out + 16, size + extra);
    rp__le_put_u32(out + 28, rp__crc32(0, out, 28));
    *new_size = size + extra;
    return out;
}

START_TEST(version__unknown_optional_section_is_skipped_unknown_required_one_fails)
{
    size_t size, n;
    uint8_t *d = small_file(&size);
    uint8_t *opt = with_extra_section(d, size, 1, &n);
    rp_model *m = NULL;
    ck_assert_int_eq(rp_model_load_memory(opt, n, NULL, &m), RP_OK);
    assert_same_model(model_small, m);
    rp_model_free(m);
    uint8_t *req = with_extra_section(d, size, 0, &n);
    expect_load_error(req, n, RP_E_VERSION, "unknown required section");
    ck_assert_ptr_nonnull(strstr(rp_last_error_message(), "XTRA"));
    free(opt);
    free(req);
    free(d);
}
END_TEST

START_TEST(load__argument_errors_and_limits)
{
    rp_model *m = (rp_model *)0x1;
    ck_assert_int_eq(rp_model_load(NULL, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(rp_model_load("/nonexistent/m.rpm", NULL, &m), RP_E_IO);
    ck_assert_int_eq(rp_model_load(dir, NULL, &m), RP_E_IO); /* a folder */
    ck_assert_int_eq(rp_model_load_memory(NULL, 10, NULL, &m), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_model_load_memory("x", 1, NULL, NULL), RP_E_INVALID_ARG);
    size_t size;
    uint8_t *d = small_file(&size);
    rp_model_load_params lp;
    rp_model_load_params_init(&lp, sizeof lp);
    lp.max_bytes = size - 1;
    ck_assert_int_eq(rp_model_load_memory(d, size, &lp, &m), RP_E_LIMIT);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(rp_model_save(NULL, "/tmp/x", NULL), RP_E_INVALID_ARG);
    ck_assert_int_eq(rp_model_save(model_small, NULL, NULL), RP_E_INVALID_ARG);
    free(d);
}
END_TEST

static int count_temp_files(const char *prefix, int remove)
{
    DIR *dd = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dd))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".tmp-")) {
            n++;
            if (remove) {
                char p[1024];
                unlink(in_dir(p, e->d_name));
            }
        }
    }
    closedir(dd);
    return n;
}

START_TEST(save__failure_leaves_no_temporary_file)
{
    char path[1024];
    in_dir(path, "a_folder");
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(rp_model_save(model_small, path, NULL), RP_E_IO); /* rename over a folder fails */
    ck_assert_int_eq(count_temp_files("a_folder", 0), 0);
    ck_assert_int_eq(rp_model_save(model_small, "/nonexistent-folder/m.rpm", NULL), RP_E_IO);
}
END_TEST

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Which of two models the file at path is, loaded and scored once: 1 when it scores exactly as
 * old_out, 2 as new_out, 0 as neither. */
static int file_is(const char *path, const outputs *old_out, const outputs *new_out)
{
    rp_model *m = load_ok(path, NULL);
    outputs got;
    score_all(m, &got);
    const int which = outputs_equal(&got, old_out) ? 1 : outputs_equal(&got, new_out) ? 2 : 0;
    outputs_free(&got);
    rp_model_free(m);
    return which;
}

/* A child saves model_big over a file holding model_pc; the parent kills it with SIGKILL at
 * moments spread over one save's duration. The file must always load, as one model or the other. */
START_TEST(save__is_atomic_when_the_process_is_killed)
{
    char path[1024], spare[1024];
    in_dir(path, "atomic.rpm");
    in_dir(spare, "atomic-timing.rpm");
    outputs old_out, new_out;
    score_all(model_pc, &old_out);
    score_all(model_big, &new_out);

    /* How long one uninterrupted save takes here (only to spread the kills; nothing asserted). */
    double t0 = seconds();
    pid_t pid = fork();
    if (pid == 0) _exit(rp_model_save(model_big, spare, NULL) == RP_OK ? 0 : 1);
    int status;
    waitpid(pid, &status, 0);
    double duration = seconds() - t0;
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    const int trials = 12;
    int mid_write = 0, killed = 0;
    for (int k = 0; k < trials; k++) {
        save_ok(model_pc, path, 0, NULL); /* the old file */
        double delay = duration * k / (trials - 2); /* the last trials let the save finish */
        pid = fork();
        if (pid == 0) _exit(rp_model_save(model_big, path, NULL) == RP_OK ? 0 : 1);
        struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        int was_killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        killed += was_killed;
        mid_write += was_killed && count_temp_files("atomic.rpm", 1) > 0;
        if (!was_killed) ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

        const int which = file_is(path, &old_out, &new_out);
        ck_assert_msg(which, "trial %d (delay %.4f s): the file is neither model", k, delay);
        if (!was_killed) ck_assert_msg(which == 2, "trial %d: the save finished but the old model is there", k);
    }
    fprintf(stderr, "atomic save: one save %.3f s; %d of %d children killed, %d of them mid-write\n", duration,
            killed, trials, mid_write);
    ck_assert_msg(mid_write >= 1, "no kill landed while the temporary file was being written");
    outputs_free(&old_out);
    outputs_free(&new_out);
}
END_TEST

/* The same, deterministically: a child saves model_small over a file holding model_pc and is
 * killed (SIGKILL) just before each one of the save's file-system steps in turn (creating the
 * temporary file, every write, flush + fsync, close, rename, the folder's fsync). Before the rename
 * the file must load as the old model, from the rename on as the new one. */
START_TEST(save__survives_a_kill_at_every_write_step)
{
    char path[1024], spare[1024];
    in_dir(path, "steps.rpm");
    in_dir(spare, "steps-count.rpm");
    outputs old_out, new_out;
    score_all(model_pc, &old_out);
    score_all(model_small, &new_out);
    rp__file_writer_kill_at_step(0);
    save_ok(model_small, spare, 0, NULL);
    const uint64_t steps = rp__file_writer_kill_at_step(0);
    ck_assert_uint_gt(steps, 8); /* open, header, sections..., flush, close, rename, folder */
    for (uint64_t n = 1; n <= steps; n++) {
        save_ok(model_pc, path, 0, NULL); /* the old file */
        pid_t pid = fork();
        if (pid == 0) {
            rp__file_writer_kill_at_step(n);
            _exit(rp_model_save(model_small, path, NULL) == RP_OK ? 0 : 1);
        }
        int status;
        waitpid(pid, &status, 0);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "step %llu: the child was not killed",
                      (unsigned long long)n);
        /* step n is killed before it runs: the rename is the last step but one, so only a kill at
         * the last (the folder's fsync) comes after it */
        const int want_new = n == steps;
        ck_assert_msg(file_is(path, &old_out, &new_out) == (want_new ? 2 : 1), "step %llu of %llu: the file is not the %s "
                      "model", (unsigned long long)n, (unsigned long long)steps, want_new ? "new" : "old");
        count_temp_files("steps.rpm", 1); /* a killed save may leave its temporary file: documented */
    }
    printf("save killed before each of its %llu file-system steps: the old model up to the rename, the new one "
           "after it\n", (unsigned long long)steps);
    outputs_free(&old_out);
    outputs_free(&new_out);
}
END_TEST

int main(void)
{
    fixture_make_dir(dir, sizeof dir);
    char tmp[1024];
    snprintf(weights_path, sizeof weights_path, "%s", in_dir(tmp, "weights.safetensors"));
    snprintf(weights2_path, sizeof weights2_path, "%s", in_dir(tmp, "weights2.safetensors"));
    if (fixture_write_weights(weights_path, 1) || fixture_write_weights(weights2_path, 2)) {
        fprintf(stderr, "cannot write the test weights\n");
        return 1;
    }
    fixture_train_images(train_images, N_TRAIN);
    test_images[0] = fixture_image("test/good/000.png");
    test_images[1] = fixture_image("test/broken_large/000.png");
    test_images[2] = fixture_image("test/contamination/004.png");
    const rp_image *const *imgs = (const rp_image *const *)train_images;
    model_pc = fixture_train(weights_path, RP_METHOD_PATCHCORE, imgs, N_TRAIN, 64, 0.1, 0);
    model_rc = fixture_train(weights_path, RP_METHOD_RECONPATCH, imgs, N_TRAIN, 64, 0.1, 0.25);
    model_small = fixture_train(weights_path, RP_METHOD_RECONPATCH, imgs, 4, 32, 0.02, 0.25);
    model_big = fixture_train(weights_path, RP_METHOD_PATCHCORE, imgs, N_TRAIN, 1024, 1.0, 0);

    Suite *s = suite_create("model_file");
    TCase *tc = tcase_create("model_file");
    tcase_add_test(tc, crc32__matches_the_standard_check_value);
    tcase_add_test(tc, round_trip__patchcore_referenced_is_bit_identical);
    tcase_add_test(tc, round_trip__reconpatch_embedded_is_bit_identical_with_head_and_thresholds);
    tcase_add_test(tc, layout__header_and_sections_follow_the_documented_bytes);
    tcase_add_test(tc, weights__embedded_model_loads_after_the_weights_file_is_gone);
    tcase_add_test(tc, weights__referenced_file_that_changed_fails_with_format);
    tcase_add_test(tc, weights__saving_a_reference_to_other_weights_fails_and_writes_nothing);
    tcase_add_test(tc, weights__relative_path_is_taken_from_the_model_folder);
    tcase_add_test(tc, save__survives_a_kill_at_every_write_step);
    tcase_add_test(tc, damage__every_flipped_byte_fails_with_format);
    tcase_add_test(tc, damage__every_truncation_fails_with_format);
    tcase_add_test(tc, damage__trailing_bytes_and_bad_magic_fail_with_format);
    tcase_add_test(tc, version__newer_format_fails_with_version);
    tcase_add_test(tc, version__model_without_version_2_options_is_written_as_format_1);
    tcase_add_test(tc, geometry__extractor_reports_it_and_a_scorer_takes_or_must_match_it);
    tcase_add_test(tc, geometry__null_scorer_params_follow_an_extractor_at_resize_320);
    tcase_add_test(tc, round_trip__keep_aspect_is_stored_and_scores_non_square_images_identically);
    tcase_add_test(tc, version__unknown_optional_section_is_skipped_unknown_required_one_fails);
    tcase_add_test(tc, round_trip__knn_int8_flag_is_stored_and_unknown_bank_flags_fail);
    tcase_add_test(tc, round_trip__knn_bf16_flag_is_stored_or_falls_back_to_fp32_and_both_flags_fail);
    tcase_add_test(tc, load__argument_errors_and_limits);
    tcase_add_test(tc, load__precision_override_scores_in_the_asked_precision);
    tcase_add_test(tc, save__failure_leaves_no_temporary_file);
    tcase_add_test(tc, save__is_atomic_when_the_process_is_killed);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);

    rp_model_free(model_pc);
    rp_model_free(model_rc);
    rp_model_free(model_small);
    rp_model_free(model_big);
    for (int i = 0; i < N_TRAIN; i++) rp_image_free(train_images[i]);
    for (int i = 0; i < N_TEST; i++) rp_image_free(test_images[i]);
    fixture_remove_dir(dir);
    return rc;
}
