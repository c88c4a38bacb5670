#include "cifar_jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "dataio.h"

/* A 32x32 JPEG is a few kilobytes; anything near this is not a CIFAR image. */
#define JPEG_MAX_FILE_BYTES ((size_t)1 << 20)

/* libjpeg reports errors through callbacks; the default ones print and exit(), which library code may not
 * do, so errors (and corrupt-data warnings) jump back to the caller with the message. */
typedef struct JpegErrorContext {
    struct jpeg_error_mgr mgr; /* first, so the callbacks can cast cinfo->err back to the context */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} JpegErrorContext;

static void jpeg_on_error(j_common_ptr cinfo)
{
    JpegErrorContext *ctx = (JpegErrorContext *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, ctx->message);
    longjmp(ctx->jump, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level < 0) /* a warning: corrupt or truncated data that libjpeg would fill in */
        jpeg_on_error(cinfo);
}

/* Copies the decoded RGB rows into the channel-major record layout. */
static int read_pixels(struct jpeg_decompress_struct *cinfo, uint8_t *chw)
{
    JSAMPLE row[CIFAR_SIDE * CIFAR_CHANNELS];
    JSAMPROW rows[1] = {row};
    while (cinfo->output_scanline < cinfo->output_height) {
        int y = (int)cinfo->output_scanline;
        if (jpeg_read_scanlines(cinfo, rows, 1) != 1)
            return -1;
        for (int x = 0; x < CIFAR_SIDE; x++)
            for (int c = 0; c < CIFAR_CHANNELS; c++)
                chw[(size_t)c * CIFAR_PIXELS + (size_t)y * CIFAR_SIDE + x] = row[x * CIFAR_CHANNELS + c];
    }
    return 0;
}

int cifar_jpeg_decode(const uint8_t *jpg, size_t len, const char *name, uint8_t chw[CIFAR_IMAGE_BYTES], char *err,
                      size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "%s: JPEG does not decode: empty file", name);
        return -1;
    }
    struct jpeg_decompress_struct cinfo;
    JpegErrorContext ctx;
    cinfo.err = jpeg_std_error(&ctx.mgr);
    ctx.mgr.error_exit = jpeg_on_error;
    ctx.mgr.emit_message = jpeg_on_message;
    ctx.message[0] = '\0';
    if (setjmp(ctx.jump)) {
        jpeg_destroy_decompress(&cinfo);
        snprintf(err, errlen, "%s: JPEG does not decode: %s", name, ctx.message);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, jpg, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    /* Check the size before decoding so that a huge image is refused without allocating for it. */
    if (cinfo.image_width != CIFAR_SIDE || cinfo.image_height != CIFAR_SIDE ||
        (cinfo.num_components != 1 && cinfo.num_components != 3)) {
        snprintf(err, errlen, "%s: JPEG is %ux%u with %d components; CIFAR images are 32x32 RGB", name,
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, cinfo.num_components);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    cinfo.out_color_space = JCS_RGB; /* greyscale is expanded to three equal channels */
    cinfo.dct_method = JDCT_ISLOW;  /* the accurate integer IDCT: identical output on every machine */
    jpeg_start_decompress(&cinfo);
    int rc = cinfo.output_components == CIFAR_CHANNELS ? read_pixels(&cinfo, chw) : -1;
    if (rc == 0)
        jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (rc != 0)
        snprintf(err, errlen, "%s: JPEG does not decode to 32x32 RGB pixels", name);
    return rc;
}

/* The images of one split: paths and labels in record order. */
typedef struct JpegList {
    int n;
    char **paths;
    uint8_t *labels;
} JpegList;

static void jpeg_list_free(JpegList *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths), free(l->labels);
    memset(l, 0, sizeof *l);
}

static int check_class_folders(const char *dir, char **names, int count, char *err, size_t errlen)
{
    int ok = count == CIFAR_CLASSES;
    for (int c = 0; ok && c < CIFAR_CLASSES; c++)
        ok = strcmp(names[c], cifar_class_name(c)) == 0;
    if (!ok) {
        size_t used = (size_t)snprintf(err, errlen, "%s: expected the 10 class folders airplane, automobile, bird, "
                                                    "cat, deer, dog, frog, horse, ship, truck; found %d:", dir, count);
        for (int i = 0; i < count && used < errlen; i++)
            used += (size_t)snprintf(err + used, errlen - used, " %s", names[i]);
        return -1;
    }
    return 0;
}

/* Interleaves the classes: record k*10+c is image k of class c while every class still has one. */
static int interleave(const char *dir, char **files[CIFAR_CLASSES], const int counts[CIFAR_CLASSES], JpegList *out,
                      char *err, size_t errlen)
{
    int total = 0, longest = 0;
    for (int c = 0; c < CIFAR_CLASSES; c++)
        total += counts[c], longest = counts[c] > longest ? counts[c] : longest;
    out->paths = calloc((size_t)(total ? total : 1), sizeof *out->paths);
    out->labels = malloc((size_t)(total ? total : 1));
    if (!out->paths || !out->labels) {
        snprintf(err, errlen, "%s: out of memory listing %d images", dir, total);
        return -1;
    }
    for (int k = 0; k < longest; k++)
        for (int c = 0; c < CIFAR_CLASSES; c++) {
            if (k >= counts[c])
                continue;
            size_t len = strlen(dir) + strlen(cifar_class_name(c)) + strlen(files[c][k]) + 3;
            if (!(out->paths[out->n] = malloc(len))) {
                snprintf(err, errlen, "%s: out of memory listing images", dir);
                return -1;
            }
            snprintf(out->paths[out->n], len, "%s/%s/%s", dir, cifar_class_name(c), files[c][k]);
            out->labels[out->n++] = (uint8_t)c;
        }
    return 0;
}

static int list_split(const char *dir, JpegList *out, int per_class[CIFAR_CLASSES], char *err, size_t errlen)
{
    char **classes = NULL, **files[CIFAR_CLASSES] = {0}, path[DATAIO_PATH_LEN];
    int n_classes = 0, rc = -1;
    memset(out, 0, sizeof *out);
    memset(per_class, 0, CIFAR_CLASSES * sizeof per_class[0]);
    if (dataio_list_dir(dir, DATAIO_LIST_DIRS, NULL, &classes, &n_classes, err, errlen) != 0)
        return -1;
    if (check_class_folders(dir, classes, n_classes, err, errlen) != 0)
        goto done;
    for (int c = 0; c < CIFAR_CLASSES; c++) {
        if (dataio_join(path, sizeof path, dir, classes[c], err, errlen) != 0 ||
            dataio_list_dir(path, DATAIO_LIST_FILES, ".jpg", &files[c], &per_class[c], err, errlen) != 0)
            goto done;
        if (per_class[c] == 0) {
            snprintf(err, errlen, "%s: no .jpg images in this class folder", path);
            goto done;
        }
    }
    rc = interleave(dir, files, per_class, out, err, errlen);
done:
    for (int c = 0; c < CIFAR_CLASSES; c++)
        dataio_free_list(files[c], per_class[c]);
    dataio_free_list(classes, n_classes);
    if (rc != 0)
        jpeg_list_free(out);
    return rc;
}

static int decode_file(const char *path, uint8_t *record, uint8_t label, char *err, size_t errlen)
{
    uint8_t *jpg = NULL;
    size_t len = 0;
    if (dataio_read_file(path, JPEG_MAX_FILE_BYTES, &jpg, &len, err, errlen) != 0)
        return -1;
    record[0] = label;
    int rc = cifar_jpeg_decode(jpg, len, path, record + 1, err, errlen);
    free(jpg);
    return rc;
}

/* Decodes every image of the list into records (n * 3073 bytes). On failure reports the image with the lowest
 * index that failed, so the message does not depend on thread timing. */
static int decode_all(const JpegList *list, uint8_t *records, char *err, size_t errlen)
{
    int first_bad = list->n;
#pragma omp parallel
    {
        char local[1024];
#pragma omp for schedule(dynamic, 256)
        for (int i = 0; i < list->n; i++) {
            if (decode_file(list->paths[i], records + (size_t)i * CIFAR_RECORD_BYTES, list->labels[i], local,
                            sizeof local) != 0) {
#pragma omp critical(cifar_jpeg_error)
                if (i < first_bad) {
                    first_bad = i;
                    snprintf(err, errlen, "%s", local);
                }
            }
        }
    }
    return first_bad < list->n ? -1 : 0;
}

/* Writes records [0, n) as `files` batch files of near-equal size (10,000 each for the full training set). */
static int write_batches(const char *out_dir, CifarSplit split, const uint8_t *records, int n, char *err,
                         size_t errlen)
{
    int files = split == CIFAR_TRAIN ? CIFAR_TRAIN_FILES : 1;
    char path[DATAIO_PATH_LEN];
    for (int f = 0; f < files; f++) {
        size_t begin = (size_t)n * (size_t)f / (size_t)files, end = (size_t)n * (size_t)(f + 1) / (size_t)files;
        if (dataio_join(path, sizeof path, out_dir, cifar_file_name(split, f), err, errlen) != 0 ||
            dataio_write_file(path, records + begin * CIFAR_RECORD_BYTES, (end - begin) * CIFAR_RECORD_BYTES, err,
                              errlen) != 0)
            return -1;
    }
    return 0;
}

static int convert_split(const char *tree_root, const char *out_dir, CifarSplit split, int *images,
                         int per_class[CIFAR_CLASSES], char *err, size_t errlen)
{
    char dir[DATAIO_PATH_LEN];
    const char *name = split == CIFAR_TRAIN ? "train" : "test";
    JpegList list;
    if (dataio_join(dir, sizeof dir, tree_root, name, err, errlen) != 0)
        return -1;
    if (!dataio_is_dir(dir)) {
        snprintf(err, errlen, "%s: missing folder of the CIFAR-10 JPEG mirror", dir);
        return -1;
    }
    if (list_split(dir, &list, per_class, err, errlen) != 0)
        return -1;
    if (split == CIFAR_TRAIN && list.n < CIFAR_TRAIN_FILES) {
        snprintf(err, errlen, "%s: %d images, fewer than the %d training batch files", dir, list.n,
                 CIFAR_TRAIN_FILES);
        jpeg_list_free(&list);
        return -1;
    }
    uint8_t *records = malloc((size_t)list.n * CIFAR_RECORD_BYTES);
    int rc = -1;
    if (!records)
        snprintf(err, errlen, "%s: out of memory for %d images", dir, list.n);
    else if (decode_all(&list, records, err, errlen) == 0)
        rc = write_batches(out_dir, split, records, list.n, err, errlen);
    *images = list.n;
    free(records);
    jpeg_list_free(&list);
    return rc;
}

int cifar_jpeg_convert(const char *tree_root, const char *out_dir, CifarJpegStats *stats, char *err, size_t errlen)
{
    memset(stats, 0, sizeof *stats);
    if (convert_split(tree_root, out_dir, CIFAR_TRAIN, &stats->train_images, stats->train_per_class, err,
                      errlen) != 0)
        return -1;
    return convert_split(tree_root, out_dir, CIFAR_TEST, &stats->test_images, stats->test_per_class, err, errlen);
}
