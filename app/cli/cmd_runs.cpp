// `bitbench-cli runs [list|show RUN] [--db FILE] [--json]`: lists stored runs or shows one.
#include "cli_common.h"

#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/paths.h"
#include "bitbench/store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

namespace bitbench::cli {

namespace {

struct RunsOptions {
    std::string db;
    bool json = false;
    std::string run;
};

nlohmann::json numberOrNull(double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

// Stored JSON is shown as JSON; anything unparsable is shown as the text it is.
nlohmann::json embedded(const std::string& text) {
    if (text.empty()) return nullptr;
    auto j = nlohmann::json::parse(text, nullptr, false);
    return j.is_discarded() ? nlohmann::json(text) : j;
}

double finalTestError(RunStore& store, int64_t id) {
    double last = NAN;
    for (const EpochMetrics& e : store.epochsGet(id))
        if (std::isfinite(e.testError)) last = e.testError;
    return last;
}

nlohmann::json runJson(RunStore& store, const RunRecord& r) {
    return {{"id", r.id},
            {"name", r.info.name},
            {"status", run_status_name(r.status)},
            {"bits", r.info.bitsPattern},
            {"model", r.info.model},
            {"dataset", r.info.dataset},
            {"seed", r.info.seed},
            {"config_hash", r.info.configHash},
            {"epochs", r.epochs},
            {"steps", r.steps},
            {"checkpoints", r.checkpoints},
            {"keep_checkpoints", r.keepCheckpoints}, // 0 = every one
            {"status_message", r.statusMessage.empty() ? nlohmann::json() : nlohmann::json(r.statusMessage)},
            {"final_test_error", numberOrNull(finalTestError(store, r.id))},
            {"started_at", r.startedAt},
            {"ended_at", r.endedAt.empty() ? nlohmann::json() : nlohmann::json(r.endedAt)},
            {"program_version", r.info.programVersion},
            {"host", r.info.host},
            // The engine that trained the run; null for runs stored before it was recorded.
            {"executor", r.info.executor.empty() ? nlohmann::json() : nlohmann::json(r.info.executor)},
            // Where and why a run diverged: the global step from 0 (as in the metrics), the text.
            {"status_step", r.statusStep >= 0 ? nlohmann::json(r.statusStep) : nlohmann::json()}};
}

// The dataset kind the run's experiment names ("mnist", "idx", "cifar10", "synthetic").
std::string datasetKind(const RunRecord& r) {
    const nlohmann::json c = embedded(r.info.resolvedConfigJson);
    if (c.is_object() && c.contains("dataset") && c["dataset"].is_object() &&
        c["dataset"].contains("kind") && c["dataset"]["kind"].is_string())
        return c["dataset"]["kind"].get<std::string>();
    return r.info.dataset;
}

// Where the run's data came from, in words: the folder and how many files are fingerprinted.
std::string dataText(const RunRecord& r) {
    if (r.info.dataFingerprint.empty())
        return (r.info.dataDir.empty() ? std::string("not recorded") : r.info.dataDir) +
               " (stored without a data fingerprint)";
    const nlohmann::json f = embedded(r.info.dataFingerprint);
    if (r.info.dataDir.empty()) return "generated from the seed";
    return r.info.dataDir + " (" + std::to_string(f.is_array() ? f.size() : 0) +
           " files fingerprinted, checked on resume and replay)";
}

// The engine that trained the run, and for runs stored before it was recorded, the one their
// replays and resumes use.
std::string engineText(const RunRecord& r) {
    if (!r.info.executor.empty()) return r.info.executor;
    try {
        return std::string(engine_kind_name(run_engine_of(r, run_experiment_of(r)))) +
               " (not recorded; the rule of the release that stored it)";
    } catch (const std::exception&) {
        return "not recorded";
    }
}

void noteReadOnly(const RunStore& store) {
    if (store.readOnly())
        std::fprintf(stderr,
                     "note: '%s' is read-only (%s); runs whose process died are not "
                     "marked interrupted\n",
                     store.path().c_str(), store.readOnlyReason().c_str());
}

// Bytes the database takes on disk: the file and its write-ahead log.
int64_t databaseBytes(const std::string& path) {
    int64_t total = 0;
    for (const std::string& p : {path, path + "-wal"}) {
        std::error_code ec;
        const auto n = std::filesystem::file_size(p, ec);
        if (!ec) total += int64_t(n);
    }
    return total;
}

nlohmann::json listJson(const std::string& path, nlohmann::json runs) {
    return {{"database", path}, {"database_bytes", databaseBytes(path)}, {"runs", std::move(runs)}};
}

int listRuns(const RunsOptions& o) {
    std::error_code ec;
    if (!std::filesystem::exists(o.db, ec)) {
        if (o.json)
            std::printf("%s\n", listJson(o.db, nlohmann::json::array()).dump(2).c_str());
        else
            std::printf("No runs yet: '%s' does not exist.\n", o.db.c_str());
        return kExitOk;
    }
    RunStore store = RunStore::open(o.db);
    noteReadOnly(store);
    const std::vector<RunRecord> runs = store.runsList();
    if (o.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const RunRecord& r : runs)
            a.push_back(runJson(store, r));
        std::printf("%s\n", listJson(o.db, std::move(a)).dump(2).c_str());
        return kExitOk;
    }
    if (runs.empty()) {
        std::printf("No runs in '%s'.\n", o.db.c_str());
        return kExitOk;
    }
    std::printf("%5s  %-11s  %-8s  %-8s  %6s  %8s  %-20s  %s\n", "ID", "STATUS", "BITS", "MODEL",
                "EPOCHS", "TEST ERR", "STARTED", "NAME");
    for (const RunRecord& r : runs) {
        const double err = finalTestError(store, r.id);
        char errText[32] = "-";
        if (std::isfinite(err)) std::snprintf(errText, sizeof errText, "%.2f%%", err * 100);
        std::printf("%5" PRId64 "  %-11s  %-8s  %-8s  %6d  %8s  %-20s  %s\n", r.id,
                    run_status_name(r.status), r.info.bitsPattern.c_str(), r.info.model.c_str(),
                    r.epochs, errText, r.startedAt.c_str(), r.info.name.c_str());
    }
    return kExitOk;
}

int showRun(const RunsOptions& o) {
    const int64_t id = run_id_parse(o.run);
    RunStore store = RunStore::open(o.db, StoreAccess::ReadOnly);
    const RunRecord r = store.runGet(id);
    const std::vector<EpochMetrics> epochs = store.epochsGet(id);
    if (o.json) {
        nlohmann::json j = runJson(store, r);
        j["experiment"] = embedded(r.info.experimentJson);
        j["resolved_config"] = embedded(r.info.resolvedConfigJson);
        j["summary"] = embedded(r.summaryJson);
        j["dataset_kind"] = datasetKind(r);
        j["data_dir"] = r.info.dataDir.empty() ? nlohmann::json() : nlohmann::json(r.info.dataDir);
        j["data_fingerprint"] = embedded(r.info.dataFingerprint);
        nlohmann::json ep = nlohmann::json::array();
        for (const EpochMetrics& e : epochs) {
            char hash[20];
            std::snprintf(hash, sizeof hash, "%016" PRIx64, e.weightsHash);
            ep.push_back({{"epoch", e.epoch + 1}, // numbered from 1, as train prints them
                          {"step", e.step},
                          {"train_loss", numberOrNull(e.trainLoss)},
                          {"train_error", numberOrNull(e.trainError)},
                          {"test_loss", numberOrNull(e.testLoss)},
                          {"test_error", numberOrNull(e.testError)},
                          {"seconds", numberOrNull(e.seconds)},
                          {"images_per_s", numberOrNull(e.imagesPerSecond)},
                          {"weights_hash", hash}});
        }
        j["epochs_detail"] = ep;
        std::printf("%s\n", j.dump(2).c_str());
        return kExitOk;
    }
    std::printf("Run %" PRId64 ": %s\n", r.id, r.info.name.c_str());
    std::printf("  status       %s\n", run_status_name(r.status));
    std::printf("  bits         %s\n", r.info.bitsPattern.c_str());
    std::printf("  model        %s on %s\n", r.info.model.c_str(), r.info.dataset.c_str());
    std::printf("  dataset      %s (kind %s)\n", r.info.dataset.c_str(), datasetKind(r).c_str());
    std::printf("  data         %s\n", dataText(r).c_str());
    std::printf("  seed         %" PRIu64 "\n", r.info.seed);
    std::printf("  config hash  %s\n", r.info.configHash.c_str());
    std::printf("  engine       %s\n", engineText(r).c_str());
    std::printf("  started      %s\n", r.startedAt.c_str());
    std::printf("  ended        %s\n", r.endedAt.empty() ? "-" : r.endedAt.c_str());
    std::printf("  steps        %" PRId64 "\n", r.steps);
    if (r.keepCheckpoints > 0)
        std::printf("  checkpoints  %d (keeps the newest %d and the best epoch's)\n", r.checkpoints,
                    r.keepCheckpoints);
    else
        std::printf("  checkpoints  %d (keeps every one)\n", r.checkpoints);
    if (!r.statusMessage.empty()) std::printf("  message      %s\n", r.statusMessage.c_str());
    std::printf("  program      bitbench %s on %s\n", r.info.programVersion.c_str(),
                r.info.host.c_str());
    if (epochs.empty()) {
        std::printf("  no epochs stored\n");
        return kExitOk;
    }
    std::printf("\n%6s  %8s  %10s  %9s  %10s  %9s  %9s  %s\n", "EPOCH", "STEP", "TRAIN LOSS",
                "TRAIN ERR", "TEST LOSS", "TEST ERR", "IMAGES/S", "WEIGHTS HASH");
    for (const EpochMetrics& e : epochs)
        std::printf("%6d  %8" PRId64 "  %10.4f  %8.2f%%  %10.4f  %8.2f%%  %9.0f  %016" PRIx64 "\n",
                    e.epoch + 1, e.step, e.trainLoss, e.trainError * 100, e.testLoss, e.testError * 100,
                    e.imagesPerSecond, e.weightsHash);
    return kExitOk;
}

} // namespace

Command cli_add_runs(CLI::App& app) {
    auto o = std::make_shared<RunsOptions>();
    o->db = paths_default_db();
    auto* sub = app.add_subcommand("runs", "List stored runs, or show one run");
    sub->add_option("--db", o->db, "Run database")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON instead of a table");
    auto* list = sub->add_subcommand("list", "List every run (the default)");
    auto* show = sub->add_subcommand("show", "Show one run with its per-epoch results");
    show->add_option("run", o->run, "Run id")->required();
    list->fallthrough();
    show->fallthrough();
    sub->require_subcommand(0, 1);
    return {sub, [o, show] { return show->parsed() ? showRun(*o) : listRuns(*o); }};
}

} // namespace bitbench::cli
