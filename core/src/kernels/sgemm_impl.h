// Private pieces of the float32 products: the register-tile kernel interface of each ISA.
#pragma once

#include <cstdint>

namespace bitbench::sgemm_detail {

// One call of a tile kernel: mr rows x nr columns of C, each element's chain carried through
// `k` more steps in ascending order (sgemm.h). Row t of the tile takes A(t, s) for step s:
//   "rows" kernels: a[t * lda + s] (A holds rows of the reduction: the nt and nn forms);
//   "cols" kernels: a[s * lda + t] (A holds columns: the tn form).
// Column j takes B(s, j) = b[s * ldb + j]. All mr rows of A are read (a tile near the bottom of C
// is moved up to overlap its neighbour, and stores only its own rows); B is read for j < cols.
struct Tile {
    const float* a = nullptr;
    int64_t lda = 0;
    const float* b = nullptr;
    int64_t ldb = 0;
    int64_t k = 0;      // chain steps in this call, >= 1
    float* c = nullptr; // C(t, j) at c[t * ldc + j]
    int64_t ldc = 0;
    int rowBegin = 0;   // rows [rowBegin, rowEnd) are loaded (when `load`) and stored
    int rowEnd = 0;
    int cols = 0;       // 1 <= cols <= nr: columns read from B and loaded and stored in C
    bool load = false;  // continue the chains from C instead of starting them at 0.0f
};

// A register-tile shape and its two kernels (A by rows, A by columns).
struct TileKernel {
    int mr;
    int nr;
    void (*rows)(const Tile&);
    void (*cols)(const Tile&);
};

// The tile shapes an ISA offers (the driver picks one per product) and its copy routine.
struct KernelMenu {
    const TileKernel* shapes;
    int count;
    int lanes; // floats per vector register
    // dst[s * stride + t] = t < width ? src[s * ld + t] : 0 for s < rows, t < stride
    // (width <= stride <= 64): slices of operands into contiguous zero-padded blocks. Reads
    // src[s * ld + t] for t < width only; writes whole vectors, so up to lanes - 1 floats past
    // dst[rows * stride] are overwritten too (masked stores are slow on AMD).
    void (*copyRows)(const float* src, int64_t ld, int64_t rows, int width, int stride, float* dst);
};

#if defined(__x86_64__)
KernelMenu sgemm_kernels_avx2();
KernelMenu sgemm_kernels_avx512();
#endif

} // namespace bitbench::sgemm_detail
