// Training driver: experiment overrides, dataset lookup, progress bar, epoch lines, summary.
#include "train_session.h"

#include "cli_common.h"
#include "bitbench/run_recording.h"

#include "bitbench/error.h"
#include "bitbench/paths.h"
#include "bitbench/quant.h"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <filesystem>
#include <chrono>
#include <csignal>
#include <cstdio>

namespace bitbench::cli {

namespace {

std::atomic<Trainer*> g_trainer{nullptr};
std::atomic<bool> g_interrupted{false};

extern "C" void onSignal(int) {
    g_interrupted.store(true);
    if (Trainer* t = g_trainer.load()) t->requestStop();
}

// A plan's quantizer as people read it: its label (Quantizer::label) when the text is JSON.
std::string quantizerLabel(const std::string& text) {
    if (text.empty() || text[0] != '{') return text;
    try {
        return quantizer_parse(nlohmann::json::parse(text), "plan").label();
    } catch (const std::exception&) {
        return text;
    }
}

std::string clock(double seconds) {
    if (!(seconds >= 0) || seconds > 1e7) return "--:--";
    const auto s = int64_t(seconds);
    char b[32];
    if (s >= 3600) std::snprintf(b, sizeof b, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60));
    else std::snprintf(b, sizeof b, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
    return b;
}

// Progress on stderr: a redrawn bar on a terminal, nothing between epochs otherwise.
class Progress : public TrainObserver {
public:
    Progress(const Trainer& t, bool tty, std::FILE* epochOut) : m_t(t), m_tty(tty), m_epochOut(epochOut) {}

    void onStep(const StepMetrics& s) override {
        m_rate = s.imagesPerSecond;
        if (!m_tty) return;
        const auto now = std::chrono::steady_clock::now();
        if (now - m_last < std::chrono::milliseconds(200)) return;
        m_last = now;
        const int64_t total = m_t.totalSteps();
        const double frac = double(s.step + 1) / double(total);
        const int width = 28;
        const int fill = int(frac * width);
        std::string bar(size_t(fill), '=');
        if (fill < width) bar += '>';
        bar.resize(size_t(width), ' ');
        const double eta = m_rate > 0 ? double(total - s.step - 1) * m_t.experiment().batch / m_rate : -1;
        std::fprintf(stderr, "\r[%s] step %lld/%lld  epoch %d/%d  loss %.3f  %.0f img/s  ETA %s ", bar.c_str(),
                     (long long)(s.step + 1), (long long)total, s.epoch + 1, m_t.experiment().epochs, s.loss, m_rate,
                     clock(eta).c_str());
        m_dirty = true;
    }

    // Erases a half-drawn bar so the next line on stderr starts clean.
    void clearBar() {
        if (m_dirty) std::fprintf(stderr, "\r\033[K");
        m_dirty = false;
    }

    void onEpoch(const EpochMetrics& e) override {
        clearBar();
        std::fprintf(m_epochOut,
                     "epoch %4d  train loss %9.4f  train error %6.2f %%  test error %6.2f %%  %6.1f s  %8.0f img/s  "
                     "weights %s\n",
                     e.epoch + 1, e.trainLoss, 100 * e.trainError, 100 * e.testError, e.seconds, e.imagesPerSecond,
                     hash_hex(e.weightsHash).c_str());
        std::fflush(m_epochOut);
    }

private:
    const Trainer& m_t;
    bool m_tty;
    std::FILE* m_epochOut;
    double m_rate = 0;
    bool m_dirty = false;
    std::chrono::steady_clock::time_point m_last{};
};

} // namespace

void train_install_signals(Trainer* t) {
    g_trainer.store(t);
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
}

bool train_interrupted() { return g_interrupted.load(); }

void add_train_options(CLI::App* sub, TrainOptions& opt) {
    sub->add_option("--bits", opt.bits, "W-A-G-E pattern overriding the experiment's (e.g. 2-8-8-8, 28f8)");
    sub->add_option("--epochs", opt.epochs, "Number of epochs (overrides the experiment)")->check(CLI::Range(1, 100000));
    sub->add_option("--seed", opt.seed, "Random seed 0..9223372036854775807 (overrides the experiment)");
    sub->add_option("--threads", opt.threads, "Worker threads (0 = all cores; results do not depend on it)")
        ->check(CLI::Range(0, 1024));
    sub->add_option("--data-dir", opt.dataDir, "Folder holding the dataset files (e.g. the four MNIST IDX files)");
    sub->add_option("--train-limit", opt.trainLimit, "Use only the first N training images")->check(CLI::Range(int64_t(1), int64_t(1) << 40));
    sub->add_option("--test-limit", opt.testLimit, "Evaluate on only the first N test images")->check(CLI::Range(int64_t(1), int64_t(1) << 40));
    sub->add_flag("--json", opt.json, "Print one JSON object with the results as the last stdout line");
    sub->add_flag("--quiet", opt.quiet, "No progress bar");
    sub->add_option("--db", opt.db, "Run database (default: runs.db in the data directory)");
    sub->add_flag("--no-store", opt.noStore, "Do not record the run in the database");
    add_keep_checkpoints_option(sub, opt.keepCheckpoints);
}

namespace {
// The number of checkpoints `text` asks for (0 = all), or -1 with `why` set.
int32_t keepParse(const std::string& text, std::string& why) {
    if (text == "all") return 0;
    int32_t n = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || n < 1) {
        why = "'" + text + "' is not a number of checkpoints (expected a positive integer or 'all')";
        return -1;
    }
    return n;
}
} // namespace

void add_keep_checkpoints_option(CLI::App* sub, std::string& text) {
    sub->add_option("--keep-checkpoints", text,
                    "Checkpoints kept besides the best epoch's: the newest N, or all (default 1)")
        ->type_name("N|all")
        ->check(CLI::Validator(
            [](std::string& v) {
                std::string why;
                keepParse(v, why);
                return why;
            },
            "N|all"));
}

int32_t keep_checkpoints_of(const std::string& text) {
    if (text.empty()) return kKeepCheckpointsDefault;
    std::string why;
    const int32_t n = keepParse(text, why);
    if (n < 0) throw InputError("--keep-checkpoints: " + why);
    return n;
}

Experiment train_experiment(const TrainOptions& opt) {
    Experiment e = experiment_load(paths_find_experiment(opt.experimentPath));
    if (!opt.bits.empty()) {
        if (e.quantGiven)
            throw InputError("--bits: experiment '" + e.name + "' gives quantizer families (\"quant\"); --bits "
                             "overrides the WAGE shorthand \"bits\" only");
        e.bits.base = quant_spec_parse(opt.bits);
    }
    if (opt.epochs > 0) e.epochs = opt.epochs;
    if (opt.seed) e.seed = seed_parse(*opt.seed, "--seed");
    if (opt.trainLimit > 0) e.trainLimit = opt.trainLimit;
    if (opt.testLimit > 0) e.testLimit = opt.testLimit;
    // A later schedule step beyond the epochs is harmless; validation re-checks the rates.
    experiment_validate(e);
    return e;
}

void train_print_layers(std::FILE* out, const Trainer& t) {
    const auto& e = t.experiment();
    std::fprintf(out, "%s: model %s (%lld parameters), bits %s, %s engine, batch %d, %lld steps/epoch\n", e.name.c_str(),
                 e.model.name.c_str(), (long long)e.graph.parameterCount(), e.bits.base.dashed().c_str(),
                 t.engine().kind(), e.batch, (long long)t.stepsPerEpoch());
    for (const auto& l : t.engine().layers()) {
        std::fprintf(out, "  %-8s bits %-10s fan-in %6lld  weights %8lld  alpha %3d  max |int32 sum| %lld\n",
                     l.name.c_str(), l.bits.dashed().c_str(), (long long)l.fanIn, (long long)l.weights, l.alpha,
                     (long long)l.accumulatorBound);
        // The engine plan: per class its quantizer, integer or float, and why.
        for (size_t c = 0; c < 4; ++c)
            if (!l.plan[c].quantizer.empty())
                std::fprintf(out, "      %s %-9s %-7s %s\n", kTensorClassNames[c], quantizerLabel(l.plan[c].quantizer).c_str(),
                             l.plan[c].integer ? "integer" : "float", l.plan[c].why.c_str());
    }
}

nlohmann::json train_summary(const Trainer& t) {
    const auto& e = t.experiment();
    nlohmann::json epochs = nlohmann::json::array();
    double best = 1, final = 1, seconds = 0;
    int32_t bestEpoch = 0;
    int64_t images = 0;
    for (const auto& h : t.history()) {
        epochs.push_back({{"epoch", h.epoch + 1},
                          {"step", h.step},
                          {"train_loss", h.trainLoss},
                          {"train_error", h.trainError},
                          {"test_loss", h.testLoss},
                          {"test_error", h.testError},
                          {"weights_hash", hash_hex(h.weightsHash)},
                          {"seconds", h.seconds},
                          {"images_per_s", h.imagesPerSecond}});
        if (h.testError < best) {
            best = h.testError;
            bestEpoch = h.epoch + 1;
        }
        final = h.testError;
        seconds += h.seconds;
        images += t.stepsPerEpoch() * e.batch;
    }
    nlohmann::json s = {{"experiment", e.name},
            {"config_hash", e.configHash()},
            {"model", e.model.name},
            {"bits", e.bits.base.dashed()},
            {"engine", t.engine().kind()},
            {"seed", e.seed},
            {"epochs", int64_t(t.history().size())},
            {"final_test_error", t.history().empty() ? nlohmann::json(nullptr) : nlohmann::json(final)},
            {"best_test_error", t.history().empty() ? nlohmann::json(nullptr) : nlohmann::json(best)},
            {"best_epoch", bestEpoch},
            {"train_images_per_s", seconds > 0 ? double(images) / seconds : 0.0},
            {"train_seconds", seconds},
            {"weights_hash", t.history().empty() ? std::string() : hash_hex(t.history().back().weightsHash)},
            {"per_epoch", epochs}};
    if (t.diverged())
        s["diverged"] = {{"step", t.divergence().step},
                         {"epoch", t.divergence().epoch + 1},
                         {"message", t.divergence().message}};
    return s;
}

std::string train_db_path(const std::string& db) {
    if (!db.empty()) return db;
    // The default database lives in the data directory, which a new user may not have yet.
    std::error_code ec;
    std::filesystem::create_directories(paths_data_dir(), ec);
    return paths_default_db();
}

int train_drive(Trainer& t, const TrainOptions& opt, RunWriter* writer) {
    std::FILE* info = opt.json ? stderr : stdout;
    Progress progress(t, !opt.quiet && isatty(STDERR_FILENO), info);
    t.addObserver(&progress);
    if (writer) t.addObserver(writer);
    train_install_signals(&t);
    run_recording(t, writer, [&] { return train_summary(t); });
    train_install_signals(nullptr);
    progress.clearBar();
    nlohmann::json s = train_summary(t);
    if (writer) s["run_id"] = writer->runId();
    if (opt.json) std::printf("%s\n", s.dump().c_str());
    else if (!t.history().empty())
        std::printf("final test error %.2f %%, best %.2f %% (epoch %d), %.0f training images/s%s\n",
                    100 * s["final_test_error"].get<double>(), 100 * s["best_test_error"].get<double>(),
                    s["best_epoch"].get<int>(), s["train_images_per_s"].get<double>(),
                    writer ? (", run " + std::to_string(writer->runId())).c_str() : "");
    if (t.diverged()) {
        std::fprintf(
            stderr, "bitbench-cli: %s%s\n",
            writer ? ("run " + std::to_string(writer->runId()) + " stored as diverged: ").c_str()
                   : "",
            t.divergence().message.c_str());
        return kExitDiverged;
    }
    if (train_interrupted()) {
        std::fprintf(stderr, "bitbench-cli: interrupted after step %lld%s\n", (long long)t.globalStep(),
                     writer ? ("; continue with: bitbench-cli resume " + std::to_string(writer->runId())).c_str() : "");
        return kExitInterrupted;
    }
    return kExitOk;
}

int train_run(const TrainOptions& opt) {
    const Experiment e = train_experiment(opt);
    const Dataset data = dataset_for_experiment(e, opt.dataDir);
    Trainer t(e, data, opt.threads, engine_select(e));
    train_print_layers(opt.json ? stderr : stdout, t);
    if (opt.noStore) return train_drive(t, opt, nullptr);
    const std::string dbPath = train_db_path(opt.db);
    int64_t runId = 0;
    {
        RunStore store = RunStore::open(dbPath);
        if (store.readOnly())
            throw StoreError("cannot record the run in '" + dbPath + "': " + store.readOnlyReason() +
                             " (use --db FILE elsewhere or --no-store)");
        RunInfo info = run_info_of(e, data, store);
        info.executor = t.engine().kind(); // what trains it, so resume and replay use the same
        runId = store.runCreate(info, keep_checkpoints_of(opt.keepCheckpoints));
    }
    RunWriter writer(dbPath, runId);
    std::fprintf(opt.json ? stderr : stdout, "recording as run %lld in %s\n", (long long)runId, dbPath.c_str());
    return train_drive(t, opt, &writer);
}

} // namespace bitbench::cli
