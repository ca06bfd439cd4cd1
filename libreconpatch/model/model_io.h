/* File plumbing of the model module: the atomic writer and finding / checking the backbone's
 * weights file. Internal. */
#ifndef RP_MODEL_IO_H
#define RP_MODEL_IO_H

#include <stdio.h>

#include "backbone/weights.h"

/* Writes go to a temporary file beside the target (same folder, so rename is atomic);
 * commit flushes, fsyncs, renames over the target and fsyncs the folder; abort removes the
 * temporary file. Either call ends the writer. */
typedef struct rp__file_writer {
    FILE *file;
    char *target;
    char *temp;
    const char *fn;
} rp__file_writer;

int rp__file_writer_open(rp__file_writer *w, const char *path, const char *fn);
int rp__file_writer_write(rp__file_writer *w, const void *data, size_t size);
int rp__file_writer_commit(rp__file_writer *w);
void rp__file_writer_abort(rp__file_writer *w);

/* Test hook for crash safety: every step of a file writer that touches the file system (creating
 * the temporary file, each write, the flush and fsync, the close, the rename, the folder's fsync)
 * counts one. With n > 0 the process raises SIGKILL just before its n-th step from now on (the
 * test runs the save in a child it forks); 0 turns that off. Returns the steps counted since the
 * previous call and restarts the count. Process-wide, for a test's single thread. */
uint64_t rp__file_writer_kill_at_step(uint64_t n);

/* A recorded weights path as a file to open: absolute paths as they are, relative ones taken
 * relative to the folder of model_path (the current folder when model_path is NULL).
 * malloc'd; NULL when out of memory. */
char *rp__model_resolve_path(const char *recorded, const char *model_path);

/* Load the weights at path and check their sha256 against expected: a mismatch fails with
 * RP_E_FORMAT, naming both. fn names the public function. */
int rp__model_weights_checked(const char *path, const char *expected_sha256, const char *fn, rp__weights **out);

#endif
