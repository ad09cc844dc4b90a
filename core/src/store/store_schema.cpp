// Run database schema (v1 and the migrations to v2, v3, v4) and the user_version migrator.
#include "store/store_schema.h"

#include "bitbench/error.h"

#include <cstdio>
#include <string>

namespace bitbench {

namespace {

// Version 1. Metrics, statistics and histograms are WITHOUT ROWID tables keyed the way they are
// read (one run, one key or tensor, a range of steps). Checkpoints keep a rowid because their
// blobs are large. Every child row goes with its run (ON DELETE CASCADE); a sweep trial only
// loses its link to a deleted run, so the sweep can run that configuration again.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE runs (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL,
    experiment_json      TEXT NOT NULL,
    resolved_config_json TEXT NOT NULL,
    config_hash          TEXT NOT NULL,
    seed                 INTEGER NOT NULL,
    bits_pattern         TEXT NOT NULL,
    model                TEXT NOT NULL,
    dataset              TEXT NOT NULL,
    status               TEXT NOT NULL
                         CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    started_at           TEXT NOT NULL,
    ended_at             TEXT,
    program_version      TEXT NOT NULL,
    host                 TEXT NOT NULL,
    summary_json         TEXT,
    writer_host          TEXT,
    writer_pid           INTEGER,
    writer_token         TEXT
);
CREATE INDEX runs_config_hash ON runs (config_hash);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE metrics (
    run   INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key   TEXT NOT NULL,
    step  INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    value REAL,
    PRIMARY KEY (run, key, step)
) WITHOUT ROWID;

CREATE TABLE tensor_stats (
    run        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    layer      INTEGER NOT NULL,
    layer_name TEXT NOT NULL,
    class      TEXT NOT NULL CHECK (class IN ('W', 'A', 'G', 'E')),
    bits       INTEGER NOT NULL,
    max_abs    REAL,
    saturation REAL,
    underflow  REAL,
    sqnr       REAL,
    PRIMARY KEY (run, step, layer, class)
) WITHOUT ROWID;

CREATE TABLE histograms (
    run        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    layer      INTEGER NOT NULL,
    class      TEXT NOT NULL CHECK (class IN ('W', 'A', 'G', 'E')),
    kind       TEXT NOT NULL CHECK (kind IN ('value', 'error')),
    lo         REAL,
    hi         REAL,
    counts     BLOB NOT NULL,
    quant_step REAL,
    clip_lo    REAL,
    clip_hi    REAL,
    PRIMARY KEY (run, layer, class, kind, step)
) WITHOUT ROWID;

CREATE TABLE epoch_hashes (
    run          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch        INTEGER NOT NULL,
    step         INTEGER NOT NULL,
    weights_hash TEXT NOT NULL,
    PRIMARY KEY (run, epoch)
) WITHOUT ROWID;

CREATE TABLE checkpoints (
    run        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    step       INTEGER NOT NULL,
    epoch      INTEGER NOT NULL,
    blob       BLOB NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (run, step)
);

CREATE TABLE sweeps (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    sweep_json TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE sweep_trials (
    sweep       INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    config_hash TEXT NOT NULL,
    run         INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'running', 'finished', 'failed')),
    PRIMARY KEY (sweep, config_hash)
);
CREATE INDEX sweep_trials_run ON sweep_trials (run);
)sql";

// Version 2. SQLite cannot change a CHECK constraint in place, so `runs` and `sweep_trials` are
// rebuilt (create, copy, drop, rename: SQLite's documented procedure; store_schema_migrate turns
// foreign keys off around it so dropping the old `runs` cascades nothing, and checks them after).
// - runs: status `diverged` (a non-finite loss or weight stopped the run); `status_step` and
//   `status_message` say where and why a run ended diverged or failed; `data_dir` (the resolved
//   data folder, NULL for generated data) and `data_fingerprint` (JSON list of the data files'
//   name, size and XXH3-64; NULL for runs stored before version 2) tie a run to the exact data it
//   trained on; `keep_checkpoints` is how many of the newest checkpoints to keep besides the
//   best epoch's (0 = every one; runs from version 1 kept every one).
// - sweep_trials: status `diverged`; `message` says why a trial failed or diverged;
//   `claim_host`, `claim_pid`, `claim_token` name the process that claimed the trial, so two
//   sweep processes never train the same trial.
// - file_fingerprints: data file hashes cached by path, size and modification time.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE runs_v2 (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT NOT NULL,
    experiment_json      TEXT NOT NULL,
    resolved_config_json TEXT NOT NULL,
    config_hash          TEXT NOT NULL,
    seed                 INTEGER NOT NULL,
    bits_pattern         TEXT NOT NULL,
    model                TEXT NOT NULL,
    dataset              TEXT NOT NULL,
    status               TEXT NOT NULL
                         CHECK (status IN ('running', 'finished', 'failed', 'interrupted',
                                           'diverged')),
    started_at           TEXT NOT NULL,
    ended_at             TEXT,
    program_version      TEXT NOT NULL,
    host                 TEXT NOT NULL,
    summary_json         TEXT,
    writer_host          TEXT,
    writer_pid           INTEGER,
    writer_token         TEXT,
    status_step          INTEGER,
    status_message       TEXT,
    data_dir             TEXT,
    data_fingerprint     TEXT,
    keep_checkpoints     INTEGER NOT NULL DEFAULT 1 CHECK (keep_checkpoints >= 0)
);
INSERT INTO runs_v2 (id, name, experiment_json, resolved_config_json, config_hash, seed,
                     bits_pattern, model, dataset, status, started_at, ended_at,
                     program_version, host, summary_json, writer_host, writer_pid, writer_token,
                     keep_checkpoints)
    SELECT id, name, experiment_json, resolved_config_json, config_hash, seed, bits_pattern,
           model, dataset, status, started_at, ended_at, program_version, host, summary_json,
           writer_host, writer_pid, writer_token, 0
    FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
CREATE INDEX runs_config_hash ON runs (config_hash);
CREATE INDEX runs_status ON runs (status);

CREATE TABLE sweep_trials_v2 (
    sweep       INTEGER NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
    config_hash TEXT NOT NULL,
    run         INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('pending', 'running', 'finished', 'failed', 'diverged')),
    message     TEXT,
    claim_host  TEXT,
    claim_pid   INTEGER,
    claim_token TEXT,
    PRIMARY KEY (sweep, config_hash)
);
INSERT INTO sweep_trials_v2 (rowid, sweep, config_hash, run, status)
    SELECT rowid, sweep, config_hash, run, status FROM sweep_trials;
DROP TABLE sweep_trials;
ALTER TABLE sweep_trials_v2 RENAME TO sweep_trials;
CREATE INDEX sweep_trials_run ON sweep_trials (run);

CREATE TABLE file_fingerprints (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash     TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// Version 3. runs: `executor`, the engine that trained the run ("integer", "float", "graph",
// "reference"; engine_kind_name). A run resumes and replays on it, because the legacy float engine
// and the graph executor round their sums in different orders. NULL for runs stored before
// version 3: they use the rule of that release (EngineRule::Legacy). A nullable column without a
// CHECK, so ADD COLUMN suffices (no rebuild); unknown names are refused when a run is read back
// for training (run_engine_of).
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE runs ADD COLUMN executor TEXT;
)sql";

// Version 4: runs written on cluster nodes into shard databases and merged back.
// - runs.uid: 32 random hex digits given to every run when it is created (and to every existing
//   run here), so a run keeps one identity across files: a shard's run merged into the main
//   database keeps its uid, and merging the shard again finds it instead of adding a copy.
// - shard_merges: per merged run (by uid), the run it became here, the shard it came from and
//   the state it was merged in (status, end, steps, newest checkpoint, trial statuses); a merge
//   that finds the same state adds nothing, a later state replaces the run's rows.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE runs ADD COLUMN uid TEXT;
UPDATE runs SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX runs_uid ON runs (uid);
CREATE TABLE shard_merges (
    uid       TEXT PRIMARY KEY,
    run       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    state     TEXT NOT NULL,
    shard     TEXT NOT NULL,
    merged_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX shard_merges_run ON shard_merges (run);
)sql";

constexpr StoreMigration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaV4},
};

} // namespace

std::span<const StoreMigration> store_schema_migrations() {
    return kMigrations;
}

int32_t store_schema_latest() {
    return kMigrations[std::size(kMigrations) - 1].version;
}

int32_t store_schema_check(SqliteDb& db, int32_t latest) {
    // The three reads must see one snapshot: another process may commit its migration between
    // them, and "no id yet, but tables" would then look like somebody else's file.
    const bool ownSnapshot = sqlite3_get_autocommit(db.handle()) != 0;
    if (ownSnapshot) db.exec("BEGIN", "reading the schema version");
    int32_t appId = 0, version = 0;
    int64_t objects = 0;
    try {
        appId = int32_t(db.scalarInt("PRAGMA application_id"));
        version = int32_t(db.scalarInt("PRAGMA user_version"));
        objects = db.scalarInt("SELECT count(*) FROM sqlite_schema");
    } catch (...) {
        if (ownSnapshot) sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
    if (ownSnapshot) db.exec("COMMIT", "reading the schema version");
    if (appId != kStoreApplicationId) {
        if (appId == 0 && version == 0 && objects == 0) return 0; // fresh, empty database
        char hex[16];
        std::snprintf(hex, sizeof hex, "0x%08x", uint32_t(appId));
        throw StoreError(error_message_file(
            db.path(), std::string("is an SQLite database but not a bitbench run database "
                                   "(application_id ") +
                           hex + "); choose another file, it was left untouched"));
    }
    if (version > latest)
        throw StoreError(error_message_file(
            db.path(), "was written by a newer bitbench (schema " + std::to_string(version) +
                           ", this program knows " + std::to_string(latest) +
                           "); update bitbench to open it"));
    return version;
}

void store_schema_vacuum_prepare(SqliteDb& db) {
    // Takes effect only while the file has no page yet (before journal_mode = WAL writes one).
    // Not on an existing file: there the pragma writes the header even when nothing changes.
    if (db.scalarInt("PRAGMA page_count") == 0)
        db.exec("PRAGMA auto_vacuum = INCREMENTAL", "choosing incremental auto-vacuum");
}

bool store_schema_vacuum_convert(SqliteDb& db) {
    if (db.scalarInt("PRAGMA auto_vacuum") == 2) return true;
    try {
        db.exec("PRAGMA auto_vacuum = INCREMENTAL; VACUUM", "converting to incremental auto-vacuum");
    } catch (const StoreError&) {
        return false;
    }
    return db.scalarInt("PRAGMA auto_vacuum") == 2;
}

void store_schema_migrate(SqliteDb& db, std::span<const StoreMigration> steps) {
    // A step may rebuild a parent table (create, copy, drop, rename). With foreign keys on,
    // dropping the old `runs` would cascade into every child table, so they are off for the
    // upgrade (the pragma is a no-op inside a transaction, hence out here) and checked before the
    // commit instead.
    const bool foreignKeys = db.scalarInt("PRAGMA foreign_keys") != 0;
    if (foreignKeys) db.exec("PRAGMA foreign_keys = OFF", "preparing the schema upgrade");
    struct Restore {
        SqliteDb& db;
        bool on;
        ~Restore() {
            if (on) sqlite3_exec(db.handle(), "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr);
        }
    } restore{db, foreignKeys};
    SqliteWriteTxn txn(db);
    // Re-read under the write lock: another process may have migrated since our check.
    const int32_t latest = steps.empty() ? 0 : steps.back().version;
    const int32_t from = store_schema_check(db, latest);
    if (from >= latest) return;
    for (const StoreMigration& m : steps) {
        if (m.version <= from) continue;
        db.exec(m.sql, ("upgrading the database to schema " + std::to_string(m.version)).c_str());
    }
    if (db.scalarInt("SELECT count(*) FROM pragma_foreign_key_check") != 0)
        throw StoreError(error_message_file(
            db.path(), "the schema upgrade to version " + std::to_string(latest) +
                           " would break references between tables; the file was left as it was"));
    db.exec(("PRAGMA user_version = " + std::to_string(latest)).c_str(),
            "setting the schema version");
    db.exec(("PRAGMA application_id = " + std::to_string(kStoreApplicationId)).c_str(),
            "marking the database as bitbench's");
    txn.commit();
}

} // namespace bitbench
