// Integer engine, forward: input codes, im2col, conv/fc products, pooling, relu and Q_A, scoring.
#include "engine/int/engine_int_impl.h"

#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bitbench::int_detail {

void IntEngine::forward(const uint8_t* images, int32_t n, bool train) {
    Stopwatch sw; // the input codes count as the first layer's forward time
    const auto& m = m_e.model;
    const int64_t pixels = int64_t(n) * m.inH * m.inW * m.inC;
    for (int64_t i = 0; i < pixels; ++i) m_input[size_t(i)] = int8_t(m_inputCodes[images[i]]);
    const int8_t* in = m_input.data();
    for (auto& L : m_layers) {
        forwardLayer(L, in, n, train);
        L.time.forwardSeconds += sw.lap();
        in = L.out.data();
    }
}

void IntEngine::im2col(IntLayer& L, const int8_t* in, int32_t n) {
    parallelRange(int64_t(n) * L.d.convH, 4, [&](int64_t lo, int64_t hi) { im2colRows(L, in, lo, hi); });
}

// Rows [lo, hi) of (image, product row) of the im2col matrix.
void IntEngine::im2colRows(IntLayer& L, const int8_t* in, int64_t lo, int64_t hi) {
    const auto& d = L.d;
    const int32_t pad = d.same ? d.kernel / 2 : 0;
    const int64_t rowBytes = int64_t(d.kernel) * d.inC;
    {
        for (int64_t by = lo; by < hi; ++by) {
            const int64_t b = by / d.convH, oy = by % d.convH;
            for (int64_t ox = 0; ox < d.convW; ++ox) {
                int8_t* dst = L.col.data() + ((b * d.convH + oy) * d.convW + ox) * L.K;
                for (int32_t ky = 0; ky < d.kernel; ++ky) {
                    const int64_t y = oy + ky - pad;
                    int8_t* row = dst + ky * rowBytes;
                    if (y < 0 || y >= d.inH) {
                        std::memset(row, 0, size_t(rowBytes));
                        continue;
                    }
                    const int64_t x0 = ox - pad;
                    if (x0 >= 0 && x0 + d.kernel <= d.inW) {
                        const int8_t* src = in + ((b * d.inH + y) * d.inW + x0) * d.inC;
                        // conv1 rows are 5 bytes: a call to memcpy per row costs more than the copy.
                        if (rowBytes <= 16) for (int64_t k = 0; k < rowBytes; ++k) row[k] = src[k];
                        else std::memcpy(row, src, size_t(rowBytes));
                    } else {
                        for (int32_t kx = 0; kx < d.kernel; ++kx) {
                            const int64_t x = x0 + kx;
                            if (x < 0 || x >= d.inW) std::memset(row + kx * d.inC, 0, size_t(d.inC));
                            else std::memcpy(row + kx * d.inC, in + ((b * d.inH + y) * d.inW + x) * d.inC, size_t(d.inC));
                        }
                    }
                }
            }
        }
    }
}

void IntEngine::forwardLayer(IntLayer& L, const int8_t* in, int32_t n, bool train) {
    const auto& d = L.d;
    if (d.type == LayerType::Conv && d.pool) return forwardConvPool(L, in, n, train);
    const int64_t rows = L.rows(n);
    const int8_t* a = in;
    if (d.type == LayerType::Conv) {
        im2col(L, in, n);
        a = L.col.data();
    }
    gemm_s8_nt(rows, L.N, L.K, a, L.K, L.wq.data(), L.K, L.acc.data(), L.N, false, L.inputNonNegative);
    if (d.pool) {
        poolQuantize(L, n);
        return;
    }
    if (!L.d.quantizeOutput) return;
    const Requant qa(L.outShift, fx_max_code(L.b.a()));
    const int32_t* v = L.acc.data();
    int8_t* out = L.out.data();
    const bool relu = d.relu;
    const auto reluQuantize = m_k->reluQuantize;
    parallelRange(L.outRows(n) * L.N, 16384,
                  [=](int64_t lo, int64_t hi) { reluQuantize(v + lo, out + lo, hi - lo, qa, relu); });
}

// Conv + max-pool + relu + Q_A in chunks of images: im2col, product and pooling of a chunk
// run on one thread while its int32 product is in L2 (conv1 would otherwise write and read
// back 9 MB a step). Training keeps the im2col rows (for the weight gradient), the pooled
// values and the argmax (for the backward masks and routing); evaluation only the codes.
void IntEngine::forwardConvPool(IntLayer& L, const int8_t* in, int32_t n, bool train) {
    const auto& d = L.d;
    const int64_t N = L.N, K = L.K, imageRows = L.rows(1);
    const int64_t chunk = L.forwardChunk, chunks = (n + chunk - 1) / chunk;
    const Requant qa(L.outShift, fx_max_code(L.b.a()));
    const bool relu = d.relu, nonNeg = L.inputNonNegative;
    const int64_t outH = d.outH, outW = d.outW, convH = d.convH, convW = d.convW;
    const bool direct = directActive(L);
    const Kernels& k = *m_k;
    if (direct) packDirectWeights(L);
    else gemm_s8_pack_b(N, K, L.wq.data(), K, L.wPacked);
    tbb::parallel_for(
        tbb::blocked_range<int64_t>(0, chunks, 1),
        [&](const tbb::blocked_range<int64_t>& r) {
            // Isolated: a thread waiting inside the product's own parallel loop must not start
            // another chunk on this thread's buffer.
            tbb::this_task_arena::isolate([&] {
                std::vector<int32_t>& buf = m_chunk.local();
                // Direct layers also keep a quad of the image (int8) after their two rows.
                const size_t need = std::max<size_t>(size_t(chunk * imageRows * N),
                                                     size_t(2 * convW * N + (d.inH * d.inW * 4 + 64) / 4));
                if (buf.size() < need) buf.resize(need);
                int32_t* acc = buf.data();
                for (int64_t c = r.begin(); c < r.end(); ++c) {
                    const int64_t b0 = c * chunk, count = std::min<int64_t>(chunk, n - b0);
                    if (direct) {
                        // After the two product rows: this image's quad (see buildQuad).
                        auto* quad = reinterpret_cast<int8_t*>(acc + 2 * convW * N);
                        for (int64_t by = b0 * outH; by < (b0 + count) * outH; ++by) {
                            const int64_t b = by / outH, py = by % outH;
                            const int64_t o = by * outW * N;
                            if (py == 0) k.buildQuad(in + b * d.inH * d.inW, d.inW, convH, quad);
                            const int8_t* x = in + (b * d.inH + 2 * py) * d.inW;
                            const int8_t* q = quad + 2 * py * d.inW * 4;
                            k.convRowOneChannel(x, q, d.inW, convW, N, L.wDirect.data(), acc);
                            k.convRowOneChannel(x + d.inW, q + d.inW * 4, d.inW, convW, N, L.wDirect.data(),
                                                acc + convW * N);
                            if (train)
                                k.poolRow(acc, acc + convW * N, outW, N, L.pooled.data() + o, L.argmax.data() + o,
                                          L.out.data() + o, qa, relu);
                            else
                                k.poolRowCodes(acc, acc + convW * N, outW, N, L.out.data() + o, qa, relu);
                        }
                        continue;
                    }
                    im2colRows(L, in, b0 * convH, (b0 + count) * convH);
                    gemm_s8_nt_packed(count * imageRows, L.col.data() + b0 * imageRows * K, K, L.wPacked, acc, N,
                                      false, nonNeg);
                    for (int64_t by = b0 * outH; by < (b0 + count) * outH; ++by) {
                        const int64_t b = by / outH, py = by % outH;
                        const int64_t o = by * outW * N;
                        const int32_t* r0 = acc + ((b - b0) * convH + 2 * py) * convW * N;
                        if (train)
                            k.poolRow(r0, r0 + convW * N, outW, N, L.pooled.data() + o, L.argmax.data() + o,
                                      L.out.data() + o, qa, relu);
                        else
                            k.poolRowCodes(r0, r0 + convW * N, outW, N, L.out.data() + o, qa, relu);
                    }
                }
            });
        },
        tbb::simple_partitioner());
}

// The weights in the direct kernel's 7 tap groups (see Kernels::convRowOneChannel).
void IntEngine::packDirectWeights(IntLayer& L) {
    const int64_t N = L.N, k = L.d.kernel; // 5 (see L.direct)
    auto w = [&](int64_t c, int64_t ky, int64_t kx) { return L.wq[size_t(c * L.K + ky * k + kx)]; };
    for (int64_t g = 0; g < wage_kernels::kDirectGroups; ++g)
        for (int64_t c = 0; c < N; ++c)
            for (int64_t j = 0; j < 4; ++j) {
                int8_t v = 0;
                if (g < 5) v = w(c, g, j);      // row g, columns 0-3
                else if (g == 5) v = w(c, j, 4); // column 4, rows 0-3
                else if (j == 0) v = w(c, 4, 4); // the last tap
                L.wDirect[size_t((g * N + c) * 4 + j)] = v;
            }
}

// Max-pool 2x2/2 with the first index of the maximum (numpy's argmax), then relu and Q_A, in
// one pass over the product: the pooled values are read once, while in cache.
void IntEngine::poolQuantize(IntLayer& L, int32_t n) {
    const auto& d = L.d;
    const int64_t N = L.N;
    const Requant qa(L.outShift, fx_max_code(L.b.a()));
    const bool relu = d.relu; // codes are written even without Q_A: nothing reads them then
    const int32_t* acc = L.acc.data();
    int32_t* pooled = L.pooled.data();
    uint8_t* argmax = L.argmax.data();
    int8_t* out = L.out.data();
    const int64_t outH = d.outH, outW = d.outW, convH = d.convH, convW = d.convW;
    const auto poolRow = m_k->poolRow;
    parallelRange(int64_t(n) * outH, 2, [=](int64_t lo, int64_t hi) {
        for (int64_t by = lo; by < hi; ++by) {
            const int64_t b = by / outH, py = by % outH;
            const int64_t o = by * outW * N;
            const int32_t* r0 = acc + (b * convH + 2 * py) * convW * N;
            poolRow(r0, r0 + convW * N, outW, N, pooled + o, argmax + o, out + o, qa, relu);
        }
    });
}

// Logits minus one-hot at the logits' integer scale (kept in eIn when writeError), loss and errors.
void IntEngine::score(const uint8_t* labels, int32_t n, BatchResult& out, bool writeError) {
    IntLayer& L = m_layers.back();
    const int64_t C = L.N;
    const bool q = L.d.quantizeOutput;
    const int32_t exp = q ? 1 - L.b.a() : L.accExp;
    const int64_t one = int64_t(1) << -exp;
    const double unit = std::ldexp(1.0, exp);
    out = {};
    for (int32_t s = 0; s < n; ++s) {
        int32_t pred;
        if (q) pred = wage_argmax(L.out.data() + s * C, int32_t(C));
        else pred = wage_argmax(L.acc.data() + s * C, int32_t(C));
        if (pred != labels[s]) ++out.errors;
        for (int64_t c = 0; c < C; ++c) {
            const int64_t logit = q ? L.out[size_t(s * C + c)] : L.acc[size_t(s * C + c)];
            const int64_t e = logit - (c == labels[s] ? one : 0);
            out.loss += 0.5 * double(e) * double(e) * unit * unit;
            if (writeError) L.eIn[size_t(s * C + c)] = int32_t(e);
        }
    }
}

} // namespace bitbench::int_detail
