/* cifar: CIFAR-10 in the official binary format (data_batch_1..5.bin, test_batch.bin: records of 1 label byte
 * and 3072 pixel bytes, 1024 red then 1024 green then 1024 blue, each 32x32 row-major), with the
 * normalisation and the training augmentation (random crop with padding, horizontal flip) of the usual
 * recipe, seeded.
 *
 * A cache directory made by the fetch step (data.h) also holds SOURCE (which source the pixels came from:
 * "official-binary" or "jpeg-mirror", and the archive and its checksum) and MANIFEST.sha256 (sha256sum format);
 * cifar_load verifies every batch file against the manifest when it is present, so a corrupted cache is
 * never used. Images given to models are floats laid out (32*32, 3): pixels row-major, channels fastest,
 * i.e. a sequence of L = 1024 tokens of D = 3 features (safari's "(h w) c" layout for sequential CIFAR). */
#ifndef SUBQ_CIFAR_H
#define SUBQ_CIFAR_H

#include <stddef.h>
#include <stdint.h>

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_CHANNELS 3
#define CIFAR_IMAGE_BYTES (CIFAR_CHANNELS * CIFAR_PIXELS) /* 3072 */
#define CIFAR_RECORD_BYTES (1 + CIFAR_IMAGE_BYTES)        /* 3073 */
#define CIFAR_CLASSES 10
#define CIFAR_TRAIN_FILES 5
#define CIFAR_RECORDS_PER_FILE 10000 /* in the official archive */
#define CIFAR_SOURCE_LEN 512

typedef enum CifarSplit { CIFAR_TRAIN = 0, CIFAR_TEST = 1 } CifarSplit;

typedef struct CifarSet {
    int n;
    uint8_t *labels; /* (n) in [0, 9] */
    uint8_t *pixels; /* (n, 3, 32, 32), the file layout */
    char source[CIFAR_SOURCE_LEN]; /* the SOURCE file's "source:" value, "unknown" without one */
    char origin[CIFAR_SOURCE_LEN]; /* its "origin:" value (archive path or URL and sha256), or "" */
} CifarSet;

/* Class names in label order. */
const char *cifar_class_name(int label);
/* File name of training batch i (0..4) or of the test batch: "data_batch_1.bin", ..., "test_batch.bin". */
const char *cifar_file_name(CifarSplit split, int i);

/* Appends the records in buf to out (which starts zeroed or from an earlier call). name is used in messages:
 * a size that is not a positive multiple of 3073 bytes ("truncated CIFAR batch"), a label > 9 (naming the
 * record). On error out is unchanged. */
int cifar_parse_records(const uint8_t *buf, size_t len, const char *name, CifarSet *out, char *err, size_t errlen);
/* Loads the split's batch files from dir (all must exist), verifying them against dir/MANIFEST.sha256 when
 * present, and reads dir/SOURCE. out is zeroed first; free it with cifar_free. */
int cifar_load(const char *dir, CifarSplit split, CifarSet *out, char *err, size_t errlen);
void cifar_free(CifarSet *set);
/* Images per class (counts[10]). */
void cifar_class_counts(const CifarSet *set, int counts[CIFAR_CLASSES]);
/* A held-out validation set of n_val images drawn with the seed; the rest is train (both in file order). */
int cifar_split_validation(const CifarSet *all, int n_val, uint64_t seed, CifarSet *train, CifarSet *val, char *err,
                           size_t errlen);

/* ---- normalisation and augmentation ---- */

typedef struct CifarNorm {
    float mean[CIFAR_CHANNELS], std[CIFAR_CHANNELS]; /* on pixel / 255 */
} CifarNorm;

typedef enum CifarPadMode {
    CIFAR_PAD_ZERO = 0,     /* torchvision RandomCrop(32, padding=4): black borders */
    CIFAR_PAD_SYMMETRIC = 1 /* safari's padding_mode="symmetric": mirrored, edge pixel repeated */
} CifarPadMode;

typedef struct CifarAugment {
    int pad;      /* crop a 32x32 window from the image padded by this many pixels; 0: no crop */
    int pad_mode; /* CifarPadMode */
    int flip;     /* 1: mirror left-right with probability 1/2 (after the crop, as torchvision does) */
} CifarAugment;

/* The mean/std used by safari (and the Hyena paper): (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261). */
CifarNorm cifar_norm_default(void);
/* The standard recipe: pad 4 with zeros, flip. */
CifarAugment cifar_augment_default(void);
/* Per-channel mean and (population) standard deviation of pixel / 255 over the set. */
CifarNorm cifar_compute_norm(const CifarSet *set);

/* One image (3, 32, 32) -> out (32*32, 3) normalised, cropped at (crop_x, crop_y) in [0, 2*pad] of the padded
 * image and mirrored when flip. crop_x = crop_y = pad and flip = 0 is the identity crop. */
void cifar_transform(const uint8_t *chw, const CifarNorm *norm, int pad, int pad_mode, int crop_x, int crop_y,
                     int flip, float *out);

/* Training order and augmentation. Batch `index` holds positions index*B .. index*B+B-1 of the endless sequence
 * of epochs; each epoch is a permutation of the set drawn from (seed, epoch), each image's crop and flip from
 * (seed, position): so batch i is a pure function of (seed, i) and a resumed run sees the same batches.
 * The sampler caches the current epoch's permutation (the only state it keeps). */
typedef struct CifarSampler {
    const CifarSet *set;
    CifarNorm norm;
    CifarAugment augment;
    uint64_t seed;
    int *perm;           /* (set->n) */
    long long perm_epoch; /* epoch perm holds, -1 none */
} CifarSampler;

int cifar_sampler_init(CifarSampler *s, const CifarSet *set, const CifarNorm *norm, const CifarAugment *augment,
                       uint64_t seed, char *err, size_t errlen);
void cifar_sampler_free(CifarSampler *s);
/* x (B, 32*32, 3), labels (B). */
void cifar_train_batch(CifarSampler *s, uint64_t index, int B, float *x, int *labels);
/* Evaluation: images first .. first+B-1 in file order, normalised, no augmentation. Returns how many were
 * written (fewer than B at the end of the set, 0 past it). */
int cifar_eval_batch(const CifarSet *set, const CifarNorm *norm, int first, int B, float *x, int *labels);

#endif
