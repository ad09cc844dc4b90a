// `bitbench-cli replay RUN`: re-runs a stored run and compares every epoch's hash and test error.
#include "cli_common.h"
#include "train_session.h"

#include "bitbench/error.h"
#include "bitbench/paths.h"

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <memory>

namespace bitbench::cli {

namespace {

struct ReplayOptions {
    std::string run;
    std::string db;
    std::string dataDir;
    int32_t threads = 0;
    int32_t epochs = 0;
    bool json = false;
};

int replay(const ReplayOptions& o) {
    const int64_t runId = run_id_parse(o.run);
    const std::string dbPath = o.db.empty() ? paths_default_db() : o.db;
    RunStore store = RunStore::open(dbPath, StoreAccess::ReadOnly);
    const RunRecord rec = store.runGet(runId);
    const std::vector<EpochMetrics> stored = store.epochsGet(runId);
    if (stored.empty()) throw InputError("run " + o.run + " has no finished epoch to compare against");
    Experiment e = run_experiment_of(rec);
    const int32_t compare = o.epochs > 0 ? std::min<int32_t>(o.epochs, int32_t(stored.size())) : int32_t(stored.size());
    e.epochs = compare; // the schedule is per epoch, so a shorter replay computes the same epochs
    RunDataCheck check = RunDataCheck::Matched;
    const Dataset data = run_data_load(store, rec, e, o.dataDir, &check);
    if (check == RunDataCheck::NotRecorded)
        std::fprintf(stderr,
                     "bitbench-cli: note: run %lld was stored without a data fingerprint; its data "
                     "is not checked\n",
                     (long long)runId);
    // The engine that trained the run: another one would round differently.
    Trainer t(e, data, o.threads, run_engine_of(rec, e));
    std::FILE* info = o.json ? stderr : stdout;
    std::fprintf(info, "replaying run %lld (%s, %s, seed %llu) on the %s engine%s: %d epochs\n", (long long)runId,
                 rec.info.name.c_str(), rec.info.bitsPattern.c_str(), (unsigned long long)e.seed, t.engine().kind(),
                 rec.info.executor.empty() ? " (not recorded: the rule of its release)" : "", compare);
    train_install_signals(&t);
    nlohmann::json epochs = nlohmann::json::array();
    int32_t firstMismatch = -1;
    std::string detail;
    size_t checked = 0;
    while (checked < size_t(compare) && !t.stopRequested()) {
        t.step();
        while (checked < t.history().size()) {
            const EpochMetrics& now = t.history()[checked];
            const EpochMetrics& then = stored[checked];
            const bool hashOk = now.weightsHash == then.weightsHash;
            const bool errOk = now.testError == then.testError;
            std::fprintf(info, "epoch %4d  hash %s %s  test error %.4f %% %s\n", now.epoch + 1, hash_hex(now.weightsHash).c_str(),
                         hashOk ? "==" : "!=", 100 * now.testError, errOk ? "==" : "!=");
            std::fflush(info);
            epochs.push_back({{"epoch", now.epoch + 1}, {"weights_hash", hash_hex(now.weightsHash)},
                              {"stored_weights_hash", hash_hex(then.weightsHash)}, {"test_error", now.testError},
                              {"stored_test_error", then.testError}, {"match", hashOk && errOk}});
            if ((!hashOk || !errOk) && firstMismatch < 0) {
                firstMismatch = now.epoch + 1;
                detail = "weights hash " + hash_hex(now.weightsHash) + " vs stored " + hash_hex(then.weightsHash) +
                         ", test error " + std::to_string(100 * now.testError) + " % vs stored " +
                         std::to_string(100 * then.testError) + " % (difference " +
                         std::to_string(100 * (now.testError - then.testError)) + " points)";
            }
            ++checked;
        }
        if (firstMismatch >= 0) break;
    }
    train_install_signals(nullptr);
    const bool interrupted = train_interrupted();
    const bool match = firstMismatch < 0 && !interrupted && checked == size_t(compare);
    if (o.json)
        std::printf("%s\n", nlohmann::json({{"run_id", runId}, {"match", match}, {"epochs_compared", checked},
                                             {"first_mismatch_epoch", firstMismatch < 0 ? nlohmann::json(nullptr) : nlohmann::json(firstMismatch)},
                                             {"per_epoch", epochs}})
                                .dump()
                                .c_str());
    if (match) {
        std::fprintf(info, "MATCH: %d epochs bit-identical to run %lld\n", compare, (long long)runId);
        return kExitOk;
    }
    if (interrupted) {
        std::fprintf(stderr, "bitbench-cli: replay interrupted after %zu matching epochs\n", checked);
        return kExitInterrupted;
    }
    std::fprintf(info, "MISMATCH at epoch %d: %s\n", firstMismatch, detail.c_str());
    return kExitFailure;
}

} // namespace

Command cli_add_replay(CLI::App& app) {
    auto o = std::make_shared<ReplayOptions>();
    auto* sub = app.add_subcommand("replay", "Re-run a stored run and check every epoch's weights hash and test error");
    sub->add_option("run", o->run, "Run id (see bitbench-cli runs)")->required();
    sub->add_option("--db", o->db, "Run database (default: runs.db in the data directory)");
    sub->add_option("--data-dir", o->dataDir,
                    "Folder holding the run's data (default: the folder it was trained on; the "
                    "files must match)");
    sub->add_option("--threads", o->threads, "Worker threads (0 = all cores; results do not depend on it)")->check(CLI::Range(0, 1024));
    sub->add_option("--epochs", o->epochs, "Compare only the first N epochs")->check(CLI::Range(1, 100000));
    sub->add_flag("--json", o->json, "Print one JSON object with the comparison as the last stdout line");
    return {sub, [o] { return replay(*o); }};
}

} // namespace bitbench::cli
