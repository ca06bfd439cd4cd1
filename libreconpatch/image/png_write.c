/* Atomic PNG writing: temporary file beside the target, libpng, fsync, rename. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/common.h"
#include "image/png_write.h"

static const char fn[] = "rp__png_write";

typedef struct write_job {
    const uint8_t *pixels;
    uint32_t w, h, channels;
    char message[200];
    int saved_errno;
} write_job;

static void on_error(png_structp png, png_const_charp message)
{
    write_job *job = png_get_error_ptr(png);
    if (!job->message[0]) {
        job->saved_errno = errno;
        snprintf(job->message, sizeof job->message, "%s", message);
    }
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp message)
{
    (void)png;
    rp__log(RP_LOG_WARN, "%s: libpng warning: %s", fn, message);
}

static void write_rows(png_structp png, png_infop info, write_job *job)
{
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                       PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_IHDR(png, info, job->w, job->h, 8, color_types[job->channels], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row_bytes = (size_t)job->w * job->channels;
    for (uint32_t y = 0; y < job->h; y++)
        png_write_row(png, (png_const_bytep)(job->pixels + (size_t)y * row_bytes));
    png_write_end(png, info);
}

/* setjmp lives in this small function so no local of the caller can be clobbered by longjmp. */
static int write_guarded(png_structp png, png_infop info, write_job *job)
{
    if (setjmp(png_jmpbuf(png))) return -1;
    write_rows(png, info, job);
    return 0;
}

/* Encode into an open stream; RP_OK or RP_E_IO/RP_E_NOMEM with the message set. */
static int encode(FILE *f, write_job *job, const char *path)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(png ? &png : NULL, NULL);
        return rp__fail(RP_E_NOMEM, "%s: '%s': cannot create the PNG encoder", fn, path);
    }
    png_init_io(png, f);
    int failed = write_guarded(png, info, job);
    png_destroy_write_struct(&png, &info);
    if (failed)
        return rp__fail(RP_E_IO, "%s: '%s': %s%s%s", fn, path, job->message, job->saved_errno ? ": " : "",
                        job->saved_errno ? strerror(job->saved_errno) : "");
    return RP_OK;
}

/* Create a new, uniquely named file beside path; returns the descriptor or -1 (errno set). */
static int create_temp(const char *path, char *tmp, size_t tmp_size)
{
    static atomic_uint counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, tmp_size, "%s.tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        /* 0666 lets the umask decide the permissions, as for any newly created file */
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

/* Make the rename itself durable; failure here does not undo a complete file, so it is ignored. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? rp__strndup(path, slash == path ? 1 : (size_t)(slash - path)) : rp__strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int rp__png_write(const char *path, const uint8_t *pixels, uint32_t w, uint32_t h, uint32_t channels)
{
    if (!path || !pixels) return rp__fail(RP_E_INVALID_ARG, "%s: %s is NULL", fn, !path ? "path" : "pixels");
    if (!w || !h || w > 0x7fffffffu || h > 0x7fffffffu)
        return rp__fail(RP_E_INVALID_ARG, "%s: '%s': size %ux%u must be 1..2^31-1 per side", fn, path, w, h);
    if (channels < 1 || channels > 4)
        return rp__fail(RP_E_INVALID_ARG, "%s: '%s': channels %u must be 1..4", fn, path, channels);

    size_t tmp_size = strlen(path) + 48;
    char *tmp = rp__malloc(tmp_size);
    if (!tmp) return rp__fail(RP_E_NOMEM, "%s: '%s': out of memory", fn, path);
    int fd = create_temp(path, tmp, tmp_size);
    if (fd < 0) {
        int rc = rp__fail(RP_E_IO, "%s: cannot create '%s': %s", fn, tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int rc = rp__fail(RP_E_IO, "%s: fdopen '%s': %s", fn, tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return rc;
    }
    write_job job = {.pixels = pixels, .w = w, .h = h, .channels = channels};
    int rc = encode(f, &job, path);
    if (rc == RP_OK && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = rp__fail(RP_E_IO, "%s: cannot flush '%s' to disk: %s", fn, tmp, strerror(errno));
    if (fclose(f) != 0 && rc == RP_OK)
        rc = rp__fail(RP_E_IO, "%s: cannot close '%s': %s", fn, tmp, strerror(errno));
    if (rc == RP_OK && rename(tmp, path) != 0)
        rc = rp__fail(RP_E_IO, "%s: cannot rename '%s' to '%s': %s", fn, tmp, path, strerror(errno));
    if (rc == RP_OK)
        sync_parent_dir(path);
    else
        unlink(tmp);
    free(tmp);
    return rc;
}
