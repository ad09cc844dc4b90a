// Run-time dispatch of the int8 GEMM kernels (reference only until ISA kernels land).
#include "bitbench/gemm.h"

#include <tbb/parallel_for.h>

#include <stdexcept>

namespace bitbench {

namespace {
GemmIsa g_forced = GemmIsa::Reference;
bool g_isForced = false;
} // namespace

const char* gemm_isa_name(GemmIsa isa) {
    switch (isa) {
    case GemmIsa::Reference: return "reference";
    case GemmIsa::Avx2: return "avx2";
    case GemmIsa::Avx512Vnni: return "avx512vnni";
    }
    return "unknown";
}

GemmIsa gemm_isa_detected() { return GemmIsa::Reference; }

GemmIsa gemm_isa_active() { return g_isForced ? g_forced : gemm_isa_detected(); }

void gemm_isa_force(GemmIsa isa) {
    if (int(isa) > int(gemm_isa_detected()))
        throw std::invalid_argument(std::string("this CPU or build has no ") + gemm_isa_name(isa) + " kernel");
    g_forced = isa;
    g_isForced = true;
}

void gemm_s8_nt(int64_t M, int64_t N, int64_t K, const int8_t* A, int64_t lda, const int8_t* B,
                int64_t ldb, int32_t* C, int64_t ldc, bool accumulate, bool) {
    // Rows are independent: split over M, each row computed whole, so results never depend on
    // the split.
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, M, 16), [&](const tbb::blocked_range<int64_t>& r) {
        gemm_s8_nt_ref(r.end() - r.begin(), N, K, A + r.begin() * lda, lda, B, ldb, C + r.begin() * ldc,
                       ldc, accumulate);
    });
}

void gemm_s8_tn(int64_t M, int64_t N, int64_t R, const int8_t* A, int64_t lda, const int8_t* B,
                int64_t ldb, int32_t* C, int64_t ldc, bool accumulate, bool) {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, M, 4), [&](const tbb::blocked_range<int64_t>& r) {
        gemm_s8_tn_ref(r.end() - r.begin(), N, R, A + r.begin(), lda, B, ldb, C + r.begin() * ldc, ldc,
                       accumulate);
    });
}

} // namespace bitbench
