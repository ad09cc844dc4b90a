// The int16 products' drivers: B packing, the nt tiles, the tn chunks of rows summed in int64, TBB split.
#include "kernels/gemm16.h"

#include "kernels/gemm16_impl.h"

#include <tbb/blocked_range2d.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>

namespace bitbench {

using namespace gemm16_detail;

namespace {

constexpr int kPanel = 16;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t roundUp(int64_t x, int64_t m) { return ceilDiv(x, m) * m; }

// The tile kernel of the active ISA, or null for the reference loops.
const Kernel16* activeKernel() {
#if defined(__x86_64__)
    switch (gemm_isa_active()) {
    case GemmIsa::Avx512Vnni: return &gemm16_kernel_avx512vnni();
    case GemmIsa::Avx2: return &gemm16_kernel_avx2();
    default: break;
    }
#endif
    return nullptr;
}

int threadCount() { return std::max(1, tbb::this_task_arena::max_concurrency()); }

// Rows [i0, i1) times column blocks [c0, c1) (of np panels) of the nt product, on this thread.
// A is read in place when its pairs are whole words (even K and lda), else each tile's rows are
// copied zero-padded.
void ntBlock(const Kernel16& k, int64_t i0, int64_t i1, int64_t c0, int64_t c1, const int16_t* A, int64_t lda,
             const Gemm16PackedB& B, int32_t* C, int64_t ldc, std::vector<int32_t>& copy) {
    const int64_t pairs = B.pairs, N = B.N;
    const bool raw = B.K % 2 == 0 && lda % 2 == 0;
    const int64_t blockCols = int64_t(k.np) * kPanel, panelWords = pairs * kPanel;
    if (!raw && copy.size() < size_t(k.mr * pairs)) copy.resize(size_t(k.mr * pairs));
    for (int64_t j0 = c0 * blockCols; j0 < std::min(N, c1 * blockCols); j0 += blockCols) {
        Tile16 t;
        t.b = B.panels.data() + (j0 / kPanel) * panelWords;
        t.bPanel = panelWords;
        t.bPair = kPanel;
        t.cols = std::min(blockCols, N - j0);
        t.pairs = pairs;
        t.ldc = ldc;
        for (int64_t i = i0; i < i1; i += k.mr) {
            t.rows = int(std::min<int64_t>(k.mr, i1 - i));
            if (raw) {
                t.a = reinterpret_cast<const int32_t*>(A + i * lda);
                t.aRow = lda / 2;
                t.aPair = 1;
            } else {
                for (int r = 0; r < k.mr; ++r) {
                    const int16_t* row = A + (i + (r < t.rows ? r : 0)) * lda;
                    for (int64_t p = 0; p < pairs; ++p)
                        copy[size_t(r * pairs + p)] = word16(row[2 * p], 2 * p + 1 < B.K ? row[2 * p + 1] : 0);
                }
                t.a = copy.data();
                t.aRow = pairs;
                t.aPair = 1;
            }
            t.c32 = C + i * ldc + j0;
            k.tile(t);
        }
    }
}

tbb::enumerable_thread_specific<std::vector<int32_t>> g_ntCopy;

} // namespace

int64_t gemm_s16_tn_chunk_rows(int32_t maxA, int32_t maxB) {
    const int64_t fit = ((int64_t(1) << 31) - 1) / (int64_t(maxA) * maxB);
    return std::max<int64_t>(2, std::min<int64_t>(fit, 512) / 2 * 2);
}

void gemm_s16_pack_b(int64_t N, int64_t K, const int8_t* B, int64_t ldb, Gemm16PackedB& packed) {
    packed.N = N;
    packed.K = K;
    packed.pairs = ceilDiv(K, 2);
    packed.b = B;
    packed.ldb = ldb;
    if (!activeKernel()) return;
    const int64_t pairs = packed.pairs, panels = ceilDiv(N, kPanel);
    if (packed.panels.size() < size_t(panels * pairs * kPanel)) packed.panels.resize(size_t(panels * pairs * kPanel));
    int32_t* out = packed.panels.data();
    tbb::parallel_for(int64_t(0), panels, [=](int64_t q) {
        for (int64_t p = 0; p < pairs; ++p)
            for (int64_t t = 0; t < kPanel; ++t) {
                const int64_t j = q * kPanel + t;
                int32_t w = 0;
                if (j < N) w = word16(B[j * ldb + 2 * p], 2 * p + 1 < K ? B[j * ldb + 2 * p + 1] : 0);
                out[(q * pairs + p) * kPanel + t] = w;
            }
    });
}

void gemm_s16_nt_packed(int64_t M, const int16_t* A, int64_t lda, const Gemm16PackedB& B, int32_t* C, int64_t ldc,
                        bool parallel) {
    const Kernel16* k = activeKernel();
    if (!k) {
        auto rows = [&](int64_t i0, int64_t i1) {
            gemm_s16_nt_ref(i1 - i0, B.N, B.K, A + i0 * lda, lda, B.b, B.ldb, C + i0 * ldc, ldc);
        };
        if (parallel) tbb::parallel_for(tbb::blocked_range<int64_t>(0, M, 16), [&](auto& r) { rows(r.begin(), r.end()); });
        else rows(0, M);
        return;
    }
    const int64_t colBlocks = ceilDiv(B.N, int64_t(k->np) * kPanel);
    if (!parallel) {
        ntBlock(*k, 0, M, 0, colBlocks, A, lda, B, C, ldc, g_ntCopy.local());
        return;
    }
    // Blocks of row tiles x column blocks: up to 32 tiles (256 rows) by 8 column blocks, so a
    // slice of B stays in L2 across the row tiles.
    const int64_t tiles = ceilDiv(M, k->mr);
    tbb::parallel_for(tbb::blocked_range2d<int64_t>(0, tiles, 32, 0, colBlocks, 8),
                      [&](const tbb::blocked_range2d<int64_t>& r) {
                          ntBlock(*k, r.rows().begin() * k->mr, std::min(M, r.rows().end() * k->mr),
                                  r.cols().begin(), r.cols().end(), A, lda, B, C, ldc, g_ntCopy.local());
                      });
}

namespace {

void interleaveB(const Kernel16& k, const int8_t* r0, const int8_t* r1, int64_t n, int64_t padded, int32_t* out) {
    k.interleave8(r0, r1, n, padded, out);
}
void interleaveB(const Kernel16& k, const int16_t* r0, const int16_t* r1, int64_t n, int64_t padded, int32_t* out) {
    k.interleave16(r0, r1, n, padded, out);
}

// The tn form for B of int8 or int16 codes (the pair layout is the same once interleaved).
template <typename TB>
void tnImpl(const Kernel16* k, int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const TB* B,
            int64_t ldb, int64_t* C, int64_t ldc, bool accumulate, int32_t maxA, int32_t maxB, Gemm16Workspace& ws) {
    if (!accumulate)
        for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, int64_t(0));
    if (M <= 0 || N <= 0 || R <= 0) return;
    const int64_t blockCols = int64_t(k->np) * kPanel;
    const int64_t Mp = roundUp(M, k->mr), Np = roundUp(N, blockCols);
    // Chunks: their int32 sums must fit (the bound), and their interleaved B stays L2-sized.
    const int64_t cacheRows = std::max<int64_t>(16, (int64_t(128) << 10) / Np / 2 * 2);
    const int64_t chunkRows = std::min(gemm_s16_tn_chunk_rows(maxA, maxB), cacheRows);
    const int64_t chunks = ceilDiv(R, chunkRows);
    // Interleaves rows [r0, r1) of A and B into pairs: a [pairs][Mp], b [pairs][Np].
    auto interleave = [&](int64_t r0, int64_t r1, int32_t* a, int32_t* b) {
        for (int64_t r = r0, p = 0; r < r1; r += 2, ++p) {
            const bool two = r + 1 < r1;
            k->interleave16(A + r * lda, two ? A + (r + 1) * lda : nullptr, M, Mp, a + p * Mp);
            interleaveB(*k, B + r * ldb, two ? B + (r + 1) * ldb : nullptr, N, Np, b + p * Np);
        }
    };
    // The tiles of rows [i0, i1) (whole tiles) and columns [j0, j1) (whole column blocks) over
    // `pairs` interleaved pairs, added to c.
    auto tiles = [&](const int32_t* a, const int32_t* b, int64_t pairs, int64_t i0, int64_t i1, int64_t jb0,
                     int64_t jb1, int64_t* c, int64_t ldcc) {
        Tile16 t;
        t.aRow = 1;
        t.aPair = Mp;
        t.bPanel = kPanel;
        t.bPair = Np;
        t.pairs = pairs;
        t.ldc = ldcc;
        for (int64_t j0 = jb0; j0 < std::min(N, jb1); j0 += blockCols) {
            t.b = b + j0;
            t.cols = std::min(blockCols, N - j0);
            for (int64_t i = i0; i < i1; i += k->mr) {
                t.a = a + i;
                t.rows = int(std::min<int64_t>(k->mr, M - i));
                t.c64 = c + i * ldcc + j0;
                k->tile(t);
            }
        }
    };
    if (chunks >= 2 * threadCount()) {
        // Long reductions (conv weight gradients): a task per chunk interleaves its rows while they
        // are in cache and adds its sums into the thread's partial C; the partials are added at
        // the end (int64 sums are exact: neither split nor order changes a bit).
        for (auto& p : ws.partial) p.assign(size_t(M * N), 0);
        const int64_t chunkPairs = chunkRows / 2;
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, chunks, 1), [&](const tbb::blocked_range<int64_t>& rr) {
            std::vector<int32_t>& a = ws.taskA.local();
            std::vector<int32_t>& b = ws.taskB.local();
            std::vector<int64_t>& part = ws.partial.local();
            if (a.size() < size_t(chunkPairs * Mp)) a.resize(size_t(chunkPairs * Mp));
            if (b.size() < size_t(chunkPairs * Np)) b.resize(size_t(chunkPairs * Np));
            if (part.size() != size_t(M * N)) part.assign(size_t(M * N), 0);
            for (int64_t c = rr.begin(); c < rr.end(); ++c) {
                const int64_t r0 = c * chunkRows, r1 = std::min(R, r0 + chunkRows);
                interleave(r0, r1, a.data(), b.data());
                tiles(a.data(), b.data(), ceilDiv(r1 - r0, 2), 0, Mp, 0, N, part.data(), N);
            }
        });
        for (const auto& p : ws.partial) {
            if (p.size() != size_t(M * N)) continue;
            for (int64_t i = 0; i < M; ++i)
                for (int64_t j = 0; j < N; ++j) C[i * ldc + j] += p[size_t(i * N + j)];
        }
        return;
    }
    // Short reductions (fc layers): interleave once, then split the output into blocks of up to
    // 8 row tiles x 8 column blocks (a slice of B stays in L2 across the row tiles); each task
    // runs every chunk of its own block of C.
    const int64_t pairs = ceilDiv(R, 2);
    if (ws.a.size() < size_t(pairs * Mp)) ws.a.resize(size_t(pairs * Mp));
    if (ws.b.size() < size_t(pairs * Np)) ws.b.resize(size_t(pairs * Np));
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, pairs, 16), [&](const tbb::blocked_range<int64_t>& r) {
        interleave(2 * r.begin(), std::min(R, 2 * r.end()), ws.a.data() + r.begin() * Mp, ws.b.data() + r.begin() * Np);
    });
    const int64_t rowTiles = Mp / k->mr, colBlocks = Np / blockCols;
    tbb::parallel_for(tbb::blocked_range2d<int64_t>(0, rowTiles, 8, 0, colBlocks, 8),
                      [&](const tbb::blocked_range2d<int64_t>& r) {
                          for (int64_t c = 0; c < chunks; ++c) {
                              const int64_t p0 = c * chunkRows / 2, p1 = std::min(pairs, (c + 1) * chunkRows / 2);
                              tiles(ws.a.data() + p0 * Mp, ws.b.data() + p0 * Np, p1 - p0, r.rows().begin() * k->mr,
                                    std::min(M, r.rows().end() * k->mr), r.cols().begin() * blockCols,
                                    r.cols().end() * blockCols, C, ldc);
                          }
                      });
}

template <typename TB>
void tnRef(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const TB* B, int64_t ldb, int64_t* C,
           int64_t ldc, bool accumulate) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            int64_t s = accumulate ? C[i * ldc + j] : 0;
            for (int64_t r = 0; r < R; ++r) s += int64_t(A[r * lda + i]) * B[r * ldb + j];
            C[i * ldc + j] = s;
        }
}

} // namespace

void gemm_s16_tn(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const int8_t* B, int64_t ldb,
                 int64_t* C, int64_t ldc, bool accumulate, int32_t maxA, int32_t maxB, Gemm16Workspace& ws) {
    const Kernel16* k = activeKernel();
    if (!k) return gemm_s16_tn_ref(M, N, R, A, lda, B, ldb, C, ldc, accumulate);
    tnImpl(k, M, N, R, A, lda, B, ldb, C, ldc, accumulate, maxA, maxB, ws);
}

void gemm_s16_tn(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const int16_t* B, int64_t ldb,
                 int64_t* C, int64_t ldc, bool accumulate, int32_t maxA, int32_t maxB, Gemm16Workspace& ws) {
    const Kernel16* k = activeKernel();
    if (!k) return gemm_s16_tn_ref(M, N, R, A, lda, B, ldb, C, ldc, accumulate);
    tnImpl(k, M, N, R, A, lda, B, ldb, C, ldc, accumulate, maxA, maxB, ws);
}

void gemm_s16_nt_ref(int64_t M, int64_t N, int64_t K, const int16_t* A, int64_t lda, const int8_t* B, int64_t ldb,
                     int32_t* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            int64_t s = 0;
            for (int64_t k = 0; k < K; ++k) s += int64_t(A[i * lda + k]) * B[j * ldb + k];
            C[i * ldc + j] = int32_t(s);
        }
}

void gemm_s16_tn_ref(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const int8_t* B, int64_t ldb,
                     int64_t* C, int64_t ldc, bool accumulate) {
    tnRef(M, N, R, A, lda, B, ldb, C, ldc, accumulate);
}
void gemm_s16_tn_ref(int64_t M, int64_t N, int64_t R, const int16_t* A, int64_t lda, const int16_t* B, int64_t ldb,
                     int64_t* C, int64_t ldc, bool accumulate) {
    tnRef(M, N, R, A, lda, B, ldb, C, ldc, accumulate);
}

} // namespace bitbench
