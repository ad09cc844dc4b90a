// `sweep --slurm`: one job array of `sweep-trial` tasks, each writing its own shard database, and
// a merge job after it. Nothing runs between bitbench and Slurm but sbatch and squeue.
#include "sweep_slurm.h"

#include "bitbench/atomic_file.h"
#include "bitbench/dataset.h"
#include "bitbench/error.h"
#include "bitbench/paths.h"
#include "bitbench/store.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace bitbench::cli {

namespace {

// Runs `argv` (searched in the PATH) and collects its standard output and error; returns its
// exit status (128 + signal when a signal ended it). throws Error when it cannot be started.
int processRun(const std::vector<std::string>& argv, std::string& out, std::string& err) {
    int outPipe[2], errPipe[2];
    if (pipe2(outPipe, O_CLOEXEC) != 0)
        throw Error("cannot run " + argv[0] + ": " + std::strerror(errno));
    if (pipe2(errPipe, O_CLOEXEC) != 0) {
        close(outPipe[0]);
        close(outPipe[1]);
        throw Error("cannot run " + argv[0] + ": " + std::strerror(errno));
    }
    std::vector<char*> args;
    for (const std::string& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        dup2(outPipe[1], STDOUT_FILENO);
        dup2(errPipe[1], STDERR_FILENO);
        const int devNull = open("/dev/null", O_RDONLY);
        if (devNull >= 0) dup2(devNull, STDIN_FILENO);
        execvp(args[0], args.data());
        std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
        _exit(127);
    }
    close(outPipe[1]);
    close(errPipe[1]);
    if (pid < 0) {
        close(outPipe[0]);
        close(errPipe[0]);
        throw Error("cannot run " + argv[0] + ": " + std::strerror(errno));
    }
    pollfd fds[2] = {{outPipe[0], POLLIN, 0}, {errPipe[0], POLLIN, 0}};
    std::string* sinks[2] = {&out, &err};
    int pipesOpen = 2;
    char buf[4096];
    while (pipesOpen > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n > 0) {
                sinks[i]->append(buf, size_t(n));
            } else if (n == 0 || errno != EINTR) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --pipesOpen;
            }
        }
    }
    for (const pollfd& f : fds)
        if (f.fd >= 0) close(f.fd);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
        s.pop_back();
    return s;
}

// A word for /bin/sh: single-quoted, with each ' written as '\''.
std::string shellQuote(const std::string& s) {
    std::string q = "'";
    for (char c : s)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Text for a comment line of a script: control characters (a newline would end the comment and
// start a command) become '?'.
std::string commentText(std::string s) {
    for (char& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return s;
}

// The absolute, normalized form of an existing path. throws InputError saying what it is for.
std::string existingAbsolute(const std::string& path, const std::string& what, bool folder) {
    std::error_code ec;
    const fs::path abs = fs::weakly_canonical(fs::absolute(path, ec), ec);
    const bool ok = folder ? fs::is_directory(abs, ec) : fs::is_regular_file(abs, ec);
    if (ec || !ok)
        throw InputError(error_message_file(path, std::string("does not exist or is not a ") +
                                                      (folder ? "folder" : "file") + " (" + what +
                                                      ", needed by the cluster jobs)"));
    return abs.string();
}

// The folder each trial reads its data from (synthetic data reads none), checked to exist.
std::set<std::string> dataFolders(const std::vector<SweepTrialPlan>& trials,
                                  const std::string& dataDir) {
    std::set<std::string> out;
    for (const SweepTrialPlan& t : trials) {
        const Experiment& e = t.experiment;
        if (e.datasetKind == "synthetic") continue;
        std::string dir = !dataDir.empty() ? dataDir : e.datasetDir;
        if (dir.empty())
            dir = e.datasetKind == "cifar10" ? paths_data_dir() + "/datasets/cifar10"
                                             : paths_mnist_dir();
        out.insert(existingAbsolute(dir, "the data of trial " + t.label, true));
    }
    return out;
}

// sbatch --parsable prints "JOBID" or "JOBID;CLUSTER".
std::string sbatchSubmit(const std::vector<std::string>& argv) {
    std::string out, err;
    const int code = processRun(argv, out, err);
    std::string id = trimmed(out);
    if (const auto semi = id.find(';'); semi != std::string::npos) id.resize(semi);
    if (code != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
        std::string cmd;
        for (const std::string& a : argv)
            cmd += (cmd.empty() ? "" : " ") + a;
        throw Error("sbatch failed (exit " + std::to_string(code) +
                    "): " + trimmed(err.empty() ? out : err) + "\n  command: " + cmd);
    }
    return id;
}

bool stateFinal(const std::string& s) {
    static const std::set<std::string> done = {
        "COMPLETED", "CANCELLED", "FAILED",   "TIMEOUT",       "NODE_FAIL",
        "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT"};
    return done.count(s.substr(0, s.find(' '))) != 0;
}

} // namespace

SweepPlan sweep_plan_read(const std::string& path) {
    SweepPlan p;
    p.path = path;
    p.json = json_file_read(path, "sweep file");
    const auto slash = path.find_last_of('/');
    try { // every message names the sweep file
        p.trials =
            sweep_expand(p.json, slash == std::string::npos ? "." : path.substr(0, slash), &p.name);
    } catch (const InputError& e) {
        throw InputError(error_message_file(path, e.what()));
    } catch (const nlohmann::json::exception& e) {
        throw InputError(error_message_file(path, std::string("sweep: ") + e.what()));
    }
    return p;
}

std::string shard_dir(const std::string& db, int64_t sweepId) {
    return db + ".shards/sweep-" + std::to_string(sweepId);
}

std::string shard_path(const std::string& dir, size_t index) {
    return dir + "/trial-" + std::to_string(index) + ".db";
}

std::string shard_jobs_path(const std::string& dir) {
    return dir + "/jobs.json";
}

std::string path_find_executable(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "");
    for (std::string d; std::getline(dirs, d, ':');) {
        const std::string f = (d.empty() ? std::string(".") : d) + "/" + name;
        std::error_code ec;
        if (fs::is_regular_file(f, ec) && access(f.c_str(), X_OK) == 0) return f;
    }
    return {};
}

std::map<std::string, SlurmJobState> slurm_queue(const std::vector<std::string>& jobIds) {
    std::map<std::string, SlurmJobState> out;
    if (jobIds.empty()) return out;
    std::string ids;
    for (const std::string& j : jobIds)
        ids += (ids.empty() ? "" : ",") + j;
    std::string text, err;
    // -r: one line per array task, pending ones too.
    const int code = processRun({"squeue", "-h", "-r", "-j", ids, "-o", "%i|%T|%N"}, text, err);
    if (code != 0) {
        // Jobs that ended long ago are forgotten by the controller: nothing to report.
        if (err.find("Invalid job id") != std::string::npos) return out;
        throw Error("squeue failed (exit " + std::to_string(code) + "): " + trimmed(err));
    }
    std::stringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        const auto a = line.find('|'), b = line.find('|', a == std::string::npos ? a : a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        const std::string state = line.substr(a + 1, b - a - 1);
        if (stateFinal(state)) continue;
        out[line.substr(0, a)] = {state, trimmed(line.substr(b + 1))};
    }
    return out;
}

int sweep_slurm_submit(const SweepPlan& plan, const std::string& dbPath, const std::string& dataDir,
                       int32_t threads, const std::string& keep, const SlurmOptions& o) {
    const std::string sbatch = path_find_executable("sbatch");
    if (sbatch.empty())
        throw InputError("--slurm needs Slurm's sbatch, which is not on the PATH (install Slurm's "
                         "client commands, e.g. Debian's slurm-client, or load the cluster's Slurm "
                         "environment)");
    // Everything a job reads is named by an absolute path, checked here: a node has no idea of
    // this shell's working directory.
    char exe[4096];
    const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        throw Error(std::string("cannot find this program's own path: ") + std::strerror(errno));
    const std::string program =
        existingAbsolute(std::string(exe, size_t(n)), "bitbench-cli", false);
    const std::string sweepFile = existingAbsolute(plan.path, "the sweep file", false);
    const std::string data =
        dataDir.empty() ? std::string() : existingAbsolute(dataDir, "--data-dir", true);
    dataFolders(plan.trials, data);

    const std::string db = fs::absolute(dbPath).lexically_normal().string();
    RunStore store = RunStore::open(db);
    if (store.readOnly())
        throw StoreError("cannot record the sweep in '" + db + "': " + store.readOnlyReason());
    const int64_t sweepId = store.sweepFindOrCreate(plan.name, plan.json.dump());
    const std::string dir = shard_dir(db, sweepId);

    // A trial's shard is written by one task at a time: refuse while earlier jobs may still run.
    const std::string jobsFile = shard_jobs_path(dir);
    if (std::ifstream in(jobsFile); in) {
        nlohmann::json prev;
        try {
            prev = nlohmann::json::parse(in);
        } catch (const nlohmann::json::exception&) {
            prev = nlohmann::json::object();
        }
        std::vector<std::string> ids;
        for (const char* k : {"array_job", "merge_job"})
            if (prev.contains(k) && prev[k].is_string()) ids.push_back(prev[k].get<std::string>());
        const auto queued = slurm_queue(ids);
        if (!queued.empty()) {
            std::string list;
            for (const std::string& id : ids)
                list += " " + id;
            throw InputError(
                "sweep " + std::to_string(sweepId) + " '" + plan.name +
                "' still has jobs queued or running (" + std::to_string(queued.size()) +
                " in squeue); wait for them (bitbench-cli sweep-status) or cancel them "
                "with: scancel" +
                list);
        }
    }

    std::map<std::string, TrialStatus> done;
    for (const SweepTrial& t : store.sweepTrialsGet(sweepId))
        if (t.status == TrialStatus::Finished || t.status == TrialStatus::Diverged)
            done[t.configHash] = t.status;
    std::vector<size_t> todo;
    for (size_t i = 0; i < plan.trials.size(); ++i)
        if (!done.count(plan.trials[i].configHash)) todo.push_back(i);
    std::printf("sweep %lld '%s': %zu trials in %s, %zu done, %zu to run\n", (long long)sweepId,
                plan.name.c_str(), plan.trials.size(), db.c_str(), plan.trials.size() - todo.size(),
                todo.size());
    if (todo.empty()) {
        std::printf("nothing to submit\n");
        return 0;
    }

    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw OutputError(
            error_message_file(dir, "cannot create the shard folder: " + ec.message()));

    std::string taskArgs = " --index \"$SLURM_ARRAY_TASK_ID\" --shard " + shellQuote(dir) +
                           "/trial-\"$SLURM_ARRAY_TASK_ID\".db";
    if (!data.empty()) taskArgs += " --data-dir " + shellQuote(data);
    const int32_t taskThreads = threads > 0 ? threads : o.cpusPerTask;
    if (taskThreads > 0) taskArgs += " --threads " + std::to_string(taskThreads);
    if (!keep.empty()) taskArgs += " --keep-checkpoints " + shellQuote(keep);
    const std::string trialScript = dir + "/trial.sh";
    file_write_atomic(trialScript,
                      "#!/bin/sh\n# bitbench sweep '" + commentText(plan.name) + "' (sweep " +
                          std::to_string(sweepId) + " of " + commentText(db) +
                          "): the trial whose index is the array task id, into its own shard.\n"
                          "exec " +
                          shellQuote(program) + " sweep-trial " + shellQuote(sweepFile) + taskArgs +
                          "\n");
    std::string shards;
    for (size_t i : todo) {
        shards += ' ';
        shards += shellQuote(shard_path(dir, i));
    }
    const std::string mergeScript = dir + "/merge.sh";
    file_write_atomic(mergeScript, "#!/bin/sh\n# bitbench: folds the trials' shards into " +
                                       commentText(db) + " once the array has ended.\nexec " +
                                       shellQuote(program) + " merge --allow-missing --db " +
                                       shellQuote(db) + shards + "\n");

    std::string indices;
    for (size_t i : todo) {
        if (!indices.empty()) indices += ',';
        indices += std::to_string(i);
    }
    if (o.maxParallel > 0) indices += "%" + std::to_string(o.maxParallel);
    std::vector<std::string> common;
    if (!o.partition.empty()) common.push_back("--partition=" + o.partition);
    common.insert(common.end(), o.sbatchArgs.begin(), o.sbatchArgs.end());

    std::vector<std::string> array = {sbatch, "--parsable", "--job-name=bitbench-" + plan.name,
                                      "--array=" + indices, "--output=" + dir + "/trial-%a.log"};
    if (!o.time.empty()) array.push_back("--time=" + o.time);
    if (o.cpusPerTask > 0) array.push_back("--cpus-per-task=" + std::to_string(o.cpusPerTask));
    if (!o.mem.empty()) array.push_back("--mem=" + o.mem);
    array.insert(array.end(), common.begin(), common.end());
    array.push_back(trialScript);
    const std::string arrayJob = sbatchSubmit(array);

    std::vector<std::string> merge = {
        sbatch, "--parsable", "--job-name=bitbench-" + plan.name + "-merge",
        "--dependency=afterany:" + arrayJob, "--output=" + dir + "/merge-%j.log"};
    merge.insert(merge.end(), common.begin(), common.end());
    merge.push_back(mergeScript);
    std::string mergeJob;
    try {
        mergeJob = sbatchSubmit(merge);
    } catch (const Error& e) {
        std::string out, err;
        processRun({"scancel", arrayJob}, out, err);
        throw Error(std::string(e.what()) + "\n  the job array " + arrayJob + " was cancelled");
    }

    nlohmann::json record = {{"sweep_id", sweepId},
                             {"name", plan.name},
                             {"sweep", sweepFile},
                             {"db", db},
                             {"array_job", arrayJob},
                             {"merge_job", mergeJob},
                             {"trials", nlohmann::json::array()}};
    const std::time_t now = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    record["submitted_at"] = when;
    for (size_t i : todo)
        record["trials"].push_back({{"index", i},
                                    {"label", plan.trials[i].label},
                                    {"config_hash", plan.trials[i].configHash},
                                    {"shard", shard_path(dir, i)}});
    file_write_atomic(jobsFile, record.dump(2) + "\n");

    std::printf("submitted job array %s (%zu tasks, trial indices %s) and merge job %s after it\n",
                arrayJob.c_str(), todo.size(), indices.c_str(), mergeJob.c_str());
    std::printf("shards and logs: %s\n", dir.c_str());
    std::printf("follow: squeue -j %s,%s   or   bitbench-cli sweep-status %s --db %s\n",
                arrayJob.c_str(), mergeJob.c_str(), shellQuote(sweepFile).c_str(),
                shellQuote(db).c_str());
    return 0;
}

} // namespace bitbench::cli
