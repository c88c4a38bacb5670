/* fff_infer: the inference paths of ops/fff.h (mode=infer): conditional execution, one root-to-leaf path per
 * token instead of the whole tree.
 *
 *   rows < FFF_INFER_BATCH_MIN (batch 1): plain vectorisable loops, no OpenMP region, no BLAS call: d dot
 *     products down the tree (each node prefetches its grandchildren, a contiguous block of rows, to hide the
 *     memory latency of the random path), then the leaf: x (D) w1s[leaf] (D, W) and a (W) w2s[leaf] (W, D)
 *     with register-tiled vector loops (a dot product and an axpy when W = 1); ufb: per path neuron one dot
 *     product and one axpy.
 *   larger batches, variant fff: route the tokens in lock-step groups of FFF_INFER_GROUP (their memory
 *     latencies overlap; parallel over groups), group the tokens by leaf (counting sort), then per leaf
 *     (parallel over leaves) one pair of small GEMMs through ops/gemm.h when it has at least
 *     FFF_INFER_GEMM_MIN tokens, else the per-token loops (a leaf's weights stay cache-hot across its tokens
 *     either way). ufb: lock-step groups, parallel over groups.
 *
 * ufb's linear_out.weight is (D, R): a path neuron's output weights are a column, D floats R apart. For
 * speed, fff_infer_pack copies them once into node-major rows (R, D), the layout of UltraFastBERT's own CPU
 * benchmark (benchmark_cpu/fff.cpp, "W2 is an n,m matrix"); fff_infer_forward then reads one contiguous row
 * per path neuron. Without a packed copy (the registry's forward), fff_infer_forward packs into the workspace
 * when rows >= FFF_INFER_PACK_MIN (measured at D = 768, d = 11: the copy costs about what 250 tokens' strided
 * reads cost), and reads the columns strided below that.
 * The fff layouts are already contiguous per node and per leaf: no packing.
 *
 * act (after FFF_ACT_HEADER floats): fff: leaf index (N) as float, leaf pre-activation and activation (N, W)
 * each; ufb: path neuron index (row of linear_in, exact as float), its pre-activation and its activation,
 * (N, P, d+1) each.
 * Workspace: fff: the routing and the leaf groups (2 N + Lf + 1 ints) and the GEMM staging buffers
 * (N (2D + 2W) floats); backward 2W floats. ufb: R D floats for the packed copy when N >= FFF_INFER_PACK_MIN. */
#ifndef SUBQ_FFF_INFER_H
#define SUBQ_FFF_INFER_H

#include "core.h"
#include "fff_tree.h"

#define FFF_INFER_BATCH_MIN 4   /* fewer tokens run serially: a parallel region costs more than they do */
#define FFF_INFER_GEMM_MIN 8    /* tokens per leaf from which a GEMM beats the per-token loops */
#define FFF_INFER_GROUP 8       /* tokens routed in lock step, so their memory latencies overlap */
#define FFF_INFER_PACK_MIN 512  /* ufb: tokens from which packing linear_out per call beats strided reads */
#define FFF_INFER_PARALLEL_MIN 131072 /* multiply-adds from which a phase runs on all threads */

size_t fff_infer_act_floats(const FffConfig *cfg, int rows);
size_t fff_infer_workspace_floats(const FffConfig *cfg, int rows);

/* Node-major copy of the ufb output weights: (R, D); 0 floats (nothing to pack) for variant fff. */
size_t fff_infer_packed_floats(const FffConfig *cfg);
void fff_infer_pack(const FffConfig *cfg, const float *params, float *packed);

/* y (rows, D) for x (rows, D); packed from fff_infer_pack or NULL. */
void fff_infer_forward(const FffConfig *cfg, const float *params, const float *packed, const float *x, float *y,
                       float *act, int rows, Workspace *ws);
/* Gradient of the hard-routed function (see fff.h): writes dx, accumulates dparams. */
void fff_infer_backward(const FffConfig *cfg, const float *params, const float *x, const float *act,
                        const float *dy, float *dx, float *dparams, int rows, Workspace *ws);

/* The leaf index (0 .. 2^d - 1) that the hard descent picks for one token x (D), variant fff. */
int fff_infer_route(const FffConfig *cfg, const float *params, const float *x);

#endif
