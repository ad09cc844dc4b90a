// Store internals shared by RunStore and RunWriter: the connection and the event row writers.
#pragma once

#include "bitbench/atomic_file.h"
#include "bitbench/store.h"
#include "store/sqlite_db.h"

#include <optional>
#include <span>

namespace bitbench {

struct RunStore::Impl {
    SqliteDb db;
    std::string path;
    std::string readOnlyReason; // empty when writable
    FileOpenMark mark{path};    // output files never replace a database that is open here
    int64_t filesHashed = 0;    // data files read in full by filesFingerprint
};

// The connection behind a store, for the writer's inserts.
SqliteDb& store_connection(RunStore& store);

// throws: StoreError naming the file and `what` (e.g. "rename a run") when the store is read-only.
void store_require_writable(const RunStore::Impl& impl, const char* what);
// throws: StoreError naming the file and the run id that is not in it.
[[noreturn]] void store_no_such_run(const std::string& path, int64_t runId);

// Inserts a run owned by this process and returns its id.
// requires: inside a write transaction. throws: InputError for a seed above kSeedMax.
int64_t store_insert_run(SqliteDb& db, const RunInfo& info, int32_t keepCheckpoints);

// The id of the sweep with this name and JSON, inserted when there is none.
// requires: inside a write transaction.
int64_t store_sweep_find_or_create(SqliteDb& db, const std::string& name,
                                   const std::string& sweepJson);

// Status names as stored in runs.status and sweep_trials.status (store_status.cpp).
// throws: StoreError naming the file `path` for a run status this program does not know.
RunStatus store_run_status_parse(const std::string& s, const std::string& path);
const char* store_trial_status_name(TrialStatus s);
// An unknown trial status reads as pending.
TrialStatus store_trial_status_parse(const std::string& s);
// "W", "A", "G", "E"; anything else reads as W.
TensorClass store_tensor_class_parse(const std::string& s);

// Row writers for one event each. requires: inside a write transaction on `db`.
void store_put_step(SqliteDb& db, int64_t runId, const StepMetrics& m);
void store_put_tensor_stats(SqliteDb& db, int64_t runId, const TensorStats& s);
void store_put_epoch(SqliteDb& db, int64_t runId, const EpochMetrics& m);
void store_put_checkpoint(SqliteDb& db, int64_t runId, int64_t step, int32_t epoch,
                          std::span<const uint8_t> blob);
// Claims the run for this process: status running, writer host/pid/token, no end time, no
// failure message.
void store_put_run_owner(SqliteDb& db, int64_t runId);

// Whether a recorded owner (host, pid, start token) is another process that may still be at work:
// on this host, alive with the same token; on another host, always (its processes are not
// visible from here). This process itself is not another one.
bool store_owner_live(const std::string& host, int64_t pid, const std::string& token);

// The live process other than this one that trains the run (status running), if any.
// requires: inside a write transaction, so the answer holds until the commit.
std::optional<ProcessOwner> store_run_live_owner(SqliteDb& db, int64_t runId);

// Deletes the run's checkpoints beyond its keep_checkpoints newest ones, except the best epoch's
// (lowest test error, the earliest on a tie), and returns the freed pages to the file system.
// requires: inside a write transaction.
void store_prune_checkpoints(SqliteDb& db, int64_t runId);

// Histogram counts as stored: little-endian uint32 each, whatever the host's byte order.
std::vector<uint8_t> store_counts_encode(const std::vector<uint32_t>& counts);
std::vector<uint32_t> store_counts_decode(const std::vector<uint8_t>& blob);

} // namespace bitbench
