/* hyena_config: the Hyena operator's configuration, shared by the operator (ops/hyena.h) and its implicit
 * filter (ops/hyena_filter.h), which ops/longconv2d.c also uses; on its own so that neither of the two has to
 * include the other (docs/DESIGN.md section 1). The fields are documented in ops/hyena.h. */
#ifndef SUBQ_HYENA_CONFIG_H
#define SUBQ_HYENA_CONFIG_H

/* 12 + 2n parameter tensors must fit the registry's OP_MAX_PARAM_TENSORS (64). */
#define HYENA_MAX_INNER_MLPS 16

typedef struct HyenaConfig {
    int d_model;            /* D */
    int l_max;              /* longest sequence; the filter grid (t, z) is defined on l_max points */
    int order;              /* o >= 2: o+1 projections, o-1 long convolutions */
    int filter_order;       /* F, width of the implicit filter MLP */
    int emb_dim;            /* odd, >= 3: [t, cos bands, -sin bands] */
    int num_inner_mlps;     /* n inner Linear(F, F) + Sin layers */
    float w;                /* Sin frequency init (freq = w) */
    int short_filter_order; /* K, depthwise causal conv kernel */
    float fast_decay_pct;
    float slow_decay_pct;
    float target;
    float shift;            /* added to the exponential decay */
    int modulate;           /* 0: h = hf, no decay window */
    int step;               /* HyenaStep: how hyena_step generates (forward and backward do not read it) */
    int modal_order;        /* step=modal: the real degrees of each filter's distilled recurrence */
} HyenaConfig;

typedef enum HyenaStep { HYENA_STEP_CACHED = 0, HYENA_STEP_FFT = 1, HYENA_STEP_MODAL = 2 } HyenaStep;

#endif
