/* cifar_jpeg: the JPEG mirror of CIFAR-10 (ROOT/train/<class>/NNNN.jpg, ROOT/test/<class>/NNNN.jpg, 32x32,
 * class folders named as the official classes) decoded once with libjpeg-turbo into the official binary
 * format, so the rest of the code reads one format.
 *
 * Record order in the written batches: classes interleaved (image 0 of each class in label order, then image 1
 * of each, ...; files sorted by name within a class), so every prefix of the training set, and every one of
 * the five training files, is class-balanced, like the official files are. The decode is strict: a libjpeg
 * warning about corrupt data (which libjpeg would otherwise paper over with grey pixels) is an error. */
#ifndef SUBQ_CIFAR_JPEG_H
#define SUBQ_CIFAR_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "cifar.h"

/* Decodes one 32x32 JPEG (RGB or greyscale) from memory into chw (3, 32, 32). name is used in messages. */
int cifar_jpeg_decode(const uint8_t *jpg, size_t len, const char *name, uint8_t chw[CIFAR_IMAGE_BYTES], char *err,
                      size_t errlen);

typedef struct CifarJpegStats {
    int train_images, test_images;
    int train_per_class[CIFAR_CLASSES], test_per_class[CIFAR_CLASSES];
} CifarJpegStats;

/* Decodes tree_root/{train,test} and writes data_batch_1..5.bin and test_batch.bin into out_dir (which must
 * exist). Errors name the folder or image and the problem: unexpected class folders, no images, a JPEG that
 * does not decode or is not 32x32. Decodes in parallel (OpenMP); the output does not depend on the thread
 * count. */
int cifar_jpeg_convert(const char *tree_root, const char *out_dir, CifarJpegStats *stats, char *err, size_t errlen);

#endif
