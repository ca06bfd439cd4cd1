/* Replacing a file atomically: write a temporary file in the same folder, flush and fsync it,
 * rename it over the target, fsync the folder. A crash at any point leaves the old file or the new
 * one, never a mix: rename within one file system is atomic, and the fsyncs order the data before
 * the rename on the disk. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/common.h"
#include "model/model_io.h"

static _Atomic uint64_t steps_taken, kill_at;

/* One file-system step ahead: the crash-safety test's hook (rp__file_writer_kill_at_step). */
static void step(void)
{
    const uint64_t n = atomic_fetch_add(&steps_taken, 1) + 1, k = atomic_load(&kill_at);
    if (k && n == k) raise(SIGKILL);
}

uint64_t rp__file_writer_kill_at_step(uint64_t n)
{
    atomic_store(&kill_at, n);
    return atomic_exchange(&steps_taken, 0);
}

static void writer_free(rp__file_writer *w)
{
    free(w->target);
    free(w->temp);
    w->target = w->temp = NULL;
    w->file = NULL;
}

int rp__file_writer_open(rp__file_writer *w, const char *path, const char *fn)
{
    memset(w, 0, sizeof *w);
    w->fn = fn;
    size_t n = strlen(path);
    w->target = rp__strdup(path);
    w->temp = rp__malloc(n + sizeof ".tmp-XXXXXX");
    if (!w->target || !w->temp) {
        writer_free(w);
        return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    }
    memcpy(w->temp, path, n);
    memcpy(w->temp + n, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    step();
    int fd = mkstemp(w->temp);
    if (fd < 0) {
        int e = errno;
        writer_free(w);
        return rp__fail(RP_E_IO, "%s: cannot create a temporary file beside '%s': %s", fn, path, strerror(e));
    }
    /* mkstemp makes the file 0600: give it the mode of the file it replaces, else rw-r--r--. */
    struct stat st;
    fchmod(fd, stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644);
    w->file = fdopen(fd, "wb");
    if (!w->file) {
        close(fd);
        unlink(w->temp);
        writer_free(w);
        return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    }
    return RP_OK;
}

int rp__file_writer_write(rp__file_writer *w, const void *data, size_t size)
{
    step();
    if (size && fwrite(data, 1, size, w->file) != size)
        return rp__fail(RP_E_IO, "%s: writing '%s' failed: %s (the file is left as it was)", w->fn, w->target,
                        strerror(errno));
    return RP_OK;
}

void rp__file_writer_abort(rp__file_writer *w)
{
    if (w->file) fclose(w->file);
    if (w->temp) unlink(w->temp);
    writer_free(w);
}

/* fsync the folder holding path, so the rename itself is on the disk. copy has room for path (the
 * temporary file's name, no longer needed after the rename): no allocation here, so that a save
 * that has replaced the file cannot skip this step for want of memory. */
static void sync_folder(char *copy, const char *path)
{
    strcpy(copy, path);
    char *slash = strrchr(copy, '/');
    const char *dir = ".";
    if (slash == copy) dir = "/";
    else if (slash) *slash = '\0', dir = copy;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int rp__file_writer_commit(rp__file_writer *w)
{
    int rc = RP_OK;
    step();
    if (fflush(w->file) != 0 || fsync(fileno(w->file)) != 0)
        rc = rp__fail(RP_E_IO, "%s: writing '%s' failed: %s (the file is left as it was)", w->fn, w->target,
                      strerror(errno));
    step();
    if (fclose(w->file) != 0 && !rc)
        rc = rp__fail(RP_E_IO, "%s: writing '%s' failed at close: %s (the file is left as it was)", w->fn,
                      w->target, strerror(errno));
    w->file = NULL;
    if (!rc) step();
    if (!rc && rename(w->temp, w->target) != 0)
        rc = rp__fail(RP_E_IO, "%s: cannot rename '%s' to '%s': %s", w->fn, w->temp, w->target, strerror(errno));
    if (rc) {
        unlink(w->temp);
    } else {
        step();
        sync_folder(w->temp, w->target); /* temp is strlen(target) + 12 bytes */
    }
    writer_free(w);
    return rc;
}
