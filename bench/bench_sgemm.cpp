// Throughput of the float32 products on the LeNet-5 batch-128 training shapes: Eigen on fixed row
// blocks (gemm_f32_*, the float engine's) against the exact-chain kernels (sgemm_*) per ISA.
#include "bitbench/gemm.h"
#include "kernels/gemm_float.h"
#include "kernels/sgemm.h"

#include <tbb/global_control.h>

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

using namespace bitbench;

namespace {

enum class Form { Nt, Tn, Nn };

struct Case {
    const char* name;
    Form form;
    int64_t m, n, k; // C is m x n, k steps per element
};

// Forward nt (rows x outC x K), weight gradient tn (outC x K x rows), input gradient nn
// (rows x K x outC).
const Case kCases[] = {
    {"conv1_fwd", Form::Nt, 73728, 32, 25},    {"conv2_fwd", Form::Nt, 8192, 64, 800},
    {"fc1_fwd", Form::Nt, 128, 512, 1024},     {"fc2_fwd", Form::Nt, 128, 10, 512},
    {"conv1_wgrad", Form::Tn, 32, 25, 73728},  {"conv2_wgrad", Form::Tn, 64, 800, 8192},
    {"fc1_wgrad", Form::Tn, 512, 1024, 128},   {"fc2_wgrad", Form::Tn, 10, 512, 128},
    {"conv2_err", Form::Nn, 8192, 800, 64},    {"fc1_err", Form::Nn, 128, 1024, 512},
    {"fc2_err", Form::Nn, 128, 512, 10},
};

std::vector<float> randomValues(int64_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(count));
    for (auto& x : v) x = dist(rng);
    return v;
}

void run(benchmark::State& state, Case c, bool eigen, GemmIsa isa, int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, size_t(threads));
    gemm_isa_force(isa);
    const auto a = randomValues(c.m * c.k, 1);
    const auto b = randomValues(c.n * c.k, 2);
    std::vector<float> out(size_t(c.m * c.n));
    for (auto _ : state) {
        switch (c.form) {
        case Form::Nt:
            (eigen ? gemm_f32_nt : sgemm_nt)(c.m, c.n, c.k, a.data(), b.data(), out.data());
            break;
        case Form::Tn:
            (eigen ? gemm_f32_tn : sgemm_tn)(c.m, c.n, c.k, a.data(), b.data(), out.data());
            break;
        case Form::Nn:
            (eigen ? gemm_f32_nn : sgemm_nn)(c.m, c.n, c.k, a.data(), b.data(), out.data());
            break;
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["Gflop/s"] = benchmark::Counter(2.0 * double(c.m * c.n * c.k) * double(state.iterations()) / 1e9,
                                                   benchmark::Counter::kIsRate);
}

} // namespace

int main(int argc, char** argv) {
    for (const Case& c : kCases)
        for (int threads : {1, 2}) {
            const std::string suffix = "/threads:" + std::to_string(threads);
            benchmark::RegisterBenchmark((std::string(c.name) + "/eigen" + suffix).c_str(), run, c, true,
                                         gemm_isa_detected(), threads)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
            // The reference (plain loops with a libm fma call per step) is left out: seconds per call.
            for (GemmIsa isa : {GemmIsa::Avx2, GemmIsa::Avx512Vnni}) {
                if (int(isa) > int(gemm_isa_detected())) continue;
                const std::string name = std::string(c.name) + "/sgemm-" + gemm_isa_name(isa) + suffix;
                benchmark::RegisterBenchmark(name.c_str(), run, c, false, isa, threads)
                    ->Unit(benchmark::kMicrosecond)
                    ->UseRealTime();
            }
        }
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
