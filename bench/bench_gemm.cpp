// Throughput of the int8 GEMMs on the LeNet-5 batch-128 training shapes, per ISA and thread count.
#include "bitbench/gemm.h"

#include <tbb/global_control.h>

#include <benchmark/benchmark.h>

#if BITBENCH_BENCH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>
#endif

#include <random>
#include <string>
#include <vector>

using namespace bitbench;

namespace {

struct Case {
    const char* name;
    bool tn;
    int64_t m, n, k;
    bool nonNegative; // the activation operand of forward products and weight gradients
};

// nt: C[M,N] = A[M,K] B[N,K]^T; tn: C[M,N] = A[R,M]^T B[R,N] with k = R.
const Case kCases[] = {
    {"conv1_fwd", false, 73728, 32, 25, true},  {"conv2_fwd", false, 8192, 64, 800, true},
    {"fc1_fwd", false, 128, 512, 1024, true},   {"fc2_fwd", false, 128, 10, 512, true},
    {"conv2_err", false, 8192, 800, 64, false}, {"fc1_err", false, 128, 1024, 512, false},
    {"fc2_err", false, 128, 512, 10, false},    {"conv1_wgrad", true, 32, 25, 73728, true},
    {"conv2_wgrad", true, 64, 800, 8192, true}, {"fc1_wgrad", true, 512, 1024, 128, true},
    {"fc2_wgrad", true, 10, 512, 128, true},
};

std::vector<int8_t> randomCodes(int64_t count, bool nonNegative, uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> dist(nonNegative ? 0 : -127, 127);
    std::vector<int8_t> v(static_cast<size_t>(count));
    for (auto& x : v) x = int8_t(dist(rng));
    return v;
}

void setOps(benchmark::State& state, const Case& c) {
    state.counters["Gops/s"] = benchmark::Counter(2.0 * double(c.m * c.n * c.k) * double(state.iterations()) / 1e9,
                                                  benchmark::Counter::kIsRate);
}

void runOurs(benchmark::State& state, Case c, GemmIsa isa, int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
    gemm_isa_force(isa);
    // nt: A holds activations (or errors), B weights; tn: A errors, B activations.
    const auto a = randomCodes(c.m * c.k, !c.tn && c.nonNegative, 1);
    const auto b = randomCodes(c.n * c.k, c.tn && c.nonNegative, 2);
    std::vector<int32_t> out(size_t(c.m * c.n));
    for (auto _ : state) {
        if (c.tn)
            gemm_s8_tn(c.m, c.n, c.k, a.data(), c.m, b.data(), c.n, out.data(), c.n, false, c.nonNegative);
        else
            gemm_s8_nt(c.m, c.n, c.k, a.data(), c.k, b.data(), c.k, out.data(), c.n, false, c.nonNegative);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    setOps(state, c);
}

#if BITBENCH_BENCH_DNNL
// oneDNN matmul u8 x s8 -> s32 on the same memory layouts, the u8 operand being the activation
// one (for the signed error products the codes are made non-negative: oneDNN's s8 x s8 is not
// exact without VNNI, and this only compares speed). This oneDNN runs on OpenMP threads.
void runDnnl(benchmark::State& state, Case c, int threads) {
    omp_set_num_threads(threads);
    using namespace dnnl;
    using dt = memory::data_type;
    engine eng(engine::kind::cpu, 0);
    stream strm(eng);
    const auto a = randomCodes(c.m * c.k, !c.tn, 1);
    const auto b = randomCodes(c.n * c.k, c.tn, 2);
    std::vector<int32_t> out(size_t(c.m * c.n));
    // nt: src A (M x K row-major, u8), weights B^T (K x N, B being N x K row-major).
    // tn: the u8 operand must be src, so compute C^T = B^T A: src B^T (N x R, B being R x N),
    // weights A (R x M row-major), dst C^T (N x M, C being M x N row-major).
    const matmul::desc desc = c.tn
        ? matmul::desc(memory::desc({c.n, c.k}, dt::u8, memory::dims{1, c.n}),
                       memory::desc({c.k, c.m}, dt::s8, memory::dims{c.m, 1}),
                       memory::desc({c.n, c.m}, dt::s32, memory::dims{1, c.n}))
        : matmul::desc(memory::desc({c.m, c.k}, dt::u8, memory::dims{c.k, 1}),
                       memory::desc({c.k, c.n}, dt::s8, memory::dims{1, c.k}),
                       memory::desc({c.m, c.n}, dt::s32, memory::dims{c.n, 1}));
    const matmul::primitive_desc pd(desc, eng);
    matmul prim(pd);
    memory src(pd.src_desc(), eng, const_cast<int8_t*>(c.tn ? b.data() : a.data()));
    memory wei(pd.weights_desc(), eng, const_cast<int8_t*>(c.tn ? a.data() : b.data()));
    memory dst(pd.dst_desc(), eng, out.data());
    for (auto _ : state) {
        prim.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
        strm.wait();
        benchmark::ClobberMemory();
    }
    state.SetLabel(pd.impl_info_str());
    setOps(state, c);
}
#endif

} // namespace

int main(int argc, char** argv) {
    for (const Case& c : kCases)
        for (GemmIsa isa : {GemmIsa::Reference, GemmIsa::Avx2, GemmIsa::Avx512Vnni}) {
            if (int(isa) > int(gemm_isa_detected())) continue;
            for (int threads : {1, 2}) {
                const std::string name = std::string(c.name) + "/" + gemm_isa_name(isa) + "/threads:" + std::to_string(threads);
                auto* b = benchmark::RegisterBenchmark(name.c_str(), runOurs, c, isa, threads);
                b->Unit(benchmark::kMicrosecond)->UseRealTime();
                if (isa == GemmIsa::Reference) b->Iterations(2); // plain loops: seconds per call
            }
        }
#if BITBENCH_BENCH_DNNL
    for (const Case& c : kCases)
        for (int threads : {1, 2}) {
            const std::string name = std::string(c.name) + "/onednn/threads:" + std::to_string(threads);
            benchmark::RegisterBenchmark(name.c_str(), runDnnl, c, threads)->Unit(benchmark::kMicrosecond)->UseRealTime();
        }
#endif
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
