// Integer engine, backward: Q_A's clip mask, Q_E, relu mask and pool routing, weight gradients, error propagation.
#include "engine/int/engine_int_impl.h"

#include <tbb/parallel_reduce.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace bitbench::int_detail {

namespace {

// max|e| after Q_A's clip mask (applied in place when mask), in one pass.
uint32_t clipMaskMax(const Kernels& k, const int32_t* v, int32_t* e, int64_t n, int32_t clip, bool relu, bool mask) {
    return mask ? k.clipMaskMax(v, e, n, clip, relu) : k.maxAbs(e, n);
}

} // namespace

// Backward through Q_A's clip mask, Q_E, relu mask and pool routing (last layer: Q_E first).
// Two passes: the clip mask fused with max|e| (Q_E's scale is over the whole tensor), then
// Q_E fused with the relu mask and the routing to the product's output.
void IntEngine::quantizeError(IntLayer& L, int32_t n) {
    const int64_t N = L.N, outRows = L.outRows(n);
    const int32_t* v = L.blockOut();
    int32_t* eIn = L.eIn.data();
    const bool relu = L.d.relu, pool = L.d.pool;
    const bool maskBefore = !L.last && L.d.quantizeOutput, maskAfter = L.last && L.d.quantizeOutput;
    const int32_t clip = int32_t(std::min<int64_t>(L.clipBound(), INT32_MAX));
    const Kernels& k = *m_k;
    // The conv error product's col2im may have applied the mask already, image by image.
    const uint64_t m = L.eMaxReady ? L.eMax : tbb::parallel_reduce(
        tbb::blocked_range<int64_t>(0, outRows * N, 16384), uint64_t(0),
        [=](const tbb::blocked_range<int64_t>& r, uint64_t mx) {
            const int64_t lo = r.begin();
            return std::max<uint64_t>(mx, clipMaskMax(k, v + lo, eIn + lo, r.end() - lo, clip, relu, maskBefore));
        },
        [](uint64_t a, uint64_t b) { return std::max(a, b); });
    L.eMaxReady = false;
    L.eZero = m == 0;
    L.eShift = L.eZero ? 0 : fx_shift_exponent(m);
    const ErrorCode ec{Requant(L.eShift - (L.b.e() - 1), fx_max_code(L.b.e())), clip, L.eZero, relu, maskAfter};
    if (L.wideE) return quantizeErrorWide(L, n, ec);
    int8_t* eq = L.eq.data();
    // A direct layer routes through the argmax inside its gradient: codes at pooled size here.
    if (!pool || directActive(L)) {
        const auto errorCodes = k.errorCodes;
        parallelRange(outRows * N, 16384,
                      [=](int64_t lo, int64_t hi) { errorCodes(v + lo, eIn + lo, eq + lo, hi - lo, ec); });
        return;
    }
    // Every position of a pooling window is written; with an odd product size the last row or
    // column is in no window and stays zero from the allocation.
    const uint8_t* argmax = L.argmax.data();
    const int64_t outH = L.d.outH, outW = L.d.outW, convH = L.d.convH, convW = L.d.convW;
    const auto errorRouteRow = k.errorRouteRow;
    parallelRange(int64_t(n) * outH, 2, [=](int64_t lo, int64_t hi) {
        for (int64_t by = lo; by < hi; ++by) {
            const int64_t b = by / outH, py = by % outH;
            const int64_t o = by * outW * N;
            int8_t* r0 = eq + (b * convH + 2 * py) * convW * N;
            errorRouteRow(v + o, eIn + o, argmax + o, r0, r0 + convW * N, outW, N, ec);
        }
    });
}

// Q_E as int16 codes, routed through the pooling to the product's output; a direct layer with
// gradOneChannel16 keeps them at pooled size (its gradient routes them through the argmax), any
// other direct layer takes its gradient from im2col columns.
void IntEngine::quantizeErrorWide(IntLayer& L, int32_t n, const ErrorCode& ec) {
    const int64_t N = L.N, outRows = L.outRows(n);
    const int32_t* v = L.blockOut();
    const int32_t* eIn = L.eIn.data();
    int16_t* eq = L.eq16.data();
    if (!L.d.pool || (directActive(L) && L.directWide)) {
        const auto errorCodes = m_k->errorCodes16;
        parallelRange(outRows * N, 16384,
                      [=](int64_t lo, int64_t hi) { errorCodes(v + lo, eIn + lo, eq + lo, hi - lo, ec); });
        return;
    }
    const uint8_t* argmax = L.argmax.data();
    const int64_t outH = L.d.outH, outW = L.d.outW, convH = L.d.convH, convW = L.d.convW;
    const auto errorRouteRow = m_k->errorRouteRow16;
    parallelRange(int64_t(n) * outH, 2, [=](int64_t lo, int64_t hi) {
        for (int64_t by = lo; by < hi; ++by) {
            const int64_t b = by / outH, py = by % outH;
            const int64_t o = by * outW * N;
            int16_t* r0 = eq + (b * convH + 2 * py) * convW * N;
            errorRouteRow(v + o, eIn + o, argmax + o, r0, r0 + convW * N, outW, N, ec);
        }
    });
}

void IntEngine::weightGradient(IntLayer& L, int32_t n) {
    if (L.wideE) {
        // int64 sums of int16 x int8 pairs. A direct layer kept no im2col columns: made here.
        if (directActive(L) && L.directWide) return directGradient16(L, n);
        const bool conv = L.d.type == LayerType::Conv;
        if (conv && directActive(L)) im2col(L, m_input.data(), n);
        const int8_t* a = conv ? L.col.data() : inputOf(L);
        const int32_t maxE = int32_t(fx_max_code(L.b.e())), maxA = L.index == 0 ? 127 : int32_t(fx_max_code(L.b.a()));
        gemm_s16_tn(L.N, L.K, L.rows(n), L.eq16.data(), L.N, a, L.K, L.g64.data(), L.K, false, maxE, maxA, *L.ws16);
        return;
    }
    if (directActive(L)) return directGradient(L, n);
    const int64_t rows = L.rows(n);
    const int8_t* a = L.d.type == LayerType::Conv ? L.col.data() : inputOf(L);
    gemm_s8_tn(L.N, L.K, rows, L.eq.data(), L.N, a, L.K, L.g.data(), L.K, false, L.inputNonNegative);
}

// The direct layer's weight gradient from the input codes (no im2col): per task a partial sum
// over its images, the partials added at the end (integer sums: any split, same bits).
void IntEngine::directGradient(IntLayer& L, int32_t n) {
    const int64_t N = L.N, taps = int64_t(L.d.kernel) * L.d.kernel, NV = N / 16, part = NV * taps * 16;
    for (auto& p : m_gradPart) std::fill(p.begin(), p.end(), 0);
    const int8_t* in = m_input.data();
    const int8_t* eq = L.eq.data();
    const uint8_t* argmax = L.argmax.data();
    const auto& d = L.d;
    const auto gradOneChannel = m_k->gradOneChannel;
    parallelRange(n, 4, [&](int64_t lo, int64_t hi) {
        std::vector<int32_t>& p = m_gradPart.local();
        if (p.size() < size_t(part)) p.assign(size_t(part), 0);
        for (int64_t v = 0; v < NV; ++v)
            gradOneChannel(in, d.inH, d.inW, eq, argmax, d.convH, d.convW, N, v, lo, hi, p.data() + v * taps * 16);
    });
    std::fill(L.g.begin(), L.g.end(), 0);
    for (const auto& p : m_gradPart) {
        if (p.size() < size_t(part)) continue;
        for (int64_t c = 0; c < N; ++c)
            for (int64_t t = 0; t < taps; ++t) {
                int32_t& gv = L.g[size_t(c * L.K + t)];
                gv = int32_t(uint32_t(gv) + uint32_t(p[size_t(((c / 16) * taps + t) * 16 + c % 16)]));
            }
    }
}

// directGradient with int16 error codes: int64 partial sums per task.
void IntEngine::directGradient16(IntLayer& L, int32_t n) {
    const int64_t N = L.N, taps = int64_t(L.d.kernel) * L.d.kernel, NV = N / 16, part = NV * taps * 16;
    for (auto& p : m_gradPart64) std::fill(p.begin(), p.end(), 0);
    const int8_t* in = m_input.data();
    const int16_t* eq = L.eq16.data();
    const uint8_t* argmax = L.argmax.data();
    const auto& d = L.d;
    const auto grad = m_k->gradOneChannel16;
    parallelRange(n, 4, [&](int64_t lo, int64_t hi) {
        std::vector<int64_t>& p = m_gradPart64.local();
        if (p.size() < size_t(part)) p.assign(size_t(part), 0);
        for (int64_t v = 0; v < NV; ++v)
            grad(in, d.inH, d.inW, eq, argmax, d.convH, d.convW, N, v, lo, hi, p.data() + v * taps * 16);
    });
    std::fill(L.g64.begin(), L.g64.end(), 0);
    for (const auto& p : m_gradPart64) {
        if (p.size() < size_t(part)) continue;
        for (int64_t c = 0; c < N; ++c)
            for (int64_t t = 0; t < taps; ++t) L.g64[size_t(c * L.K + t)] += p[size_t(((c / 16) * taps + t) * 16 + c % 16)];
    }
}

void IntEngine::propagateError(IntLayer& L, IntLayer& prev, int32_t n) {
    if (L.wideE) {
        gemm_s16_pack_b(L.K, L.N, L.wqT.data(), L.N, L.wT16);
        if (L.d.type == LayerType::Fc) {
            gemm_s16_nt_packed(L.rows(n), L.eq16.data(), L.N, L.wT16, prev.eIn.data(), L.K, true);
            return;
        }
    } else if (L.d.type == LayerType::Fc) {
        gemm_s8_nt(L.rows(n), L.K, L.N, L.eq.data(), L.N, L.wqT.data(), L.N, prev.eIn.data(), L.K, false);
        return;
    }
    // In chunks of images, each chunk on one thread from product to col2im: the conv2 product
    // would otherwise write 26 MB of int32 to memory and col2im read it back. Each image is
    // summed by one task, so the result never depends on the split.
    const auto& d = L.d;
    const int64_t pad = d.same ? d.kernel / 2 : 0;
    const int64_t imageSize = int64_t(d.inH) * d.inW * d.inC, colImage = int64_t(d.convH) * d.convW * L.K;
    int32_t* eIn = prev.eIn.data();
    const int64_t convH = d.convH, convW = d.convW, kernel = d.kernel, inH = d.inH, inW = d.inW, inC = d.inC;
    const int64_t imageRows = L.rows(1), chunk = L.errorChunk, chunks = (n + chunk - 1) / chunk;
    if (!L.wideE) gemm_s8_pack_b(L.K, L.N, L.wqT.data(), L.N, L.wTPacked);
    // The previous layer's clip mask and max|e| (quantizeError's first pass) on each image
    // right after its col2im, while it is in cache; max is exact, so the split does not matter.
    const int32_t* pv = prev.blockOut();
    const bool pRelu = prev.d.relu, pMask = !prev.last && prev.d.quantizeOutput;
    const int32_t pClip = int32_t(std::min<int64_t>(prev.clipBound(), INT32_MAX));
    std::atomic<uint32_t> eMax{0};
    const Kernels& k = *m_k;
    // With VNNI the product adds straight into the input error (col2im in its stores), one
    // chunk of images per task, so no two tasks touch the same image.
    const bool fused = !L.wideE && !L.errRowOff.empty() && gemm_isa_active() == GemmIsa::Avx512Vnni;
    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, chunks, 1),
        [&](const tbb::blocked_range<int64_t>& r) {
            tbb::this_task_arena::isolate([&] { // see forwardConvPool
                if (fused) {
                    // Padded: summed in a per-thread padded buffer, then its interior copied.
                    const int64_t pH = inH + 2 * pad, pW = inW + 2 * pad, paddedSize = pH * pW * inC;
                    int32_t* padded = nullptr;
                    if (pad > 0) {
                        std::vector<int32_t>& buf = m_chunk.local();
                        if (buf.size() < size_t(chunk * paddedSize)) buf.resize(size_t(chunk * paddedSize));
                        padded = buf.data();
                    }
                    for (int64_t c = r.begin(); c < r.end(); ++c) {
                        const int64_t b0 = c * chunk, count = std::min<int64_t>(chunk, n - b0);
                        int32_t* dst = pad > 0 ? padded : eIn + b0 * imageSize;
                        std::fill(dst, dst + count * (pad > 0 ? paddedSize : imageSize), 0);
                        gemm_s8_nt_packed_add_at(count * imageRows, L.eq.data() + b0 * imageRows * L.N, L.N,
                                                 L.wTPacked, dst, L.errRowOff.data(), L.errColOff.data());
                        if (pad > 0)
                            for (int64_t b = 0; b < count; ++b)
                                for (int64_t y = 0; y < inH; ++y)
                                    std::memcpy(eIn + (((b0 + b) * inH + y) * inW) * inC,
                                                padded + ((b * pH + y + pad) * pW + pad) * inC,
                                                size_t(inW * inC) * sizeof(int32_t));
                        uint32_t mx = 0;
                        for (int64_t o = b0 * imageSize; o < (b0 + count) * imageSize; o += imageSize)
                            mx = std::max(mx, clipMaskMax(k, pv + o, eIn + o, imageSize, pClip, pRelu, pMask));
                        uint32_t seen = eMax.load(std::memory_order_relaxed);
                        while (mx > seen && !eMax.compare_exchange_weak(seen, mx, std::memory_order_relaxed)) {
                        }
                    }
                    return;
                }
                std::vector<int32_t>& buf = m_chunk.local();
                if (buf.size() < size_t(chunk * colImage)) buf.resize(size_t(chunk * colImage));
                int32_t* ecol = buf.data();
                for (int64_t c = r.begin(); c < r.end(); ++c) {
                    const int64_t b0 = c * chunk, count = std::min<int64_t>(chunk, n - b0);
                    if (L.wideE)
                        gemm_s16_nt_packed(count * imageRows, L.eq16.data() + b0 * imageRows * L.N, L.N, L.wT16, ecol,
                                           L.K, false);
                    else
                        gemm_s8_nt_packed(count * imageRows, L.eq.data() + b0 * imageRows * L.N, L.N, L.wTPacked,
                                          ecol, L.K, false);
                    uint32_t mx = 0;
                    for (int64_t b = 0; b < count; ++b) {
                        const int64_t o = (b0 + b) * imageSize;
                        k.col2im(ecol + b * colImage, eIn + o, convH, convW, kernel, pad, inH, inW, inC);
                        mx = std::max(mx, clipMaskMax(k, pv + o, eIn + o, imageSize, pClip, pRelu, pMask));
                    }
                    uint32_t seen = eMax.load(std::memory_order_relaxed);
                    while (mx > seen && !eMax.compare_exchange_weak(seen, mx, std::memory_order_relaxed)) {
                    }
                }
            });
        },
        tbb::simple_partitioner());
    prev.eMax = eMax.load();
    prev.eMaxReady = true;
}

} // namespace bitbench::int_detail
