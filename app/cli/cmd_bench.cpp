// `bitbench-cli bench`: training and evaluation speed on synthetic data, per-layer time split, peak RSS.
#include "cli_common.h"

#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/gemm.h"

#include <tbb/task_arena.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

namespace bitbench::cli {

namespace {

struct BenchOptions {
    std::string model = "lenet5";
    std::string bits = "2-8-8-8";
    std::string method; // a method preset (e.g. float-sgd); replaces the bits pattern
    std::string experiment; // an experiment file: its model, quantizers and solver, on synthetic data
    double lrFloat = 0;     // > 0: the experiment's lr_float (a float G's SGD rate)
    int32_t threads = 0;
    int32_t steps = 30;
    int32_t warmup = 3;
    int32_t batch = 128;
    bool json = false;
};

double peakRssMb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0; // Linux reports kilobytes
}

// User + system CPU seconds of the whole process: on a shared machine, images per CPU second
// stay meaningful when wall time does not.
double cpuSeconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double loadAverage() {
    double l[1] = {0};
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

// The experiment to time: a file's (on synthetic data of its input shape, at --batch), or one
// built from --model with --bits or --method.
Experiment benchExperiment(const BenchOptions& opt) {
    if (!opt.experiment.empty()) {
        nlohmann::json j = json_file_read(opt.experiment, "experiment file");
        if (!j.is_object()) throw InputError("experiment file " + opt.experiment + ": expected a JSON object");
        j["dataset"] = "synthetic";
        j["batch"] = opt.batch;
        j.erase("data_dir");
        if (opt.lrFloat > 0) j["lr_float"] = opt.lrFloat;
        const auto slash = opt.experiment.find_last_of('/');
        return experiment_from_json(j, slash == std::string::npos ? "." : opt.experiment.substr(0, slash));
    }
    nlohmann::json j = opt.method.empty()
                           ? nlohmann::json{{"name", "bench"}, {"model", opt.model}, {"bits", opt.bits},
                                            {"batch", opt.batch}, {"dataset", "synthetic"}}
                           : nlohmann::json{{"name", "bench"}, {"model", opt.model}, {"method", opt.method},
                                            {"batch", opt.batch}, {"dataset", "synthetic"}};
    if (opt.lrFloat > 0) j["lr_float"] = opt.lrFloat;
    return experiment_from_json(j);
}

int benchRun(const BenchOptions& opt) {
    const Experiment e = benchExperiment(opt);
    const Graph& m = e.graph;
    const int32_t threads = opt.threads > 0 ? opt.threads : int32_t(std::max(1u, std::thread::hardware_concurrency()));
    tbb::task_arena arena(threads);
    const int32_t B = e.batch;
    // A few distinct batches, so evaluation and training do not see one cached image only.
    const int64_t batches = 4;
    const Dataset d = dataset_generate_synthetic(m.input.h, m.input.w, m.input.c, m.classes(), B * batches, B * batches, e.seed);
    const int64_t isz = d.imageSize();
    std::unique_ptr<Engine> engine;
    // The rule new runs follow (engine_select), so bench times what `train` would train on.
    arena.execute([&] { engine = engine_create(e, engine_select(e)); });

    using Clock = std::chrono::steady_clock;
    const double lr = e.lrAt(0);
    int64_t step = 0;
    int64_t nonFiniteSteps = 0;
    auto train = [&](int32_t count) {
        BatchResult r;
        arena.execute([&] {
            for (int32_t i = 0; i < count; ++i, ++step) {
                const int64_t b = step % batches;
                engine->trainStep(d.trainImages.data() + b * B * isz, d.trainLabels.data() + b * B, B, step, lr, r);
                // The divergence check every Trainer step makes is part of a step's cost.
                if (!std::isfinite(r.loss) || !engine->weightsNonFinite().empty()) ++nonFiniteSteps;
            }
        });
    };
    auto evaluate = [&](int32_t count) {
        BatchResult r;
        arena.execute([&] {
            for (int32_t i = 0; i < count; ++i) {
                const int64_t b = i % batches;
                engine->evaluate(d.testImages.data() + b * B * isz, d.testLabels.data() + b * B, B, r);
            }
        });
    };

    const double loadBefore = loadAverage();
    train(opt.warmup);
    evaluate(opt.warmup);
    engine->timingsReset();
    auto t0 = Clock::now();
    double c0 = cpuSeconds();
    train(opt.steps);
    const double trainSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double trainCpu = cpuSeconds() - c0;
    const auto trainTimes = engine->timings();
    const uint64_t hash = engine->weightsHash();
    engine->timingsReset();
    t0 = Clock::now();
    c0 = cpuSeconds();
    evaluate(opt.steps);
    const double evalSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double evalCpu = cpuSeconds() - c0;
    const auto evalTimes = engine->timings();

    const double images = double(opt.steps) * B;
    const double trainRate = images / trainSeconds, evalRate = images / evalSeconds;
    const double perStep = 1000.0 / opt.steps; // seconds in total -> ms per step
    const char* isa = gemm_isa_name(gemm_isa_active());

    if (opt.json) {
        nlohmann::json layers = nlohmann::json::array();
        for (size_t i = 0; i < trainTimes.size(); ++i) {
            const auto& t = trainTimes[i];
            layers.push_back({{"name", t.name},
                              {"forward_ms", t.forwardSeconds * perStep},
                              {"error_ms", t.errorSeconds * perStep},
                              {"gradient_ms", t.gradientSeconds * perStep},
                              {"quantize_ms", t.quantizeSeconds * perStep},
                              {"update_ms", t.updateSeconds * perStep},
                              {"eval_forward_ms", i < evalTimes.size() ? evalTimes[i].forwardSeconds * perStep : 0.0}});
        }
        const nlohmann::json j = {{"model", m.name},
                                  {"bits", e.bits.base.dashed()},
                                  {"engine", engine->kind()},
                                  {"isa", isa},
                                  {"threads", threads},
                                  {"batch", B},
                                  {"steps", opt.steps},
                                  {"warmup", opt.warmup},
                                  {"train_images_per_s", trainRate},
                                  {"eval_images_per_s", evalRate},
                                  {"train_images_per_cpu_s", images / trainCpu},
                                  {"eval_images_per_cpu_s", images / evalCpu},
                                  {"train_ms_per_step", trainSeconds * perStep},
                                  {"eval_ms_per_batch", evalSeconds * perStep},
                                  {"peak_rss_mb", peakRssMb()},
                                  {"load_average", loadBefore},
                                  {"weights_hash", hash_hex(hash)},
                                  {"non_finite_steps", nonFiniteSteps},
                                  {"layers", layers}};
        std::printf("%s\n", j.dump().c_str());
        return kExitOk;
    }
    std::printf("bench: model %s, bits %s, %s engine (%s), batch %d, %d threads, %d steps after %d warm-up\n",
                m.name.c_str(), e.bits.base.dashed().c_str(), engine->kind(), isa, B, threads, opt.steps, opt.warmup);
    std::printf("train  %9.0f images/s  %8.2f ms/step   %9.0f images per CPU second\n", trainRate,
                trainSeconds * perStep, images / trainCpu);
    std::printf("eval   %9.0f images/s  %8.2f ms/batch  %9.0f images per CPU second\n", evalRate, evalSeconds * perStep,
                images / evalCpu);
    std::printf("peak RSS %.1f MB, load average before %.2f, weights hash after %lld steps %s\n", peakRssMb(),
                loadBefore, (long long)(opt.warmup + opt.steps), hash_hex(hash).c_str());
    if (trainTimes.empty()) return kExitOk;
    std::printf("\nms per step  %9s %9s %9s %9s %9s %9s   %9s\n", "forward", "error", "gradient", "quantize", "update",
                "total", "eval fwd");
    double sums[7] = {};
    for (size_t i = 0; i < trainTimes.size(); ++i) {
        const auto& t = trainTimes[i];
        const double v[7] = {t.forwardSeconds, t.errorSeconds, t.gradientSeconds, t.quantizeSeconds, t.updateSeconds,
                             t.forwardSeconds + t.errorSeconds + t.gradientSeconds + t.quantizeSeconds + t.updateSeconds,
                             i < evalTimes.size() ? evalTimes[i].forwardSeconds : 0.0};
        std::printf("%-12s", t.name.c_str());
        for (int k = 0; k < 7; ++k) {
            std::printf(k == 6 ? "   %9.3f" : " %9.3f", v[k] * perStep);
            sums[k] += v[k];
        }
        std::printf("\n");
    }
    std::printf("%-12s", "all layers");
    for (int k = 0; k < 7; ++k) std::printf(k == 6 ? "   %9.3f" : " %9.3f", sums[k] * perStep);
    std::printf("\n");
    return kExitOk;
}

} // namespace

Command cli_add_bench(CLI::App& app) {
    auto opt = std::make_shared<BenchOptions>();
    auto* sub = app.add_subcommand("bench", "Measure training and evaluation speed on synthetic data of the model's input shape");
    sub->add_option("--model", opt->model, "Built-in model (lenet5, vgg7, mlp, lenet5-bn, lenet5-bnn, resnet8) or a model JSON file")->capture_default_str();
    auto* bits = sub->add_option("--bits", opt->bits, "W-A-G-E pattern (e.g. 2-8-8-8, 2888, 28ff)")->capture_default_str();
    auto* method = sub->add_option("--method", opt->method, "Method preset instead of --bits (wage, float-sgd, banner8, banner8-sim, bc, bnn, "
                                             "twn, ttq, dorefa, terngrad): op-graph models such as lenet5-bn and resnet8 "
                                             "train with float-sgd")
        ->excludes(bits);
    sub->add_option("--experiment", opt->experiment,
                    "An experiment file to time (its model, quantizers and solver) on synthetic data at --batch")
        ->excludes(bits)
        ->excludes(method);
    sub->add_option("--lr-float", opt->lrFloat,
                    "SGD rate of a float G (the experiment's lr_float; the default 0.01 makes LeNet-5 ffff "
                    "diverge within a few steps, so its timing would measure NaN arithmetic)")
        ->check(CLI::PositiveNumber);
    sub->add_option("--threads", opt->threads, "Worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
    sub->add_option("--steps", opt->steps, "Timed training steps (and evaluation batches)")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    sub->add_option("--warmup", opt->warmup, "Untimed steps before timing")->check(CLI::Range(0, 1000))->capture_default_str();
    sub->add_option("--batch", opt->batch, "Batch size")->check(CLI::Range(1, 65536))->capture_default_str();
    sub->add_flag("--json", opt->json, "Print one JSON object instead of the table");
    return {sub, [opt] { return benchRun(*opt); }};
}

} // namespace bitbench::cli
