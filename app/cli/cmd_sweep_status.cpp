// `bitbench-cli sweep-status SWEEP.json`: per trial, done or not in the run database, pending or
// running on which node (squeue) for a sweep submitted with --slurm, with progress from its shard.
#include "cli_common.h"
#include "sweep_slurm.h"
#include "train_session.h"

#include "bitbench/error.h"
#include "bitbench/store.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <memory>

namespace fs = std::filesystem;

namespace bitbench::cli {

namespace {

struct StatusOptions {
    std::string path;
    std::string db;
    bool json = false;
};

struct TrialView {
    std::string status; // pending, running, finished, diverged, failed, not run
    std::string detail;
    std::string node;
    int64_t runId = 0;
    int32_t epochsDone = -1; // from the shard; -1 when there is none
};

// What the trial's shard holds: its trial's status and message, its run's epochs.
void readShard(const std::string& shard, TrialView& v, std::string& shardStatus,
               std::string& shardMessage) {
    std::error_code ec;
    if (!fs::exists(shard, ec)) return;
    try {
        RunStore s = RunStore::open(shard, StoreAccess::ReadOnly);
        for (const SweepRecord& sw : s.sweepsList())
            for (const SweepTrial& t : s.sweepTrialsGet(sw.id)) {
                shardStatus = t.status == TrialStatus::Finished   ? "finished"
                              : t.status == TrialStatus::Diverged ? "diverged"
                              : t.status == TrialStatus::Failed   ? "failed"
                              : t.status == TrialStatus::Running  ? "running"
                                                                  : "pending";
                shardMessage = t.message;
                if (t.runId) v.epochsDone = s.runGet(t.runId).epochs;
            }
    } catch (const StoreError& e) {
        shardMessage = e.what(); // a shard being created right now may not be readable yet
    }
}

int sweepStatus(const StatusOptions& o) {
    const SweepPlan plan = sweep_plan_read(o.path);
    const std::string db = fs::absolute(train_db_path(o.db)).lexically_normal().string();
    RunStore store = RunStore::open(db, StoreAccess::ReadOnly);
    int64_t sweepId = 0;
    const std::string sweepJson = plan.json.dump();
    for (const SweepRecord& s : store.sweepsList())
        if (s.name == plan.name && s.sweepJson == sweepJson) sweepId = s.id;
    std::map<std::string, SweepTrial> trials;
    if (sweepId)
        for (SweepTrial& t : store.sweepTrialsGet(sweepId))
            trials[t.configHash] = std::move(t);

    // The latest submission to Slurm, if any, and what squeue says of its jobs.
    nlohmann::json jobs = nlohmann::json::object();
    std::map<size_t, std::string> submitted; // trial index -> shard
    std::string dir;
    if (sweepId) {
        dir = shard_dir(db, sweepId);
        if (std::ifstream in(shard_jobs_path(dir)); in) {
            try {
                jobs = nlohmann::json::parse(in);
                for (const auto& t : jobs.at("trials"))
                    submitted[t.at("index").get<size_t>()] = t.at("shard").get<std::string>();
            } catch (const nlohmann::json::exception& e) {
                throw InputError(error_message_file(shard_jobs_path(dir),
                                                    std::string("unreadable: ") + e.what()));
            }
        }
    }
    const std::string arrayJob = jobs.value("array_job", std::string());
    const std::string mergeJob = jobs.value("merge_job", std::string());
    std::map<std::string, SlurmJobState> queue;
    const bool squeue = !path_find_executable("squeue").empty();
    if (!arrayJob.empty() && squeue) queue = slurm_queue({arrayJob, mergeJob});

    std::vector<TrialView> views(plan.trials.size());
    for (size_t i = 0; i < plan.trials.size(); ++i) {
        TrialView& v = views[i];
        const auto t = trials.find(plan.trials[i].configHash);
        if (t != trials.end()) v.runId = t->second.runId;
        const TrialStatus mainStatus = t != trials.end() ? t->second.status : TrialStatus::Pending;
        std::string shardStatus, shardMessage;
        if (submitted.count(i)) readShard(submitted[i], v, shardStatus, shardMessage);
        const auto q = queue.find(arrayJob + "_" + std::to_string(i));
        if (mainStatus == TrialStatus::Finished || mainStatus == TrialStatus::Diverged) {
            v.status = mainStatus == TrialStatus::Finished ? "finished" : "diverged";
        } else if (q != queue.end()) {
            v.status = q->second.state == "PENDING" ? "pending" : "running";
            v.node = q->second.nodes;
            v.detail = "job " + q->first + (v.node.empty() ? "" : " on " + v.node);
            if (q->second.state != "PENDING" && q->second.state != "RUNNING")
                v.detail += " (" + q->second.state + ")";
        } else if (shardStatus == "finished" || shardStatus == "diverged") {
            v.status = shardStatus;
            v.detail = "in its shard, not merged yet";
        } else if (shardStatus == "failed" || shardStatus == "running") {
            v.status = "failed";
            v.detail =
                shardStatus == "running" ? "its task ended before the trial did" : shardMessage;
        } else if (mainStatus == TrialStatus::Failed) {
            v.status = "failed";
            v.detail = t->second.message;
        } else if (mainStatus == TrialStatus::Running) {
            v.status = "running";
            v.detail = "claimed by process " + std::to_string(t->second.claimPid) + " on " +
                       t->second.claimHost;
        } else if (submitted.count(i) && !queue.empty()) {
            v.status = "pending";
            v.detail = "submitted";
        } else {
            v.status = "not run";
        }
    }

    std::printf("sweep %s'%s' in %s: %zu trials\n",
                sweepId ? ("#" + std::to_string(sweepId) + " ").c_str() : "", plan.name.c_str(),
                db.c_str(), plan.trials.size());
    if (!arrayJob.empty()) {
        const auto m = queue.find(mergeJob);
        std::printf("slurm: job array %s, merge job %s (%s)%s\n", arrayJob.c_str(),
                    mergeJob.c_str(),
                    m != queue.end() ? m->second.state.c_str() : "not in the queue",
                    squeue ? "" : "; squeue is not on the PATH, queue states unknown");
    }
    nlohmann::json out = nlohmann::json::array();
    for (size_t i = 0; i < views.size(); ++i) {
        const TrialView& v = views[i];
        std::string progress;
        if (v.epochsDone >= 0)
            progress = "epoch " + std::to_string(v.epochsDone) + "/" +
                       std::to_string(plan.trials[i].experiment.epochs);
        std::printf("%3zu  %-14s %-9s%s%s%s%s\n", i, plan.trials[i].label.c_str(), v.status.c_str(),
                    v.runId ? (" run " + std::to_string(v.runId)).c_str() : "",
                    progress.empty() ? "" : ("  " + progress).c_str(), v.detail.empty() ? "" : "  ",
                    v.detail.c_str());
        nlohmann::json j = {{"index", i}, {"bits", plan.trials[i].label}, {"status", v.status}};
        if (v.runId) j["run_id"] = v.runId;
        if (!v.node.empty()) j["node"] = v.node;
        if (v.epochsDone >= 0) j["epochs_done"] = v.epochsDone;
        if (!v.detail.empty()) j["detail"] = v.detail;
        out.push_back(j);
    }
    if (o.json)
        std::printf("%s\n", nlohmann::json({{"sweep_id", sweepId},
                                            {"array_job", arrayJob},
                                            {"merge_job", mergeJob},
                                            {"trials", out}})
                                .dump()
                                .c_str());
    return kExitOk;
}

} // namespace

Command cli_add_sweep_status(CLI::App& app) {
    auto o = std::make_shared<StatusOptions>();
    auto* sub = app.add_subcommand(
        "sweep-status",
        "Each trial of a sweep: pending, running (on which node), finished or failed");
    sub->add_option("sweep", o->path, "Sweep JSON file")->required();
    sub->add_option("--db", o->db, "Run database (default: runs.db in the data directory)");
    sub->add_flag("--json", o->json,
                  "Print one JSON object with every trial's status as the last stdout line");
    return {sub, [o] { return sweepStatus(*o); }};
}

} // namespace bitbench::cli
