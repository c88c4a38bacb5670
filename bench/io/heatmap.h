/* heatmap: figures gnuplot cannot draw well, written with libpng: heat-maps of 2-D tensors (for example Hyena's
 * learned long filters, channels x positions). */
#ifndef SUBQ_HEATMAP_H
#define SUBQ_HEATMAP_H

#include <stddef.h>

/* values (rows, cols) -> an 8-bit RGB PNG, each value a cell of cell_h x cell_w pixels, on a diverging
 * blue-white-red scale symmetric around 0 (|value| / max |value|). Written atomically. -1 with a message. */
int heatmap_write_png(const char *path, const float *values, int rows, int cols, int cell_h, int cell_w, char *err,
                      size_t errlen);

#endif
