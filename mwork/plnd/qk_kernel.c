/* mwork's fused CPU kernel for PLND's exact Q/K importance: for every attention row, the score change of each
   q/k feature, the softmax, the difference to the unchanged probabilities, squared and summed, in one pass.
   mwork/plnd/kernel.py states the computation, builds this file with the machine's compiler and loads it. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAD 16              /* rows are processed in whole vectors; the tail is padded with NEG */
#define NEG (-3.0e38f)      /* a masked score: exp(NEG - max) is 0 */

/* exp(x), vectorizable: Cephes' expf (range reduction by ln 2, degree-6 polynomial); 0 below -87.3 */
static inline float vexp(float x) {
    float xc = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    float fx = floorf(xc * 1.44269504088896341f + 0.5f);
    float r = fmaf(fx, -0.693359375f, xc);  /* x - fx ln 2 in two parts, as fused multiply-adds */
    r = fmaf(fx, 2.12194440e-4f, r);
    float r2 = r * r;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r2 + r + 1.0f;
    int32_t e = ((int32_t)fx + 127) << 23;
    float p;
    memcpy(&p, &e, 4);
    float v = y * p;
    return x < -87.3f ? 0.0f : v;
}

/* x[0:n] -> softmax in place; x must have room for n rounded up to PAD */
static inline void softmax_row(float *restrict x, int64_t n, float mx) {
    int64_t np = (n + PAD - 1) & ~(int64_t)(PAD - 1);
    for (int64_t s = n; s < np; s++) x[s] = NEG;
    float z = 0.0f;
    for (int64_t s = 0; s < np; s++) { float e = vexp(x[s] - mx); x[s] = e; z += e; }
    float iz = 1.0f / z;
    for (int64_t s = 0; s < np; s++) x[s] *= iz;
}

typedef struct {
    int64_t nb, nc, nt, ns, nm;
    const float *A, *Badd, *L, *R, *rs, *cs;
    const int32_t *ridx, *lo, *hi;
    double *out;
    int nthreads, tid;
    int failed;
} job_t;

static void *work(void *arg) {
    job_t *j = (job_t *)arg;
    const int64_t S = j->ns, T = j->nt, C = j->nc, M = j->nm;
    float *p0 = malloc(sizeof(float) * (S + PAD));
    float *x = malloc(sizeof(float) * (S + PAD));
    if (!p0 || !x) { free(p0); free(x); j->failed = 1; return NULL; }
    double *out = j->out + (int64_t)j->tid * j->nb * C;
    const int plain = !j->rs && !j->cs && !j->Badd;
    int64_t item = 0;
    for (int64_t b = 0; b < j->nb; b++) {
        for (int64_t t = 0; t < T; t++) {
            const int64_t lo = j->lo[b * T + t], hi = j->hi[b * T + t];
            if (hi <= lo) continue;
            if ((item++ % j->nthreads) != j->tid) continue;  /* rows dealt round-robin: balanced triangles */
            const int64_t n = hi - lo, np = (n + PAD - 1) & ~(int64_t)(PAD - 1);
            const float *a = j->A + (b * T + t) * S + lo;
            const float *badd = j->Badd ? j->Badd + (b * T + t) * S + lo : NULL;
            const int64_t g = j->ridx[b];
            float mx = NEG;
            for (int64_t s = 0; s < n; s++) { float v = a[s] + (badd ? badd[s] : 0.0f); p0[s] = v; mx = fmaxf(mx, v); }
            softmax_row(p0, n, mx);
            for (int64_t c = 0; c < C; c++) {
                const float *l = j->L + ((b * C + c) * T + t) * M;
                const float *r = j->R + (g * C + c) * M * S + lo;
                mx = NEG;
                if (M == 2 && plain) {  /* the common case (RoPE, no q/k norm, bias folded into A): one pass */
                    const float l0 = l[0], l1 = l[1];
                    const float *r0 = r, *r1 = r + S;
                    for (int64_t s = 0; s < n; s++) { float v = a[s] - (l0 * r0[s] + l1 * r1[s]); x[s] = v; mx = fmaxf(mx, v); }
                } else {
                    for (int64_t s = 0; s < n; s++) x[s] = a[s];
                    for (int64_t m = 0; m < M; m++) {
                        const float lm = l[m], *rm = r + m * S;
                        for (int64_t s = 0; s < n; s++) x[s] -= lm * rm[s];
                    }
                    if (j->rs) { const float k = j->rs[(b * C + c) * T + t]; for (int64_t s = 0; s < n; s++) x[s] *= k; }
                    if (j->cs) { const float *k = j->cs + (g * C + c) * S + lo; for (int64_t s = 0; s < n; s++) x[s] *= k[s]; }
                    if (badd) for (int64_t s = 0; s < n; s++) x[s] += badd[s];
                    for (int64_t s = 0; s < n; s++) mx = fmaxf(mx, x[s]);
                }
                for (int64_t s = n; s < np; s++) x[s] = NEG;
                float z = 0.0f;
                for (int64_t s = 0; s < np; s++) { float e = vexp(x[s] - mx); x[s] = e; z += e; }
                const float iz = 1.0f / z;
                float acc = 0.0f;
                for (int64_t s = 0; s < np; s++) { float d = x[s] * iz - p0[s]; acc += d * d; }
                out[b * C + c] += acc;
            }
        }
    }
    free(p0);
    free(x);
    return NULL;
}

int mwork_qk_rows(int64_t nb, int64_t nc, int64_t nt, int64_t ns, int64_t nm,
                  const float *A, const float *Badd, const float *L, const float *R, const int32_t *ridx,
                  const float *rs, const float *cs, const int32_t *lo, const int32_t *hi,
                  double *out, int nthreads) {
    enum { MAXT = 256 };
    job_t jobs[MAXT];
    if (nthreads < 1) nthreads = 1;
    if (nthreads > MAXT) nthreads = MAXT;
    for (int k = 0; k < nthreads; k++)
        jobs[k] = (job_t){nb, nc, nt, ns, nm, A, Badd, L, R, rs, cs, ridx, lo, hi, out, nthreads, k, 0};
#ifdef _OPENMP
    /* the process's OpenMP runtime (PyTorch's, when it is loaded): its worker threads, which may still be
       spinning after the last PyTorch operation, do the rows instead of competing with threads of our own */
    #pragma omp parallel for num_threads(nthreads) schedule(static, 1)
    for (int k = 0; k < nthreads; k++) work(&jobs[k]);
#else
    pthread_t th[MAXT];
    int created[MAXT] = {0};
    for (int k = 1; k < nthreads; k++) created[k] = pthread_create(&th[k], NULL, work, &jobs[k]) == 0;
    work(&jobs[0]);
    for (int k = 1; k < nthreads; k++) {
        if (created[k]) pthread_join(th[k], NULL);
        else work(&jobs[k]);  /* no thread for this share: do it here */
    }
#endif
    int failed = 0;
    for (int k = 0; k < nthreads; k++) failed |= jobs[k].failed;
    return failed ? -1 : 0;
}
