// `bitbench-cli sweep SWEEP.json`: runs a grid of bitwidths, skipping finished trials on re-runs;
// `sweep --slurm` submits it to a Slurm cluster, and `sweep-trial` is one cluster task's trial.
#include "cli_common.h"
#include "bitbench/run_recording.h"
#include "sweep_slurm.h"
#include "train_session.h"

#include "bitbench/analysis.h"
#include "bitbench/error.h"
#include "bitbench/paths.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

namespace bitbench::cli {

namespace {

struct SweepOptions {
    std::string path;
    std::string db;
    std::string dataDir;
    int32_t jobs = 1;
    int32_t threads = 0;
    bool json = false;
    std::string keepCheckpoints; // --keep-checkpoints as typed; empty = not given
    bool slurm = false;          // submit to Slurm instead of training here
    SlurmOptions slurmOptions;
    int64_t index = -1; // sweep-trial: the trial to run, by its position in the sweep
};

// The exit code a failed trial's error stands for (as cli_run_guarded would report it).
int exitCodeOf(const std::exception& e) {
    if (dynamic_cast<const DataError*>(&e)) return kExitData;
    if (dynamic_cast<const InputError*>(&e)) return kExitUsage;
    if (dynamic_cast<const StoreError*>(&e)) return kExitStore;
    return kExitFailure;
}

// Stops a trial's trainer when Ctrl-C arrives (the signal handler knows no sweep trainers).
class StopOnSignal : public TrainObserver {
public:
    explicit StopOnSignal(Trainer& t) : m_t(t) {}
    void onStep(const StepMetrics&) override {
        if (train_interrupted()) m_t.requestStop();
    }

private:
    Trainer& m_t;
};

int sweep(const SweepOptions& options) {
    SweepOptions o = options;
    o.path = paths_find_experiment(o.path); // a shipped sweep may be named without its folder
    SweepPlan plan = sweep_plan_read(o.path);
    const nlohmann::json& sweepJson = plan.json;
    const std::string& name = plan.name;
    std::vector<SweepTrialPlan>& trials = plan.trials;
    if (o.slurm)
        return sweep_slurm_submit(plan, train_db_path(o.db), o.dataDir, o.threads,
                                  o.keepCheckpoints, o.slurmOptions);
    if (o.index >= 0) {
        if (size_t(o.index) >= trials.size())
            throw InputError(error_message_file(
                o.path, "has no trial with index " + std::to_string(o.index) + " (its " +
                            std::to_string(trials.size()) + " trials are 0.." +
                            std::to_string(trials.size() - 1) + ")"));
        trials = std::vector<SweepTrialPlan>{trials[size_t(o.index)]};
    }
    const std::string dbPath = train_db_path(o.db);
    RunStore store = RunStore::open(dbPath);
    if (store.readOnly()) throw StoreError("cannot record the sweep in '" + dbPath + "': " + store.readOnlyReason());
    // A shard is written by its task alone: whatever an earlier task left running has ended (it
    // was killed or ran out of time), and this one resumes it from the shard's newest checkpoint.
    if (o.index >= 0)
        store.shardTakeOver(
            "its task ended before the trial did (killed, out of time or out of memory)");
    // Two sweep processes started together must find the same sweep: one transaction.
    const int64_t sweepId = store.sweepFindOrCreate(name, sweepJson.dump());
    const int32_t keep = keep_checkpoints_of(o.keepCheckpoints);
    std::printf("sweep %lld '%s': %zu trials in %s\n", (long long)sweepId, name.c_str(), trials.size(), dbPath.c_str());
    std::fflush(stdout);

    std::mutex mutex; // guards `store`, stdout and `results`
    std::vector<nlohmann::json> results(trials.size());
    std::atomic<size_t> next{0};
    std::atomic<bool> failed{false};
    int exitCode = kExitOk; // of the first failed trial; guarded by `mutex`
    std::vector<size_t> diverged; // trials that ended diverged (guarded by `mutex`)
    const int32_t cores = int32_t(std::max(1u, std::thread::hardware_concurrency()));
    const int32_t threadsPerTrial = o.threads > 0 ? o.threads : std::max(1, cores / o.jobs);
    TrainOptions quiet;
    quiet.quiet = true;

    auto runTrial = [&](size_t i) {
        const SweepTrialPlan& tr = trials[i];
        TrialClaim claim;
        std::optional<CheckpointRecord> cp;
        EngineKind engine = EngineKind::Auto;
        {
            std::lock_guard lock(mutex);
            // One transaction: a trial that another live process claimed is skipped, never
            // trained twice; a claim left by a dead process is taken over.
            claim = store.sweepTrialClaim(sweepId, tr.configHash, run_info_of(tr.experiment), keep);
            if (claim.outcome == TrialClaim::Outcome::Done) {
                std::printf("trial %-12s %s before (run %lld): skipped\n", tr.label.c_str(),
                            claim.status == TrialStatus::Finished ? "finished" : "diverged", (long long)claim.runId);
                results[i] = {{"bits", tr.label}, {"run_id", claim.runId}, {"skipped", true}};
                // A diverged trial is a result too: the same configuration diverges again.
                if (claim.status == TrialStatus::Diverged) {
                    const RunRecord r = store.runGet(claim.runId);
                    results[i]["diverged"] = {{"step", r.statusStep}, {"message", r.statusMessage}};
                    diverged.push_back(i);
                }
                std::fflush(stdout);
                return;
            }
            if (claim.outcome == TrialClaim::Outcome::Busy) {
                std::printf("trial %-12s %s: skipped\n", tr.label.c_str(),
                            run_busy_message(claim.runId, claim.owner).c_str());
                results[i] = {{"bits", tr.label}, {"run_id", claim.runId}, {"skipped", true},
                              {"claimed_by_pid", claim.owner.pid}, {"claimed_by_host", claim.owner.host}};
                std::fflush(stdout);
                return;
            }
            if (claim.resumed) {
                if (!o.keepCheckpoints.empty()) store.runSetKeepCheckpoints(claim.runId, keep);
                cp = store.checkpointLatest(claim.runId);
            }
            // A resumed trial continues on the engine its run recorded (the legacy rule for runs
            // stored before engines were recorded); a new run records engine_select's.
            engine = run_engine_of(store.runGet(claim.runId), tr.experiment);
        }
        const int64_t runId = claim.runId;
        try {
            // The run records the data it reads, or reads the data it recorded (a resumed trial;
            // a changed file is a data error). Its own connection: loading holds no lock.
            RunDataCheck check = RunDataCheck::Matched;
            const Dataset data = [&] {
                RunStore own = RunStore::open(dbPath, StoreAccess::Existing);
                return run_data_attach(own, runId, tr.experiment, o.dataDir, &check);
            }();
            if (check == RunDataCheck::NotRecorded) {
                std::lock_guard lock(mutex);
                std::fprintf(stderr,
                             "bitbench-cli: note: run %lld was stored without a data fingerprint; "
                             "its data is not checked\n",
                             (long long)runId);
            }
            Trainer t(tr.experiment, data, threadsPerTrial, engine);
            if (cp) t.checkpointLoad(cp->blob);
            RunWriter writer(dbPath, runId);
            StopOnSignal stopper(t);
            t.addObserver(&writer);
            t.addObserver(&stopper);
            const bool complete = run_recording(t, &writer, [&] { return train_summary(t); });
            const nlohmann::json s = train_summary(t);
            std::lock_guard lock(mutex);
            if (t.diverged()) {
                store.sweepTrialPut(sweepId, tr.configHash, runId, TrialStatus::Diverged,
                                    t.divergence().message);
                std::fprintf(stderr, "bitbench-cli: trial %s (run %lld) diverged: %s\n",
                             tr.label.c_str(), (long long)runId, t.divergence().message.c_str());
                diverged.push_back(i);
            } else {
                // Stopped by SIGINT or SIGTERM (Ctrl-C, or a cluster job's time limit): the run
                // keeps its checkpoint and the next sweep resumes it.
                store.sweepTrialPut(
                    sweepId, tr.configHash, runId,
                    complete ? TrialStatus::Finished : TrialStatus::Failed,
                    complete ? std::string()
                             : "stopped by a signal (Ctrl-C, or the job's time limit) at step " +
                                   std::to_string(t.globalStep()) +
                                   "; running the sweep again resumes it");
            }
            results[i] = s;
            results[i]["run_id"] = runId;
            if (t.diverged())
                std::printf("trial %-12s run %lld%s: diverged at step %lld (epoch %d)\n",
                            tr.label.c_str(), (long long)runId, cp ? " (resumed)" : "",
                            (long long)(t.divergence().step + 1), t.divergence().epoch + 1);
            else if (!t.history().empty())
                std::printf("trial %-12s run %lld%s: final test error %.2f %%, best %.2f %%, %.0f img/s\n", tr.label.c_str(),
                            (long long)runId, cp ? " (resumed)" : "", 100 * s["final_test_error"].get<double>(),
                            100 * s["best_test_error"].get<double>(), s["train_images_per_s"].get<double>());
            std::fflush(stdout);
        } catch (const std::exception& e) {
            // The run and the trial say why they failed; the next sweep trains the trial again.
            std::lock_guard lock(mutex);
            try {
                store.runFail(runId, e.what());
                store.sweepTrialPut(sweepId, tr.configHash, runId, TrialStatus::Failed, e.what());
            } catch (...) {
                // The database itself failed: the error below says so.
            }
            throw;
        }
    };

    std::vector<std::thread> workers;
    // One trainer per job; stop requests (Ctrl-C) reach the running trainers through their own
    // signal flag, checked between trials here.
    train_install_signals(nullptr);
    for (int32_t w = 0; w < o.jobs; ++w)
        workers.emplace_back([&] {
            for (size_t i; (i = next.fetch_add(1)) < trials.size() && !failed.load() && !train_interrupted();) {
                try {
                    runTrial(i);
                } catch (const std::exception& e) {
                    std::lock_guard lock(mutex);
                    std::fprintf(stderr, "bitbench-cli: trial %s failed: %s%s\n", trials[i].label.c_str(),
                                 dynamic_cast<const DataError*>(&e) ? "data error: " : "", e.what());
                    if (!failed.exchange(true)) exitCode = exitCodeOf(e);
                }
            }
        });
    for (auto& w : workers) w.join();
    // Divergence is a result, not an error: a sweep whose trials all ended exits 0 and lists them.
    std::sort(diverged.begin(), diverged.end());
    nlohmann::json divergedJson = nlohmann::json::array();
    std::string divergedText;
    for (size_t i : diverged) {
        divergedJson.push_back(trials[i].label);
        divergedText += (divergedText.empty() ? "" : ", ") + trials[i].label + " (run " +
                        std::to_string(results[i].value("run_id", int64_t(0))) + ")";
    }
    if (!diverged.empty()) std::printf("diverged: %s\n", divergedText.c_str());
    if (o.json)
        std::printf(
            "%s\n",
            nlohmann::json({{"sweep_id", sweepId}, {"trials", results}, {"diverged", divergedJson}})
                .dump()
                .c_str());
    if (train_interrupted()) return kExitInterrupted;
    return failed.load() ? exitCode : kExitOk;
}

} // namespace

Command cli_add_sweep(CLI::App& app) {
    auto o = std::make_shared<SweepOptions>();
    auto* sub = app.add_subcommand("sweep", "Run a grid of bitwidths (sweep JSON); re-running skips finished trials");
    sub->add_option("sweep", o->path, "Sweep JSON file, or the name of a shipped sweep (e.g. sweep-wage-patterns)")->required();
    sub->add_option("--db", o->db, "Run database (default: runs.db in the data directory)");
    sub->add_option("--data-dir", o->dataDir, "Folder holding the dataset files");
    sub->add_option("--jobs", o->jobs, "Trials trained at once (each with cores/jobs threads)")->check(CLI::Range(1, 64));
    sub->add_option("--threads", o->threads, "Threads per trial (default: cores / jobs)")->check(CLI::Range(0, 1024));
    sub->add_flag("--json", o->json, "Print one JSON object with every trial's summary as the last stdout line");
    add_keep_checkpoints_option(sub, o->keepCheckpoints);
    sub->add_flag(
        "--slurm", o->slurm,
        "Submit the trials still to run as a Slurm job array (one shard database per trial) "
        "and a merge job after it, instead of training here");
    sub->add_option("--partition", o->slurmOptions.partition, "--slurm: the partition to run in");
    sub->add_option("--time", o->slurmOptions.time,
                    "--slurm: each trial's time limit (sbatch --time)");
    sub->add_option("--cpus-per-task", o->slurmOptions.cpusPerTask,
                    "--slurm: cores per trial (also its training threads)")
        ->check(CLI::Range(1, 1024));
    sub->add_option("--mem", o->slurmOptions.mem, "--slurm: memory per trial (sbatch --mem)");
    sub->add_option("--max-parallel", o->slurmOptions.maxParallel,
                    "--slurm: trials running at once at most (the array's %K)")
        ->check(CLI::Range(1, 100000));
    sub->add_option("--sbatch-arg", o->slurmOptions.sbatchArgs,
                    "--slurm: one more sbatch argument for both jobs (repeatable), e.g. "
                    "--sbatch-arg=--account=X")
        ->allow_extra_args(false);
    sub->callback([o, sub] {
        if (o->slurm) return;
        for (const char* opt : {"--partition", "--time", "--cpus-per-task", "--mem",
                                "--max-parallel", "--sbatch-arg"})
            if (sub->count(opt) > 0) throw CLI::ValidationError(opt, "only applies with --slurm");
    });
    return {sub, [o] { return sweep(*o); }};
}

Command cli_add_sweep_trial(CLI::App& app) {
    auto o = std::make_shared<SweepOptions>();
    auto* sub = app.add_subcommand(
        "sweep-trial",
        "Run one trial of a sweep into its own shard database (what a Slurm array task runs)");
    sub->add_option("sweep", o->path, "Sweep JSON file")->required();
    sub->add_option("--index", o->index,
                    "The trial's position in the sweep, from 0 (the array task id)")
        ->required()
        ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
    sub->add_option("--shard", o->db, "The trial's shard database (created, or resumed from)")
        ->required();
    sub->add_option("--data-dir", o->dataDir, "Folder holding the dataset files");
    sub->add_option("--threads", o->threads, "Training threads (default: the machine's cores)")
        ->check(CLI::Range(0, 1024));
    sub->add_flag("--json", o->json,
                  "Print one JSON object with the trial's summary as the last stdout line");
    add_keep_checkpoints_option(sub, o->keepCheckpoints);
    return {sub, [o] { return sweep(*o); }};
}

} // namespace bitbench::cli
