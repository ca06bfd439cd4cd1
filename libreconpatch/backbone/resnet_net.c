/* The folded ResNet on oneDNN.
 *
 * Creation (rp__resnet_create): every convolution's weights are reordered ONCE into the layout the
 * oneDNN primitive picked (weights format "any"), in fp32 or bf16, and kept by the network. An
 * execution plan for batch 1 is built right away.
 *
 * Plans: oneDNN's JIT primitives are specialised for one batch size, so each batch size has its
 * own plan (a list of steps: reorder / conv / pool / output copy), built on first use under a mutex
 * and kept until the network is freed. A plan reuses the shared reordered weights when its
 * primitives accept their layout, otherwise it keeps its own copy.
 *
 * Fusions: ReLU is an eltwise post-op of each convolution; the residual add is a sum post-op of the
 * block's last 1x1 conv, whose destination already holds the identity (the block input, in place,
 * or the downsample conv's output). Activations stay in the layout the primitives chose (blocked
 * nChw16c on AVX-512); a reorder is only inserted where two primitives disagree.
 *
 * Threads: primitives use the user-managed scratchpad, and each call borrows its activations and
 * scratchpad from a pool of arenas, so several threads may run the same network at once (the
 * library-managed scratchpad of oneDNN 2.6 is not safe for that). The OpenMP thread count is set
 * for the calling thread during the call and restored afterwards. See docs/threading.md. */
#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/bf16.h"
#include "backbone/resnet.h"
#include "common/common.h"

#define NUM_SLOTS 8 /* activation buffers inside one per-call arena */
#define BLOCKED_FROM_BATCH 4 /* fp32 batches from this size use the nChw16c layout (conv_pd) */

/* Where a step reads or writes. Non-negative values are arena slots. */
enum { BUF_INPUT = -1, BUF_LAYER2 = -2, BUF_LAYER3 = -3 };

enum { STEP_REORDER, STEP_CONV, STEP_POOL, STEP_ROUND_BF16 };

typedef struct step {
    int kind;
    dnnl_primitive_t prim;
    int src, dst;                     /* buffers */
    dnnl_memory_desc_t src_md, dst_md;
    const void *weights, *bias;       /* conv only */
    dnnl_memory_desc_t weights_md, bias_md;
} step;

typedef struct plan {
    uint32_t batch;
    step *steps;
    size_t num_steps, cap_steps;
    size_t slot_bytes[NUM_SLOTS];
    size_t scratch_bytes;
    size_t arena_bytes;
    int layer4_slot;                 /* classifier: slot holding layer4 as NCHW fp32 */
    uint32_t reference_kernels;      /* convs on oneDNN's slow reference code (should be 0) */
    void **owned;                    /* weight copies this plan made (layout differed) */
    size_t num_owned;
    size_t owned_bytes;
    struct plan *next;
} plan;

/* One convolution's weights, reordered once. */
typedef struct conv_weights {
    uint32_t in, out, kernel, stride, pad;
    int relu;
    dnnl_memory_desc_t md; /* layout chosen at creation (batch 1) */
    void *data;            /* reordered weights, in md's layout */
    float *bias;           /* fp32 */
} conv_weights;

typedef struct arena {
    void *mem;
    size_t bytes;
    struct arena *next;
} arena;

struct rp__resnet {
    dnnl_engine_t engine;
    rp__resnet_options opt;
    rp__resnet_shape shape;
    dnnl_data_type_t dt; /* activations and weights: f32 or bf16 */
    uint32_t num_stages;
    uint32_t blocks[RP_RESNET_STAGES];
    conv_weights *convs; /* stem, then per block conv1, conv2, conv3, downsample (data NULL if none) */
    size_t num_convs;
    uint32_t layer4_channels, layer4_size;
    float *fc_weight, *fc_bias;
    char impl[2][96];

    pthread_mutex_t plan_lock;
    plan *plans;
    pthread_mutex_t arena_lock;
    arena *arenas;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static int dnnl_fail(dnnl_status_t st, const char *fn, const char *what)
{
    return rp__fail(st == dnnl_out_of_memory ? RP_E_NOMEM : RP_E_BACKEND, "%s: oneDNN %s failed (status %d)", fn,
                    what, (int)st);
}

#define DNNL_TRY(call, what)                                                                          \
    do {                                                                                              \
        dnnl_status_t st_ = (call);                                                                   \
        if (st_ != dnnl_success) return dnnl_fail(st_, fn, what);                                     \
    } while (0)

static size_t align_up(size_t n) { return (n + 4095) & ~(size_t)4095; }

static void *aligned_bytes(size_t n)
{
    void *p = NULL;
    if (rp__posix_memalign(&p, 64, n ? align_up(n) : 64)) return NULL;
    return p;
}

static void md_nchw(dnnl_memory_desc_t *md, uint32_t n, uint32_t c, uint32_t h, dnnl_data_type_t dt,
                    dnnl_format_tag_t tag)
{
    dnnl_dims_t d = {n, c, h, h};
    dnnl_memory_desc_init_by_tag(md, 4, d, dt, tag);
}

static int plan_push(plan *p, const step *s, const char *fn)
{
    if (p->num_steps == p->cap_steps) {
        size_t cap = p->cap_steps ? 2 * p->cap_steps : 64;
        step *n = rp__realloc(p->steps, cap * sizeof *n);
        if (!n) return rp__fail(RP_E_NOMEM, "%s: out of memory building the network plan", fn);
        p->steps = n;
        p->cap_steps = cap;
    }
    p->steps[p->num_steps++] = *s;
    return RP_OK;
}

/* bf16 rounding study (rp__resnet_options.bf16_rounding_units): is the unit rounded? Bit 0 is
 * the stem, bit 1 + i bottleneck block i; block i's convolutions are convs 1 + 4i .. 4 + 4i. */
static int unit_rounded(const rp__resnet *net, size_t ci)
{
    const uint32_t unit = ci == 0 ? 0 : 1 + (uint32_t)((ci - 1) / 4);
    return unit < 32 && (net->opt.bf16_rounding_units >> unit & 1u);
}

/* Round to the nearest bf16, ties to even (oneDNN's conversion); NaN stays NaN. */
static void round_to_bf16(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)rp__bf16_bits(v[i]) << 16;
        memcpy(&v[i], &u, sizeof u);
    }
}

/* A step rounding slot (holding md) to bf16 in place. */
static int add_round(plan *p, int slot, const dnnl_memory_desc_t *md, const char *fn)
{
    step s = {.kind = STEP_ROUND_BF16, .src = slot, .dst = slot, .src_md = *md, .dst_md = *md};
    return plan_push(p, &s, fn);
}

static void slot_use(plan *p, int slot, const dnnl_memory_desc_t *md)
{
    size_t n = dnnl_memory_desc_get_size(md);
    if (slot >= 0 && n > p->slot_bytes[slot]) p->slot_bytes[slot] = n;
}

/* A slot not in the busy list. */
static int free_slot(const int *busy, int nbusy)
{
    for (int s = 0; s < NUM_SLOTS; s++) {
        int used = 0;
        for (int i = 0; i < nbusy; i++) used |= busy[i] == s;
        if (!used) return s;
    }
    return -1; /* cannot happen: at most 4 slots are busy at once */
}

static int add_scratch(plan *p, const_dnnl_primitive_desc_t pd)
{
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t n = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (n > p->scratch_bytes) p->scratch_bytes = n;
    return 0;
}

static int make_attr(dnnl_primitive_attr_t *attr, int sum, int relu, const char *fn)
{
    DNNL_TRY(dnnl_primitive_attr_create(attr), "attr create");
    dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (sum || relu) {
        dnnl_post_ops_t po;
        DNNL_TRY(dnnl_post_ops_create(&po), "post-ops create");
        if (sum) dnnl_post_ops_append_sum(po, 1.0f);
        if (relu) dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        dnnl_status_t st = dnnl_primitive_attr_set_post_ops(*attr, po);
        dnnl_post_ops_destroy(po);
        if (st != dnnl_success) {
            dnnl_primitive_attr_destroy(*attr);
            return dnnl_fail(st, fn, "set post-ops");
        }
    }
    return RP_OK;
}

/* Reorder step from (src, src_md) to (dst, dst_md). */
static int add_reorder(const rp__resnet *net, plan *p, int src, const dnnl_memory_desc_t *src_md, int dst,
                       const dnnl_memory_desc_t *dst_md, const char *fn)
{
    dnnl_primitive_attr_t attr;
    int rc = make_attr(&attr, 0, 0, fn);
    if (rc) return rc;
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, src_md, net->engine, dst_md, net->engine, attr);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return dnnl_fail(st, fn, "reorder descriptor");
    step s = {.kind = STEP_REORDER, .src = src, .dst = dst, .src_md = *src_md, .dst_md = *dst_md};
    add_scratch(p, pd);
    st = dnnl_primitive_create(&s.prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) return dnnl_fail(st, fn, "reorder primitive");
    slot_use(p, src, src_md);
    slot_use(p, dst, dst_md);
    if ((rc = plan_push(p, &s, fn))) dnnl_primitive_destroy(s.prim);
    return rc;
}

/* Whether oneDNN runs at least `isa`. The ISA values are bit sets, not an order (avx2_vnni is
 * numerically above avx512_core_bf16), so compare bits. */
static int isa_has(dnnl_cpu_isa_t isa)
{
    return ((unsigned)dnnl_get_effective_cpu_isa() & (unsigned)isa) == (unsigned)isa;
}

/* The blocked activation layout of oneDNN's direct JIT convolutions on this CPU (the ISA oneDNN
 * runs, which ONEDNN_MAX_CPU_ISA may lower); "any" where it has none. */
static dnnl_format_tag_t blocked_tag(void)
{
    if (isa_has(dnnl_cpu_isa_avx512_core)) return dnnl_nChw16c;
    if (isa_has(dnnl_cpu_isa_avx2)) return dnnl_nChw8c;
    return dnnl_format_tag_any;
}

/* Convolution primitive descriptor (weights and dst "any"); src_md NULL means "any" too. */
static dnnl_status_t conv_pd(const rp__resnet *net, const conv_weights *cw, uint32_t batch, uint32_t in_size,
                             const dnnl_memory_desc_t *src_md, dnnl_primitive_attr_t attr,
                             dnnl_primitive_desc_t *pd)
{
    uint32_t out_size = (in_size + 2 * cw->pad - cw->kernel) / cw->stride + 1;
    dnnl_memory_desc_t src_any, w_any, b_md, dst_any;
    md_nchw(&src_any, batch, cw->in, in_size, net->dt, dnnl_format_tag_any);
    dnnl_dims_t wd = {cw->out, cw->in, cw->kernel, cw->kernel};
    dnnl_memory_desc_init_by_tag(&w_any, 4, wd, net->dt, dnnl_format_tag_any);
    dnnl_dims_t bd = {cw->out};
    dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    /* Batch 1-3: let oneDNN choose (brgemm kernels, channels-last), ~10% less CPU per image than
     * the blocked direct kernels; from batch 4 on, the blocked layout of the direct JIT kernels
     * (what PyTorch picks) costs 5-10% less. Measured as CPU time per image: docs/backbone.md. The
     * block is the CPU's vector width: 16 channels on AVX-512, 8 on AVX2. Forcing nChw16c on an
     * AVX2 CPU leaves oneDNN only its reference convolution, about 100x slower. */
    dnnl_format_tag_t tag = batch >= BLOCKED_FROM_BATCH && net->dt == dnnl_f32 ? blocked_tag() : dnnl_format_tag_any;
    md_nchw(&dst_any, batch, cw->out, out_size, net->dt, tag);
    dnnl_dims_t strides = {cw->stride, cw->stride}, pad = {cw->pad, cw->pad};
    dnnl_convolution_desc_t cd;
    dnnl_status_t st = dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                                          src_md ? src_md : &src_any,
                                                          &w_any, &b_md, &dst_any, strides, pad, pad);
    if (st != dnnl_success) return st;
    return dnnl_primitive_desc_create(pd, &cd, attr, net->engine, NULL);
}

/* Reorder fp32 OIHW weights into md's layout (and data type). Returns a new buffer or NULL. */
static int reorder_weights(const rp__resnet *net, const void *src, const dnnl_memory_desc_t *src_md,
                           const dnnl_memory_desc_t *dst_md, void **out, const char *fn)
{
    *out = NULL;
    void *dst = aligned_bytes(dnnl_memory_desc_get_size(dst_md));
    if (!dst) return rp__fail(RP_E_NOMEM, "%s: out of memory for weights", fn);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_memory_t ms = NULL, md = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_status_t st = dnnl_reorder_primitive_desc_create(&pd, src_md, net->engine, dst_md, net->engine, NULL);
    if (st == dnnl_success) st = dnnl_primitive_create(&prim, pd);
    if (st == dnnl_success) st = dnnl_memory_create(&ms, src_md, net->engine, (void *)src);
    if (st == dnnl_success) st = dnnl_memory_create(&md, dst_md, net->engine, dst);
    if (st == dnnl_success) st = dnnl_stream_create(&stream, net->engine, dnnl_stream_default_flags);
    if (st == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
        st = dnnl_primitive_execute(prim, stream, 2, args);
        if (st == dnnl_success) st = dnnl_stream_wait(stream);
    }
    if (stream) dnnl_stream_destroy(stream);
    if (ms) dnnl_memory_destroy(ms);
    if (md) dnnl_memory_destroy(md);
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) {
        free(dst);
        return dnnl_fail(st, fn, "weights reorder");
    }
    *out = dst;
    return RP_OK;
}

/* Primitive descriptor of conv ci for input activations in layout cur_md (with a sum post-op when
 * it closes a residual block). emit_conv then turns it into steps. */
static int add_conv(rp__resnet *net, plan *p, size_t ci, uint32_t in_size, const dnnl_memory_desc_t *cur_md,
                    int sum, dnnl_primitive_desc_t *pd_out, const char *fn)
{
    conv_weights *cw = &net->convs[ci];
    dnnl_primitive_attr_t attr;
    int rc = make_attr(&attr, sum, cw->relu, fn);
    if (rc) return rc;
    /* Weights are always "any": forcing the layout picked for another batch size can push oneDNN
     * onto its reference kernels (1000x slower). emit_conv shares the creation-time copy when the
     * layouts agree and makes a plan-own copy otherwise. */
    dnnl_primitive_desc_t pd = NULL;
    /* Prefer the layout the activations already have; the stem takes whatever it likes. */
    dnnl_status_t st = dnnl_unimplemented;
    if (ci != 0) st = conv_pd(net, cw, p->batch, in_size, cur_md, attr, &pd);
    if (st != dnnl_success) st = conv_pd(net, cw, p->batch, in_size, NULL, attr, &pd);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return dnnl_fail(st, fn, "convolution descriptor");
    *pd_out = pd;
    return RP_OK;
}

/* Turn a conv primitive descriptor into steps: optional src reorder, then the conv itself. */
static int emit_conv(rp__resnet *net, plan *p, size_t ci, dnnl_primitive_desc_t pd, int src,
                     const dnnl_memory_desc_t *cur_md, int tmp, int dst, int first_plan, const char *fn)
{
    conv_weights *cw = &net->convs[ci];
    const dnnl_memory_desc_t *want_src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *want_w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *want_dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    int rc;
    if (!dnnl_memory_desc_equal(want_src, cur_md)) {
        if ((rc = add_reorder(net, p, src, cur_md, tmp, want_src, fn))) return rc;
        src = tmp;
    }
    step s = {.kind = STEP_CONV, .src = src, .dst = dst, .src_md = *want_src, .dst_md = *want_dst,
              .weights_md = *want_w, .bias = cw->bias};
    dnnl_dims_t bd = {cw->out};
    dnnl_memory_desc_init_by_tag(&s.bias_md, 1, bd, dnnl_f32, dnnl_a);
    if (first_plan) {
        /* Creation: cw->data still holds fp32 OIHW; reorder it once into the chosen layout. */
        dnnl_memory_desc_t oihw;
        dnnl_dims_t wd = {cw->out, cw->in, cw->kernel, cw->kernel};
        dnnl_memory_desc_init_by_tag(&oihw, 4, wd, dnnl_f32, dnnl_oihw);
        void *w;
        if ((rc = reorder_weights(net, cw->data, &oihw, want_w, &w, fn))) return rc;
        free(cw->data);
        cw->data = w;
        cw->md = *want_w;
        s.weights = w;
    } else if (dnnl_memory_desc_equal(want_w, &cw->md)) {
        s.weights = cw->data;
    } else {
        void *w, **o = rp__realloc(p->owned, (p->num_owned + 1) * sizeof *o);
        if (!o) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
        p->owned = o;
        if ((rc = reorder_weights(net, cw->data, &cw->md, want_w, &w, fn))) return rc;
        p->owned[p->num_owned++] = w;
        p->owned_bytes += dnnl_memory_desc_get_size(want_w);
        s.weights = w;
    }
    add_scratch(p, pd);
    const char *impl_name = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl_name);
    if (impl_name && strncmp(impl_name, "ref", 3) == 0 && ++p->reference_kernels)
        rp__log(RP_LOG_WARN, "%s: conv %zu (batch %u) runs on oneDNN's slow reference kernel '%s'", fn, ci, p->batch,
                impl_name);
    if (impl_name && first_plan && (ci == 0 || ci == 2)) /* the stem and the first 3x3 conv */
        snprintf(net->impl[ci == 0 ? 0 : 1], sizeof net->impl[0], "%s", impl_name);
    dnnl_status_t st = dnnl_primitive_create(&s.prim, pd);
    if (st != dnnl_success) return dnnl_fail(st, fn, "convolution primitive");
    slot_use(p, src, want_src);
    slot_use(p, dst, want_dst);
    if ((rc = plan_push(p, &s, fn))) dnnl_primitive_destroy(s.prim);
    return rc;
}

static int conv_step(rp__resnet *net, plan *p, size_t ci, uint32_t in_size, int src, dnnl_memory_desc_t *cur_md,
                     int tmp, int dst, int first_plan, const char *fn)
{
    dnnl_primitive_desc_t pd;
    int rc = add_conv(net, p, ci, in_size, cur_md, 0, &pd, fn);
    if (rc) return rc;
    dnnl_memory_desc_t out = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    rc = emit_conv(net, p, ci, pd, src, cur_md, tmp, dst, first_plan, fn);
    dnnl_primitive_desc_destroy(pd);
    if (!rc && unit_rounded(net, ci)) rc = add_round(p, dst, &out, fn);
    if (!rc) *cur_md = out;
    return rc;
}

static uint32_t conv_out(const conv_weights *cw, uint32_t in) { return (in + 2 * cw->pad - cw->kernel) / cw->stride + 1; }

static void plan_free(plan *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->num_steps; i++)
        if (p->steps[i].prim) dnnl_primitive_destroy(p->steps[i].prim);
    for (size_t i = 0; i < p->num_owned; i++) free(p->owned[i]);
    free(p->owned);
    free(p->steps);
    free(p);
}

/* Build the plan for one batch size. first_plan: also reorder the weights (creation time). */
/* Where the plan's running activation is: its memory descriptor, the slot holding it (or
 * BUF_INPUT) and its spatial side. Each stage of build_plan moves it forward. */
typedef struct cursor {
    dnnl_memory_desc_t md;
    int slot;
    uint32_t size;
} cursor;

/* The 3x3/2 max pool (pad 1) after the stem conv: slot 1 -> slot 0. */
static int add_max_pool(rp__resnet *net, plan *p, uint32_t batch, cursor *at, const char *fn)
{
    uint32_t pooled = (at->size + 2 - 3) / 2 + 1;
    dnnl_memory_desc_t dst_any;
    md_nchw(&dst_any, batch, net->convs[0].out, pooled, net->dt, dnnl_format_tag_any);
    dnnl_dims_t st2 = {2, 2}, k3 = {3, 3}, p1 = {1, 1};
    dnnl_pooling_desc_t pdsc;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_attr_t attr;
    int rc = make_attr(&attr, 0, 0, fn);
    if (rc) return rc;
    dnnl_status_t st = dnnl_pooling_forward_desc_init(&pdsc, dnnl_forward_inference, dnnl_pooling_max, &at->md,
                                                      &dst_any, st2, k3, p1, p1);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &pdsc, attr, net->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return dnnl_fail(st, fn, "max pool descriptor");
    step s = {.kind = STEP_POOL, .src = 1, .dst = 0, .src_md = at->md,
              .dst_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0)};
    add_scratch(p, pd);
    st = dnnl_primitive_create(&s.prim, pd);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success) return dnnl_fail(st, fn, "max pool primitive");
    slot_use(p, 1, &s.src_md);
    slot_use(p, 0, &s.dst_md);
    if ((rc = plan_push(p, &s, fn))) {
        dnnl_primitive_destroy(s.prim);
        return rc;
    }
    at->md = s.dst_md;
    at->slot = 0;
    at->size = pooled;
    return RP_OK;
}

/* Stem: conv 7x7/2 + ReLU, then max pool 3x3/2 (pad 1; inputs are >= 0 after ReLU, so zero and
 * -inf padding agree, which makes Keras' ZeroPadding2D + valid pool the same op). */
static int add_stem(rp__resnet *net, plan *p, uint32_t batch, int first_plan, cursor *at, const char *fn)
{
    int rc;
    if (net->dt != dnnl_f32) {
        /* bf16: convert the user's fp32 input once, then let the stem pick its layout. */
        dnnl_memory_desc_t b;
        md_nchw(&b, batch, 3, at->size, net->dt, dnnl_nhwc);
        if ((rc = add_reorder(net, p, at->slot, &at->md, 0, &b, fn))) return rc;
        at->md = b;
        at->slot = 0;
    } else if (unit_rounded(net, 0)) {
        /* bf16 rounding study: the stem's input as bf16 would hold it (a copy: it is the caller's) */
        if ((rc = add_reorder(net, p, at->slot, &at->md, 0, &at->md, fn)) || (rc = add_round(p, 0, &at->md, fn)))
            return rc;
        at->slot = 0;
    }
    if ((rc = conv_step(net, p, 0, at->size, at->slot, &at->md, at->slot == 0 ? 2 : 0, 1, first_plan, fn)))
        return rc;
    at->size = conv_out(&net->convs[0], at->size);
    return add_max_pool(net, p, batch, at, fn);
}

/* One bottleneck block (convs ci .. ci + 3: 1x1, 3x3, 1x1 with the residual sum, optional
 * downsample), choosing free slots so that no live activation is overwritten. */
static int add_bottleneck(rp__resnet *net, plan *p, size_t ci, int first_plan, cursor *at, const char *fn)
{
    conv_weights *c1 = &net->convs[ci], *c2 = &net->convs[ci + 1], *ds = &net->convs[ci + 3];
    const int x = at->slot;
    int busy[4] = {x};
    int t1 = free_slot(busy, 1);
    busy[1] = t1;
    int tmp = free_slot(busy, 2);
    dnnl_memory_desc_t m = at->md;
    int rc;
    /* bf16 rounding study: the block's input as bf16 would hold it (also the identity, which a bf16
     * block's last convolution adds in its bf16 destination) */
    if (unit_rounded(net, ci) && (rc = add_round(p, x, &at->md, fn))) return rc;
    rc = conv_step(net, p, ci, at->size, x, &m, tmp, t1, first_plan, fn);
    if (rc) return rc;
    uint32_t s1 = conv_out(c1, at->size);
    int t2 = free_slot(busy, 2); /* tmp's reorder output is dead by now: reuse it */
    busy[2] = t2;
    if ((rc = conv_step(net, p, ci + 1, s1, t1, &m, free_slot(busy, 3), t2, first_plan, fn))) return rc;
    uint32_t s2 = conv_out(c2, s1);
    /* Identity: the block input (in place) or the downsample conv's output (into t1, whose
     * contents are dead after conv2). */
    int id = x;
    dnnl_memory_desc_t id_md = at->md;
    int busy2[3] = {x, t1, t2};
    if (ds->data) {
        if ((rc = conv_step(net, p, ci + 3, at->size, x, &id_md, free_slot(busy2, 3), t1, first_plan, fn))) return rc;
        id = t1;
    }
    /* conv3 with sum (+ ReLU): its dst must hold the identity in the dst layout. */
    dnnl_primitive_desc_t pd;
    int busy3[3] = {id, t2, x};
    int tmp3 = free_slot(busy3, 3);
    if ((rc = add_conv(net, p, ci + 2, s2, &m, 1, &pd, fn))) return rc;
    const dnnl_memory_desc_t *want_dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    int out_slot = id;
    if (!dnnl_memory_desc_equal(want_dst, &id_md)) {
        int busy4[4] = {id, t2, x, tmp3};
        out_slot = free_slot(busy4, 4);
        if ((rc = add_reorder(net, p, id, &id_md, out_slot, want_dst, fn))) {
            dnnl_primitive_desc_destroy(pd);
            return rc;
        }
    }
    dnnl_memory_desc_t out_md = *want_dst;
    rc = emit_conv(net, p, ci + 2, pd, t2, &m, tmp3, out_slot, first_plan, fn);
    dnnl_primitive_desc_destroy(pd);
    if (!rc && unit_rounded(net, ci)) rc = add_round(p, out_slot, &out_md, fn);
    if (rc) return rc;
    at->md = out_md;
    at->slot = out_slot;
    at->size = s2;
    return RP_OK;
}

/* After stages 1 and 2 the activation is copied out as the caller's layer2 / layer3 (fp32 NCHW);
 * after stage 3 into a free slot as NCHW fp32, where the classifier reads it. */
static int add_stage_output(rp__resnet *net, plan *p, uint32_t batch, uint32_t stage, const cursor *at,
                            const char *fn)
{
    dnnl_memory_desc_t nchw;
    if (stage == 1 || stage == 2) {
        md_nchw(&nchw, batch, stage == 1 ? net->shape.layer2_channels : net->shape.layer3_channels, at->size,
                dnnl_f32, dnnl_nchw);
        return add_reorder(net, p, at->slot, &at->md, stage == 1 ? BUF_LAYER2 : BUF_LAYER3, &nchw, fn);
    }
    if (stage == 3) {
        md_nchw(&nchw, batch, net->layer4_channels, at->size, dnnl_f32, dnnl_nchw);
        int busy[1] = {at->slot};
        p->layer4_slot = free_slot(busy, 1);
        return add_reorder(net, p, at->slot, &at->md, p->layer4_slot, &nchw, fn);
    }
    return RP_OK;
}

/* The plan of one batch size: stem, the bottleneck blocks stage by stage with their outputs, and
 * the arena size that holds every slot and the largest scratchpad. */
static int build_plan(rp__resnet *net, uint32_t batch, int first_plan, const char *fn, plan **out)
{
    *out = NULL;
    plan *p = rp__calloc(1, sizeof *p);
    if (!p) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    p->batch = batch;
    p->layer4_slot = -1;
    cursor at = {.slot = BUF_INPUT, .size = net->opt.input_size};
    md_nchw(&at.md, batch, 3, net->opt.input_size, dnnl_f32, dnnl_nchw);
    int rc = add_stem(net, p, batch, first_plan, &at, fn);
    size_t ci = 1;
    for (uint32_t stage = 0; stage < net->num_stages && !rc; stage++) {
        for (uint32_t b = 0; b < net->blocks[stage] && !rc; b++, ci += 4)
            rc = add_bottleneck(net, p, ci, first_plan, &at, fn);
        if (!rc) rc = add_stage_output(net, p, batch, stage, &at, fn);
    }
    if (rc) {
        plan_free(p);
        return rc;
    }
    /* Arena: slots back to back (page aligned), then the largest scratchpad. */
    size_t total = 0;
    for (int s = 0; s < NUM_SLOTS; s++) total += align_up(p->slot_bytes[s]);
    p->arena_bytes = total + align_up(p->scratch_bytes);
    *out = p;
    return RP_OK;
}

/* ---- creation ------------------------------------------------------------------------------- */

static int take_conv(rp__resnet *net, const rp__resnet_conv *c, int relu, const char *fn)
{
    conv_weights *cw = &net->convs[net->num_convs++];
    cw->in = c->in_channels;
    cw->out = c->out_channels;
    cw->kernel = c->kernel;
    cw->stride = c->stride;
    cw->pad = c->pad;
    cw->relu = relu;
    if (!c->weight) return RP_OK; /* absent downsample */
    size_t nw = (size_t)cw->out * cw->in * cw->kernel * cw->kernel;
    cw->data = aligned_bytes(nw * sizeof(float));
    cw->bias = rp__malloc(cw->out * sizeof(float));
    if (!cw->data || !cw->bias) return rp__fail(RP_E_NOMEM, "%s: out of memory for weights", fn);
    memcpy(cw->data, c->weight, nw * sizeof(float));
    memcpy(cw->bias, c->bias, cw->out * sizeof(float));
    if (unit_rounded(net, net->num_convs - 1)) round_to_bf16(cw->data, nw); /* biases stay fp32 */
    return RP_OK;
}

void rp__resnet_memory(const rp__resnet *net, uint64_t *weights_out, uint64_t *activations_out)
{
    rp__resnet *n = (rp__resnet *)net; /* the locks only: the counts are read, nothing changes */
    uint64_t weights = 0, activations = 0;
    for (size_t i = 0; i < n->num_convs; i++)
        if (n->convs[i].data)
            weights += dnnl_memory_desc_get_size(&n->convs[i].md) + (uint64_t)n->convs[i].out * sizeof(float);
    if (n->fc_weight)
        weights += ((uint64_t)n->shape.num_classes * n->layer4_channels + n->shape.num_classes) * sizeof(float);
    pthread_mutex_lock(&n->plan_lock);
    for (const plan *p = n->plans; p; p = p->next) weights += p->owned_bytes;
    pthread_mutex_unlock(&n->plan_lock);
    pthread_mutex_lock(&n->arena_lock);
    for (const arena *a = n->arenas; a; a = a->next) activations += a->bytes;
    pthread_mutex_unlock(&n->arena_lock);
    *weights_out = weights;
    *activations_out = activations;
}

int rp__resnet_bf16_native(void) { return isa_has(dnnl_cpu_isa_avx512_core_bf16); }

/* oneDNN 2.6 emulates bf16 convolutions with AVX-512 instructions; below AVX-512 it has none. */
static int bf16_supported(int allow_emulation)
{
    return (allow_emulation && isa_has(dnnl_cpu_isa_avx512_core)) || rp__resnet_bf16_native();
}

int rp__resnet_create(const rp__resnet_spec *spec, const rp__resnet_options *opt, const char *fn,
                      rp__resnet **out)
{
    *out = NULL;
    if (opt->bf16 && !bf16_supported(opt->allow_bf16_emulation))
        return rp__fail(RP_E_UNSUPPORTED,
                        "%s: bf16 precision needs a CPU with native bf16 (AVX512-BF16 or AMX); oneDNN reports "
                        "ISA 0x%x here (emulated bf16 would be slower than fp32, and needs AVX-512)",
                        fn, (unsigned)dnnl_get_effective_cpu_isa());
    rp__resnet *net = rp__calloc(1, sizeof *net);
    if (!net) return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    pthread_mutex_init(&net->plan_lock, NULL);
    pthread_mutex_init(&net->arena_lock, NULL);
    net->opt = *opt;
    if (net->opt.num_threads == 0) net->opt.num_threads = 1;
    net->dt = opt->bf16 ? dnnl_bf16 : dnnl_f32;
    net->num_stages = opt->classifier ? 4 : 3;
    int rc;
    if (spec->num_stages < net->num_stages) {
        rc = rp__fail(RP_E_INTERNAL, "%s: spec has %u stages, need %u", fn, spec->num_stages, net->num_stages);
        goto fail;
    }
    size_t nconv = 1;
    for (uint32_t s = 0; s < net->num_stages; s++) nconv += 4 * (size_t)spec->blocks[s];
    net->convs = rp__calloc(nconv, sizeof *net->convs);
    if (!net->convs) {
        rc = rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
        goto fail;
    }
    if ((rc = take_conv(net, &spec->stem, 1, fn))) goto fail;
    uint32_t size = (opt->input_size + 6 - 7) / 2 + 1;
    size = (size + 2 - 3) / 2 + 1;
    for (uint32_t s = 0; s < net->num_stages; s++) {
        net->blocks[s] = spec->blocks[s];
        for (uint32_t b = 0; b < spec->blocks[s]; b++) {
            const rp__resnet_block *blk = &spec->stage[s][b];
            if ((rc = take_conv(net, &blk->conv1, 1, fn)) || (rc = take_conv(net, &blk->conv2, 1, fn)) ||
                (rc = take_conv(net, &blk->conv3, 1, fn)) || (rc = take_conv(net, &blk->downsample, 0, fn)))
                goto fail;
            if (b == 0 && s > 0) size = (size - 1) / 2 + 1;
        }
        uint32_t ch = spec->stage[s][spec->blocks[s] - 1].conv3.out_channels;
        if (s == 1) net->shape.layer2_channels = ch, net->shape.layer2_size = size;
        if (s == 2) net->shape.layer3_channels = ch, net->shape.layer3_size = size;
        if (s == 3) net->layer4_channels = ch, net->layer4_size = size;
    }
    net->shape.input_size = opt->input_size;
    if (opt->classifier) {
        net->shape.num_classes = spec->num_classes;
        size_t n = (size_t)spec->num_classes * spec->fc_in;
        net->fc_weight = rp__malloc(n * sizeof(float));
        net->fc_bias = rp__malloc(spec->num_classes * sizeof(float));
        if (!net->fc_weight || !net->fc_bias) {
            rc = rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
            goto fail;
        }
        memcpy(net->fc_weight, spec->fc_weight, n * sizeof(float));
        memcpy(net->fc_bias, spec->fc_bias, spec->num_classes * sizeof(float));
    }
    {
        dnnl_status_t st = dnnl_engine_create(&net->engine, dnnl_cpu, 0);
        if (st != dnnl_success) {
            rc = dnnl_fail(st, fn, "engine create");
            goto fail;
        }
    }
    /* Primitives are tuned for the thread count current at creation: use the call-time one. */
    int saved = omp_get_max_threads();
    omp_set_num_threads((int)net->opt.num_threads);
    rc = build_plan(net, 1, 1, fn, &net->plans);
    omp_set_num_threads(saved);
    if (rc) goto fail;
    *out = net;
    return RP_OK;
fail:
    rp__resnet_free(net);
    return rc;
}

void rp__resnet_free(rp__resnet *net)
{
    if (!net) return;
    for (plan *p = net->plans, *n; p; p = n) {
        n = p->next;
        plan_free(p);
    }
    for (arena *a = net->arenas, *n; a; a = n) {
        n = a->next;
        free(a->mem);
        free(a);
    }
    for (size_t i = 0; i < net->num_convs; i++) {
        free(net->convs[i].data);
        free(net->convs[i].bias);
    }
    free(net->convs);
    free(net->fc_weight);
    free(net->fc_bias);
    if (net->engine) dnnl_engine_destroy(net->engine);
    pthread_mutex_destroy(&net->plan_lock);
    pthread_mutex_destroy(&net->arena_lock);
    free(net);
}

void rp__resnet_get_shape(const rp__resnet *net, rp__resnet_shape *shape) { *shape = net->shape; }

const char *rp__resnet_impl_name(const rp__resnet *net, int which) { return net->impl[which ? 1 : 0]; }

/* ---- execution ------------------------------------------------------------------------------ */

static int get_plan(rp__resnet *net, uint32_t batch, const char *fn, plan **out)
{
    pthread_mutex_lock(&net->plan_lock);
    plan *p = net->plans;
    while (p && p->batch != batch) p = p->next;
    int rc = RP_OK;
    if (!p) {
        rc = build_plan(net, batch, 0, fn, &p);
        if (!rc) {
            p->next = net->plans;
            net->plans = p;
            rp__log(RP_LOG_DEBUG, "%s: built the network plan for batch %u (%zu steps, %zu weight copies, arena %zu MB)",
                    fn, batch, p->num_steps, p->num_owned, p->arena_bytes >> 20);
        }
    }
    pthread_mutex_unlock(&net->plan_lock);
    *out = p;
    return rc;
}

int rp__resnet_prepare(const rp__resnet *cnet, uint32_t batch, uint32_t *reference_kernels, const char *fn)
{
    rp__resnet *net = (rp__resnet *)cnet; /* the plan cache changes under its lock */
    int saved = omp_get_max_threads();
    omp_set_num_threads((int)net->opt.num_threads);
    plan *p;
    int rc = get_plan(net, batch, fn, &p);
    omp_set_num_threads(saved);
    if (!rc && reference_kernels) *reference_kernels = p->reference_kernels;
    return rc;
}

static arena *take_arena(rp__resnet *net, size_t bytes)
{
    pthread_mutex_lock(&net->arena_lock);
    arena **pp = &net->arenas, *a = NULL;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->bytes >= bytes) {
            a = *pp;
            *pp = a->next;
            break;
        }
    pthread_mutex_unlock(&net->arena_lock);
    if (a) return a;
    a = rp__calloc(1, sizeof *a);
    if (!a) return NULL;
    a->mem = aligned_bytes(bytes);
    a->bytes = bytes;
    if (!a->mem) {
        free(a);
        return NULL;
    }
    return a;
}

static void give_arena(rp__resnet *net, arena *a)
{
    pthread_mutex_lock(&net->arena_lock);
    a->next = net->arenas;
    net->arenas = a;
    pthread_mutex_unlock(&net->arena_lock);
}

static int run_plan(const rp__resnet *net, const plan *p, char *mem, const float *input, float *layer2,
                    float *layer3, const char *fn)
{
    char *slot[NUM_SLOTS];
    size_t off = 0;
    for (int s = 0; s < NUM_SLOTS; s++) {
        slot[s] = mem + off;
        off += align_up(p->slot_bytes[s]);
    }
    char *scratch = mem + off;
    dnnl_stream_t stream;
    dnnl_status_t st = dnnl_stream_create(&stream, net->engine, dnnl_stream_default_flags);
    if (st != dnnl_success) return dnnl_fail(st, fn, "stream create");
    dnnl_memory_desc_t sp_md;
    dnnl_dims_t sp_dims = {(dnnl_dim_t)(p->scratch_bytes ? p->scratch_bytes : 1)};
    dnnl_memory_desc_init_by_tag(&sp_md, 1, sp_dims, dnnl_u8, dnnl_a);
    dnnl_memory_t sp = NULL;
    st = dnnl_memory_create(&sp, &sp_md, net->engine, scratch);
    for (size_t i = 0; i < p->num_steps && st == dnnl_success; i++) {
        const step *s = &p->steps[i];
        if ((s->dst == BUF_LAYER2 && !layer2) || (s->dst == BUF_LAYER3 && !layer3)) continue;
        if (s->kind == STEP_ROUND_BF16) {
            st = dnnl_stream_wait(stream); /* the step before must have written the slot */
            round_to_bf16((float *)slot[s->dst], dnnl_memory_desc_get_size(&s->dst_md) / sizeof(float));
            continue;
        }
        void *src = s->src == BUF_INPUT ? (void *)input : slot[s->src];
        void *dst = s->dst == BUF_LAYER2 ? (void *)layer2 : s->dst == BUF_LAYER3 ? (void *)layer3 : slot[s->dst];
        dnnl_memory_t m[4] = {NULL, NULL, NULL, NULL};
        dnnl_exec_arg_t args[5];
        int n = 0;
        st = dnnl_memory_create(&m[0], &s->src_md, net->engine, src);
        if (st == dnnl_success) st = dnnl_memory_create(&m[1], &s->dst_md, net->engine, dst);
        if (st == dnnl_success && s->kind == STEP_CONV) {
            st = dnnl_memory_create(&m[2], &s->weights_md, net->engine, (void *)s->weights);
            if (st == dnnl_success) st = dnnl_memory_create(&m[3], &s->bias_md, net->engine, (void *)s->bias);
        }
        if (st == dnnl_success) {
            args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, m[0]};
            args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, m[1]};
            if (s->kind == STEP_CONV) {
                args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, m[2]};
                args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m[3]};
            }
            args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, sp};
            st = dnnl_primitive_execute(s->prim, stream, n, args);
        }
        for (int k = 0; k < 4; k++)
            if (m[k]) dnnl_memory_destroy(m[k]);
    }
    if (st == dnnl_success) st = dnnl_stream_wait(stream);
    if (sp) dnnl_memory_destroy(sp);
    dnnl_stream_destroy(stream);
    return st == dnnl_success ? RP_OK : dnnl_fail(st, fn, "execution");
}

/* Global average pool + fc + softmax on layer4 (NCHW fp32). */
static int classify(const rp__resnet *net, const float *layer4, uint32_t batch, float *probs, const char *fn)
{
    uint32_t c = net->layer4_channels, hw = net->layer4_size * net->layer4_size, k = net->shape.num_classes;
    /* pooled features and logits in scratch: probs is written only once nothing can fail */
    float *pooled = rp__malloc((size_t)batch * c * sizeof(float));
    float *logits = rp__malloc((size_t)batch * k * sizeof(float));
    if (!pooled || !logits) {
        free(pooled);
        free(logits);
        return rp__fail(RP_E_NOMEM, "%s: out of memory", fn);
    }
    for (uint32_t i = 0; i < batch * c; i++) {
        double sum = 0;
        for (uint32_t j = 0; j < hw; j++) sum += layer4[(size_t)i * hw + j];
        pooled[i] = (float)(sum / hw);
    }
    /* logits = pooled (batch x c) * fc^T (c x k); dnnl_sgemm is row-major. */
    for (uint32_t b = 0; b < batch; b++) memcpy(logits + (size_t)b * k, net->fc_bias, k * sizeof(float));
    dnnl_status_t st = dnnl_sgemm('N', 'T', batch, k, c, 1.0f, pooled, c, net->fc_weight, c, 1.0f, logits, k);
    free(pooled);
    if (st != dnnl_success) {
        free(logits);
        return dnnl_fail(st, fn, "sgemm (classifier)");
    }
    for (uint32_t b = 0; b < batch; b++) {
        const float *row = logits + (size_t)b * k;
        float *out = probs + (size_t)b * k;
        float mx = row[0];
        for (uint32_t j = 1; j < k; j++) mx = row[j] > mx ? row[j] : mx;
        double sum = 0;
        for (uint32_t j = 0; j < k; j++) sum += exp((double)row[j] - mx);
        for (uint32_t j = 0; j < k; j++) out[j] = (float)(exp((double)row[j] - mx) / sum);
    }
    free(logits);
    return RP_OK;
}

int rp__resnet_forward(const rp__resnet *cnet, const float *input, uint32_t batch, float *layer2, float *layer3,
                       float *probs, const char *fn)
{
    rp__resnet *net = (rp__resnet *)cnet; /* only the plan cache and arena pool change, under locks */
    if (probs && !net->shape.num_classes)
        return rp__fail(RP_E_STATE, "%s: the network was built without the classifier", fn);
    int saved = omp_get_max_threads();
    omp_set_num_threads((int)net->opt.num_threads);
    plan *p;
    int rc = get_plan(net, batch, fn, &p);
    if (rc) {
        omp_set_num_threads(saved);
        return rc;
    }
    arena *a = take_arena(net, p->arena_bytes);
    if (!a) {
        omp_set_num_threads(saved);
        return rp__fail(RP_E_NOMEM, "%s: out of memory for %zu bytes of activations (batch %u)", fn,
                        p->arena_bytes, batch);
    }
    rc = run_plan(net, p, a->mem, input, layer2, layer3, fn);
    if (!rc && probs) {
        size_t off = 0;
        for (int s = 0; s < p->layer4_slot; s++) off += align_up(p->slot_bytes[s]);
        rc = classify(net, (const float *)((char *)a->mem + off), batch, probs, fn);
    }
    give_arena(net, a);
    omp_set_num_threads(saved);
    return rc;
}
