// Dispatch of the float32 products: ISA (shared with the int8 GEMM), tile shape, packing, TBB tasks.
#include "kernels/sgemm.h"

#include "bitbench/gemm.h"
#include "kernels/gemm_impl.h"
#include "kernels/sgemm_impl.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>

namespace bitbench {

using namespace sgemm_detail;
using gemm_detail::Scratch;

namespace {

// A product in the kernels' terms: C(i, j) = chain over s < K of A(i, s) B(s, j), C is M x N
// with rows N apart.
struct Product {
    int64_t M = 0, N = 0, K = 0;
    const float* a = nullptr;
    int64_t lda = 0;
    bool aCols = false; // A(i, s) at a[s * lda + i] (else a[i * lda + s])
    const float* b = nullptr;
    int64_t ldb = 0;
    bool bRows = false; // B(s, j) at b[j * ldb + s], packed into panels first (else b[s * ldb + j])
    float* c = nullptr;
};

// Chain steps per kernel call: a tile's slice of A and B stays in L1 and L2 while the task's
// other tiles reuse it; the chain is parked in C in between, which changes no bit.
constexpr int64_t kChunk = 256;
constexpr int64_t kWholeChunkUpTo = 384;
// A task of fewer multiply-adds than this costs more to schedule than to run.
constexpr int64_t kMinTaskFmas = int64_t(1) << 17;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

KernelMenu menuFor(GemmIsa isa) {
#if defined(__x86_64__)
    // The int8 detection requires VNNI for its top level; every CPU with it has AVX-512F.
    if (isa == GemmIsa::Avx512Vnni) return sgemm_kernels_avx512();
    if (isa == GemmIsa::Avx2) return sgemm_kernels_avx2();
#endif
    (void)isa;
    return {nullptr, 0, 0, nullptr};
}

// The shape with the least estimated time: the work including padding (a partial last tile
// costs a whole one), times 1 + loads per multiply-add / 2 (each step loads nr / lanes vectors of B
// and broadcasts mr values of A; measured on Zen 5, the conv2 weight gradient ran 20-30 % faster
// on 6 x 64 tiles than on 8 x 32 ones despite 7 % more padding).
const TileKernel& pickShape(const KernelMenu& menu, int64_t M, int64_t N, int lanes) {
    auto cost = [&](const TileKernel& k) {
        const double area = double(std::max<int64_t>(1, ceilDiv(M, k.mr)) * k.mr) * double(ceilDiv(N, k.nr) * k.nr);
        const double vectors = double(k.nr / lanes);
        return area * (1.0 + 0.5 * (double(k.mr) + vectors) / (double(k.mr) * vectors));
    };
    const TileKernel* pick = &menu.shapes[0];
    for (int i = 1; i < menu.count; ++i)
        if (cost(menu.shapes[i]) < cost(*pick)) pick = &menu.shapes[i];
    return *pick;
}

// B's columns in panels of nr: panel p holds B(s, p * nr + t) at [s * nr + t], zero past N.
void packPanels(const Product& p, int nr, float* dst) {
    const int64_t panels = ceilDiv(p.N, nr);
    const int64_t tasks = std::clamp<int64_t>(p.N * p.K / (int64_t(64) << 10), 1, panels);
    tbb::parallel_for(int64_t(0), tasks, [&](int64_t task) {
        for (int64_t q = panels * task / tasks; q < panels * (task + 1) / tasks; ++q) {
            float* out = dst + q * p.K * nr;
            const int64_t j0 = q * nr, width = std::min<int64_t>(nr, p.N - j0);
            // Eight steps at a time: eight consecutive floats of each source row per pass.
            for (int64_t s0 = 0; s0 < p.K; s0 += 8) {
                const int64_t s1 = std::min(p.K, s0 + 8);
                for (int64_t t = 0; t < width; ++t) {
                    const float* src = p.b + (j0 + t) * p.ldb;
                    for (int64_t s = s0; s < s1; ++s) out[s * nr + t] = src[s];
                }
                for (int64_t s = s0; s < s1; ++s) std::fill(out + s * nr + width, out + (s + 1) * nr, 0.0f);
            }
        }
    });
}

// A with fewer than mr rows, as the columns of an mr-row tile padded with zeros.
void packShortA(const Product& p, int mr, float* dst) {
    for (int64_t s = 0; s < p.K; ++s)
        for (int t = 0; t < mr; ++t)
            dst[s * mr + t] = t < p.M ? (p.aCols ? p.a[s * p.lda + t] : p.a[t * p.lda + s]) : 0.0f;
}

void run(const KernelMenu& menu, Product p) {
    const TileKernel& ker = pickShape(menu, p.M, p.N, menu.lanes);
    const int mr = ker.mr, nr = ker.nr;

    Scratch shortA(gemm_detail::kSlotFloatA);
    if (p.M < mr) {
        auto* ap = static_cast<float*>(shortA.get(size_t(p.K * mr) * sizeof(float)));
        packShortA(p, mr, ap);
        p.a = ap;
        p.lda = mr;
        p.aCols = true;
    }
    Scratch panels(gemm_detail::kSlotFloatB);
    const float* bp = nullptr;
    if (p.bRows) {
        auto* dst = static_cast<float*>(panels.get(size_t(ceilDiv(p.N, nr) * p.K * nr) * sizeof(float)));
        packPanels(p, nr, dst);
        bp = dst;
    }

    // Tasks: a grid of row-tile ranges x column-block ranges. Every task reads its rows of A and
    // its columns of B in full, so the grid is shaped to read least (r / c ~ M / N).
    const int64_t tm = ceilDiv(p.M, mr), tn = ceilDiv(p.N, nr);
    const int64_t threads = std::max(1, tbb::this_task_arena::max_concurrency());
    // A few tiles, each over a long chain (weight gradients): one task per thread, since every
    // further task reads its A and B again.
    const int64_t most = tm * tn < 8 * threads ? threads : 4 * threads;
    const int64_t want = std::clamp<int64_t>(p.M * p.N * p.K / kMinTaskFmas, 1, most);
    const int64_t rTasks = std::clamp<int64_t>(std::llround(std::sqrt(double(want) * double(p.M) / double(p.N))), 1, tm);
    const int64_t cTasks = std::clamp<int64_t>(ceilDiv(want, rTasks), 1, tn);
    const int64_t chunk = p.K <= kWholeChunkUpTo ? p.K : kChunk;
    auto kernel = p.aCols ? ker.cols : ker.rows;

    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, rTasks * cTasks, 1),
        [&](const tbb::blocked_range<int64_t>& range) {
            Scratch taskB(gemm_detail::kSlotFloatTaskB);
            for (int64_t task = range.begin(); task < range.end(); ++task) {
                const int64_t rt = task / cTasks, ct = task % cTasks;
                const int64_t r0 = tm * rt / rTasks, r1 = tm * (rt + 1) / rTasks;
                const int64_t c0 = tn * ct / cTasks, c1 = tn * (ct + 1) / cTasks;
                // B's rows a multiple of 1 KB apart fall into few of L1's 64 sets and evict each
                // other between the task's row tiles: a slice is copied into one contiguous block
                // first (measured with AVX2 on the fc1 shapes: 30-35 % faster). Elsewhere copying
                // costs more than it saves: it takes the cache misses of B, which the kernel
                // otherwise overlaps with arithmetic (conv2 weight gradient 40 % slower).
                const bool packB = !bp && r1 - r0 >= 2 && p.ldb % 256 == 0;
                // (+ 64 floats: copyRows writes whole vectors past the end)
                float* bPack = packB ? static_cast<float*>(taskB.get(size_t(std::min(chunk, p.K) * nr + 64) * sizeof(float)))
                                     : nullptr;
                for (int64_t k0 = 0; k0 < p.K; k0 += chunk) {
                    Tile t;
                    t.k = std::min(chunk, p.K - k0);
                    t.lda = p.lda;
                    t.ldc = p.N;
                    t.load = k0 > 0;
                    for (int64_t cb = c0; cb < c1; ++cb) {
                        const int64_t j0 = cb * nr;
                        t.cols = int(std::min<int64_t>(nr, p.N - j0));
                        if (bp) {
                            t.b = bp + (cb * p.K + k0) * nr;
                            t.ldb = nr;
                        } else if (packB) {
                            menu.copyRows(p.b + k0 * p.ldb + j0, p.ldb, t.k, t.cols, nr, bPack);
                            t.b = bPack;
                            t.ldb = nr;
                        } else {
                            t.b = p.b + k0 * p.ldb + j0;
                            t.ldb = p.ldb;
                        }
                        for (int64_t tile = r0; tile < r1; ++tile) {
                            // A partial last tile moves up over its neighbour and stores only
                            // its own rows; with M < mr, A was padded.
                            const int64_t i0 = tile * mr;
                            const int64_t base = p.M < mr ? 0 : std::min(i0, p.M - mr);
                            t.rowBegin = int(i0 - base);
                            t.rowEnd = int(std::min<int64_t>(mr, p.M - base));
                            t.a = p.aCols ? p.a + k0 * p.lda + base : p.a + base * p.lda + k0;
                            t.c = p.c + base * p.N + j0;
                            kernel(t);
                        }
                    }
                }
            }
        },
        tbb::simple_partitioner());
}

// The reference ISA: the definition itself, rows split over threads where the form allows.
template <typename F> void refRows(int64_t M, F&& f) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, M, 16),
                      [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end() - r.begin()); });
}

bool trivial(int64_t M, int64_t N, int64_t K, float* C) {
    if (M <= 0 || N <= 0) return true;
    if (K > 0) return false;
    std::fill(C, C + M * N, 0.0f);
    return true;
}

} // namespace

void sgemm_nt(int64_t M, int64_t N, int64_t K, const float* A, const float* B, float* C) {
    if (trivial(M, N, K, C)) return;
    const KernelMenu menu = menuFor(gemm_isa_active());
    if (!menu.count)
        return refRows(M, [&](int64_t i0, int64_t rows) { sgemm_nt_ref(rows, N, K, A + i0 * K, B, C + i0 * N); });
    run(menu, {M, N, K, A, K, false, B, K, true, C});
}

void sgemm_tn(int64_t M, int64_t N, int64_t R, const float* A, const float* B, float* C) {
    if (trivial(M, N, R, C)) return;
    const KernelMenu menu = menuFor(gemm_isa_active());
    if (!menu.count) return sgemm_tn_ref(M, N, R, A, B, C);
    run(menu, {M, N, R, A, M, true, B, N, false, C});
}

void sgemm_nn(int64_t M, int64_t K, int64_t Nn, const float* A, const float* B, float* C) {
    if (trivial(M, K, Nn, C)) return;
    const KernelMenu menu = menuFor(gemm_isa_active());
    if (!menu.count)
        return refRows(M, [&](int64_t i0, int64_t rows) { sgemm_nn_ref(rows, K, Nn, A + i0 * Nn, B, C + i0 * K); });
    run(menu, {M, K, Nn, A, Nn, false, B, K, false, C});
}

} // namespace bitbench
