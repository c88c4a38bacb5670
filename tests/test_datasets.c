/* datasets: known answers on small files written here (both CIFAR-10 formats, text corpora, WikiText), split
 * sizes, determinism of batches and of the associative recall generator, every error path (the message names
 * the file and the problem), the fetch step's refusals, and the inputs the fuzzers found. No network, no mirror. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

#include "cifar.h"
#include "cifar_jpeg.h"
#include "data.h"
#include "data_fuzz.h"
#include "dataio.h"
#include "manifest.h"
#include "recall.h"
#include "sha256.h"
#include "text.h"

#define ERR_SIZE 2048

static char tmp_root[64];

static void tmp_make(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/subq_datasets_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}

static void tmp_remove(void)
{
    char err[256];
    cr_assert_eq(dataio_remove_tree(tmp_root, err, sizeof err), 0, "%s", err);
}

/* out = tmp_root/rel; creates the parent folders. */
static void tmp_path(char *out, size_t outlen, const char *rel)
{
    char err[256], parent[DATAIO_PATH_LEN];
    snprintf(out, outlen, "%s/%s", tmp_root, rel);
    snprintf(parent, sizeof parent, "%s", out);
    *strrchr(parent, '/') = '\0';
    cr_assert_eq(dataio_make_dirs(parent, err, sizeof err), 0, "%s", err);
}

static void put_file(const char *rel, const void *data, size_t len)
{
    char path[DATAIO_PATH_LEN];
    tmp_path(path, sizeof path, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

#define assert_mentions(err, a, b) \
    cr_assert(strstr(err, a) && strstr(err, b), "message \"%s\" should name \"%s\" and \"%s\"", err, a, b)

/* ---- SHA-256 and manifests ---- */

TestSuite(sha256);

Test(sha256, digests_match_the_fips_180_4_examples)
{
    char hex[SHA256_HEX_LEN];
    sha256_hex("", 0, hex);
    cr_expect_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex);
    cr_expect_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha256_hex(two_blocks, strlen(two_blocks), hex);
    cr_expect_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a' in uneven pieces exercises the partial-block path */
    Sha256 h;
    uint8_t digest[SHA256_DIGEST_BYTES], chunk[997];
    memset(chunk, 'a', sizeof chunk);
    sha256_init(&h);
    for (size_t done = 0; done < 1000000; done += sizeof chunk)
        sha256_update(&h, chunk, 1000000 - done < sizeof chunk ? 1000000 - done : sizeof chunk);
    sha256_final(&h, digest);
    sha256_digest_to_hex(digest, hex);
    cr_expect_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TestSuite(manifest, .init = tmp_make, .fini = tmp_remove);

Test(manifest, round_trips_in_sha256sum_format_and_detects_a_changed_file)
{
    char err[ERR_SIZE], dir[DATAIO_PATH_LEN], path[DATAIO_PATH_LEN];
    put_file("m/b.txt", "abc", 3);
    put_file("m/a.txt", "", 0);
    tmp_path(dir, sizeof dir, "m/x");
    *strrchr(dir, '/') = '\0';
    char *names[] = {"b.txt", "a.txt"};
    Manifest m, back;
    cr_assert_eq(manifest_create(dir, names, 2, &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(manifest_read(dir, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(back.count, 2);
    cr_expect_str_eq(back.entries[0].name, "a.txt");
    cr_expect_str_eq(manifest_lookup(&back, "b.txt"),
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_expect_eq(manifest_verify(dir, &back, err, sizeof err), 0, "%s", err);
    uint8_t *text;
    size_t len;
    char digest[SHA256_HEX_LEN], expected[SHA256_HEX_LEN];
    cr_assert_eq(dataio_join(path, sizeof path, dir, MANIFEST_FILE, err, sizeof err), 0);
    cr_assert_eq(dataio_read_file(path, 1 << 20, &text, &len, err, sizeof err), 0);
    sha256_hex(text, len, expected);
    manifest_digest(&back, digest);
    cr_expect_str_eq(digest, expected, "the digest is the sha256 of the file's bytes");
    free(text);
    /* The manifest covers the whole directory: an extra file (which a loader would read with the corpus) or
     * directory fails verification, as a missing or changed file does. */
    put_file("m/extra.txt", "more text", 9);
    cr_expect_eq(manifest_verify(dir, &back, err, sizeof err), -1);
    assert_mentions(err, "extra.txt", "not listed");
    cr_assert_eq(dataio_join(path, sizeof path, dir, "extra.txt", err, sizeof err), 0);
    unlink(path);
    cr_expect_eq(manifest_verify(dir, &back, err, sizeof err), 0, "%s", err);
    put_file("m/b.txt", "abd", 3);
    cr_expect_eq(manifest_verify(dir, &back, err, sizeof err), -1);
    assert_mentions(err, "b.txt", "does not match");
    manifest_free(&m), manifest_free(&back);
    put_file("m/" MANIFEST_FILE, "deadbeef  a.txt\n", 16);
    cr_expect_eq(manifest_read(dir, &back, err, sizeof err), -1);
    assert_mentions(err, MANIFEST_FILE, "line 1");
}

/* ---- CIFAR-10, official binary format ---- */

static uint8_t pixel_value(int image, int c, int y, int x) { return (uint8_t)(image * 37 + c * 80 + y * 5 + x * 3); }

static void make_record(uint8_t *rec, int label, int image)
{
    rec[0] = (uint8_t)label;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                rec[1 + c * 1024 + y * 32 + x] = pixel_value(image, c, y, x);
}

/* Five training files of two records (image i has label i % 10) and a test file of three (labels 7, 8, 9). */
static void write_official_tree(const char *dir)
{
    uint8_t recs[3 * CIFAR_RECORD_BYTES];
    char rel[256];
    for (int f = 0; f < 5; f++) {
        for (int r = 0; r < 2; r++)
            make_record(recs + r * CIFAR_RECORD_BYTES, (2 * f + r) % 10, 2 * f + r);
        snprintf(rel, sizeof rel, "%s/%s", dir, cifar_file_name(CIFAR_TRAIN, f));
        put_file(rel, recs, 2 * CIFAR_RECORD_BYTES);
    }
    for (int r = 0; r < 3; r++)
        make_record(recs + r * CIFAR_RECORD_BYTES, 7 + r, 100 + r);
    snprintf(rel, sizeof rel, "%s/test_batch.bin", dir);
    put_file(rel, recs, 3 * CIFAR_RECORD_BYTES);
}

TestSuite(cifar, .init = tmp_make, .fini = tmp_remove);

Test(cifar, official_batches_load_labels_and_pixels_in_file_order)
{
    char err[ERR_SIZE], dir[DATAIO_PATH_LEN];
    write_official_tree("bin");
    snprintf(dir, sizeof dir, "%s/bin", tmp_root);
    CifarSet train, test;
    cr_assert_eq(cifar_load(dir, CIFAR_TRAIN, &train, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train.n, 10);
    for (int i = 0; i < 10; i++)
        cr_expect_eq(train.labels[i], i % 10);
    cr_expect_eq(train.pixels[7 * 3072 + 2 * 1024 + 31 * 32 + 0], pixel_value(7, 2, 31, 0));
    cr_expect_str_eq(train.source, "unknown", "no SOURCE file: the loader says so");
    cr_assert_eq(cifar_load(dir, CIFAR_TEST, &test, err, sizeof err), 0, "%s", err);
    cr_assert_eq(test.n, 3);
    cr_expect(test.labels[0] == 7 && test.labels[2] == 9);
    cr_expect_eq(test.pixels[2 * 3072 + 5], pixel_value(102, 0, 0, 5));
    cifar_free(&train), cifar_free(&test);
}

Test(cifar, load_returns_the_recorded_source_and_refuses_files_that_differ_from_the_manifest)
{
    char err[ERR_SIZE], dir[DATAIO_PATH_LEN];
    write_official_tree("bin");
    snprintf(dir, sizeof dir, "%s/bin", tmp_root);
    char *names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                     "data_batch_5.bin", "test_batch.bin"};
    Manifest m;
    cr_assert_eq(manifest_create(dir, names, 6, &m, err, sizeof err), 0, "%s", err);
    manifest_free(&m);
    cr_assert_eq(manifest_write_source(dir, "jpeg-mirror", "a test tree", err, sizeof err), 0, "%s", err);
    CifarSet set;
    cr_assert_eq(cifar_load(dir, CIFAR_TRAIN, &set, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(set.source, "jpeg-mirror");
    cr_expect_str_eq(set.origin, "a test tree");
    cifar_free(&set);
    uint8_t rec[CIFAR_RECORD_BYTES];
    make_record(rec, 3, 55); /* same size, other pixels */
    put_file("bin/data_batch_4.bin", rec, sizeof rec);
    cr_assert_eq(cifar_load(dir, CIFAR_TRAIN, &set, err, sizeof err), -1);
    assert_mentions(err, "data_batch_4.bin", "the cache is corrupt");
    cr_expect_eq(set.n, 0);
}

Test(cifar, truncated_batch_is_refused_naming_the_file)
{
    char err[ERR_SIZE], dir[DATAIO_PATH_LEN];
    write_official_tree("bin");
    uint8_t recs[2 * CIFAR_RECORD_BYTES];
    make_record(recs, 1, 0), make_record(recs + CIFAR_RECORD_BYTES, 2, 1);
    put_file("bin/data_batch_2.bin", recs, sizeof recs - 5);
    snprintf(dir, sizeof dir, "%s/bin", tmp_root);
    CifarSet set;
    cr_assert_eq(cifar_load(dir, CIFAR_TRAIN, &set, err, sizeof err), -1);
    assert_mentions(err, "bin/data_batch_2.bin", "truncated CIFAR batch");
    cr_expect(strstr(err, "3068 bytes left over"), "%s", err);
    put_file("bin/data_batch_2.bin", "", 0);
    cr_assert_eq(cifar_load(dir, CIFAR_TRAIN, &set, err, sizeof err), -1);
    assert_mentions(err, "data_batch_2.bin", "empty CIFAR batch");
}

Test(cifar, label_above_9_is_refused_naming_file_and_record)
{
    char err[ERR_SIZE], dir[DATAIO_PATH_LEN];
    write_official_tree("bin");
    uint8_t recs[2 * CIFAR_RECORD_BYTES];
    make_record(recs, 1, 0), make_record(recs + CIFAR_RECORD_BYTES, 10, 1);
    put_file("bin/test_batch.bin", recs, sizeof recs);
    snprintf(dir, sizeof dir, "%s/bin", tmp_root);
    CifarSet set;
    cr_assert_eq(cifar_load(dir, CIFAR_TEST, &set, err, sizeof err), -1);
    assert_mentions(err, "test_batch.bin: record 1", "label 10");
}

Test(cifar, missing_batch_file_is_refused_naming_it)
{
    char err[ERR_SIZE], dir[DATAIO_PATH_LEN], path[DATAIO_PATH_LEN];
    write_official_tree("bin");
    snprintf(dir, sizeof dir, "%s/bin", tmp_root);
    cr_assert_eq(dataio_join(path, sizeof path, dir, "data_batch_3.bin", err, sizeof err), 0);
    cr_assert_eq(remove(path), 0);
    CifarSet set;
    cr_assert_eq(cifar_load(dir, CIFAR_TRAIN, &set, err, sizeof err), -1);
    assert_mentions(err, "data_batch_3.bin", "missing CIFAR-10 batch file");
}

/* A set of n images, image i of label i % 10 with the pixel_value pattern. */
static void make_set(CifarSet *set, int n)
{
    memset(set, 0, sizeof *set);
    uint8_t *recs = malloc((size_t)n * CIFAR_RECORD_BYTES);
    char err[256];
    cr_assert_not_null(recs);
    for (int i = 0; i < n; i++)
        make_record(recs + (size_t)i * CIFAR_RECORD_BYTES, i % 10, i);
    cr_assert_eq(cifar_parse_records(recs, (size_t)n * CIFAR_RECORD_BYTES, "set", set, err, sizeof err), 0, "%s", err);
    free(recs);
}

static float normalised(const CifarNorm *n, int c, uint8_t v) { return (v / 255.0f - n->mean[c]) / n->std[c]; }

Test(cifar, transform_normalises_crops_with_zero_or_mirrored_borders_and_flips)
{
    CifarSet set;
    make_set(&set, 1);
    CifarNorm n = cifar_norm_default();
    float out[CIFAR_IMAGE_BYTES];
    const uint8_t *img = set.pixels;
#define OUT(y, x, c) out[((y) * 32 + (x)) * 3 + (c)]
    cifar_transform(img, &n, 0, CIFAR_PAD_ZERO, 0, 0, 0, out); /* identity: (32*32, 3) layout */
    cr_expect_float_eq(OUT(3, 5, 2), normalised(&n, 2, pixel_value(0, 2, 3, 5)), 1e-5f);
    cifar_transform(img, &n, 4, CIFAR_PAD_ZERO, 0, 0, 0, out); /* window at the padded image's top-left */
    cr_expect_float_eq(OUT(0, 0, 1), normalised(&n, 1, 0), 1e-5f, "zero border");
    cr_expect_float_eq(OUT(4, 4, 1), normalised(&n, 1, pixel_value(0, 1, 0, 0)), 1e-5f);
    cifar_transform(img, &n, 4, CIFAR_PAD_SYMMETRIC, 8, 0, 0, out);
    cr_expect_float_eq(OUT(4, 31, 0), normalised(&n, 0, pixel_value(0, 0, 0, 28)), 1e-5f, "x 35 mirrors to 28");
    cr_expect_float_eq(OUT(0, 0, 0), normalised(&n, 0, pixel_value(0, 0, 3, 4)), 1e-5f, "y -4 mirrors to 3");
    cifar_transform(img, &n, 4, CIFAR_PAD_ZERO, 4, 4, 1, out); /* centred crop, mirrored */
    cr_expect_float_eq(OUT(7, 0, 2), normalised(&n, 2, pixel_value(0, 2, 7, 31)), 1e-5f);
    cr_expect_float_eq(OUT(7, 31, 2), normalised(&n, 2, pixel_value(0, 2, 7, 0)), 1e-5f);
#undef OUT
    cifar_free(&set);
}

Test(cifar, computed_norm_is_the_per_channel_mean_and_std)
{
    uint8_t recs[2 * CIFAR_RECORD_BYTES];
    memset(recs, 0, sizeof recs);
    memset(recs + CIFAR_RECORD_BYTES + 1, 255, CIFAR_IMAGE_BYTES); /* one black image, one white */
    memset(recs + 1 + 2048, 51, 1024);                              /* blue of the first: 0.2 */
    CifarSet set = {0};
    char err[256];
    cr_assert_eq(cifar_parse_records(recs, sizeof recs, "x", &set, err, sizeof err), 0, "%s", err);
    CifarNorm n = cifar_compute_norm(&set);
    cr_expect_float_eq(n.mean[0], 0.5f, 1e-6f);
    cr_expect_float_eq(n.std[0], 0.5f, 1e-6f);
    cr_expect_float_eq(n.mean[2], 0.6f, 1e-6f);
    cr_expect_float_eq(n.std[2], 0.4f, 1e-6f);
    cifar_free(&set);
}

Test(cifar, training_batches_are_a_pure_function_of_seed_and_index_and_cover_each_epoch_once)
{
    CifarSet set;
    make_set(&set, 10);
    CifarNorm n = cifar_norm_default();
    CifarAugment aug = cifar_augment_default(), none = {0, CIFAR_PAD_ZERO, 0};
    CifarSampler a, b, c, plain;
    char err[256];
    cr_assert_eq(cifar_sampler_init(&a, &set, &n, &aug, 7, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cifar_sampler_init(&b, &set, &n, &aug, 7, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cifar_sampler_init(&c, &set, &n, &aug, 8, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cifar_sampler_init(&plain, &set, &n, &none, 7, err, sizeof err), 0, "%s", err);
    static float xa[4 * CIFAR_IMAGE_BYTES], xb[4 * CIFAR_IMAGE_BYTES], xc[4 * CIFAR_IMAGE_BYTES];
    int la[4], lb[4], lc[4];
    cifar_train_batch(&a, 1, 4, xa, la); /* a visits epochs 0 and 3 before batch 5 (epoch 2) */
    cifar_train_batch(&a, 9, 4, xa, la);
    cifar_train_batch(&a, 5, 4, xa, la);
    cifar_train_batch(&b, 5, 4, xb, lb);
    cifar_train_batch(&c, 5, 4, xc, lc);
    cr_expect(memcmp(xa, xb, sizeof xa) == 0 && memcmp(la, lb, sizeof la) == 0, "same seed, same batch");
    cr_expect(memcmp(xa, xc, sizeof xa) != 0, "another seed, another batch");
    int seen[10] = {0}, labels[5];
    static float x[5 * CIFAR_IMAGE_BYTES];
    for (int batch = 2; batch < 4; batch++) { /* epoch 1 = positions 10..19 = batches 2 and 3 of 5 */
        cifar_train_batch(&plain, (uint64_t)batch, 5, x, labels);
        for (int i = 0; i < 5; i++)
            seen[labels[i]]++;
    }
    for (int i = 0; i < 10; i++)
        cr_expect_eq(seen[i], 1, "image %d seen %d times in one epoch", i, seen[i]);
    cr_expect_eq(cifar_eval_batch(&set, &n, 8, 4, x, labels), 2, "the last evaluation batch is short");
    cr_expect(labels[0] == 8 && labels[1] == 9);
    cifar_sampler_free(&a), cifar_sampler_free(&b), cifar_sampler_free(&c), cifar_sampler_free(&plain);
    cifar_free(&set);
}

Test(cifar, validation_split_is_seeded_disjoint_and_complete)
{
    CifarSet all, tr, va, tr2, va2;
    char err[256];
    make_set(&all, 10);
    cr_assert_eq(cifar_split_validation(&all, 3, 42, &tr, &va, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cifar_split_validation(&all, 3, 42, &tr2, &va2, err, sizeof err), 0, "%s", err);
    cr_assert(tr.n == 7 && va.n == 3);
    int seen[10] = {0};
    for (int i = 0; i < tr.n; i++)
        seen[tr.labels[i]]++;
    for (int i = 0; i < va.n; i++) {
        seen[va.labels[i]]++;
        cr_expect_eq(va.labels[i], va2.labels[i], "the same seed picks the same images");
    }
    for (int i = 0; i < 10; i++)
        cr_expect_eq(seen[i], 1);
    cr_expect_eq(cifar_split_validation(&all, 11, 42, &tr2, &va2, err, sizeof err), -1);
    cifar_free(&all), cifar_free(&tr), cifar_free(&va), cifar_free(&tr2), cifar_free(&va2);
}

/* ---- CIFAR-10, JPEG mirror ---- */

/* Encodes w x h pixels (comps 3: RGB, 1: grey) at quality 100 without chroma subsampling. */
static void put_jpeg(const char *rel, const uint8_t *pixels, int w, int h, int comps)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *buf = NULL;
    unsigned long len = 0;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)w, c.image_height = (JDIMENSION)h, c.input_components = comps;
    c.in_color_space = comps == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < h; y++) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)y * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    put_file(rel, buf, len);
    free(buf);
}

/* Image k of class c: a solid colour that names both, plus a luminance ramp along x for orientation. */
static void jpeg_colour(int c, int k, int x, uint8_t rgb[3])
{
    rgb[0] = (uint8_t)(10 + 20 * c + x), rgb[1] = (uint8_t)(200 - 15 * c + x), rgb[2] = (uint8_t)(20 + 100 * k + x);
}

/* train/<class>/000k.jpg for k < per_class, test/<class>/0000.jpg; test/airplane is a grey image of value 77. */
static void write_jpeg_tree(const char *root, int per_class)
{
    uint8_t rgb[32 * 32 * 3], grey[32 * 32];
    char rel[256];
    for (int c = 0; c < CIFAR_CLASSES; c++)
        for (int k = 0; k < per_class + 1; k++) {
            for (int p = 0; p < 32 * 32; p++)
                jpeg_colour(c, k, p % 32, rgb + 3 * p);
            snprintf(rel, sizeof rel, "%s/%s/%s/%04d.jpg", root, k < per_class ? "train" : "test",
                     cifar_class_name(c), k < per_class ? k : 0);
            put_jpeg(rel, rgb, 32, 32, 3);
        }
    memset(grey, 77, sizeof grey);
    snprintf(rel, sizeof rel, "%s/test/airplane/0000.jpg", root);
    put_jpeg(rel, grey, 32, 32, 1);
}

static void jpeg_convert_expect_error(const char *a, const char *b)
{
    char err[ERR_SIZE], tree[DATAIO_PATH_LEN], out[DATAIO_PATH_LEN];
    CifarJpegStats st;
    snprintf(tree, sizeof tree, "%s/tree", tmp_root);
    tmp_path(out, sizeof out, "out/x");
    *strrchr(out, '/') = '\0';
    cr_assert_eq(cifar_jpeg_convert(tree, out, &st, err, sizeof err), -1);
    assert_mentions(err, a, b);
}

TestSuite(cifar_jpeg, .init = tmp_make, .fini = tmp_remove);

Test(cifar_jpeg, mirror_tree_converts_to_official_batches_with_classes_interleaved)
{
    char err[ERR_SIZE], tree[DATAIO_PATH_LEN], out[DATAIO_PATH_LEN];
    write_jpeg_tree("tree", 2);
    snprintf(tree, sizeof tree, "%s/tree", tmp_root);
    tmp_path(out, sizeof out, "out/x");
    *strrchr(out, '/') = '\0';
    CifarJpegStats st;
    cr_assert_eq(cifar_jpeg_convert(tree, out, &st, err, sizeof err), 0, "%s", err);
    cr_expect(st.train_images == 20 && st.test_images == 10 && st.train_per_class[9] == 2 && st.test_per_class[0] == 1);
    CifarSet train, test;
    cr_assert_eq(cifar_load(out, CIFAR_TRAIN, &train, err, sizeof err), 0, "%s", err);
    cr_assert_eq(train.n, 20, "five files of four records");
    int worst = 0;
    for (int i = 0; i < 20; i++) {
        int c = i % 10, k = i / 10; /* record order: image 0 of every class, then image 1 */
        cr_expect_eq(train.labels[i], c);
        for (int x = 0; x < 32; x += 31) {
            uint8_t rgb[3];
            jpeg_colour(c, k, x, rgb);
            for (int ch = 0; ch < 3; ch++) {
                int d = abs((int)train.pixels[i * 3072 + ch * 1024 + 17 * 32 + x] - rgb[ch]);
                worst = d > worst ? d : worst;
            }
        }
    }
    cr_expect_leq(worst, 2, "decoded pixels within 2 of the encoded ones at quality 100 (worst %d)", worst);
    cr_assert_eq(cifar_load(out, CIFAR_TEST, &test, err, sizeof err), 0, "%s", err);
    cr_expect(test.n == 10 && test.labels[0] == 0 && test.labels[9] == 9);
    cr_expect(abs(test.pixels[0] - 77) <= 1 && abs(test.pixels[1024 + 500] - 77) <= 1 &&
                  abs(test.pixels[2048 + 1023] - 77) <= 1,
              "a grey JPEG becomes three equal channels");
    cifar_free(&train), cifar_free(&test);
}

Test(cifar_jpeg, undecodable_or_truncated_jpeg_is_refused_naming_the_image)
{
    write_jpeg_tree("tree", 1);
    put_file("tree/train/cat/0000.jpg", "this is not a JPEG", 18);
    jpeg_convert_expect_error("train/cat/0000.jpg", "JPEG does not decode");
    char path[DATAIO_PATH_LEN], err[ERR_SIZE];
    uint8_t *jpg, chw[CIFAR_IMAGE_BYTES];
    size_t len;
    write_jpeg_tree("tree", 1);
    tmp_path(path, sizeof path, "tree/train/dog/0000.jpg");
    cr_assert_eq(dataio_read_file(path, 1 << 20, &jpg, &len, err, sizeof err), 0);
    put_file("tree/train/dog/0000.jpg", jpg, len / 2); /* libjpeg alone would fill the rest with grey */
    jpeg_convert_expect_error("train/dog/0000.jpg", "JPEG does not decode");
    cr_expect_eq(cifar_jpeg_decode(jpg, 0, "empty.jpg", chw, err, sizeof err), -1);
    assert_mentions(err, "empty.jpg", "empty file");
    free(jpg);
}

Test(cifar_jpeg, image_that_is_not_32x32_is_refused_naming_its_size)
{
    static uint8_t rgb[16 * 16 * 3];
    write_jpeg_tree("tree", 1);
    put_jpeg("tree/test/ship/0000.jpg", rgb, 16, 16, 3);
    jpeg_convert_expect_error("test/ship/0000.jpg", "16x16");
}

Test(cifar_jpeg, unexpected_class_folders_missing_images_or_split_are_refused)
{
    char path[DATAIO_PATH_LEN], err[256];
    write_jpeg_tree("tree", 1);
    put_jpeg("tree/train/zebra/0000.jpg", (uint8_t[32 * 32]){0}, 32, 32, 1);
    jpeg_convert_expect_error("tree/train", "expected the 10 class folders");
    tmp_path(path, sizeof path, "tree/train/zebra");
    cr_assert_eq(dataio_remove_tree(path, err, sizeof err), 0);
    tmp_path(path, sizeof path, "tree/train/frog/0000.jpg");
    cr_assert_eq(remove(path), 0);
    jpeg_convert_expect_error("train/frog", "no .jpg images");
    write_jpeg_tree("tree2", 1);
    tmp_path(path, sizeof path, "tree2/test");
    cr_assert_eq(dataio_remove_tree(path, err, sizeof err), 0);
    char tree[DATAIO_PATH_LEN], out[DATAIO_PATH_LEN], msg[ERR_SIZE];
    CifarJpegStats st;
    snprintf(tree, sizeof tree, "%s/tree2", tmp_root);
    snprintf(out, sizeof out, "%s", tmp_root);
    cr_assert_eq(cifar_jpeg_convert(tree, out, &st, msg, sizeof msg), -1);
    assert_mentions(msg, "tree2/test", "missing folder");
}

/* ---- text corpora ---- */

TestSuite(text, .init = tmp_make, .fini = tmp_remove);

/* n bytes of lower-case letters in a pattern that does not repeat within 26 * 27 bytes. */
static void letters(uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)('a' + (i + i / 26) % 26);
}

Test(text, shakespeare_split_is_the_first_90_percent_and_the_last_10)
{
    uint8_t corpus[1001];
    char path[DATAIO_PATH_LEN], err[ERR_SIZE];
    letters(corpus, sizeof corpus);
    put_file("input.txt", corpus, sizeof corpus);
    tmp_path(path, sizeof path, "input.txt");
    TextDataset ds;
    cr_assert_eq(text_load_shakespeare(path, &ds, err, sizeof err), 0, "%s", err);
    cr_expect_eq(ds.len[TEXT_TRAIN], 900, "floor(0.9 * 1001)");
    cr_expect_eq(ds.len[TEXT_VALID], 101);
    cr_expect_eq(ds.len[TEXT_TEST], 0);
    cr_expect(memcmp(ds.tokens[TEXT_VALID], corpus + 900, 101) == 0);
    cr_expect(memcmp(ds.tokens[TEXT_TRAIN], corpus, 900) == 0);
    text_free(&ds);
}

Test(text, sotu_puts_every_10th_speech_in_test_and_the_next_in_validation)
{
    char rel[64], body[64], dir[DATAIO_PATH_LEN], err[ERR_SIZE];
    for (int i = 0; i < 25; i++) {
        snprintf(rel, sizeof rel, "sotu/%d_speaker_x.txt", 1790 + i);
        int len = snprintf(body, sizeof body, "Speech %d. Fellow citizens \xe2\x80\x94 %s\n", i,
                           i % 2 ? "odd" : "even");
        put_file(rel, body, (size_t)len);
    }
    put_file("sotu/README.md", "not a speech", 12);
    snprintf(dir, sizeof dir, "%s/sotu", tmp_root);
    TextDataset ds;
    cr_assert_eq(text_load_sotu(dir, &ds, err, sizeof err), 0, "%s", err);
    cr_expect(ds.docs[TEXT_TRAIN] == 21 && ds.docs[TEXT_VALID] == 2 && ds.docs[TEXT_TEST] == 2,
              "docs %d/%d/%d", ds.docs[0], ds.docs[1], ds.docs[2]);
    const char *test = "Speech 9. Fellow citizens \xe2\x80\x94 odd\nSpeech 19. Fellow citizens \xe2\x80\x94 odd\n";
    cr_expect_eq(ds.len[TEXT_TEST], strlen(test));
    cr_expect(memcmp(ds.tokens[TEXT_TEST], test, strlen(test)) == 0, "speeches 9 and 19, in order");
    cr_expect(memcmp(ds.tokens[TEXT_VALID], "Speech 10.", 10) == 0);
    cr_expect(memcmp(ds.tokens[TEXT_TRAIN], "Speech 0.", 9) == 0);
    text_free(&ds);
}

Test(text, wikitext_raw_files_become_the_three_splits)
{
    char dir[DATAIO_PATH_LEN], err[ERR_SIZE];
    const char *train = " = Valkyria Chronicles III = \n\n Senj\xc5\x8d no Valkyria 3 : <unk> Chronicles \n";
    put_file("wt/wiki.train.raw", train, strlen(train));
    put_file("wt/wiki.valid.raw", " = Homarus gammarus = \n", 23);
    put_file("wt/wiki.test.raw", " = Robert Boulter = \n", 21);
    snprintf(dir, sizeof dir, "%s/wt", tmp_root);
    TextDataset ds;
    cr_assert_eq(text_load_wikitext(dir, &ds, err, sizeof err), 0, "%s", err);
    cr_expect(ds.len[TEXT_TRAIN] == strlen(train) && ds.len[TEXT_VALID] == 23 && ds.len[TEXT_TEST] == 21);
    cr_expect(memcmp(ds.tokens[TEXT_TEST], " = Robert Boulter = \n", 21) == 0);
    cr_expect_eq(ds.tokens[TEXT_TRAIN][36], 0xc5, "UTF-8 bytes are tokens as they are");
    text_free(&ds);
}

Test(text, missing_wikitext_file_is_named)
{
    char dir[DATAIO_PATH_LEN], err[ERR_SIZE];
    put_file("wt/wiki.train.raw", "abc\n", 4);
    put_file("wt/wiki.test.raw", "abc\n", 4);
    snprintf(dir, sizeof dir, "%s/wt", tmp_root);
    TextDataset ds;
    cr_assert_eq(text_load_wikitext(dir, &ds, err, sizeof err), -1);
    assert_mentions(err, "wt/wiki.valid.raw", "missing WikiText file");
}

static void expect_refused(const char *bytes, size_t len, const char *problem)
{
    char path[DATAIO_PATH_LEN], err[ERR_SIZE];
    put_file("corpus.txt", bytes, len);
    tmp_path(path, sizeof path, "corpus.txt");
    TextDataset ds;
    cr_assert_eq(text_load_shakespeare(path, &ds, err, sizeof err), -1, "accepted: %s", problem);
    assert_mentions(err, "corpus.txt", problem);
}

Test(text, empty_or_non_text_corpus_is_refused_naming_file_and_problem)
{
    expect_refused("", 0, "empty corpus");
    expect_refused("hello\0world", 11, "NUL byte at offset 5");
    expect_refused("ab\xff""cd", 5, "invalid UTF-8 at byte offset 2");
    expect_refused("ab\xc0\x80", 4, "invalid UTF-8 at byte offset 2");         /* overlong NUL */
    expect_refused("ab\xed\xa0\x80", 5, "invalid UTF-8 at byte offset 2");     /* a surrogate */
    expect_refused("ab\xe2\x82", 4, "invalid UTF-8 at byte offset 2");         /* cut short */
    expect_refused("a\x01\x02\x03\x04\x05", 6, "control characters");
    char err[256];
    const char *ok = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\t\r\n";
    cr_expect_eq(text_check((const uint8_t *)ok, strlen(ok), "ok", err, sizeof err), 0, "%s", err);
}

Test(text, empty_speech_or_empty_folder_is_refused_naming_it)
{
    char dir[DATAIO_PATH_LEN], err[ERR_SIZE];
    TextDataset ds;
    put_file("sotu/1790_a.txt", "Fellow citizens\n", 16);
    put_file("sotu/1791_b.txt", "", 0);
    snprintf(dir, sizeof dir, "%s/sotu", tmp_root);
    cr_assert_eq(text_load_sotu(dir, &ds, err, sizeof err), -1);
    assert_mentions(err, "sotu/1791_b.txt", "empty corpus");
    put_file("none/notes.md", "x", 1);
    snprintf(dir, sizeof dir, "%s/none", tmp_root);
    cr_assert_eq(text_load_sotu(dir, &ds, err, sizeof err), -1);
    assert_mentions(err, "none", "no .txt speeches");
}

static void make_corpus(TextDataset *ds, size_t n)
{
    uint8_t *corpus = malloc(n);
    char err[256];
    cr_assert_not_null(corpus);
    letters(corpus, n);
    cr_assert_eq(text_from_buffer_90_10(corpus, n, "corpus", ds, err, sizeof err), 0, "%s", err);
    free(corpus);
}

Test(text, batches_are_contiguous_windows_with_next_token_targets_and_depend_only_on_seed_and_index)
{
    TextDataset ds;
    make_corpus(&ds, 600);
    enum { B = 4, T = 16 };
    int ids[B * T], targets[B * T], ids2[B * T], targets2[B * T];
    char err[256];
    cr_assert_eq(text_batch(&ds, TEXT_TRAIN, 5, 3, ids, targets, B, T, err, sizeof err), 0, "%s", err);
    for (int b = 0; b < B; b++) {
        int found = 0;
        for (size_t s = 0; s + T < ds.len[TEXT_TRAIN] && !found; s++) {
            found = 1;
            for (int t = 0; t < T && found; t++)
                found = ids[b * T + t] == ds.tokens[TEXT_TRAIN][s + t] &&
                        targets[b * T + t] == ds.tokens[TEXT_TRAIN][s + t + 1];
        }
        cr_expect(found, "window %d is a contiguous piece of the train split with next-token targets", b);
    }
    cr_assert_eq(text_batch(&ds, TEXT_TRAIN, 5, 7, ids2, targets2, B, T, err, sizeof err), 0);
    cr_assert_eq(text_batch(&ds, TEXT_TRAIN, 5, 3, ids2, targets2, B, T, err, sizeof err), 0);
    cr_expect(memcmp(ids, ids2, sizeof ids) == 0 && memcmp(targets, targets2, sizeof targets) == 0);
    cr_assert_eq(text_batch(&ds, TEXT_TRAIN, 6, 3, ids2, targets2, B, T, err, sizeof err), 0);
    cr_expect(memcmp(ids, ids2, sizeof ids) != 0, "another seed, other windows");
    ds.seed = 5;
    cr_assert_eq(text_dataset_batch(&ds, TEXT_TRAIN, 3, ids2, targets2, B, T, err, sizeof err), 0);
    cr_expect(memcmp(ids, ids2, sizeof ids) == 0, "the training-loop callback uses ds->seed");
    text_free(&ds);
}

Test(text, split_shorter_than_a_window_is_refused_and_sequential_windows_tile_the_split)
{
    TextDataset ds;
    make_corpus(&ds, 600); /* valid: 60 tokens */
    int ids[8 * 20], targets[8 * 20];
    char err[256];
    cr_assert_eq(text_batch(&ds, TEXT_VALID, 1, 0, ids, targets, 1, 60, err, sizeof err), -1);
    assert_mentions(err, "valid split has 60 tokens", "61");
    cr_assert_eq(text_batch(&ds, TEXT_TEST, 1, 0, ids, targets, 1, 4, err, sizeof err), -1);
    assert_mentions(err, "test split has 0 tokens", "corpus");
    cr_expect_eq(text_sequential_windows(&ds, TEXT_VALID, 20), 2, "(60 - 1) / 20");
    cr_assert_eq(text_sequential_batch(&ds, TEXT_VALID, 0, ids, targets, 8, 20, err, sizeof err), 2);
    cr_expect(ids[20] == ds.tokens[TEXT_VALID][20] && targets[39] == ds.tokens[TEXT_VALID][40]);
    cr_expect_eq(text_sequential_batch(&ds, TEXT_VALID, 2, ids, targets, 8, 20, err, sizeof err), 0);
    text_free(&ds);
}

/* ---- associative recall ---- */

TestSuite(recall);

Test(recall, example_has_safari_layout_keys_then_values_then_a_present_query_and_its_value)
{
    RecallConfig cfg = {30, 40, 1, RECALL_TARGETS_ALL};
    int T = recall_example_len(&cfg), ids[42], targets[42];
    cr_assert_eq(T, 42, "seq_len + 2, safari's l_max");
    for (uint64_t e = 0; e < 200; e++) {
        int value_of[30] = {0};
        recall_example(&cfg, 11, 0, e, ids, targets);
        for (int i = 0; i < 20; i++) {
            int k = ids[2 * i], v = ids[2 * i + 1];
            cr_assert(k >= 1 && k <= 14, "key %d in the first half of the vocabulary", k);
            cr_assert(v >= 15 && v <= 28, "value %d in the second half", v);
            cr_assert(value_of[k] == 0 || value_of[k] == v, "a key keeps its value within an example");
            value_of[k] = v;
        }
        cr_assert_eq(ids[40], 29, "the copy prefix");
        cr_assert_neq(value_of[ids[41]], 0, "the query key occurred in the pairs");
        cr_assert_eq(targets[41], value_of[ids[41]], "the target is the query's value");
        for (int t = 0; t + 1 < T; t++)
            cr_assert_eq(targets[t], ids[t + 1], "training targets are the next tokens");
    }
}

Test(recall, answers_mode_and_multi_query_variant_score_only_the_answers)
{
    RecallConfig cfg = {20, 17, 3, RECALL_TARGETS_ANSWERS}; /* odd seq_len: 8 pairs, as safari's floor */
    int T = recall_example_len(&cfg), ids[22], targets[22];
    cr_assert_eq(T, 16 + 6);
    recall_example(&cfg, 3, 1, 9, ids, targets);
    int value_of[20] = {0};
    for (int i = 0; i < 8; i++)
        value_of[ids[2 * i]] = ids[2 * i + 1];
    cr_expect_eq(ids[16], 19);
    for (int t = 0; t < T; t++) {
        int answer = t == 17 || t == 19 || t == 21;
        if (!answer)
            cr_expect_eq(targets[t], RECALL_IGNORE, "position %d is not scored", t);
        else
            cr_expect_eq(targets[t], value_of[ids[t]], "query at %d answered with its value", t);
    }
    cr_expect(ids[18] == value_of[ids[17]] && ids[20] == value_of[ids[19]], "earlier answers are in the input");
}

Test(recall, examples_are_a_pure_function_of_seed_split_and_index)
{
    RecallConfig cfg = {30, 64, 2, RECALL_TARGETS_ALL};
    enum { T = 68 };
    int a[2 * T], at[2 * T], b[T], bt[T], c[T], ct[T];
    char err[256];
    cr_assert_eq(recall_batch(&cfg, 5, 0, 1, a, at, 2, T, err, sizeof err), 0, "%s", err);
    recall_example(&cfg, 5, 0, 3, b, bt); /* batch 1 of 2 holds examples 2 and 3 */
    cr_expect(memcmp(a + T, b, sizeof b) == 0 && memcmp(at + T, bt, sizeof bt) == 0);
    recall_example(&cfg, 5, 1, 3, c, ct);
    cr_expect(memcmp(b, c, sizeof b) != 0, "the test split is another stream");
    recall_example(&cfg, 6, 0, 3, c, ct);
    cr_expect(memcmp(b, c, sizeof b) != 0, "another seed, another example");
    RecallDataset ds = {cfg, 5};
    cr_assert_eq(recall_dataset_batch(&ds, 0, 1, a, at, 2, T, err, sizeof err), 0, "%s", err);
    cr_expect(memcmp(a + T, b, sizeof b) == 0, "the training-loop callback uses ds->seed");
}

Test(recall, values_are_drawn_uniformly_from_the_second_half)
{
    RecallConfig cfg = {12, 2, 1, RECALL_TARGETS_ALL}; /* keys 1..5, values 6..10 */
    int counts[12] = {0}, ids[4], targets[4];
    for (uint64_t e = 0; e < 5000; e++) {
        recall_example(&cfg, 1, 0, e, ids, targets);
        counts[ids[1]]++;
    }
    for (int v = 6; v <= 10; v++)
        cr_expect(counts[v] > 900 && counts[v] < 1100, "value %d drawn %d times of 5000", v, counts[v]);
}

Test(recall, bad_configuration_or_batch_shape_is_refused)
{
    RecallConfig cfg = {3, 16, 1, RECALL_TARGETS_ALL};
    int ids[18], targets[18];
    char err[256];
    cr_expect_eq(recall_batch(&cfg, 0, 0, 0, ids, targets, 1, 18, err, sizeof err), -1);
    cr_expect(strstr(err, "vocab 3"), "%s", err);
    cfg.vocab = 30;
    cr_expect_eq(recall_batch(&cfg, 0, 0, 0, ids, targets, 1, 17, err, sizeof err), -1);
    cr_expect(strstr(err, "T = 18"), "%s", err);
    cfg.n_queries = 0;
    cr_expect_eq(recall_check_config(&cfg, err, sizeof err), -1);
}

/* ---- fetch step, cache, info ---- */

TestSuite(data, .init = tmp_make, .fini = tmp_remove);

static DataSources offline_mirror(const char *rel)
{
    DataSources src;
    memset(&src, 0, sizeof src);
    snprintf(src.mirror, sizeof src.mirror, "%s/%s", tmp_root, rel);
    snprintf(src.mirror_why, sizeof src.mirror_why, "test");
    src.offline = 1;
    return src;
}

Test(data, mirror_file_with_a_wrong_checksum_is_never_used_and_the_message_says_what_to_do)
{
    char cache[DATAIO_PATH_LEN], err[ERR_SIZE], path[DATAIO_PATH_LEN];
    put_file("mirror/tinyshakespeare.txt", "First Citizen:\nBefore we proceed\n", 33);
    DataSources src = offline_mirror("mirror");
    snprintf(cache, sizeof cache, "%s/cache", tmp_root);
    FILE *log = tmpfile();
    cr_assert_eq(data_fetch("tinyshakespeare", cache, &src, log, err, sizeof err), 1);
    assert_mentions(err, "mirror/tinyshakespeare.txt: sha256", "does not match");
    assert_mentions(err, "SUBQ_DATA_OFFLINE=1", "To fix: put tinyshakespeare.txt");
    cr_assert_eq(dataio_join(path, sizeof path, cache, "tinyshakespeare", err, sizeof err), 0);
    cr_expect(!dataio_is_dir(path), "nothing was cached");
    cr_assert_eq(data_fetch("cifar10", cache, &src, log, err, sizeof err), 1);
    assert_mentions(err, "mirror/cifar10-train.tar.xz: absent", "SUBQ_DATA_MIRROR");
    fclose(log);
}

Test(data, corrupted_cache_entry_is_rejected_and_not_used)
{
    char cache[DATAIO_PATH_LEN], dir[DATAIO_PATH_LEN], err[ERR_SIZE];
    put_file("cache/tinyshakespeare/input.txt", "To be, or not to be\n", 20);
    snprintf(cache, sizeof cache, "%s/cache", tmp_root);
    cr_assert_eq(dataio_join(dir, sizeof dir, cache, "tinyshakespeare", err, sizeof err), 0);
    char *names[] = {"input.txt"};
    Manifest m;
    cr_assert_eq(manifest_create(dir, names, 1, &m, err, sizeof err), 0, "%s", err);
    manifest_free(&m);
    cr_assert_eq(manifest_write_source(dir, "mirror", "a test", err, sizeof err), 0);
    cr_assert_eq(data_cache_check("tinyshakespeare", cache, err, sizeof err), -1);
    assert_mentions(err, "input.txt", "is not tiny Shakespeare's");
    TextDataset ds;
    cr_assert_eq(data_load_text("tinyshakespeare", cache, &ds, err, sizeof err), -1);
    assert_mentions(err, "is not tiny Shakespeare's", "make datasets");
    DataSources src = offline_mirror("no-mirror");
    FILE *log = tmpfile();
    cr_assert_eq(data_fetch("tinyshakespeare", cache, &src, log, err, sizeof err), 1);
    char text[4096] = "";
    rewind(log);
    size_t got = fread(text, 1, sizeof text - 1, log);
    text[got] = '\0';
    assert_mentions(text, "the cache is not usable", "building it again");
    fclose(log);
}

Test(data, unknown_names_are_usage_errors_and_wikitext_is_not_fetched)
{
    char err[ERR_SIZE];
    DataSources src = offline_mirror("m");
    cr_expect_eq(data_fetch("imagenet", tmp_root, &src, NULL, err, sizeof err), 2);
    cr_expect(strstr(err, "imagenet: unknown data set"), "%s", err);
    cr_expect_eq(data_fetch("wikitext103", tmp_root, &src, NULL, err, sizeof err), 2);
    cr_expect(strstr(err, "wikitext103:DIR"), "%s", err);
    cr_expect_eq(data_info("imagenet", tmp_root, stdout, err, sizeof err), 2);
    TextDataset ds;
    unsetenv("SUBQ_WIKITEXT_DIR");
    cr_expect_eq(data_load_text("wikitext103", tmp_root, &ds, err, sizeof err), -1);
    cr_expect(strstr(err, "SUBQ_WIKITEXT_DIR"), "%s", err);
}

Test(data, sources_come_from_the_environment)
{
    DataSources src;
    setenv("SUBQ_DATA_MIRROR", "/somewhere/mirror", 1);
    setenv("SUBQ_DATA_OFFLINE", "1", 1);
    data_sources_from_env(&src);
    cr_expect_str_eq(src.mirror, "/somewhere/mirror");
    cr_expect_eq(src.offline, 1);
    setenv("SUBQ_DATA_MIRROR", "none", 1);
    unsetenv("SUBQ_DATA_OFFLINE");
    data_sources_from_env(&src);
    cr_expect_str_eq(src.mirror, "");
    cr_expect_eq(src.offline, 0);
}

Test(data, info_reports_counts_checksums_and_source_of_a_cifar_cache)
{
    char tree[DATAIO_PATH_LEN], cache[DATAIO_PATH_LEN], dir[DATAIO_PATH_LEN], err[ERR_SIZE];
    write_jpeg_tree("tree", 1);
    snprintf(tree, sizeof tree, "%s/tree", tmp_root);
    snprintf(cache, sizeof cache, "%s/cache", tmp_root);
    tmp_path(dir, sizeof dir, "cache/cifar10/x");
    *strrchr(dir, '/') = '\0';
    CifarJpegStats st;
    cr_assert_eq(cifar_jpeg_convert(tree, dir, &st, err, sizeof err), 0, "%s", err);
    char *names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                     "data_batch_5.bin", "test_batch.bin"};
    Manifest m;
    cr_assert_eq(manifest_create(dir, names, 6, &m, err, sizeof err), 0, "%s", err);
    manifest_free(&m);
    cr_assert_eq(manifest_write_source(dir, "jpeg-mirror", "a tiny test tree", err, sizeof err), 0);
    cr_assert_eq(data_cache_check("cifar10", cache, err, sizeof err), 0, "%s", err);
    FILE *out = tmpfile();
    cr_assert_eq(data_info("cifar10", cache, out, err, sizeof err), 0, "%s", err);
    char text[8192] = "";
    rewind(out);
    text[fread(text, 1, sizeof text - 1, out)] = '\0';
    fclose(out);
    assert_mentions(text, "source   jpeg-mirror", "a tiny test tree");
    assert_mentions(text, "train    10 images: airplane 1,", "test     10 images");
    assert_mentions(text, "data_batch_1.bin", "6146 bytes"); /* two records of 3073 */
    CifarSet set;
    cr_assert_eq(data_load_cifar(cache, CIFAR_TRAIN, &set, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(set.source, "jpeg-mirror");
    cifar_free(&set);
}

/* ---- plumbing ---- */

TestSuite(dataio, .init = tmp_make, .fini = tmp_remove);

Test(dataio, external_tool_failure_reports_its_exit_code_and_last_error_line)
{
    char err[512] = "";
    const char *ok[] = {"true", NULL}, *fails[] = {"sh", "-c", "echo first >&2; echo 'the reason' >&2; exit 3", NULL};
    const char *missing[] = {"subq-no-such-tool", NULL};
    cr_expect_eq(dataio_run(ok, NULL, err, sizeof err), 0);
    cr_expect_eq(dataio_run(fails, NULL, err, sizeof err), 3);
    cr_expect_str_eq(err, "the reason");
    cr_expect_eq(dataio_run(missing, NULL, err, sizeof err), 127);
    cr_expect(strstr(err, "subq-no-such-tool: cannot run"), "%s", err);
}

Test(dataio, listing_is_sorted_bytewise_and_filtered)
{
    char dir[DATAIO_PATH_LEN], err[256], **names;
    int count;
    put_file("l/b.jpg", "x", 1), put_file("l/B.jpg", "x", 1), put_file("l/a.txt", "x", 1);
    put_file("l/sub/c.jpg", "x", 1);
    snprintf(dir, sizeof dir, "%s/l", tmp_root);
    cr_assert_eq(dataio_list_dir(dir, DATAIO_LIST_FILES, ".jpg", &names, &count, err, sizeof err), 0, "%s", err);
    cr_assert_eq(count, 2);
    cr_expect(strcmp(names[0], "B.jpg") == 0 && strcmp(names[1], "b.jpg") == 0);
    dataio_free_list(names, count);
    cr_assert_eq(dataio_list_dir(dir, DATAIO_LIST_DIRS, NULL, &names, &count, err, sizeof err), 0);
    cr_expect(count == 1 && strcmp(names[0], "sub") == 0);
    dataio_free_list(names, count);
}

/* ---- inputs the fuzzers found (tests/fuzz_regressions/<target>/) ---- */

static void replay(const char *target, int (*check)(const uint8_t *, size_t))
{
    char dir[DATAIO_PATH_LEN], path[DATAIO_PATH_LEN], err[ERR_SIZE], **names;
    int count;
    snprintf(dir, sizeof dir, "tests/fuzz_regressions/%s", target);
    cr_assert_eq(dataio_list_dir(dir, DATAIO_LIST_FILES, NULL, &names, &count, err, sizeof err), 0,
                 "%s (run the tests from the repository root)", err);
    cr_assert_gt(count, 0, "%s holds the regression inputs", dir);
    for (int i = 0; i < count; i++) {
        uint8_t *data;
        size_t len;
        cr_assert_eq(dataio_join(path, sizeof path, dir, names[i], err, sizeof err), 0);
        cr_assert_eq(dataio_read_file(path, 1 << 24, &data, &len, err, sizeof err), 0, "%s", err);
        cr_expect_eq(check(data, len), 0, "%s breaks the loader's contract", path);
        free(data);
    }
    dataio_free_list(names, count);
}

TestSuite(fuzz_regressions);

Test(fuzz_regressions, cifar_batch_inputs_are_parsed_or_refused_cleanly)
{
    replay("cifar_records", data_fuzz_cifar_records);
}

Test(fuzz_regressions, jpeg_inputs_are_decoded_or_refused_cleanly) { replay("cifar_jpeg", data_fuzz_cifar_jpeg); }

Test(fuzz_regressions, text_inputs_are_split_or_refused_cleanly) { replay("text", data_fuzz_text); }

Test(fuzz_regressions, manifest_inputs_round_trip_or_are_refused_cleanly) { replay("manifest", data_fuzz_manifest); }
