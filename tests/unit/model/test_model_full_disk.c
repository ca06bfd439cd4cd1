/* A model save that runs out of room: in a forked child the file size limit (RLIMIT_FSIZE) is set
 * below the model's size, with SIGXFSZ ignored so that the write fails with EFBIG as it would with
 * ENOSPC on a full disk. rp_model_save must return RP_E_IO with a message naming the file and the
 * cause, leave no temporary file, and leave the previous model file byte for byte, still loadable
 * and scoring as before. Limits from 0 bytes (the first write fails) to one byte short of the
 * file (the last flush fails). */
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

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

static int entries_in_dir(void)
{
    DIR *d = opendir(dir);
    ck_assert(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

typedef struct child_report {
    int rc;
    char message[1024];
} child_report;

/* Save model to path in a child limited to limit bytes per file; the child's result. */
static child_report save_with_limit(const rp_model *model, const char *path, rlim_t limit)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_report r = {.rc = -1000};
        struct rlimit rl = {.rlim_cur = limit, .rlim_max = limit};
        if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit(RLIMIT_FSIZE, &rl) != 0) {
            snprintf(r.message, sizeof r.message, "child: cannot set the file size limit");
        } else {
            r.rc = rp_model_save(model, path, NULL);
            snprintf(r.message, sizeof r.message, "%s", rp_last_error_message());
        }
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    child_report r;
    ck_assert_int_eq(read(fds[0], &r, sizeof r), (ssize_t)sizeof r);
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    return r;
}

START_TEST(save__over_the_size_limit_fails_with_io_and_keeps_the_old_file)
{
    rp_image *train[2];
    fixture_train_images(train, 2);
    rp_model *old_model = fixture_train(weights_path, RP_METHOD_PATCHCORE, (const rp_image *const *)train, 2, 16, 0.25, 0);
    rp_model *new_model = fixture_train(weights_path, RP_METHOD_PATCHCORE, (const rp_image *const *)train, 2, 16, 1.0, 0);
    char path[700];
    snprintf(path, sizeof path, "%s/model.rpm", dir);
    ck_assert_int_eq(rp_model_save(old_model, path, NULL), RP_OK);
    size_t old_size;
    uint8_t *old_bytes = read_all(path, &old_size);
    const int entries = entries_in_dir(); /* weights and model */
    rp_image *probe = fixture_image("test/broken_large/000.png");
    rp_score_result want = {.struct_size = sizeof want};
    ck_assert_int_eq(rp_score_image(old_model, probe, &want, NULL, 0, NULL, 0), RP_OK);

    /* the new model's file is larger than the old one (the whole bank instead of a quarter) */
    char probe_path[720];
    snprintf(probe_path, sizeof probe_path, "%s/new.rpm", dir);
    ck_assert_int_eq(rp_model_save(new_model, probe_path, NULL), RP_OK);
    size_t new_size;
    free(read_all(probe_path, &new_size));
    remove(probe_path);
    ck_assert_uint_gt(new_size, 4096);

    const rlim_t limits[] = {0, 1, 4095, 4096, new_size / 2, new_size - 1};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        child_report r = save_with_limit(new_model, path, limits[i]);
        ck_assert_msg(r.rc == RP_E_IO, "limit %llu: %s (%s), expected RP_E_IO", (unsigned long long)limits[i],
                      rp_error_name(r.rc), r.message);
        char named[1024];
        snprintf(named, sizeof named, "writing '%s' failed: File too large (the file is left as it was)", path);
        ck_assert_msg(strstr(r.message, "rp_model_save") && strstr(r.message, named),
                      "limit %llu: the message does not name the call, the file and the cause: %s",
                      (unsigned long long)limits[i], r.message);
        ck_assert_msg(entries_in_dir() == entries, "limit %llu: a temporary file was left", (unsigned long long)limits[i]);
        size_t size;
        uint8_t *now = read_all(path, &size);
        ck_assert_msg(size == old_size && memcmp(now, old_bytes, size) == 0, "limit %llu: the old file changed",
                      (unsigned long long)limits[i]);
        free(now);
    }
    printf("rp_model_save under RLIMIT_FSIZE: RP_E_IO, for example: %s\n",
           save_with_limit(new_model, path, new_size / 2).message);
    /* the old file still loads and scores as before */
    rp_model *loaded = NULL;
    ck_assert_msg(rp_model_load(path, NULL, &loaded) == RP_OK, "%s", rp_last_error_message());
    rp_score_result got = {.struct_size = sizeof got};
    ck_assert_int_eq(rp_score_image(loaded, probe, &got, NULL, 0, NULL, 0), RP_OK);
    ck_assert(got.score == want.score && got.score_max == want.score_max);
    rp_model_free(loaded);
    /* and with room enough the same save succeeds */
    child_report r = save_with_limit(new_model, path, new_size);
    ck_assert_msg(r.rc == RP_OK, "limit %zu (the file's size): %s", new_size, r.message);
    size_t size;
    free(read_all(path, &size));
    ck_assert_uint_eq(size, new_size);
    free(old_bytes);
    rp_image_free(probe);
    rp_model_free(old_model);
    rp_model_free(new_model);
    for (int i = 0; i < 2; i++) rp_image_free(train[i]);
}
END_TEST

int main(void)
{
    fixture_make_dir(dir, sizeof dir);
    snprintf(weights_path, sizeof weights_path, "%s/weights.safetensors", dir);
    if (fixture_write_weights(weights_path, 13)) return 1;
    Suite *s = suite_create("model_full_disk");
    TCase *tc = tcase_create("full_disk");
    tcase_add_test(tc, save__over_the_size_limit_fails_with_io_and_keeps_the_old_file);
    suite_add_tcase(s, tc);
    int rc = fixture_run(s);
    fixture_remove_dir(dir);
    return rc;
}
