#include "heatmap.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dataio.h"

/* Diverging map: -1 blue (33, 102, 172), 0 white, +1 red (178, 24, 43). */
static void diverging(float v, unsigned char rgb[3])
{
    static const float neg[3] = {33, 102, 172}, pos[3] = {178, 24, 43};
    const float *end = v < 0 ? neg : pos;
    float t = fminf(fabsf(v), 1.0f);
    for (int c = 0; c < 3; c++)
        rgb[c] = (unsigned char)lrintf(255.0f + t * (end[c] - 255.0f));
}

static int write_rows(FILE *fp, const float *values, int rows, int cols, int cell_h, int cell_w, float scale)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *line = malloc((size_t)cols * cell_w * 3);
    if (!png || !info || !line || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(line);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)(cols * cell_w), (png_uint_32)(rows * cell_h), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++)
            for (int k = 0; k < cell_w; k++)
                diverging(values[(size_t)r * cols + c] * scale, line + ((size_t)c * cell_w + k) * 3);
        for (int k = 0; k < cell_h; k++)
            png_write_row(png, line);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(line);
    return 0;
}

int heatmap_write_png(const char *path, const float *values, int rows, int cols, int cell_h, int cell_w, char *err,
                      size_t errlen)
{
    if (rows < 1 || cols < 1 || cell_h < 1 || cell_w < 1) {
        snprintf(err, errlen, "%s: empty heat-map", path);
        return -1;
    }
    float max = 0.0f;
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        max = fmaxf(max, fabsf(values[i]));
    DataioOutput out;
    if (dataio_output_begin(&out, path, err, errlen) != 0)
        return -1;
    FILE *fp = fopen(out.tmp, "wb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot write", path);
        dataio_output_abort(&out);
        return -1;
    }
    int rc = write_rows(fp, values, rows, cols, cell_h, cell_w, max > 0 ? 1.0f / max : 0.0f);
    if (fclose(fp) != 0 || rc != 0) {
        dataio_output_abort(&out);
        snprintf(err, errlen, "%s: PNG encoding failed", path);
        return -1;
    }
    return dataio_output_commit(&out, err, errlen);
}
