// Store internals shared by RunStore and RunWriter: the connection and the event row writers.
#pragma once

#include "bitbench/store.h"
#include "sqlite_db.h"

#include <span>

namespace bitbench {

struct RunStore::Impl {
    SqliteDb db;
    std::string path;
    std::string readOnlyReason; // empty when writable
};

// The connection behind a store, for the writer's inserts.
SqliteDb& store_connection(RunStore& store);

// Row writers for one event each. requires: inside a write transaction on `db`.
void store_put_step(SqliteDb& db, int64_t runId, const StepMetrics& m);
void store_put_tensor_stats(SqliteDb& db, int64_t runId, const TensorStats& s);
void store_put_epoch(SqliteDb& db, int64_t runId, const EpochMetrics& m);
void store_put_checkpoint(SqliteDb& db, int64_t runId, int64_t step, int32_t epoch,
                          std::span<const uint8_t> blob);
// Claims the run for this process: status running, writer host/pid/token, no end time.
void store_put_run_owner(SqliteDb& db, int64_t runId);

// Histogram counts as stored: little-endian uint32 each, whatever the host's byte order.
std::vector<uint8_t> store_counts_encode(const std::vector<uint32_t>& counts);
std::vector<uint32_t> store_counts_decode(const std::vector<uint8_t>& blob);

} // namespace bitbench
