/* cx_kernels.h — the training engine: the compute backend interface (CPU, CUDA), models,
 * losses, optimizers, DP-SGD and its accountant, metrics, job specs and model files. */
#ifndef CX_KERNELS_H
#define CX_KERNELS_H

#include "cx_util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================== backend, models, training, metrics, job spec ===================== */

/* ---- compute backend (CPU reference in kernels/cpu/; CUDA mirrors it in cuda/) ----
 * Device memory is addressed by plain pointers (float *, int32_t *) that only the backend
 * dereferences; pointer arithmetic on them is allowed (CPU and CUDA pointers both support it),
 * so a batch slice is just `x + row * cols`. All matrices are row-major, dense.
 * Ops returning void never fail on valid arguments; a backend whose ops can fail
 * asynchronously (CUDA) records the first failure and reports it from sync()/download(). */

typedef enum cx_precision {
    CX_PRECISION_FP32 = 0, /* every backend */
    CX_PRECISION_TF32 = 1, /* GEMMs in TF32 (CUDA only; refused on CPU) */
    CX_PRECISION_BF16 = 2, /* GEMMs in BF16 with FP32 accumulation (CUDA only) */
} cx_precision;

typedef enum cx_act {
    CX_ACT_NONE = 0,
    CX_ACT_RELU = 1,
    CX_ACT_GELU = 2, /* tanh approximation, as in GPT-2 / llm.c */
    CX_ACT_TANH = 3,
    CX_ACT_SIGMOID = 4,
} cx_act;

typedef struct cx_backend cx_backend;
struct cx_backend {
    const char *name;       /* "cpu", "cuda" */
    cx_precision precision; /* GEMM precision chosen at creation */
    void *ctx;              /* backend state */

    /* memory: bytes on the device; free(NULL) is a no-op */
    cx_err (*alloc)(cx_backend *be, size_t bytes, void **out, cx_error *e);
    void (*free)(cx_backend *be, void *p);
    cx_err (*upload)(cx_backend *be, void *dst_dev, const void *src_host, size_t bytes,
                     cx_error *e);
    cx_err (*download)(cx_backend *be, void *dst_host, const void *src_dev, size_t bytes,
                       cx_error *e);
    /* dst (n) = src (n) on the device */
    void (*copy)(cx_backend *be, void *dst_dev, const void *src_dev, size_t bytes);

    /* C (M, N) = alpha · op(A) · op(B) + beta · C, op(X) = X or Xᵀ (trans != 0);
     * op(A) is (M, K), op(B) is (K, N); lda/ldb/ldc are row strides of the stored matrices. */
    void (*sgemm)(cx_backend *be, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

    /* z (B, N) += bias (N) in place (z holds x·W on entry: the pre-activation after);
     * out (B, N) = act(z). out may equal z only when act is NONE or RELU. */
    void (*bias_act_forward)(cx_backend *be, cx_act act, int rows, int n, float *z,
                             const float *bias, float *out);
    /* dz (B, N) = dout (B, N) ⊙ act'(z) given z (pre-activation) and out = act(z);
     * dz may alias dout. */
    void (*act_backward)(cx_backend *be, cx_act act, int rows, int n, const float *z,
                         const float *out, const float *dout, float *dz);

    /* A dense layer's GEMM and its bias and activation in one pass, where a backend has it
     * (NULL: the two ops, which give the same bits): z (B, N) = x (B, K) · W (K, N), then
     * bias_act_forward (z += bias, out = act(z)). */
    void (*dense_forward)(cx_backend *be, cx_act act, int rows, int n, int k, const float *x,
                          const float *w, const float *bias, float *z, float *out);

    /* Losses: per-row loss (B) and the gradient wrt the logits/predictions, scaled by
     * grad_scale (1/B for a mean; 1 for per-example gradients as DP-SGD needs).
     * Softmax + cross-entropy (fused): labels (B) are class indices stored as floats;
     * probs (B, C) = softmax(logits); dlogits (B, C) = grad_scale · (probs − onehot). */
    void (*softmax_xent)(cx_backend *be, int rows, int classes, const float *logits,
                         const float *labels, float grad_scale, float *probs, float *dlogits,
                         float *loss_rows);
    /* Logistic (binary cross-entropy on a logit): logits (B), labels (B) in {0,1};
     * probs (B) = σ(logit); dlogits (B) = grad_scale · (probs − y); numerically stable. */
    void (*logistic_loss)(cx_backend *be, int rows, const float *logits, const float *labels,
                          float grad_scale, float *probs, float *dlogits, float *loss_rows);
    /* MSE: pred (B, N), target (B, N); loss_rows (B) = ½·Σ_j (pred − target)²;
     * dpred (B, N) = grad_scale · (pred − target). */
    void (*mse_loss)(cx_backend *be, int rows, int n, const float *pred, const float *target,
                     float grad_scale, float *dpred, float *loss_rows);

    /* out (N) = beta · out + alpha · Σ_rows x (B, N) — the bias gradient; fixed order. */
    void (*col_sum)(cx_backend *be, int rows, int n, const float *x, float alpha, float beta,
                    float *out);
    /* out (B) = (accumulate ? out : 0) + Σ_j x (B, N)² — per-example squared norms. */
    void (*row_norm_sq)(cx_backend *be, int rows, int n, const float *x, int accumulate,
                        float *out);
    /* out (B) = (accumulate ? out : 0) + a (B) ⊙ b (B): combines ‖a_i‖²·‖δ_i‖² per layer. */
    void (*mul_acc)(cx_backend *be, int rows, const float *a, const float *b, int accumulate,
                    float *out);
    /* factor (B) = min(1, max_norm / (sqrt(norm_sq (B)) + 1e-6)) — Opacus clipping factor. */
    void (*clip_factor)(cx_backend *be, int rows, const float *norm_sq, float max_norm,
                        float *factor);
    /* x (B, N) row i *= scale (B)[i], in place. */
    void (*row_scale)(cx_backend *be, int rows, int n, float *x, const float *scale);
    /* DP-SGD's per-example clipping in one pass over the rows, where a backend has it (NULL:
     * the four ops above, one by one, give the same bits): norm_sq (B) = Σ_l
     * (‖act_l‖² + 1)·‖δ_l‖² per row, summed as row_norm_sq and mul_acc sum; factor (B) =
     * clip_factor of it; every δ_l row scaled by its factor. act[l] (B, dims[l]) is read,
     * delta[l] (B, dims[l+1]) scaled in place, for l < layers. One parallel region instead of
     * 4·layers + 1: on two threads those regions' wake-ups were half of DP-SGD's overhead. */
    void (*dp_clip)(cx_backend *be, int rows, int layers, const int *dims, const float *const *act,
                    float *const *delta, float max_norm, float *norm_sq, float *factor);
    /* x (n) *= alpha */
    void (*scale)(cx_backend *be, size_t n, float *x, float alpha);

    /* Optimizers, fused (one pass over params, grads and state), bias-corrected Adam at
     * step t ≥ 1. adamw: decoupled weight decay p −= lr·wd·p; adam: wd added to the gradient. */
    void (*adam_update)(cx_backend *be, size_t n, float *params, const float *grads, float *m,
                        float *v, float lr, float beta1, float beta2, float eps, float weight_decay,
                        int decoupled, int t);
    /* SGD with momentum (PyTorch form): g' = g + wd·p; buf = mu·buf + g'; p −= lr·buf
     * (buf unused when mu == 0). */
    void (*sgd_update)(cx_backend *be, size_t n, float *params, const float *grads,
                       float *momentum_buf, float lr, float momentum, float weight_decay);
    /* The same updates with the per-step values read from device memory, so that one
     * captured step (cx_backend_graph_*) replays with new values: hyper (3) = {lr, 1 − β1^t,
     * 1 − β2^t} (the host computes them as 1.0f − powf(β, (float)t), the rounding adam_update
     * uses, so both forms give identical bits); lr (1). */
    void (*adam_update_dev)(cx_backend *be, size_t n, float *params, const float *grads, float *m,
                            float *v, const float *hyper, float beta1, float beta2, float eps,
                            float weight_decay, int decoupled);
    void (*sgd_update_dev)(cx_backend *be, size_t n, float *params, const float *grads,
                           float *momentum_buf, const float *lr, float momentum,
                           float weight_decay);
    /* acc (1 double on the device) += Σ x (n): the loss summed on the device, read once per
     * epoch (cpu: sequential, in index order). */
    void (*sum_acc)(cx_backend *be, size_t n, const float *x, double *acc);
    /* x (n) += scale · noise (n), noise given on the host (drawn from a CSPRNG there). */
    cx_err (*noise_add)(cx_backend *be, size_t n, float *x_dev, const float *noise_host,
                        float scale, cx_error *e);

    /* x (B, N) = (x − mean (N)) · inv_std (N), in place. */
    void (*standardize)(cx_backend *be, int rows, int n, float *x, const float *mean,
                        const float *inv_std);
    /* dst (B, N) row r = src row idx[r]; idx (B) on the device (the sampled batch). */
    void (*gather_rows)(cx_backend *be, int rows, int n, const int32_t *idx, const float *src,
                        float *dst);
    /* out (B) = index of the largest x (B, C) in each row (first one on ties). */
    void (*argmax)(cx_backend *be, int rows, int classes, const float *x, int32_t *out);

    /* Wait for queued work; reports any recorded asynchronous failure. */
    cx_err (*sync)(cx_backend *be, cx_error *e);
    void (*destroy)(cx_backend *be);
};

/* name: "cpu" (or "cuda" when built with it); threads ≤ 0: all cores. TF32/BF16 on the
 * CPU backend fail with CX_ERR_UNSUPPORTED. Free with cx_backend_destroy. */
cx_err cx_backend_create(const char *name, cx_precision precision, int threads, cx_backend **out,
                         cx_error *e);
/* The CPU backend's GEMM kernel, chosen per machine at run time: the own AVX-512 packed
 * kernel where the CPU has AVX-512 F/VL, OpenBLAS elsewhere (and for very narrow outputs).
 * CLOAKX_CPU_GEMM=openblas forces the fallback (benchmarks compare the two). */
typedef enum cx_cpu_gemm {
    CX_CPU_GEMM_OPENBLAS = 0,
    CX_CPU_GEMM_AVX512 = 1,
} cx_cpu_gemm;
cx_cpu_gemm cx_cpu_gemm_select(void);
const char *cx_cpu_gemm_name(cx_cpu_gemm g);
/* This core's fp32 FMA peak in GFLOP/s per CPU second of the calling thread (a register-only
 * FMA loop at the widest vector width, best slice over about `seconds`); *what names the loop.
 * 0 where it cannot be measured. */
double cx_cpu_fma_peak_gflops(double seconds, const char **what);

cx_err cx_backend_cpu_create(cx_precision precision, int threads, cx_backend **out, cx_error *e);
void cx_backend_destroy(cx_backend *be);
const char *cx_precision_name(cx_precision p); /* "fp32", "tf32", "bf16" */
const char *cx_act_name(cx_act a);             /* "none", "relu", ... */

/* ---- CUDA backend and device selection (kernels/cuda/, kernels/backend_select.c)
 * Built when CMake finds the CUDA toolkit (CLOAKX_HAVE_CUDA); in other builds every
 * function here fails with CX_ERR_UNSUPPORTED ("not built in"), so callers need no #ifdef.
 * The binary runs without a GPU or driver: these then fail with CX_ERR_DEVICE. */

typedef struct cx_cuda_device_info {
    int index;
    char name[256];
    int cc_major, cc_minor; /* compute capability (9.0 = H100) */
    int sm_count;
    size_t total_mem, free_mem; /* bytes */
    char pci_bus_id[32];        /* "0000:1b:00.0" */
} cx_cuda_device_info;

/* GPUs visible to the CUDA runtime (> 0); CX_ERR_DEVICE with the runtime's reason when there
 * is none ("no CUDA device: ..."). */
cx_err cx_cuda_device_count(int *count, cx_error *e);
cx_err cx_cuda_device_query(int device, cx_cuda_device_info *out, cx_error *e);
/* The cuda backend on GPU `device`: cuBLAS GEMMs at `precision` (fp32: CUBLAS_COMPUTE_32F;
 * tf32: CUBLAS_COMPUTE_32F_FAST_TF32; bf16: CUBLAS_COMPUTE_32F_FAST_16BF, i.e. bf16 products
 * with fp32 accumulation over fp32 master weights), CUDA kernels for every other op, all on
 * one stream with no host synchronisation except download() and sync(). */
cx_err cx_backend_cuda_create(int device, cx_precision precision, cx_backend **out, cx_error *e);
/* Pinned (page-locked) host memory, for DMA straight from decrypted buffers; wiped on free.
 * The signatures match io's cx_buf_allocator (ud is unused) so that engine can plug them into
 * the pipeline's buffer pool. */
void *cx_cuda_pinned_alloc(void *ud, size_t len, cx_error *e);
void cx_cuda_pinned_free(void *ud, void *p, size_t len);
/* The CPUs nearest GPU `device` (hwloc, from its PCI locality), in the list syntax that
 * cx_io_bind_thread takes ("0-15,32-47"). */
cx_err cx_cuda_device_cpulist(int device, char *out, size_t cap, cx_error *e);

/* CUDA graphs (cuda backend; CX_ERR_UNSUPPORTED on others): ops queued between begin and end
 * are recorded instead of run, then launch replays them in one submission, the cure for a
 * launch-bound small network. No host synchronisation or allocation may happen in between
 * (a download or sync there fails and voids the capture; end reports it and the backend
 * stays usable), and kernel arguments are frozen as captured, so per-step values (step t,
 * learning rate, batch indices) must come from device memory to vary. A new end replaces the
 * previous graph. */
cx_err cx_backend_graph_begin(cx_backend *be, cx_error *e);
cx_err cx_backend_graph_end(cx_backend *be, cx_error *e);
cx_err cx_backend_graph_launch(cx_backend *be, cx_error *e);
/* Drop the captured graph (it points at buffers its owner is about to free); no-op without one. */
void cx_backend_graph_reset(cx_backend *be);

/* Streaming (cuda backend; CX_ERR_UNSUPPORTED on others, whose callers upload instead), for
 * training data larger than device memory: a copy stream beside the compute stream and two
 * staging slots (0, 1), so that batch k+1 crosses the bus while batch k computes.
 * stream_upload queues src (pinned: cx_cuda_pinned_alloc) → dst on the copy stream once the
 * compute stream has released the slot; stream_acquire makes the compute stream wait for the
 * slot's copies; stream_release marks the slot's device buffer read (call it after queueing
 * the ops that read it); stream_host_wait blocks the host until the slot's copies are done,
 * so that its staging memory may be refilled. Not allowed inside a graph capture. */
cx_err cx_backend_stream_upload(cx_backend *be, int slot, void *dst_dev, const void *src_pinned,
                                size_t bytes, cx_error *e);
cx_err cx_backend_stream_acquire(cx_backend *be, int slot, cx_error *e);
cx_err cx_backend_stream_release(cx_backend *be, int slot, cx_error *e);
cx_err cx_backend_stream_host_wait(cx_backend *be, int slot, cx_error *e);

/* What --device picked. */
typedef struct cx_device_choice {
    char backend[8];  /* "cpu" or "cuda" */
    int device;       /* GPU index; -1 for cpu */
    char report[384]; /* what runs and why: "cuda:0 (NVIDIA H100 ..., sm_90, ..., cuBLAS
                         tf32)" or "cpu (OpenBLAS + OpenMP, ...); auto: no CUDA device: ..." */
} cx_device_choice;
/* device: "auto" (NULL too: GPU 0 when a GPU is usable, else cpu, saying why), "cpu", "cuda"
 * (= "cuda:0") or "cuda:N" (no fallback: an absent GPU is CX_ERR_DEVICE). threads: the
 * cpu backend's. choice may be NULL. */
cx_err cx_backend_select(const char *device, cx_precision precision, int threads, cx_backend **out,
                         cx_device_choice *choice, cx_error *e);
/* GEMM rate of backend be at one shape, C (m, n) = op(A) (m, k) · op(B) (k, n), repeated
 * for at least min_seconds on buffers it allocates on the device: GFLOP/s (2·m·n·k per
 * GEMM), at the backend's precision. */
cx_err cx_backend_gemm_gflops(cx_backend *be, int trans_a, int trans_b, int m, int n, int k,
                              double min_seconds, double *gflops, cx_error *e);

/* ---- job spec (documented in kernels/README.md) ---- */

typedef enum cx_task { CX_TASK_CLASSIFICATION = 0, CX_TASK_REGRESSION, CX_TASK_STATS } cx_task;
typedef enum cx_model_kind {
    CX_MODEL_LINEAR = 0,
    CX_MODEL_LOGISTIC,
    CX_MODEL_SOFTMAX,
    CX_MODEL_MLP
} cx_model_kind;
typedef enum cx_loss { CX_LOSS_MSE = 0, CX_LOSS_BCE, CX_LOSS_XENT } cx_loss;
typedef enum cx_optim_kind { CX_OPTIM_SGD = 0, CX_OPTIM_ADAM, CX_OPTIM_ADAMW } cx_optim_kind;
typedef enum cx_schedule { CX_SCHED_CONSTANT = 0, CX_SCHED_COSINE, CX_SCHED_STEP } cx_schedule;

#define CX_SPEC_MAX_HIDDEN 16

typedef struct cx_spec {
    cx_task task;
    cx_model_kind model;
    int n_hidden, hidden[CX_SPEC_MAX_HIDDEN];
    cx_act activation;
    cx_loss loss;
    cx_optim_kind optimizer;
    double lr, momentum, weight_decay, beta1, beta2, eps;
    cx_schedule schedule;
    int step_size; /* epochs between decays (step schedule) */
    double gamma;  /* decay factor (step schedule) */
    double min_lr; /* floor of the cosine schedule */
    int batch_size, epochs;
    double validation_split; /* fraction in [0, 0.9] held out, chosen by seed */
    int patience;            /* early stopping on validation loss; 0: off */
    uint64_t seed;
    cx_precision precision;
    int threads; /* 0: all cores */
    int privacy; /* DP-SGD on */
    double noise_multiplier, max_grad_norm, delta;
    /* "privacy.standardize": "dp": the standardisation is computed inside the enclave by a
     * Laplace mechanism on the declared bounds, spending standardize_epsilon (pure ε) on top
     * of DP-SGD's (chain/RULES.md §9.7); else ("declared", the default) it is the spec's. */
    int dp_standardize;
    double standardize_epsilon;
    json_t *data; /* the "data" object (schema for io's parsers), owned; NULL if absent */
    json_t *raw;  /* the whole spec as given, owned (stored in the model's metadata) */
} cx_spec;

/* Strict: unknown keys and out-of-range values fail with CX_ERR_FORMAT naming the key
 * (nested keys are named by path, e.g. "optimizer.lr"). */
cx_err cx_spec_parse(const json_t *j, cx_spec *out, cx_error *e);
cx_err cx_spec_load(const char *path, cx_spec *out, cx_error *e);
void cx_spec_free(cx_spec *s); /* releases data/raw; the struct itself is the caller's */
/* The spec's defaults (what every omitted key takes). */
void cx_spec_defaults(cx_spec *s);
const char *cx_task_name(cx_task t);
const char *cx_model_kind_name(cx_model_kind m);
const char *cx_loss_name(cx_loss l);
const char *cx_optim_name(cx_optim_kind o);
const char *cx_schedule_name(cx_schedule s);

/* ---- models ---- */

/* A stack of dense layers on the host: layer l maps dims[l] → dims[l+1]; hidden layers
 * use `act`, the last one none (its loss supplies the link). Parameters of layer l:
 * W (dims[l], dims[l+1]) row-major then b (dims[l+1]), all layers back to back in params. */
typedef struct cx_model {
    cx_task task;
    cx_model_kind kind;
    cx_loss loss;
    cx_act act;
    int n_layers;
    int *dims; /* n_layers + 1 */
    size_t n_params;
    float *params;         /* n_params */
    int n_features;        /* dims[0] */
    int n_outputs;         /* dims[n_layers] */
    int n_classes;         /* classification: ≥ 2; regression: 0 */
    float *mean, *inv_std; /* standardiser (n_features each) */
    float y_mean, y_std;   /* regression targets are trained standardised; 0 / 1 otherwise */
} cx_model;

#define CX_MODEL_MAX_PARAMS (1ull << 30) /* 4 GiB of fp32 parameters */

/* Builds the architecture from a spec; parameters zero (cx_model_init fills them).
 * More than CX_MODEL_MAX_PARAMS parameters: CX_ERR_LIMIT. */
cx_err cx_model_create(const cx_spec *s, int n_features, int n_classes, cx_model **out,
                       cx_error *e);
/* Deterministic init from seed: He/Xavier-uniform weights, zero biases. */
void cx_model_init(cx_model *m, uint64_t seed);
void cx_model_free(cx_model *m);
size_t cx_model_layer_offset(const cx_model *m, int layer); /* offset of W of layer */
/* Predictions on the host-side rows x (rows, n_features), already standardised or not:
 * standardise != 0 applies the model's standardiser first. out (rows, n_outputs):
 * class probabilities (softmax / σ for logistic) or values. */
cx_err cx_model_predict(const cx_model *m, cx_backend *be, const float *x, size_t rows,
                        int standardise, float *out, cx_error *e);

/* Model files: safetensors with tensors "layers.<l>.weight" (F32,
 * [dims[l], dims[l+1]]: inputs × outputs, x·W), "layers.<l>.bias" ([dims[l+1]]),
 * "standardizer.mean" and "standardizer.inv_std" ([n_features]); metadata "cloakx.format" =
 * "cloakx-model-v1", "task", "model", "loss", "activation", "dims" (JSON list), "n_classes",
 * "y_mean", "y_std", plus every entry of `extra` (an object: strings stored as they are,
 * other JSON values serialised) — spec, features, classes, metrics, epsilon. */
cx_err cx_model_save(const cx_model *m, const json_t *extra, const char *path, cx_error *e);
/* The same file's bytes in memory, for sealing without a plaintext file: *out is cx_secmem
 * (the caller frees it with cx_secmem_free, which wipes it); the intermediate copies of the
 * weights are wiped before they are freed. */
cx_err cx_model_serialize(const cx_model *m, const json_t *extra, uint8_t **out, size_t *out_len,
                          cx_error *e);
/* Loads and validates a model file; *meta (may be NULL) receives all metadata as an
 * object of strings (caller json_decref's it). */
cx_err cx_model_load(const char *path, cx_model **out, json_t **meta, cx_error *e);

/* ---- metrics ---- */

typedef struct cx_metrics {
    double loss;     /* mean validation loss */
    double accuracy; /* classification */
    double auc;      /* binary classification: ROC AUC (ties averaged); else NaN */
    double macro_f1; /* classification */
    double rmse, r2; /* regression; NaN otherwise */
    size_t n;        /* rows evaluated */
} cx_metrics;

/* y (n) labels; pred (n, k): probabilities (k = classes, or 1 for logistic) or values. */
cx_err cx_metrics_classification(const float *y, const float *pred, size_t n, int k, int n_classes,
                                 cx_metrics *out, cx_error *e);
cx_err cx_metrics_regression(const float *y, const float *pred, size_t n, cx_metrics *out,
                             cx_error *e);
/* ROC AUC with ties given half credit (Mann–Whitney U); score = P(class 1). */
cx_err cx_metrics_roc_auc(const float *y, const float *score, size_t n, double *auc, cx_error *e);

/* ---- training ---- */

/* The training table: x (rows, cols) row-major, y (rows): class index or target value. */
typedef struct cx_train_data {
    size_t rows;
    int cols;
    const float *x;
    const float *y;
    int n_classes; /* classification: number of classes (labels 0..n−1); 0 = count from y */
    /* The standardisation to use instead of fitting it on the training split (a job's spec
     * declares it, so that under DP the model carries no statistic of the data): x' =
     * (x − mean)/std per column; NULL: fitted. Regression: y's when y_stats_given. */
    const float *mean, *std;
    int y_stats_given;
    float y_mean, y_std;
    /* The declared ranges, for columns (NaN where a standardisation is declared) and a target
     * without a declared standardisation: under "privacy.standardize": "dp" the
     * standardisation is computed on them with DP (cx_dp_standardize); NULL / 0: none. */
    const float *lo, *hi;
    int y_bounds_given;
    float y_lo, y_hi;
    /* Across ranks (cx_train_comm): row i of this rank is row row_index[i] of the table one
     * process would train on (the ranks' indices together are 0..N-1, each once), so that a
     * rank may hold any rows, not only a contiguous shard (the enclave's ranks hold whole
     * blobs, balanced by size, while one process holds them in blob-id order). NULL: the
     * shards are contiguous and in rank order. Ignored in one process. */
    const uint64_t *row_index;
} cx_train_data;

typedef struct cx_train_epoch_cb {
    /* Called after each epoch (from the calling thread); may be NULL. */
    void (*fn)(void *ud, int epoch, double train_loss, double val_loss, double lr);
    void *ud;
    /* cx_now_seconds() past which training stops with CX_ERR_LIMIT (checked before every
     * step); 0: no limit. The worker's time limit per job. */
    double deadline;
} cx_train_epoch_cb;

/* ---- compute budget: what one job may cost (issue 13 item 9) ----
 * The cost of a spec on rows x n_features data: its parameters, its epochs, and
 * flops = epochs x rows x 6 x parameters (a weight costs 2 flops forward and 4 backward per
 * example; DP-SGD's per-example norms come on top, so this is a lower bound). */
typedef struct cx_compute_cost {
    uint64_t params;
    int epochs;
    double flops;
} cx_compute_cost;
typedef struct cx_compute_budget {
    uint64_t max_params; /* 0: no limit */
    int max_epochs;      /* 0: no limit */
    double max_flops;    /* 0: no limit */
} cx_compute_budget;
/* n_outputs: classes (softmax/mlp classification), else 1. Saturates, never overflows. */
void cx_spec_cost(const cx_spec *s, int n_features, int n_outputs, size_t rows,
                  cx_compute_cost *out);
/* CX_ERR_LIMIT naming the first bound the cost exceeds (parameters, epochs, flops). */
cx_err cx_compute_budget_check(const cx_compute_budget *b, const cx_compute_cost *c, cx_error *e);

/* DP-SGD's plan on `rows` rows, as cx_train runs it: the Poisson sampling rate q and the
 * steps of all epochs (early stopping can only run fewer). What an ε cap is checked against
 * before training: ε(σ, q, steps, δ) is then known. */
void cx_spec_dp_plan(const cx_spec *s, size_t rows, double *q, uint64_t *steps);

typedef struct cx_train_result {
    cx_metrics val;    /* metrics on the validation split (train split if none) */
    double train_loss; /* last epoch's mean training loss */
    int epochs_run, best_epoch;
    uint64_t steps;     /* optimizer steps taken */
    double sample_rate; /* DP: Poisson rate q = batch_size / train rows */
    double seconds;
    size_t train_rows, val_rows;
    double samples_per_s;
    int streamed; /* data streamed from host memory (did not fit on the device, or forced by
                     CLOAKX_TRAIN_STREAM=1; =0 forbids it) instead of resident */
    int graph;    /* full non-private steps replayed from a CUDA graph */
    int nccl;     /* across ranks: the gradients summed by NCCL on device buffers (else through
                     host memory and the communicator) */
} cx_train_result;

/* ---- communicator: data-parallel training across ranks (issue 17) ----
 * A small table of collectives, passed explicitly to whatever trains across processes. Two
 * implementations: "self" (one process; every collective is the identity) and "mpi" (Open MPI,
 * in the module libcloakx_mpi.so that cx_comm_mpi_create loads on first need, so that binaries
 * start and run where MPI is not installed). Every rank must call the same collectives in the
 * same order with the same sizes; every rank receives the same result. */
typedef enum cx_comm_op {
    CX_COMM_SUM = 0,
    CX_COMM_MAX = 1,
} cx_comm_op;

typedef struct cx_comm cx_comm;
struct cx_comm {
    const char *name; /* "self", "mpi" */
    int rank, size;   /* this process's rank in 0..size-1 */
    /* buf (n) = the element-wise sum over ranks of every rank's buf, in place */
    cx_err (*allreduce_f32)(cx_comm *c, float *buf, size_t n, cx_error *e);
    /* buf (n) = the element-wise op (sum or max) over ranks, in place */
    cx_err (*allreduce_f64)(cx_comm *c, double *buf, size_t n, cx_comm_op op, cx_error *e);
    /* buf (bytes) = root's buf on every rank */
    cx_err (*bcast)(cx_comm *c, void *buf, size_t bytes, int root, cx_error *e);
    /* The same, for a broadcast that may be long in coming (ranks idle until the next job):
     * the waiting ranks sleep between checks instead of spinning a core, as a blocking MPI
     * call does. Every rank of one broadcast must call this one (a non-blocking collective
     * matches no blocking one). NULL where the communicator has none: use bcast. */
    cx_err (*bcast_wait)(cx_comm *c, void *buf, size_t bytes, int root, cx_error *e);
    /* Point to point, as MPI_Sendrecv: send_len bytes of send to rank dst while receiving
     * recv_len bytes from rank src; dst or src -1 skips that half. What a channel sealed on top
     * (engine's cx_rank_link) runs its own collectives over. */
    cx_err (*sendrecv)(cx_comm *c, const void *send, size_t send_len, int dst, void *recv,
                       size_t recv_len, int src, cx_error *e);
    /* After a failure on this rank: ends every rank of the job now (MPI_Abort), since the
     * others may be waiting in a collective this one will never join. NULL for "self". */
    void (*abort)(cx_comm *c, int code);
    void (*destroy)(cx_comm *c); /* MPI_Finalize for "mpi" (collective: every rank calls it) */
    void *impl;
};

/* The one-process communicator (rank 0 of 1). */
cx_err cx_comm_self_create(cx_comm **out, cx_error *e);
/* MPI_COMM_WORLD (MPI_Init on first use). CX_ERR_UNSUPPORTED when this build has no MPI or the
 * module or the MPI library is missing at run time: callers fall back to one process. */
cx_err cx_comm_mpi_create(cx_comm **out, cx_error *e);
/* Whether this build carries the MPI module (CMake found MPI). */
int cx_comm_mpi_built(void);
/* CX_OK when the module and the MPI library load here (nothing is initialised); else
 * CX_ERR_UNSUPPORTED saying why. For a launcher deciding between mpirun and one process. */
cx_err cx_comm_mpi_available(cx_error *e);
/* Whether this process was started by an MPI launcher (mpirun sets OMPI_COMM_WORLD_SIZE,
 * others PMI_SIZE / PMIX_SIZE): the number of ranks it gives, or 0. */
int cx_comm_mpi_launched(void);
void cx_comm_destroy(cx_comm *c);
/* The shard of n items (rows, blobs) that rank of size owns: [*lo, *hi), contiguous, in rank
 * order, sizes differing by at most one. Concatenated in rank order the shards are 0..n. */
void cx_comm_shard(size_t n, int rank, int size, size_t *lo, size_t *hi);
/* Items of unequal sizes (a job's blobs, in bytes) assigned to the ranks of size so that each
 * rank's total bytes are balanced: longest processing time first (LPT). The items are taken by
 * size descending (ties: index ascending), each to the rank with the fewest bytes so far (ties:
 * fewer items, then the lower rank; the item count only spreads zero-sized items). A function
 * of (sizes, n, size) alone: every rank computes the same assignment, every run.
 * rank_of (n) gets each item's rank; load (size, may be NULL) each rank's total bytes.
 * Bounds, with OPT the best possible largest load: max load <= (4/3 - 1/(3 size))·OPT (Graham,
 * 1969), and max load <= total/size + (1 - 1/size)·largest item (any greedy to the least
 * loaded), so within one largest item of the mean. CX_ERR_ARG when size < 1 or the sizes'
 * total overflows 64 bits; CX_ERR_NOMEM. n = 0 assigns nothing. */
cx_err cx_comm_assign_by_size(const uint64_t *sizes, size_t n, int size, int *rank_of,
                              uint64_t *load, cx_error *e);
/* The items of rank in rank_of (n), ascending (so a rank's rows follow the items' order):
 * into items (capacity n); returns their number. */
size_t cx_comm_assigned(const int *rank_of, size_t n, int rank, size_t *items);
/* This process's rank among the ranks of its node, as the MPI launcher says
 * (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID, PMIX_LOCAL_RANK, SLURM_LOCALID), or -1 when
 * none does. One rank per GPU: `cloakx train` puts local rank r on GPU r mod (GPUs). */
int cx_comm_local_rank(void);

/* ---- NCCL: the gradients' all-reduce on device buffers (issue 17) ----
 * For the cuda backend across ranks, one rank per GPU, in the module libcloakx_nccl.so
 * (linked against libnccl; built when CMake finds NCCL under the CUDA toolkit) that is loaded
 * on first need, so that nothing else depends on libnccl. */
typedef struct cx_nccl cx_nccl;
/* Whether this build carries the NCCL module. */
int cx_nccl_built(void);
/* The loaded libnccl's version code (ncclGetVersion: 22809 for 2.28.9); needs no GPU.
 * CX_ERR_UNSUPPORTED when the module or libnccl cannot be loaded, saying why. */
cx_err cx_nccl_version(int *version, cx_error *e);
/* A NCCL communicator over the ranks of comm on be's GPU and stream: collective (every rank of
 * comm calls it, whatever its backend). Every rank first says whether it can (the cuda
 * backend, the module and libnccl load, CLOAKX_NCCL is not "0"), that all ranks run on one
 * node (one host name and boot id: across nodes the gradients would cross the network in the
 * clear) and on distinct GPUs (PCI bus ids); rank 0's ncclUniqueId is then broadcast over comm
 * and every rank joins with ncclCommInitRank (given up after 120 s). Where any rank cannot, every
 * rank gets CX_ERR_UNSUPPORTED (saying why) and callers sum through the host; a failure of comm
 * itself is returned as it is. */
cx_err cx_nccl_create(cx_backend *be, cx_comm *comm, cx_nccl **out, cx_error *e);
/* buf (count floats on the device) = the element-wise sum over the ranks, in place, queued on
 * the backend's stream after the ops before it (no host synchronisation). Collective. */
cx_err cx_nccl_allreduce_f32(cx_nccl *n, float *buf_dev, size_t count, cx_error *e);
/* The library's version code and the GPU of this rank. */
int cx_nccl_library_version(const cx_nccl *n);
int cx_nccl_device(const cx_nccl *n);
void cx_nccl_destroy(cx_nccl *n); /* NULL: no-op; waits for queued collectives */

/* Train a model per spec on data with backend be (NULL: a CPU backend with spec's threads).
 * The model is standardised on the training split; the best epoch (by validation loss) is
 * kept when early stopping is on. *out is the caller's (cx_model_free). Non-private steps do
 * not synchronise with the host (loss read once per epoch); on the cuda backend one full step
 * is captured in a CUDA graph and replayed. Data that does not fit on the device is streamed
 * from host memory (see cx_train_result.streamed); DP-SGD steps run eagerly. */
cx_err cx_train(const cx_spec *s, const cx_train_data *d, cx_backend *be,
                const cx_train_epoch_cb *cb, const cx_logger *lg, cx_model **out,
                cx_train_result *res, cx_error *e);
/* cx_train across the ranks of comm (NULL or size 1: cx_train itself). d is this rank's shard
 * of the rows: concatenated in rank order, the shards are the table one process would train
 * on (cx_comm_shard gives such a split). Every rank computes the same split, permutation and
 * schedule over the global rows, trains on the rows of each global batch that it holds, and
 * the gradients are summed across ranks every step (scaled by the global batch), so N ranks
 * give the one-process model up to floating-point reduction order, and the same bits on every
 * rank (checked at the end). Standardisation statistics, losses and metrics are reduced across
 * ranks. DP-SGD: every rank Poisson-samples its own rows at the global rate q (together: one
 * Poisson sample of the global table), clips per example, and rank 0 alone adds the step's one
 * Gaussian draw to the sum; "privacy.standardize": "dp" sums across ranks before rank 0's one
 * Laplace draw (cx_dp_standardize_comm). The gradients are summed by NCCL on device buffers
 * when the backend is cuda and cx_nccl_create succeeds, else through host memory and comm (a
 * cuda backend then logs a warning saying why). CLOAKX_TRAIN_DIST=1 runs this across-ranks
 * step path in one process too (comm NULL or of one rank: tests and benchmarks of it).
 * Every rank returns the same model. */
cx_err cx_train_comm(const cx_spec *s, const cx_train_data *d, cx_backend *be, cx_comm *comm,
                     const cx_train_epoch_cb *cb, const cx_logger *lg, cx_model **out,
                     cx_train_result *res, cx_error *e);

/* ---- DP-SGD randomness: a CSPRNG stream, never the training RNG ----
 * AES-256-CTR keyed from OpenSSL's RAND_bytes (the DRBG the TEE seeds); Gaussians by
 * Box–Muller in double precision, rounded once to float. Sampling uses the same stream. */

typedef struct cx_dp_rng cx_dp_rng;
cx_err cx_dp_rng_create(cx_dp_rng **out, cx_error *e);
void cx_dp_rng_free(cx_dp_rng *r);
/* out (n) = independent N(0, 1) samples. */
cx_err cx_dp_rng_gaussian(cx_dp_rng *r, float *out, size_t n, cx_error *e);
/* Poisson sampling: each of n rows joins independently with probability q; the chosen row
 * indices (ascending) go to idx (capacity n), their number to *count. */
cx_err cx_dp_rng_poisson(cx_dp_rng *r, size_t n, double q, int32_t *idx, size_t *count,
                         cx_error *e);

/* out (n) = independent Laplace(0, 1) samples (a random sign times an Exp(1)). */
cx_err cx_dp_rng_laplace(cx_dp_rng *r, double *out, size_t n, cx_error *e);

/* DP standardisation (issue 13 item 2): what the trainer runs under a spec's
 * "privacy.standardize": "dp" (RULES.md §9.7). Per column j
 * with bounds [lo[j], hi[j]] (NaN: not numeric, e.g. one-hot: mean 0, std 1, nothing spent),
 * the values clipped into the bounds, centred at c = (lo+hi)/2, and two sums released with
 * Laplace noise: S1 = Σ (x−c) (sensitivity r = (hi−lo)/2 when a row is added or removed) and
 * S2 = Σ (x−c)² (sensitivity r²), each with ε/(2m) of the budget for m bounded columns, so the
 * release is ε-DP (pure, sequential composition). NaN values count as c. The row count n is
 * taken as public (the statement publishes the rows). Then mean = c + S1/n (clamped into the
 * bounds) and std = sqrt(S2/n − (S1/n)²) clamped to [r·10⁻³, r]: post-processing, free. */
cx_err cx_dp_standardize(const float *x, size_t n, size_t d, const double *lo, const double *hi,
                         double epsilon, cx_dp_rng *r, float *mean, float *std, cx_error *e);
/* The same across the ranks of comm (NULL or size 1: cx_dp_standardize): x holds this rank's
 * n_local rows, n the global count. S1 and S2 are summed across the ranks before any noise,
 * rank 0 alone draws the Laplace noise (once, as one process would) and broadcasts the result,
 * so every rank gets the same mean and std and the release costs ε once. */
cx_err cx_dp_standardize_comm(const float *x, size_t n_local, size_t n, size_t d, const double *lo,
                              const double *hi, double epsilon, cx_dp_rng *r, cx_comm *comm,
                              float *mean, float *std, cx_error *e);

/* ---- deterministic training RNG (xoshiro256**, seeded by splitmix64) ---- */

typedef struct cx_rng {
    uint64_t s[4];
} cx_rng;
void cx_rng_seed(cx_rng *r, uint64_t seed);
uint64_t cx_rng_next(cx_rng *r);
double cx_rng_uniform(cx_rng *r);             /* [0, 1) with 53 bits */
uint64_t cx_rng_below(cx_rng *r, uint64_t n); /* unbiased in [0, n) */

/* ===================== privacy accountant, safetensors ===================== */

/* Rényi-DP accountant for the Poisson-subsampled Gaussian mechanism (DP-SGD), following
 * Opacus' convention (opacus/accountants/analysis/rdp.py): integer orders by the binomial
 * sum, fractional orders by the sign-aware series (stops when both terms < e^-30), Opacus'
 * DEFAULT_ALPHAS, and the conversion ε = min_α RDP(α) + log1p(-1/α) - (log δ + log α)/(α-1)
 * (Balle et al. 2020), clamped at 0. Composition adds RDP over steps and segments. */
#define CX_PRIVACY_MAX_ORDERS 1024
#define CX_PRIVACY_SIGMA_MAX 1e6      /* noise solve gives up beyond this σ */
#define CX_PRIVACY_EPS_TOLERANCE 0.01 /* Opacus' default tolerance of the σ solve, in ε */

/* Opacus' DEFAULT_ALPHAS: 1.1, 1.2, ..., 10.9, 12, 13, ..., 63 (151 orders, no 11). */
size_t cx_privacy_default_orders(const double **orders);

/* RDP of `steps` compositions of the sampled Gaussian (rate q in [0,1], noise σ >= 0) at
 * each order (> 1; INFINITY allowed): rdp[i]. An order whose series does not converge
 * gets +inf (conservative). */
cx_err cx_privacy_rdp_compute(double q, double sigma, uint64_t steps, const double *orders,
                              size_t n_orders, double *rdp, cx_error *e);
/* Best (ε, α) for δ in (0,1) from an RDP curve; ε is +inf if every order is. */
cx_err cx_privacy_rdp_to_epsilon(const double *orders, const double *rdp, size_t n_orders,
                                 double delta, double *epsilon, double *order, cx_error *e);

/* An accountant that composes segments of identical steps (σ, q, steps). */
typedef struct cx_privacy_accountant cx_privacy_accountant;
/* orders NULL / n_orders 0: the default orders. */
cx_err cx_privacy_accountant_new(const double *orders, size_t n_orders, cx_privacy_accountant **out,
                                 cx_error *e);
void cx_privacy_accountant_free(cx_privacy_accountant *acc);
cx_err cx_privacy_accountant_add(cx_privacy_accountant *acc, double sigma, double q, uint64_t steps,
                                 cx_error *e);
cx_err cx_privacy_accountant_epsilon(const cx_privacy_accountant *acc, double delta,
                                     double *epsilon, double *order, cx_error *e);

/* ε after `steps` steps of (σ, q) at δ; orders NULL = defaults. order may be NULL. */
cx_err cx_privacy_epsilon(double sigma, double q, uint64_t steps, double delta,
                          const double *orders, size_t n_orders, double *epsilon, double *order,
                          cx_error *e);
/* Smallest σ (to tolerance) with ε(σ) <= target_eps: Opacus' get_noise_multiplier search
 * (σ_high doubles from 10 until ε < target, then bisection on [0, σ_high] until
 * target - ε(σ_high) <= eps_tolerance; σ_high is returned, so ε_achieved <= target).
 * eps_tolerance <= 0 means CX_PRIVACY_EPS_TOLERANCE. Fails with CX_ERR_LIMIT when even
 * σ = CX_PRIVACY_SIGMA_MAX does not reach the target. epsilon/order may be NULL. */
cx_err cx_privacy_noise_solve(double target_eps, double q, uint64_t steps, double delta,
                              const double *orders, size_t n_orders, double eps_tolerance,
                              double *sigma, double *epsilon, double *order, cx_error *e);

/* safetensors model files (huggingface/safetensors format): u64 LE header length N, N bytes
 * of JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {string: string}} padded with spaces to a multiple of 8, then the raw
 * little-endian tensor bytes, contiguous and in offset order. The reader is strict (the
 * reference implementation's checks, plus no unknown keys); it is fed untrusted files. */
#define CX_SAFETENSORS_MAX_HEADER 100000000u /* as the reference implementation */
#define CX_SAFETENSORS_MAX_DIMS 32
#define CX_SAFETENSORS_METADATA_KEY "__metadata__"

typedef enum cx_safetensors_dtype {
    CX_SAFETENSORS_BOOL,
    CX_SAFETENSORS_U8,
    CX_SAFETENSORS_I8,
    CX_SAFETENSORS_F8_E4M3,
    CX_SAFETENSORS_F8_E5M2,
    CX_SAFETENSORS_I16,
    CX_SAFETENSORS_U16,
    CX_SAFETENSORS_F16,
    CX_SAFETENSORS_BF16,
    CX_SAFETENSORS_I32,
    CX_SAFETENSORS_U32,
    CX_SAFETENSORS_F32,
    CX_SAFETENSORS_I64,
    CX_SAFETENSORS_U64,
    CX_SAFETENSORS_F64,
    CX_SAFETENSORS_DTYPE__COUNT
} cx_safetensors_dtype;

const char *cx_safetensors_dtype_name(cx_safetensors_dtype dt); /* "F32"; NULL if invalid */
size_t cx_safetensors_dtype_size(cx_safetensors_dtype dt);      /* bytes; 0 if invalid */
cx_err cx_safetensors_dtype_parse(const char *name, cx_safetensors_dtype *dt, cx_error *e);

/* A set of named tensors plus string metadata: built to write, or parsed from a file. */
typedef struct cx_safetensors cx_safetensors;

typedef struct cx_safetensors_tensor {
    const char *name;
    cx_safetensors_dtype dtype;
    size_t ndim;
    const uint64_t *shape;
    uint64_t n_elements;
    const void *data; /* little-endian bytes, not necessarily aligned */
    size_t n_bytes;
} cx_safetensors_tensor;

cx_err cx_safetensors_new(cx_safetensors **out, cx_error *e);
void cx_safetensors_free(cx_safetensors *st);
/* Add a tensor (data copied; host byte order must be little-endian, as on x86-64/arm64).
 * n_bytes must equal dtype size × product(shape); the name must be new and not
 * "__metadata__". */
cx_err cx_safetensors_add(cx_safetensors *st, const char *name, cx_safetensors_dtype dtype,
                          const uint64_t *shape, size_t ndim, const void *data, size_t n_bytes,
                          cx_error *e);
/* Set (or replace) a metadata entry. */
cx_err cx_safetensors_meta_set(cx_safetensors *st, const char *key, const char *value, cx_error *e);
/* NULL when absent; valid until st is freed or the key is set again. */
const char *cx_safetensors_meta_get(const cx_safetensors *st, const char *key);
size_t cx_safetensors_meta_count(const cx_safetensors *st);
cx_err cx_safetensors_meta_at(const cx_safetensors *st, size_t i, const char **key,
                              const char **value, cx_error *e);

size_t cx_safetensors_count(const cx_safetensors *st);
cx_err cx_safetensors_at(const cx_safetensors *st, size_t i, cx_safetensors_tensor *t, cx_error *e);
cx_err cx_safetensors_find(const cx_safetensors *st, const char *name, cx_safetensors_tensor *t,
                           cx_error *e); /* CX_ERR_NOTFOUND when absent */
/* Convert a tensor of any numeric dtype to host floats (out holds n_elements). */
cx_err cx_safetensors_tensor_to_f32(const cx_safetensors_tensor *t, float *out, size_t n_out,
                                    cx_error *e);

/* Serialise: tensors ordered by element size (largest first), then name, so each is
 * aligned to its element size; keys sorted; bit-identical output for identical input.
 * *out is malloc'ed (caller frees; cx_memwipe it first if it held secrets). */
cx_err cx_safetensors_serialize(const cx_safetensors *st, uint8_t **out, size_t *out_len,
                                cx_error *e);
cx_err cx_safetensors_write_file(const cx_safetensors *st, const char *path, cx_error *e);
/* Parse bytes (copied: the caller keeps buf) strictly. */
cx_err cx_safetensors_parse(const uint8_t *buf, size_t len, cx_safetensors **out, cx_error *e);
/* Read and parse a file of at most max_bytes (0: 4 GiB). */
cx_err cx_safetensors_read_file(const char *path, size_t max_bytes, cx_safetensors **out,
                                cx_error *e);

#ifdef __cplusplus
}
#endif
#endif /* CX_KERNELS_H */
