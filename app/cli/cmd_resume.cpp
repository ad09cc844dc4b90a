// `bitbench-cli resume RUN`: continues an interrupted run from its last checkpoint.
#include "cli_common.h"
#include "bitbench/store.h"
#include "train_session.h"

#include "bitbench/error.h"
#include "bitbench/paths.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

namespace bitbench::cli {

namespace {

struct ResumeOptions {
    std::string run;
    TrainOptions train;
};

int resume(const ResumeOptions& o) {
    const int64_t runId = run_id_parse(o.run);
    // Never created here: a mistyped --db is refused instead of becoming an empty database.
    const std::string dbPath = o.train.db.empty() ? paths_default_db() : o.train.db;
    RunRecord rec;
    RunClaim claim;
    std::optional<CheckpointRecord> cp;
    {
        RunStore store = RunStore::open(dbPath, StoreAccess::Existing);
        if (store.readOnly()) throw StoreError("cannot resume in '" + dbPath + "': " + store.readOnlyReason());
        rec = store.runGet(runId);
        // One transaction decides: of two resumes started together, exactly one trains the run.
        claim = store.runClaim(runId);
        if (!claim.claimed && claim.previous == RunStatus::Finished)
            throw InputError("run " + o.run + " is already finished (" + std::to_string(rec.epochs) + " epochs)");
        if (!claim.claimed && claim.previous == RunStatus::Diverged) {
            // The same configuration from the same checkpoint diverges again.
            std::fprintf(stderr, "bitbench-cli: run %s diverged and cannot be resumed: %s\n",
                         o.run.c_str(), rec.statusMessage.c_str());
            return kExitDiverged;
        }
        if (!claim.claimed) throw InputError(run_busy_message(runId, claim.owner));
        if (!o.train.keepCheckpoints.empty())
            store.runSetKeepCheckpoints(runId, keep_checkpoints_of(o.train.keepCheckpoints));
        cp = store.checkpointLatest(runId);
    }
    // Until the writer holds the run, a failure gives it back as it was.
    auto release = [&] {
        try {
            RunStore::open(dbPath).runRelease(runId, claim.previous);
        } catch (...) {
            // The next open marks it interrupted once this process is gone.
        }
    };
    Dataset data; // outlives the trainer, which refers to it
    std::unique_ptr<Trainer> t;
    std::unique_ptr<RunWriter> writer;
    try {
        const Experiment e = run_experiment_of(rec);
        {
            // The stored data folder unless --data-dir; either way the files must be the run's own.
            RunStore store = RunStore::open(dbPath);
            RunDataCheck check = RunDataCheck::Matched;
            data = run_data_load(store, rec, e, o.train.dataDir, &check);
            if (check == RunDataCheck::NotRecorded)
                std::fprintf(stderr,
                             "bitbench-cli: note: run %lld was stored without a data fingerprint; its "
                             "data is not checked\n",
                             (long long)runId);
        }
        // The engine that trained the run: another one would round differently.
        t = std::make_unique<Trainer>(e, data, o.train.threads, run_engine_of(rec, e));
        if (cp) t->checkpointLoad(cp->blob);
        std::FILE* info = o.train.json ? stderr : stdout;
        train_print_layers(info, *t);
        std::fprintf(info, "resuming run %lld at step %lld of %lld (%s)\n", (long long)runId, (long long)t->globalStep(),
                     (long long)t->totalSteps(), cp ? "from its last checkpoint" : "no checkpoint: from the start");
        writer = std::make_unique<RunWriter>(dbPath, runId);
    } catch (...) {
        release();
        throw;
    }
    return train_drive(*t, o.train, writer.get());
}

} // namespace

Command cli_add_resume(CLI::App& app) {
    auto o = std::make_shared<ResumeOptions>();
    auto* sub = app.add_subcommand("resume", "Continue an interrupted run from its last checkpoint");
    sub->add_option("run", o->run, "Run id (see bitbench-cli runs)")->required();
    sub->add_option("--db", o->train.db, "Run database (default: runs.db in the data directory)");
    sub->add_option("--data-dir", o->train.dataDir,
                    "Folder holding the run's data (default: the folder it was trained on; the "
                    "files must match)");
    sub->add_option("--threads", o->train.threads, "Worker threads (0 = all cores)")->check(CLI::Range(0, 1024));
    sub->add_flag("--json", o->train.json, "Print one JSON object with the results as the last stdout line");
    sub->add_flag("--quiet", o->train.quiet, "No progress bar");
    add_keep_checkpoints_option(sub, o->train.keepCheckpoints);
    return {sub, [o] { return resume(*o); }};
}

} // namespace bitbench::cli
