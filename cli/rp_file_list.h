/* Command-line helper: sorted image files (or sub-folders) of a folder, for the command-line tools and
 * the benchmark programs that walk MVTec-layout data sets. */
#ifndef RP_CLI_FILE_LIST_H
#define RP_CLI_FILE_LIST_H

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct file_list {
    char **items;
    size_t count, cap;
} file_list;

static void list_push(file_list *l, const char *s)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        if (!l->items) exit(2);
    }
    if (!(l->items[l->count] = strdup(s))) exit(2);
    l->count++;
}

/* Free the names and the array; l is left empty. */
static inline void list_free(file_list *l)
{
    for (size_t i = 0; i < l->count; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

/* Sorted names of the image files (or of the sub-folders) in dir. */
static file_list list_dir(const char *dir, int want_dirs)
{
    file_list l = {0};
    DIR *d = opendir(dir);
    if (!d) return l;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int isdir = e->d_type == DT_DIR;
        if (want_dirs ? isdir : (!isdir && is_image_name(e->d_name))) list_push(&l, e->d_name);
    }
    closedir(d);
    if (l.count) qsort(l.items, l.count, sizeof *l.items, cmp_str);
    return l;
}

#endif
