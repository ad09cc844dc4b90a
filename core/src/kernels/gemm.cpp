// Run-time dispatch of the int8 GEMM kernels: ISA detection, operand packing, TBB task split.
#include "bitbench/gemm.h"

#include "bitbench/error.h"
#include "kernels/gemm_impl.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace bitbench {

using namespace gemm_detail;

namespace {

constexpr int kNotForced = -1;
std::atomic<int> g_forced{kNotForced};

#if defined(__x86_64__)
// XCR0: which register states the OS saves on a context switch. A CPU flag alone is not enough:
// an OS that does not save the upper ymm/zmm state makes those instructions fault.
uint64_t xcr0() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t(hi) << 32) | lo;
}
#endif

GemmIsa detectCpu() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    const uint64_t xcr = xcr0();
    const bool osYmm = (xcr & 0x6) == 0x6;          // SSE and AVX state
    const bool osZmm = osYmm && (xcr & 0xE0) == 0xE0; // opmask, upper zmm0-15, zmm16-31
    // DQ for the integer engine's passes (wage_kernels_avx512vnni.cpp); every VNNI CPU has it.
    if (osZmm && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vnni"))
        return GemmIsa::Avx512Vnni;
    if (osYmm && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GemmIsa::Avx2;
#endif
    return GemmIsa::Reference;
}

// The cap from BITBENCH_ISA, read once; an unknown value is a user error worth stopping for,
// since silently ignoring it would make a benchmark measure something else than asked.
GemmIsa environmentCap() {
    const char* v = std::getenv("BITBENCH_ISA");
    if (!v || !*v) return GemmIsa::Avx512Vnni;
    const std::string s(v);
    if (s == "reference") return GemmIsa::Reference;
    if (s == "avx2") return GemmIsa::Avx2;
    if (s == "avx512vnni") return GemmIsa::Avx512Vnni;
    throw InputError("environment variable BITBENCH_ISA is \"" + s +
                     "\": expected reference, avx2 or avx512vnni");
}

const KernelSet* kernelsFor(GemmIsa isa) {
#if defined(__x86_64__)
    if (isa == GemmIsa::Avx512Vnni) return &kernels_avx512vnni();
    if (isa == GemmIsa::Avx2) return &kernels_avx2();
#endif
    (void)isa;
    return nullptr;
}

int threadCount() { return std::max(1, tbb::this_task_arena::max_concurrency()); }

// Work split. A task of fewer multiply-adds than this costs more to schedule than to run.
constexpr int64_t kMinTaskMacs = int64_t(1) << 18;
// Packed A per task kept L2-sized.
constexpr int64_t kTaskPackBytes = int64_t(128) << 10;
// Widest product whose A a kernel with rawA reads unpacked.
constexpr int64_t kRawMaxCols = 256;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t wantedTasks(int64_t macs) {
    return std::clamp<int64_t>(macs / kMinTaskMacs, 1, 8 * int64_t(threadCount()));
}

// C = 0 where the product is empty but the contract still says "C = A B".
void clearIfOverwriting(int64_t M, int64_t N, int32_t* C, int64_t ldc, bool accumulate) {
    if (accumulate) return;
    for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0);
}

// B packed into panels, and (when A will be shifted) the column corrections; in parallel when
// large (fc layers: 512 KB).
void packNtB(int64_t N, int64_t K, const int8_t* B, int64_t ldb, int8_t* bp, int32_t* colCorr) {
    const int64_t groups = groups_of(K);
    const int64_t panels = ceilDiv(N, kPanelCols);
    const int64_t panelBytes = groups * kPanelCols * kGroup;
    const int64_t packTasks = std::clamp<int64_t>(N * K / (int64_t(64) << 10), 1, panels);
    tbb::parallel_for(int64_t(0), packTasks, [&](int64_t t) {
        const int64_t p0 = panels * t / packTasks, p1 = panels * (t + 1) / packTasks;
        const int64_t j0 = p0 * kPanelCols, j1 = std::min(N, p1 * kPanelCols);
        pack_tiles_rows(B + j0 * ldb, ldb, j1 - j0, K, kPanelCols, false, bp + p0 * panelBytes);
        if (colCorr) sums_rows(B + j0 * ldb, ldb, j1 - j0, K, colCorr + j0);
    });
}

// The product of A with packed B (bp, colCorr as packNtB made them).
void runNtPacked(const KernelSet& ks, int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda,
                 const int8_t* bp, const int32_t* colCorr, int32_t* C, int64_t ldc, bool accumulate, bool shiftA,
                 Operands ops) {
    const int64_t groups = groups_of(K);
    const int64_t panels = ceilDiv(N, kPanelCols);
    const int64_t panelBytes = groups * kPanelCols * kGroup;
    const int64_t mr = ks.mr;
    const int64_t tiles = ceilDiv(M, mr);

    // Tasks: blocks of A tiles x blocks of panels. Each task packs its own rows of A (once, for
    // all its columns), so a large M is split over rows, and N only when M is too small.
    const int64_t want = wantedTasks(M * N * K);
    int64_t tilesPerTask = ceilDiv(tiles, std::min(tiles, want));
    tilesPerTask = std::max<int64_t>(1, std::min(tilesPerTask, kTaskPackBytes / std::max<int64_t>(1, mr * groups * kGroup)));
    const int64_t mTasks = ceilDiv(tiles, tilesPerTask);
    const int64_t nWant = std::min(ceilDiv(panels, 2), ceilDiv(want, mTasks));
    const int64_t panelsPerTask = 2 * ceilDiv(ceilDiv(panels, 2), nWant);
    const int64_t nTasks = ceilDiv(panels, panelsPerTask);
    // A kernel that broadcasts A's 4-byte groups can take them from A's rows as they are, when
    // nothing needs shifting and the rows hold whole groups: no packing of A at all. Packing pays
    // for itself over many columns only (measured: N = 64 and 256 gained 25-30 % unpacked,
    // N = 512 to 2048 lost 0-10 %).
    const bool rawA = ks.rawA && !shiftA && ops == Operands::AUnsigned && K % kGroup == 0 && N <= kRawMaxCols;

    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, mTasks * nTasks, 1),
        [&](const tbb::blocked_range<int64_t>& range) {
            Scratch packA(kSlotTaskA);
            for (int64_t task = range.begin(); task < range.end(); ++task) {
                const int64_t mt = task / nTasks, nt = task % nTasks;
                const int64_t i0 = mt * tilesPerTask * mr, i1 = std::min(M, i0 + tilesPerTask * mr);
                const int64_t p0 = nt * panelsPerTask;
                const int64_t j0 = p0 * kPanelCols, j1 = std::min(N, j0 + panelsPerTask * kPanelCols);
                BlockArgs args;
                if (rawA) {
                    args.a = A + i0 * lda;
                    args.lda = lda;
                    args.aTileStride = mr * lda;
                } else {
                    auto* ap = static_cast<int8_t*>(packA.get(size_t(ceilDiv(i1 - i0, mr) * mr * groups * kGroup)));
                    pack_tiles_rows(A + i0 * lda, lda, i1 - i0, K, int(mr), shiftA, ap);
                    args.a = ap;
                    args.aTileStride = mr * groups * kGroup;
                }
                args.rows = i1 - i0;
                args.b = bp + p0 * panelBytes;
                args.bPanelStride = panelBytes;
                args.cols = j1 - j0;
                args.kGroups = groups;
                args.c = C + i0 * ldc + j0;
                args.ldc = ldc;
                args.loadC = accumulate;
                args.operands = ops;
                args.colCorr = colCorr ? colCorr + j0 : nullptr;
                ks.block(args);
            }
        },
        tbb::simple_partitioner());
}

// vpdpbusd wants A unsigned: non-negative A is so already, signed A is shifted by +128 and each
// column j then carries 128 * sum_k B[j][k] too much, subtracted by the kernel.
bool shiftsA(const KernelSet& ks, bool aNonNegative) { return !aNonNegative && ks.needsUnsignedSide; }
Operands ntOperands(const KernelSet& ks, bool aNonNegative) {
    return (aNonNegative || shiftsA(ks, aNonNegative)) ? Operands::AUnsigned : Operands::BothSigned;
}

void runNt(const KernelSet& ks, int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda,
           const int8_t* B, int64_t ldb, int32_t* C, int64_t ldc, bool accumulate, bool aNonNegative) {
    const bool shiftA = shiftsA(ks, aNonNegative);
    const int64_t panelBytes = groups_of(K) * kPanelCols * kGroup;
    Scratch packB(kSlotPackB);
    auto* bp = static_cast<int8_t*>(packB.get(size_t(ceilDiv(N, kPanelCols) * panelBytes)));
    Scratch sums(kSlotSums);
    int32_t* colCorr = shiftA ? static_cast<int32_t*>(sums.get(size_t(N) * 4)) : nullptr;
    packNtB(N, K, B, ldb, bp, colCorr);
    runNtPacked(ks, M, N, K, A, lda, bp, colCorr, C, ldc, accumulate, shiftA, ntOperands(ks, aNonNegative));
}

void runTn(const KernelSet& ks, int64_t M, int64_t N, int64_t R, const int8_t* A, int64_t lda,
           const int8_t* B, int64_t ldb, int32_t* C, int64_t ldc, bool accumulate, bool bNonNegative) {
    // Here B is the unsigned side (the flag the caller can give is about B); a signed B is
    // shifted and each row i carries 128 * sum_r A[r][i] too much.
    const bool shiftB = !bNonNegative && ks.needsUnsignedSide;
    const Operands ops = (bNonNegative || shiftB) ? Operands::BUnsigned : Operands::BothSigned;
    const int64_t mr = ks.mr;
    const int64_t tiles = ceilDiv(M, mr);
    const int64_t panels = ceilDiv(N, kPanelCols);
    const int64_t groups = groups_of(R);
    const int threads = threadCount();

    // Tasks: column blocks x splits of the reduction. Every task covers all M (the weight
    // gradients have M <= 512). A reduction split sums into its own partial C, added at the end:
    // integer sums are exact, so any split gives the same bits.
    const int64_t want = wantedTasks(M * N * R);
    const int64_t nWant = std::min(ceilDiv(panels, 2), want);
    const int64_t panelsPerTask = 2 * ceilDiv(ceilDiv(panels, 2), nWant);
    const int64_t nTasks = ceilDiv(panels, panelsPerTask);
    const int64_t partialBytes = M * N * int64_t(sizeof(int32_t));
    int64_t splits = std::min<int64_t>(ceilDiv(want, nTasks), groups / 64);
    splits = std::clamp<int64_t>(std::min<int64_t>(splits, (int64_t(16) << 20) / std::max<int64_t>(1, partialBytes)), 1, 4 * threads);

    // With several column blocks, A is packed once for all of them, and its row sums too.
    const bool prepackA = nTasks > 1;
    const int64_t aTileStride = groups * mr * kGroup;
    Scratch packA(kSlotPackA);
    Scratch sums(kSlotSums);
    int8_t* ap = nullptr;
    int32_t* rowCorrAll = nullptr;
    if (prepackA) {
        ap = static_cast<int8_t*>(packA.get(size_t(tiles * aTileStride)));
        const int64_t packTasks = std::clamp<int64_t>(M * R / (int64_t(64) << 10), 1, groups);
        tbb::parallel_for(int64_t(0), packTasks, [&](int64_t t) {
            const int64_t g0 = groups * t / packTasks, g1 = groups * (t + 1) / packTasks;
            const int64_t r0 = g0 * kGroup, r1 = std::min(R, g1 * kGroup);
            pack_cols(A + r0 * lda, lda, M, r1 - r0, int(mr), false, ap + g0 * mr * kGroup, aTileStride);
        });
        if (shiftB) {
            rowCorrAll = static_cast<int32_t*>(sums.get(size_t(M) * 4));
            sums_cols(A, lda, M, R, rowCorrAll);
        }
    }
    Scratch partial(kSlotPartial);
    int32_t* part = splits > 1 ? static_cast<int32_t*>(partial.get(size_t(splits * partialBytes))) : nullptr;

    // Reduction chunk: a task's packed chunks of A and B stay in L2.
    const int64_t colsPad = panelsPerTask * kPanelCols;
    const int64_t chunkGroups =
        std::max<int64_t>(16, kTaskPackBytes / (kGroup * ((prepackA ? 0 : tiles * mr) + colsPad)));

    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, nTasks * splits, 1),
        [&](const tbb::blocked_range<int64_t>& range) {
            Scratch taskA(kSlotTaskA);
            Scratch taskB(kSlotTaskB);
            for (int64_t task = range.begin(); task < range.end(); ++task) {
                const int64_t s = task / nTasks, nt = task % nTasks;
                const int64_t p0 = nt * panelsPerTask;
                const int64_t j0 = p0 * kPanelCols, j1 = std::min(N, j0 + colsPad);
                const int64_t g0 = groups * s / splits, g1 = groups * (s + 1) / splits;
                int32_t* c = part ? part + s * M * N + j0 : C + j0;
                const int64_t cld = part ? N : ldc;
                const bool loadC = part ? false : accumulate;

                const int32_t* rowCorr = rowCorrAll;
                auto* bp = static_cast<int8_t*>(taskB.get(size_t(chunkGroups * colsPad * kGroup)));
                int8_t* aChunk = nullptr;
                int32_t* ownCorr = nullptr;
                if (!prepackA) {
                    const size_t aBytes = size_t(chunkGroups * tiles * mr * kGroup);
                    aChunk = static_cast<int8_t*>(taskA.get(aBytes + (shiftB ? size_t(M) * 4 + 64 : 0)));
                    if (shiftB) {
                        // Row sums of this split's rows of A, applied once with the first chunk.
                        ownCorr = reinterpret_cast<int32_t*>(aChunk + round_up(int64_t(aBytes), 64));
                        const int64_t r0 = g0 * kGroup, r1 = std::min(R, g1 * kGroup);
                        sums_cols(A + r0 * lda, lda, M, r1 - r0, ownCorr);
                        rowCorr = ownCorr;
                    }
                } else if (s > 0) {
                    rowCorr = nullptr; // the whole-R correction goes with split 0 only
                }

                for (int64_t g = g0; g < g1; g += chunkGroups) {
                    const int64_t gc = std::min(chunkGroups, g1 - g);
                    const int64_t r0 = g * kGroup, rows = std::min(R, (g + gc) * kGroup) - r0;
                    pack_cols(B + r0 * ldb + j0, ldb, j1 - j0, rows, kPanelCols, shiftB, bp, gc * kPanelCols * kGroup);
                    BlockArgs args;
                    if (prepackA) {
                        args.a = ap + g * mr * kGroup;
                        args.aTileStride = aTileStride;
                    } else {
                        pack_cols(A + r0 * lda, lda, M, rows, int(mr), false, aChunk, gc * mr * kGroup);
                        args.a = aChunk;
                        args.aTileStride = gc * mr * kGroup;
                    }
                    args.rows = M;
                    args.b = bp;
                    args.bPanelStride = gc * kPanelCols * kGroup;
                    args.cols = j1 - j0;
                    args.kGroups = gc;
                    args.c = c;
                    args.ldc = cld;
                    args.loadC = g == g0 ? loadC : true;
                    args.operands = ops;
                    args.rowCorr = g == g0 ? rowCorr : nullptr;
                    ks.block(args);
                }
            }
        },
        tbb::simple_partitioner());

    if (part) {
        // Fixed order of addition; wrapping uint32 arithmetic because partials of shifted
        // products may pass 2^31 even though the total cannot.
        tbb::parallel_for(int64_t(0), M, [&](int64_t i) {
            for (int64_t j = 0; j < N; ++j) {
                uint32_t v = accumulate ? uint32_t(C[i * ldc + j]) : 0u;
                for (int64_t s = 0; s < splits; ++s) v += uint32_t(part[s * M * N + i * N + j]);
                C[i * ldc + j] = int32_t(v);
            }
        });
    }
}

} // namespace

const char* gemm_isa_name(GemmIsa isa) {
    switch (isa) {
    case GemmIsa::Reference: return "reference";
    case GemmIsa::Avx2: return "avx2";
    case GemmIsa::Avx512Vnni: return "avx512vnni";
    }
    return "unknown";
}

GemmIsa gemm_isa_detected() {
    static const GemmIsa isa = detectCpu();
    return isa;
}

GemmIsa gemm_isa_active() {
    const int forced = g_forced.load(std::memory_order_relaxed);
    if (forced != kNotForced) return GemmIsa(forced);
    static const GemmIsa cap = environmentCap();
    return GemmIsa(std::min(int(gemm_isa_detected()), int(cap)));
}

void gemm_isa_force(GemmIsa isa) {
    if (int(isa) > int(gemm_isa_detected()))
        throw std::invalid_argument(std::string("this CPU or build has no ") + gemm_isa_name(isa) + " kernel");
    g_forced.store(int(isa), std::memory_order_relaxed);
}

void gemm_s8_nt(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B,
                int64_t ldb, int32_t* C, int64_t ldc, bool accumulate, bool aNonNegative) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) return clearIfOverwriting(M, N, C, ldc, accumulate);
    if (const KernelSet* ks = kernelsFor(gemm_isa_active()))
        return runNt(*ks, M, N, K, A, lda, B, ldb, C, ldc, accumulate, aNonNegative);
    // Rows are independent: split over M, each row computed whole.
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, M, 16), [&](const tbb::blocked_range<int64_t>& r) {
        gemm_s8_nt_ref(r.end() - r.begin(), N, K, A + r.begin() * lda, lda, B, ldb, C + r.begin() * ldc,
                       ldc, accumulate);
    });
}

void gemm_s8_pack_b(int64_t N, int64_t K, const int8_t* B, int64_t ldb, GemmPackedB& packed) {
    packed.N = N;
    packed.K = K;
    packed.b = B;
    packed.ldb = ldb;
    if (N <= 0 || K <= 0 || !kernelsFor(gemm_isa_active())) {
        packed.panels.clear();
        packed.colCorr.clear();
        return;
    }
    const size_t bytes = size_t(ceilDiv(N, kPanelCols) * groups_of(K) * kPanelCols * kGroup);
    if (packed.panels.size() < bytes) packed.panels.resize(bytes);
    if (packed.colCorr.size() < size_t(N)) packed.colCorr.resize(size_t(N));
    packNtB(N, K, B, ldb, packed.panels.data(), packed.colCorr.data());
}

void gemm_s8_nt_packed(int64_t M, const int8_t* A, int64_t lda, const GemmPackedB& B, int32_t* C, int64_t ldc,
                       bool accumulate, bool aNonNegative) {
    const KernelSet* ks = kernelsFor(gemm_isa_active());
    if (!ks || B.panels.empty() || M <= 0 || B.N <= 0 || B.K <= 0)
        return gemm_s8_nt(M, B.N, B.K, A, lda, B.b, B.ldb, C, ldc, accumulate, aNonNegative);
    const bool shiftA = shiftsA(*ks, aNonNegative);
    runNtPacked(*ks, M, B.N, B.K, A, lda, B.panels.data(), shiftA ? B.colCorr.data() : nullptr, C, ldc, accumulate,
                shiftA, ntOperands(*ks, aNonNegative));
}

void gemm_s8_nt_packed_add_at(int64_t M, const int8_t* A, int64_t lda, const GemmPackedB& B, int32_t* C,
                              const int64_t* rowOff, const int64_t* colOff, bool aNonNegative) {
    const int64_t N = B.N, K = B.K;
    if (M <= 0 || N <= 0 || K <= 0) return;
    const KernelSet* ks = kernelsFor(gemm_isa_active());
    if (!ks || !ks->scatter || B.panels.empty()) {
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                int32_t s = 0;
                for (int64_t k = 0; k < K; ++k) s += int32_t(A[i * lda + k]) * int32_t(B.b[j * B.ldb + k]);
                int32_t& c = C[rowOff[i] + colOff[j]];
                c = int32_t(uint32_t(c) + uint32_t(s));
            }
        return;
    }
    const bool shiftA = shiftsA(*ks, aNonNegative);
    const int64_t groups = groups_of(K), mr = ks->mr;
    Scratch packA(kSlotTaskA);
    auto* ap = static_cast<int8_t*>(packA.get(size_t(ceilDiv(M, mr) * mr * groups * kGroup)));
    pack_tiles_rows(A, lda, M, K, int(mr), shiftA, ap);
    BlockArgs args;
    args.a = ap;
    args.aTileStride = mr * groups * kGroup;
    args.rows = M;
    args.b = B.panels.data();
    args.bPanelStride = groups * kPanelCols * kGroup;
    args.cols = N;
    args.kGroups = groups;
    args.c = C;
    args.ldc = 0;
    args.loadC = true;
    args.operands = ntOperands(*ks, aNonNegative);
    args.colCorr = shiftA ? B.colCorr.data() : nullptr;
    args.rowOff = rowOff;
    args.colOff = colOff;
    ks->block(args);
}

void gemm_s8_tn(int64_t M, int64_t N, int64_t R, const int8_t* A, int64_t lda, const int8_t* B,
                int64_t ldb, int32_t* C, int64_t ldc, bool accumulate, bool bNonNegative) {
    if (M <= 0 || N <= 0) return;
    if (R <= 0) return clearIfOverwriting(M, N, C, ldc, accumulate);
    if (const KernelSet* ks = kernelsFor(gemm_isa_active()))
        return runTn(*ks, M, N, R, A, lda, B, ldb, C, ldc, accumulate, bNonNegative);
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, M, 4), [&](const tbb::blocked_range<int64_t>& r) {
        gemm_s8_tn_ref(r.end() - r.begin(), N, R, A + r.begin(), lda, B, ldb, C + r.begin() * ldc, ldc,
                       accumulate);
    });
}

} // namespace bitbench
