/* Writing 8-bit PNG files (heat maps, overlays), atomically. */
#ifndef RP_IMAGE_PNG_WRITE_H
#define RP_IMAGE_PNG_WRITE_H

#include <stdint.h>

/* Write w x h pixels (tightly packed rows of w * channels bytes; channels 1 = gray, 2 = gray+alpha,
 * 3 = RGB, 4 = RGBA) to path as an 8-bit PNG. The file appears complete or not at all: the data go
 * to a temporary file in the same directory, which is flushed to disk (fsync) and renamed over
 * path; on any failure the temporary file is removed and an existing file at path is untouched.
 * Returns RP_OK, RP_E_INVALID_ARG or RP_E_IO (message names the path and the system error). */
int rp__png_write(const char *path, const uint8_t *pixels, uint32_t w, uint32_t h, uint32_t channels);

#endif
