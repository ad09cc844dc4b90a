// The run database (SQLite): runs, metrics, tensor statistics, histograms, checkpoints, sweeps.
#pragma once

#include "bitbench/observer.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bitbench {

class SqliteDb;

// Diverged: a non-finite loss or weight stopped the run (see RunRecord::statusStep).
enum class RunStatus : uint8_t { Running, Finished, Failed, Interrupted, Diverged };

// "running", "finished", "failed", "interrupted", "diverged".
const char* run_status_name(RunStatus s);

struct Experiment;
struct Dataset;
enum class EngineKind; // engine.h

// Parses a run id as a user types it: a positive decimal integer, nothing else.
// throws: InputError quoting the text.
int64_t run_id_parse(const std::string& text);

// What a run is: written once by runCreate (the data fields dataset, dataDir and dataFingerprint
// also by runSetData, for a sweep trial's run created before its data is read). Empty
// programVersion / host are filled in with this program's version and this machine's host name.
struct RunInfo {
    std::string name;
    std::string experimentJson;     // the experiment as the user gave it
    std::string resolvedConfigJson; // with every default filled in
    std::string configHash;         // identifies the configuration (sweeps skip done hashes)
    uint64_t seed = 0;
    std::string bitsPattern; // e.g. "2-8-8-8"
    std::string model;
    std::string
        dataset; // the data's name: its folder for IDX data (e.g. "fashion-mnist"), else the kind
    std::string programVersion;
    std::string host;
    // The data the run reads: its folder (empty for generated data, and for runs stored before
    // the folder was recorded) and data_fingerprint_to_json() of its files (empty for runs stored
    // before fingerprints; "[]" for generated data).
    std::string dataDir{};
    std::string dataFingerprint{};
    // The engine that trains the run (engine_kind_name: "integer", "float", "graph",
    // "reference"); empty for runs stored before it was recorded (they use EngineRule::Legacy).
    std::string executor{};
};

// One data file a run reads: its name in the data folder, its size and the XXH3-64 of its bytes.
struct DataFileFingerprint {
    std::string file;
    uint64_t size = 0;
    std::string hash; // 16 hex digits
    bool operator==(const DataFileFingerprint&) const = default;
};

// [{"file": ..., "size": ..., "hash": ...}, ...]
std::string data_fingerprint_to_json(const std::vector<DataFileFingerprint>& files);
// throws StoreError when `json` is not such a list.
std::vector<DataFileFingerprint> data_fingerprint_from_json(const std::string& json);

struct RunRecord {
    int64_t id = 0;
    RunInfo info;
    RunStatus status = RunStatus::Running;
    std::string startedAt;   // ISO 8601 UTC
    std::string endedAt;     // empty while running
    std::string summaryJson; // empty until finished
    int32_t epochs = 0;      // epochs stored (each with test results and weights hash)
    int64_t steps = 0;       // highest step with metrics + 1, 0 when none
    int32_t checkpoints = 0;
    int32_t keepCheckpoints = 0; // newest checkpoints kept besides the best epoch's; 0 = all
    // Where and why a run ended diverged or failed: the global step (from 0; -1 when not
    // recorded) and one line of text (empty otherwise).
    int64_t statusStep = -1;
    std::string statusMessage;
};

struct MetricPoint {
    int64_t step = 0;
    int32_t epoch = 0;
    double value = 0;
};

struct CheckpointRecord {
    int64_t step = 0;
    int32_t epoch = 0;
    std::vector<uint8_t> blob;
    std::string createdAt;
};

enum class HistogramKind : uint8_t { Value = 0, Error = 1 };

struct HistogramRecord {
    int64_t step = 0;
    int32_t layer = 0;
    TensorClass cls = TensorClass::W;
    HistogramKind kind = HistogramKind::Value;
    Histogram hist;
    double quantStep = 0;
    double clipLo = 0, clipHi = 0;
};

struct SweepRecord {
    int64_t id = 0;
    std::string name;
    std::string sweepJson;
    std::string createdAt;
};

enum class TrialStatus : uint8_t { Pending, Running, Finished, Failed, Diverged };

struct SweepTrial {
    std::string configHash;
    int64_t runId = 0; // 0 when no run is attached (pending, or its run was deleted)
    TrialStatus status = TrialStatus::Pending;
    std::string message;   // why it failed; empty otherwise
    std::string claimHost; // the process that claimed it last (empty before the first claim)
    int64_t claimPid = 0;
};

// The process that trains a run or a sweep trial.
struct ProcessOwner {
    std::string host;
    int64_t pid = 0;
};

// The outcome of RunStore::runClaim.
struct RunClaim {
    bool claimed = false;     // the run now belongs to this process (status running)
    RunStatus previous = RunStatus::Interrupted; // its status before the claim
    ProcessOwner owner;       // not claimed, running: the live process that trains it
};

// The outcome of RunStore::sweepTrialClaim.
struct TrialClaim {
    enum class Outcome : uint8_t {
        Claimed, // train runId: a new run, or the trial's unfinished one (resumed)
        Done,    // finished (or diverged) before, with runId
        Busy,    // another live process trains it (owner)
    };
    Outcome outcome = Outcome::Claimed;
    int64_t runId = 0;
    bool resumed = false; // Claimed: runId existed before (continue from its checkpoint)
    TrialStatus status = TrialStatus::Pending; // Done: finished or diverged
    ProcessOwner owner;
};

// What RunStore::shardsMerge did with one shard database.
struct ShardMergeResult {
    std::string shard;     // its path, as given
    int32_t added = 0;     // runs new to this database
    int32_t updated = 0;   // runs merged before whose shard has progressed since (rows replaced)
    int32_t unchanged = 0; // runs merged before in the same state: nothing added
    std::vector<int64_t> runIds; // this database's ids of the shard's runs, in the shard's order
};

// Metric keys the store writes. Per step: loss, error, lr, images_per_s. Per epoch (at the
// epoch's last global step): train_loss, train_error, test_loss, test_error, epoch_seconds,
// epoch_images_per_s.
inline constexpr const char* kStepMetricKeys[] = {"loss", "error", "lr", "images_per_s"};
inline constexpr const char* kEpochMetricKeys[] = {
    "train_loss", "train_error", "test_loss", "test_error", "epoch_seconds", "epoch_images_per_s"};

// Checkpoints a run keeps besides its best epoch's unless told otherwise: the newest one, which is
// what a resume starts from.
inline constexpr int32_t kKeepCheckpointsDefault = 1;

enum class StoreAccess : uint8_t {
    ReadWrite, // create or migrate; falls back to read-only when the file or folder is not writable
    ReadOnly,  // the file must exist; nothing is ever written
    Existing,  // like ReadWrite, but the file must exist: a mistyped path is refused, not created
};

// One connection to a run database. Use one RunStore per thread; several RunStores (in one or
// many processes) may use the same file at once.
class RunStore {
public:
    // requires: path is absent, an empty file, or a bitbench run database.
    // ensures: the schema is at the latest version (read-write); runs marked running whose writer
    //          process on this host is gone are marked interrupted (read-write only).
    // throws: StoreError when the file is not SQLite, is SQLite but not ours, was written by a
    //         newer bitbench, or cannot be opened, and "no run database at PATH" when it is
    //         missing (ReadOnly, Existing). Nothing is written to a file that is refused.
    static RunStore open(const std::string& path, StoreAccess access = StoreAccess::ReadWrite);

    RunStore(RunStore&&) noexcept;
    RunStore& operator=(RunStore&&) noexcept;
    ~RunStore();

    const std::string& path() const;
    bool readOnly() const;
    // Why the store is read-only, in words for the user; empty when writable.
    const std::string& readOnlyReason() const;

    // Inserts a run with status running, owned by this process. Returns its id.
    // keepCheckpoints: how many of the newest checkpoints to keep besides the best epoch's
    // (0 = every one); older ones are deleted as new ones are stored.
    int64_t runCreate(const RunInfo& info, int32_t keepCheckpoints = kKeepCheckpointsDefault);
    // requires: keepCheckpoints >= 0. Applies from the next stored checkpoint on.
    void runSetKeepCheckpoints(int64_t runId, int32_t keepCheckpoints);
    // Stores the identity of the data the run reads: `info`'s dataset, dataDir and
    // dataFingerprint (see run_info_of). throws StoreError when the run does not exist.
    void runSetData(int64_t runId, const RunInfo& info);
    // Claims the run for this process in one write transaction (status running, this process as
    // its writer), unless it is finished or diverged or another live process trains it; a run
    // whose writer died is taken over. A process on another host counts as live. throws
    // StoreError when the run does not exist.
    RunClaim runClaim(int64_t runId);
    // Gives a claimed run back with `status` (e.g. its status before runClaim) when this process
    // does not train it after all. Does nothing if another process has claimed it since.
    void runRelease(int64_t runId, RunStatus status);
    // Marks the run failed with `message` (shown by `runs show` and the runs browser).
    void runFail(int64_t runId, const std::string& message);
    void runRename(int64_t runId, const std::string& name);
    // Deletes the run and everything stored for it. throws StoreError when it does not exist.
    void runDelete(int64_t runId);
    // Sets the final status, the end time, the summary and, for a diverged or failed run, the
    // step and the message saying what happened (-1 and empty keep the stored ones, which a
    // claim of the run clears).
    void runFinish(int64_t runId, RunStatus status, const std::string& summaryJson,
                   int64_t statusStep = -1, const std::string& statusMessage = {});
    // Marks running runs whose writer process on this host is gone; returns how many.
    int32_t runsMarkInterrupted();

    std::vector<RunRecord> runsList();
    // throws StoreError naming the id when there is no such run.
    RunRecord runGet(int64_t runId);
    bool runExists(int64_t runId);

    std::vector<MetricPoint> metricsGet(int64_t runId, const std::string& key);
    std::vector<std::string> metricKeys(int64_t runId);
    // One entry per stored epoch, ascending; fields without a stored value are NaN.
    std::vector<EpochMetrics> epochsGet(int64_t runId);
    // Tensor statistics with both histograms, ordered by step, layer, class.
    std::vector<TensorStats> tensorStatsGet(int64_t runId, int64_t stepFrom = 0,
                                            int64_t stepTo = std::numeric_limits<int64_t>::max());
    // Histograms of one tensor over steps stepFrom..stepTo inclusive, ascending.
    std::vector<HistogramRecord>
    histogramsGet(int64_t runId, int32_t layer, TensorClass cls, HistogramKind kind,
                  int64_t stepFrom = 0, int64_t stepTo = std::numeric_limits<int64_t>::max());
    std::optional<CheckpointRecord> checkpointLatest(int64_t runId);

    int64_t sweepCreate(const std::string& name, const std::string& sweepJson);
    // The sweep with this name and JSON, created if there is none, in one write transaction (two
    // processes starting the same sweep at once get the same id).
    int64_t sweepFindOrCreate(const std::string& name, const std::string& sweepJson);
    std::vector<SweepRecord> sweepsList();
    // throws StoreError naming the id when there is no such sweep.
    SweepRecord sweepGet(int64_t sweepId);
    // Inserts or updates the trial (sweep, configHash). runId 0 leaves no run attached.
    // `message` says why a trial diverged or failed (empty clears it).
    void sweepTrialPut(int64_t sweepId, const std::string& configHash, int64_t runId,
                       TrialStatus status, const std::string& message = {});
    // Claims the trial for this process in one write transaction: Done when it finished or
    // diverged before, Busy when another live process holds it or its run (a claim of a dead
    // process on this host is taken over); otherwise claims the trial's unfinished run (resumed)
    // or creates one from `info` with `keepCheckpoints` (as runCreate), and marks the trial
    // running with this process's host, pid and start token.
    TrialClaim sweepTrialClaim(int64_t sweepId, const std::string& configHash, const RunInfo& info,
                               int32_t keepCheckpoints = kKeepCheckpointsDefault);
    std::vector<SweepTrial> sweepTrialsGet(int64_t sweepId);

    // Folds shard databases (each written by one cluster task, storage.md "Shards") into this
    // one in a single write transaction: every run with its metrics, statistics, histograms,
    // epoch hashes and checkpoints, its sweep (found or created by name and JSON) and its trial
    // links. A run is known by its uid: merging a shard again adds nothing when its run is in
    // the state merged before, and replaces the run's rows (same id here) when it has progressed.
    // A run still marked running (its task was killed or ran out of time) arrives interrupted,
    // its trial failed with a message; no writer or claim is carried over. A trial that this
    // database already has finished or diverged with another run keeps that run.
    // throws: StoreError naming the shard that cannot be read (missing, not a run database, of a
    //         newer or older schema) or this database's error; then nothing at all is merged.
    std::vector<ShardMergeResult> shardsMerge(const std::vector<std::string>& shardPaths);
    // For a shard, which one process writes at a time (its task): forgets the writers and claims
    // of earlier processes, which have ended. Runs still marked running become interrupted and
    // trials still running become failed with `message`. Returns the trials changed.
    int32_t shardTakeOver(const std::string& message);

    // The fingerprint of each file (named relative to its folder in the result). A hash is read
    // from the file_fingerprints cache when the file's absolute path, size and modification time
    // match a cached row; otherwise the file is read, hashed and (unless read-only) cached.
    // throws: DataError naming a file that is missing, not a regular file or unreadable.
    std::vector<DataFileFingerprint> filesFingerprint(const std::vector<std::string>& files);
    // Files hashed (read in full) by filesFingerprint on this connection, for tests of the cache.
    int64_t filesHashed() const;

    struct Impl;

private:
    explicit RunStore(std::unique_ptr<Impl> impl);
    friend SqliteDb& store_connection(RunStore& store);
    std::unique_ptr<Impl> m_impl;
};

// Records one run's events from the training thread into the database through its own thread
// and connection, so the trainer never waits for the disk. Events are committed in batches
// about every 250 ms and at every epoch end; checkpoints are committed before checkpointPut
// returns. If a write fails (disk full), the next call on the writer throws that StoreError.
class RunWriter : public TrainObserver {
public:
    // requires: the run exists. Takes ownership of the run for this process (status running),
    //           which is also how a resumed run becomes running again.
    // throws: StoreError when the database cannot be opened for writing, the run is missing, or
    //         another live process trains it (run_busy_message).
    RunWriter(const std::string& dbPath, int64_t runId);
    // Without finish(): flushes what it can and marks the run interrupted. Never throws.
    ~RunWriter() override;
    RunWriter(const RunWriter&) = delete;
    RunWriter& operator=(const RunWriter&) = delete;

    void onStep(const StepMetrics& m) override;
    void onTensorStats(const std::vector<TensorStats>& stats) override;
    void onEpoch(const EpochMetrics& m) override;

    // Stores an opaque trainer checkpoint; returns once it (and every earlier event) is committed
    // with a full sync. A checkpoint at an existing step replaces it.
    void checkpointPut(int64_t step, int32_t epoch, std::vector<uint8_t> blob);
    // Returns once every event handed over so far is committed.
    void flush();
    // Commits everything, sets the final status and summary (with the step and message of a
    // diverged or failed run, see RunStore::runFinish), and stops the writer thread.
    void finish(RunStatus status, const std::string& summaryJson, int64_t statusStep = -1,
                const std::string& statusMessage = {});

    int64_t runId() const;
    // Transactions committed so far (for tests and measurements of the batching).
    int64_t commitCount() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// "run N is being trained by process P" (and "on host H" when that is another machine).
std::string run_busy_message(int64_t runId, const ProcessOwner& owner);

// The record of a run of `e`: its stored configuration (Experiment::stored()), hash, bits, model,
// and the engine a new run of it trains on (engine_select(e), EngineRule::Current).
RunInfo run_info_of(const Experiment& e);
// The same, plus the identity of the data it reads: the dataset's name, folder and the
// fingerprint of its files (hashes cached in `store`). throws DataError as filesFingerprint.
RunInfo run_info_of(const Experiment& e, const Dataset& data, RunStore& store);

// How run_data_load checked the data against the run's record.
enum class RunDataCheck : uint8_t {
    Matched,     // every file has the stored size and hash
    NotRecorded, // the run was stored without a fingerprint: nothing to check against
};

// Loads the data stored run `r` (of experiment `e`) trains on, from `dataDir` when given, else
// from the folder stored with the run, else (runs stored before) as the experiment says.
// ensures: with a stored fingerprint, the files read are the stored ones, byte for byte.
// throws: DataError naming the file that is missing or differs from the run's data (or any error
//         of the loader).
Dataset run_data_load(RunStore& store, const RunRecord& r, const Experiment& e,
                      const std::string& dataDir, RunDataCheck* check = nullptr);
// Loads the data of a sweep trial's run, which sweepTrialClaim creates before its data is read.
// A run with a stored fingerprint reads its own data exactly as run_data_load does (`dataDir` may
// point at a copy). Otherwise the data is read from `dataDir` (else as the experiment says), and a
// run that starts from scratch (no checkpoint) gets its identity stored (runSetData); one that
// continues from a checkpoint stored without a fingerprint reads it unchecked (NotRecorded).
// throws: as run_data_load; StoreError when the run does not exist or cannot be written.
Dataset run_data_attach(RunStore& store, int64_t runId, const Experiment& e,
                        const std::string& dataDir, RunDataCheck* check = nullptr);
// The experiment a stored run trains. throws StoreError when its stored configuration is unusable.
Experiment run_experiment_of(const RunRecord& r);
// The engine stored run `r` (of experiment `e`) resumes and replays on: the one it recorded, or
// for a run stored before engines were recorded, engine_select(e, EngineRule::Legacy) (the rule
// that trained it). throws StoreError when the recorded name is not an engine this program knows.
EngineKind run_engine_of(const RunRecord& r, const Experiment& e);

} // namespace bitbench
