// Sweeps on a Slurm cluster: the sweep plan, the shard layout next to the main database, the
// submission of a job array plus a merge job, and what squeue says about them.
#pragma once

#include "bitbench/analysis.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bitbench::cli {

// A sweep file read and expanded (every message names the file).
struct SweepPlan {
    std::string path;
    std::string name;
    nlohmann::json json;
    std::vector<SweepTrialPlan> trials;
};
// throws: InputError naming the file.
SweepPlan sweep_plan_read(const std::string& path);

// `sweep --slurm`'s options.
struct SlurmOptions {
    std::string partition, time, mem;
    int32_t cpusPerTask = 0; // 0: the cluster's default
    int32_t maxParallel = 0; // 0: no limit (the array's %K)
    std::vector<std::string> sbatchArgs;
};

// Where a sweep's shards live: "<main database>.shards/sweep-<id>" (absolute when `db` is).
std::string shard_dir(const std::string& db, int64_t sweepId);
// The shard of the trial at `index` in the sweep: "<shard dir>/trial-<index>.db".
std::string shard_path(const std::string& dir, size_t index);
// The submission record in a shard folder (jobs.json): the array and merge job ids, the trials.
std::string shard_jobs_path(const std::string& dir);

// The sweep's trials still to run in `dbPath` (not finished or diverged there), submitted as one
// job array (one task per trial, task id = the trial's index) and a merge job that runs after it
// (afterany). Prints the job ids and how to follow them. `dataDir` and `threads`, `keep` (as
// typed) are passed on to each task's `sweep-trial`.
// throws: InputError (exit 2) when sbatch is not on the PATH, a path the jobs need does not exist,
//         or earlier jobs of the sweep are still queued or running; Error (exit 1) with sbatch's
//         message when sbatch refuses a job (the array is cancelled when the merge job is refused).
int sweep_slurm_submit(const SweepPlan& plan, const std::string& dbPath, const std::string& dataDir,
                       int32_t threads, const std::string& keep, const SlurmOptions& o);

// Where squeue places the jobs named: by "JOB" or "JOB_TASK" id, the state (PENDING, RUNNING, ...)
// and the node list. Jobs that have ended, or that squeue no longer knows, are absent. throws Error
// when squeue fails for another reason.
struct SlurmJobState {
    std::string state, nodes;
};
std::map<std::string, SlurmJobState> slurm_queue(const std::vector<std::string>& jobIds);

// The first executable file called `name` in the PATH's folders; empty when there is none.
std::string path_find_executable(const std::string& name);

} // namespace bitbench::cli
