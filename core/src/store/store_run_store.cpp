// RunStore: opening (checks, read-only fallback, migration, crash recovery) and queries.
#include "store/store_impl.h"
#include "store/store_process.h"
#include "store/store_schema.h"

#include "bitbench/atomic_file.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/version.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <thread>

#include <unistd.h>

namespace bitbench {

namespace fs = std::filesystem;

namespace {

constexpr int kBusyTimeoutMs = 10000;

std::string uriFor(const std::string& path, bool immutable) {
    std::string u = "file:";
    for (char c : path) {
        if (c == '%' || c == '?' || c == '#') {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", unsigned(uint8_t(c)));
            u += buf;
        } else {
            u += c;
        }
    }
    return immutable ? u + "?immutable=1" : u;
}

std::string folderOf(const std::string& path) {
    fs::path dir = fs::path(path).parent_path();
    return dir.empty() ? std::string(".") : dir.string();
}

// err: the errno of the failed write-access check on the folder.
std::string folderReason(const std::string& path, int err) {
    const std::string name = fs::path(path).filename().string();
    return "the folder '" + folderOf(path) +
           "' is not writable, and SQLite's write-ahead log needs "
           "to create '" +
           name + "-wal' and '" + name + "-shm' next to the database" +
           (err == EROFS ? " (it is on a " + file_errno_words(err) +
                               "); copy the database to a writable folder"
                         : "; make the folder writable or copy the database to a writable folder");
}

RunStatus statusParse(const std::string& s, const std::string& path) {
    for (RunStatus r : {RunStatus::Running, RunStatus::Finished, RunStatus::Failed,
                        RunStatus::Interrupted, RunStatus::Diverged})
        if (s == run_status_name(r)) return r;
    throw StoreError(error_message_file(path, "unknown run status '" + s + "'"));
}

const char* trialName(TrialStatus s) {
    switch (s) {
    case TrialStatus::Pending:
        return "pending";
    case TrialStatus::Running:
        return "running";
    case TrialStatus::Finished:
        return "finished";
    case TrialStatus::Failed:
        return "failed";
    case TrialStatus::Diverged:
        return "diverged";
    }
    return "pending";
}

TrialStatus trialParse(const std::string& s) {
    for (TrialStatus t : {TrialStatus::Pending, TrialStatus::Running, TrialStatus::Finished,
                          TrialStatus::Failed, TrialStatus::Diverged})
        if (s == trialName(t)) return t;
    return TrialStatus::Pending;
}

TensorClass classParse(const std::string& s) {
    for (int i = 0; i < 4; ++i)
        if (s == kTensorClassNames[i]) return TensorClass(i);
    return TensorClass::W;
}

void setPragmas(SqliteDb& db) {
    store_schema_vacuum_prepare(db); // before the first page of a new file is written
    // Switching to WAL needs a moment of exclusive access; another opener may hold it briefly.
    for (int attempt = 1;; ++attempt) {
        try {
            db.exec("PRAGMA journal_mode = WAL", "switching to write-ahead logging");
            break;
        } catch (const StoreError&) {
            if (attempt == 20) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
        }
    }
    db.exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", "configuring the connection");
}

#define BB_RUN_COLUMNS                                                                             \
    "SELECT r.id, r.name, r.experiment_json, r.resolved_config_json, r.config_hash, r.seed, "      \
    "r.bits_pattern, r.model, r.dataset, r.program_version, r.host, r.status, r.started_at, "      \
    "r.ended_at, r.summary_json, "                                                                 \
    "(SELECT count(*) FROM epoch_hashes e WHERE e.run = r.id), "                                   \
    "(SELECT max(step) + 1 FROM metrics m WHERE m.run = r.id AND m.key = 'loss'), "                \
    "(SELECT count(*) FROM checkpoints c WHERE c.run = r.id), r.keep_checkpoints, "               \
    "r.status_message, r.data_dir, r.data_fingerprint, r.status_step, r.executor FROM runs r "

RunRecord readRun(const SqliteQuery& q, const std::string& path) {
    RunRecord r;
    r.id = q.colInt(0);
    r.info.name = q.colText(1);
    r.info.experimentJson = q.colText(2);
    r.info.resolvedConfigJson = q.colText(3);
    r.info.configHash = q.colText(4);
    r.info.seed = uint64_t(q.colInt(5)); // 0..kSeedMax, which SQLite's signed integer holds
    r.info.bitsPattern = q.colText(6);
    r.info.model = q.colText(7);
    r.info.dataset = q.colText(8);
    r.info.programVersion = q.colText(9);
    r.info.host = q.colText(10);
    r.status = statusParse(q.colText(11), path);
    r.startedAt = q.colText(12);
    r.endedAt = q.colText(13);
    r.summaryJson = q.colText(14);
    r.epochs = int32_t(q.colInt(15));
    r.steps = q.colInt(16);
    r.checkpoints = int32_t(q.colInt(17));
    r.keepCheckpoints = int32_t(q.colInt(18));
    r.statusMessage = q.colText(19);
    r.info.dataDir = q.colText(20);
    r.info.dataFingerprint = q.colText(21);
    r.statusStep = q.isNull(22) ? -1 : q.colInt(22);
    r.info.executor = q.colText(23);
    return r;
}

Histogram readHistogram(const SqliteQuery& q, int lo) {
    Histogram h;
    h.lo = q.colDouble(lo);
    h.hi = q.colDouble(lo + 1);
    h.counts = store_counts_decode(q.colBlob(lo + 2));
    return h;
}

} // namespace

const char* run_status_name(RunStatus s) {
    switch (s) {
    case RunStatus::Running:
        return "running";
    case RunStatus::Finished:
        return "finished";
    case RunStatus::Failed:
        return "failed";
    case RunStatus::Interrupted:
        return "interrupted";
    case RunStatus::Diverged:
        return "diverged";
    }
    return "running";
}

int64_t run_id_parse(const std::string& text) {
    int64_t id = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, id);
    if (text.empty() || ec != std::errc() || ptr != end || id <= 0)
        throw InputError("'" + text +
                         "' is not a run id (expected a positive integer, as shown by "
                         "`bitbench-cli runs list`)");
    return id;
}

SqliteDb& store_connection(RunStore& store) {
    return store.m_impl->db;
}

RunStore RunStore::open(const std::string& path, StoreAccess access) {
    // A database's -wal, -shm or -journal file belongs to it: SQLite would take an empty or
    // absent one for a new database and write into it, under the feet of that database.
    if (const std::string base = file_database_companion(path); !base.empty())
        throw StoreError(error_message_file(
            path, "belongs to the SQLite database '" + base +
                      "' and is no run database of its own; choose another file, it was left "
                      "untouched"));
    std::error_code ec;
    const bool exists = fs::exists(path, ec);
    const std::string dir = folderOf(path);
    if (!exists && access != StoreAccess::ReadWrite) {
        throw StoreError("no run database at '" + path +
                         "' (nothing stored there yet, or the path is mistyped)");
    } else if (!exists) {
        fs::create_directories(dir, ec);
        if (ec)
            throw StoreError(error_message_file(path, "cannot create its folder: " + ec.message()));
        if (::access(dir.c_str(), W_OK) != 0)
            throw StoreError(error_message_file(
                path, "cannot create the database: " + folderReason(path, errno)));
    }

    std::string reason;
    const bool dirWritable = ::access(dir.c_str(), W_OK) == 0;
    const int dirErrno = dirWritable ? 0 : errno;
    if (access == StoreAccess::ReadOnly)
        reason = "opened read-only";
    else if (exists && ::access(path.c_str(), W_OK) != 0)
        reason = "the file is read-only (" + file_errno_words(errno) + ")";
    else if (!dirWritable)
        reason = folderReason(path, dirErrno);
    const bool readOnly = !reason.empty();

    // A WAL database read without a writable folder cannot get its -shm file; if nobody made one,
    // nobody can be writing either (they would need the same folder), so read it as immutable.
    const bool immutable = readOnly && !dirWritable && !fs::exists(path + "-shm", ec);
    // Only a path that was absent may be created: SQLite must not make a file that appeared or
    // vanished since the check.
    const int flags = SQLITE_OPEN_URI |
                      (readOnly ? SQLITE_OPEN_READONLY
                                : SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE));
    auto impl =
        std::make_unique<Impl>(Impl{SqliteDb(path, uriFor(path, immutable), flags), path, reason});
    SqliteDb& db = impl->db;
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);

    const int32_t latest = store_schema_latest();
    int32_t version = 0;
    try {
        // Nothing is written before this check passes. The file is only ever read through
        // SQLite: closing a second descriptor of a database file drops this process's POSIX
        // locks on it, and other processes could then checkpoint away our uncommitted WAL.
        version = store_schema_check(db, latest);
    } catch (const StoreError& e) {
        if ((sqlite3_errcode(db.handle()) & 0xff) == SQLITE_NOTADB)
            throw StoreError(error_message_file(
                path, "is not a bitbench run database (not an SQLite file); choose another file, "
                      "it was left untouched"));
        if (!dirWritable && std::string(e.what()).find("bitbench") == std::string::npos)
            throw StoreError(error_message_file(
                path, "cannot read the database: " + folderReason(path, dirErrno)));
        throw;
    }
    if (readOnly) {
        if (version == 0)
            throw StoreError(error_message_file(path, "is empty and cannot be written (" + reason +
                                                          "): there are no runs to read"));
        if (version < latest)
            throw StoreError(error_message_file(
                path, "uses schema " + std::to_string(version) + ", older than this program's " +
                          std::to_string(latest) + ", and cannot be upgraded (" + reason +
                          "); open it once with write access"));
        return RunStore(std::move(impl));
    }
    setPragmas(db);
    if (version < latest) store_schema_migrate(db, store_schema_migrations());
    // Files from before schema 2 (and new files made by another program's connection) are
    // converted once; a failure (e.g. no room for the copy) leaves them usable as they are.
    store_schema_vacuum_convert(db);
    RunStore store(std::move(impl));
    store.runsMarkInterrupted();
    return store;
}

RunStore::RunStore(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RunStore::RunStore(RunStore&&) noexcept = default;
RunStore& RunStore::operator=(RunStore&&) noexcept = default;
RunStore::~RunStore() = default;

const std::string& RunStore::path() const {
    return m_impl->path;
}
bool RunStore::readOnly() const {
    return !m_impl->readOnlyReason.empty();
}
const std::string& RunStore::readOnlyReason() const {
    return m_impl->readOnlyReason;
}

namespace {
void requireWritable(const RunStore::Impl& impl, const char* what) {
    if (!impl.readOnlyReason.empty())
        throw StoreError(error_message_file(impl.path, std::string("cannot ") + what + ": " +
                                                           impl.readOnlyReason));
}
} // namespace

namespace {

// Inserts a run owned by this process. requires: inside a write transaction.
int64_t insertRun(SqliteDb& db, const RunInfo& info, int32_t keepCheckpoints) {
    // One seed range everywhere: a larger seed would be stored negative and not read back.
    if (info.seed > kSeedMax)
        throw InputError("seed " + std::to_string(info.seed) + " is out of range 0.." + std::to_string(kSeedMax));
    const int64_t pid = store_pid();
    SqliteQuery q = db.query(
        "INSERT INTO runs (name, experiment_json, resolved_config_json, config_hash, seed, "
        "bits_pattern, model, dataset, status, started_at, program_version, host, "
        "writer_host, writer_pid, writer_token, keep_checkpoints, data_dir, data_fingerprint, "
        "executor) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?, "
        "?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, info.name)
        .bind(2, info.experimentJson)
        .bind(3, info.resolvedConfigJson)
        .bind(4, info.configHash)
        .bind(5, int64_t(info.seed))
        .bind(6, info.bitsPattern)
        .bind(7, info.model)
        .bind(8, info.dataset)
        .bind(9, info.programVersion.empty() ? std::string(kVersion) : info.programVersion)
        .bind(10, info.host.empty() ? store_host_name() : info.host)
        .bind(11, store_host_name())
        .bind(12, pid)
        .bind(13, store_process_token(pid))
        .bind(14, int64_t(std::max(keepCheckpoints, 0)));
    // NULL, not '', for what is not known: generated data has no folder, old runs no fingerprint.
    if (info.dataDir.empty())
        q.bindNull(15);
    else
        q.bind(15, info.dataDir);
    if (info.dataFingerprint.empty())
        q.bindNull(16);
    else
        q.bind(16, info.dataFingerprint);
    if (info.executor.empty())
        q.bindNull(17);
    else
        q.bind(17, info.executor);
    q.run();
    return db.lastInsertId();
}

} // namespace

int64_t RunStore::runCreate(const RunInfo& info, int32_t keepCheckpoints) {
    requireWritable(*m_impl, "create a run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    const int64_t id = insertRun(db, info, keepCheckpoints);
    txn.commit();
    return id;
}

namespace {
[[noreturn]] void noSuchRun(const std::string& path, int64_t runId) {
    throw StoreError(error_message_file(path, "has no run with id " + std::to_string(runId) +
                                                  " (see `bitbench-cli runs list`)"));
}
} // namespace

void RunStore::runRename(int64_t runId, const std::string& name) {
    requireWritable(*m_impl, "rename a run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("UPDATE runs SET name = ? WHERE id = ?").bind(1, name).bind(2, runId).run();
    if (db.changes() == 0) noSuchRun(m_impl->path, runId);
    txn.commit();
}

void RunStore::runDelete(int64_t runId) {
    requireWritable(*m_impl, "delete a run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("DELETE FROM runs WHERE id = ?").bind(1, runId).run();
    if (db.changes() == 0) noSuchRun(m_impl->path, runId);
    db.exec("PRAGMA incremental_vacuum", "returning the run's space to the file system");
    txn.commit();
}

void RunStore::runFinish(int64_t runId, RunStatus status, const std::string& summaryJson,
                         int64_t statusStep, const std::string& statusMessage) {
    requireWritable(*m_impl, "finish a run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    auto q = db.query("UPDATE runs SET status = ?, ended_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
                      "'now'), summary_json = ?, status_step = coalesce(?, status_step), "
                      "status_message = coalesce(?, status_message) WHERE id = ?");
    q.bind(1, std::string(run_status_name(status))).bind(5, runId);
    if (summaryJson.empty())
        q.bindNull(2);
    else
        q.bind(2, summaryJson);
    if (statusStep < 0)
        q.bindNull(3);
    else
        q.bind(3, statusStep);
    if (statusMessage.empty())
        q.bindNull(4);
    else
        q.bind(4, statusMessage);
    q.run();
    if (db.changes() == 0) noSuchRun(m_impl->path, runId);
    txn.commit();
}

void RunStore::runSetKeepCheckpoints(int64_t runId, int32_t keepCheckpoints) {
    requireWritable(*m_impl, "set the run's checkpoint policy");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("UPDATE runs SET keep_checkpoints = ? WHERE id = ?")
        .bind(1, int64_t(std::max(keepCheckpoints, 0)))
        .bind(2, runId)
        .run();
    if (db.changes() == 0) noSuchRun(m_impl->path, runId);
    txn.commit();
}

void RunStore::runSetData(int64_t runId, const RunInfo& info) {
    requireWritable(*m_impl, "record the run's data");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    auto q = db.query("UPDATE runs SET dataset = ?, data_dir = ?, data_fingerprint = ? WHERE id = ?");
    q.bind(1, info.dataset).bind(4, runId);
    // NULL, not '', for what is not known, as insertRun stores it.
    if (info.dataDir.empty())
        q.bindNull(2);
    else
        q.bind(2, info.dataDir);
    if (info.dataFingerprint.empty())
        q.bindNull(3);
    else
        q.bind(3, info.dataFingerprint);
    q.run();
    if (db.changes() == 0) noSuchRun(m_impl->path, runId);
    txn.commit();
}

RunClaim RunStore::runClaim(int64_t runId) {
    requireWritable(*m_impl, "claim a run");
    SqliteDb& db = m_impl->db;
    // BEGIN IMMEDIATE holds the write lock from the first read: of two processes claiming at
    // once, the second reads the first one's claim.
    SqliteWriteTxn txn(db);
    RunClaim c;
    {
        auto q = db.query("SELECT status FROM runs WHERE id = ?");
        q.bind(1, runId);
        if (!q.step()) noSuchRun(m_impl->path, runId);
        c.previous = statusParse(q.colText(0), m_impl->path);
    }
    // A diverged run would diverge again from the same checkpoint: it is done too.
    if (c.previous == RunStatus::Finished || c.previous == RunStatus::Diverged) return c;
    if (const auto owner = store_run_live_owner(db, runId)) {
        c.owner = *owner;
        return c;
    }
    // A run left `running` by a dead writer was interrupted.
    if (c.previous == RunStatus::Running) c.previous = RunStatus::Interrupted;
    store_put_run_owner(db, runId);
    txn.commit();
    c.claimed = true;
    return c;
}

void RunStore::runRelease(int64_t runId, RunStatus status) {
    requireWritable(*m_impl, "release a run");
    SqliteDb& db = m_impl->db;
    const int64_t pid = store_pid();
    SqliteWriteTxn txn(db);
    db.query("UPDATE runs SET status = ?, ended_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
             "WHERE id = ? AND status = 'running' AND writer_host = ? AND writer_pid = ? "
             "AND writer_token IS ?")
        .bind(1, std::string(run_status_name(status)))
        .bind(2, runId)
        .bind(3, store_host_name())
        .bind(4, pid)
        .bind(5, store_process_token(pid))
        .run();
    txn.commit();
}

void RunStore::runFail(int64_t runId, const std::string& message) {
    requireWritable(*m_impl, "record a failed run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("UPDATE runs SET status = 'failed', ended_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
             "'now'), status_message = ? WHERE id = ?")
        .bind(1, message)
        .bind(2, runId)
        .run();
    if (db.changes() == 0) noSuchRun(m_impl->path, runId);
    txn.commit();
}

int32_t RunStore::runsMarkInterrupted() {
    if (readOnly()) return 0;
    SqliteDb& db = m_impl->db;
    struct Candidate {
        int64_t id, pid;
        std::string token;
    };
    std::vector<Candidate> dead;
    {
        auto q = db.query("SELECT id, writer_pid, writer_token FROM runs "
                          "WHERE status = 'running' AND writer_host = ?");
        q.bind(1, store_host_name());
        while (q.step()) {
            Candidate c{q.colInt(0), q.colInt(1), q.colText(2)};
            if (!store_process_alive(c.pid, c.token)) dead.push_back(std::move(c));
        }
    }
    if (dead.empty()) return 0;
    int32_t marked = 0;
    SqliteWriteTxn txn(db);
    for (const Candidate& c : dead) {
        // Guarded by the token: a process that claimed the run meanwhile (resume) keeps it.
        db.query("UPDATE runs SET status = 'interrupted', ended_at = "
                 "strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ? AND status = 'running' "
                 "AND writer_pid = ? AND writer_token IS ?")
            .bind(1, c.id)
            .bind(2, c.pid)
            .bind(3, c.token)
            .run();
        marked += int32_t(db.changes());
    }
    txn.commit();
    return marked;
}

std::vector<RunRecord> RunStore::runsList() {
    std::vector<RunRecord> out;
    auto q = m_impl->db.query(BB_RUN_COLUMNS "ORDER BY r.id");
    while (q.step())
        out.push_back(readRun(q, m_impl->path));
    return out;
}

RunRecord RunStore::runGet(int64_t runId) {
    auto q = m_impl->db.query(BB_RUN_COLUMNS "WHERE r.id = ?");
    q.bind(1, runId);
    if (!q.step()) noSuchRun(m_impl->path, runId);
    return readRun(q, m_impl->path);
}

bool RunStore::runExists(int64_t runId) {
    auto q = m_impl->db.query("SELECT 1 FROM runs WHERE id = ?");
    q.bind(1, runId);
    return q.step();
}

std::vector<MetricPoint> RunStore::metricsGet(int64_t runId, const std::string& key) {
    std::vector<MetricPoint> out;
    auto q = m_impl->db.query(
        "SELECT step, epoch, value FROM metrics WHERE run = ? AND key = ? ORDER BY step");
    q.bind(1, runId).bind(2, key);
    while (q.step())
        out.push_back({q.colInt(0), int32_t(q.colInt(1)), q.colDouble(2)});
    return out;
}

std::vector<std::string> RunStore::metricKeys(int64_t runId) {
    std::vector<std::string> out;
    auto q = m_impl->db.query("SELECT DISTINCT key FROM metrics WHERE run = ? ORDER BY key");
    q.bind(1, runId);
    while (q.step())
        out.push_back(q.colText(0));
    return out;
}

std::vector<EpochMetrics> RunStore::epochsGet(int64_t runId) {
    std::vector<EpochMetrics> out;
    // One row per epoch; each value is a primary-key lookup in metrics.
    auto q = m_impl->db.query("SELECT h.epoch, h.step, h.weights_hash, "
                              "(SELECT value FROM metrics m WHERE m.run = h.run AND m.key = "
                              "'train_loss' AND m.step = h.step), "
                              "(SELECT value FROM metrics m WHERE m.run = h.run AND m.key = "
                              "'train_error' AND m.step = h.step), "
                              "(SELECT value FROM metrics m WHERE m.run = h.run AND m.key = "
                              "'test_loss' AND m.step = h.step), "
                              "(SELECT value FROM metrics m WHERE m.run = h.run AND m.key = "
                              "'test_error' AND m.step = h.step), "
                              "(SELECT value FROM metrics m WHERE m.run = h.run AND m.key = "
                              "'epoch_seconds' AND m.step = h.step), "
                              "(SELECT value FROM metrics m WHERE m.run = h.run AND m.key = "
                              "'epoch_images_per_s' AND m.step = h.step) "
                              "FROM epoch_hashes h WHERE h.run = ? ORDER BY h.epoch");
    q.bind(1, runId);
    while (q.step()) {
        EpochMetrics e;
        e.epoch = int32_t(q.colInt(0));
        e.step = q.colInt(1);
        e.weightsHash = std::strtoull(q.colText(2).c_str(), nullptr, 16);
        e.trainLoss = q.colDouble(3);
        e.trainError = q.colDouble(4);
        e.testLoss = q.colDouble(5);
        e.testError = q.colDouble(6);
        e.seconds = q.colDouble(7);
        e.imagesPerSecond = q.colDouble(8);
        out.push_back(e);
    }
    return out;
}

std::vector<TensorStats> RunStore::tensorStatsGet(int64_t runId, int64_t stepFrom, int64_t stepTo) {
    std::vector<TensorStats> out;
    auto q = m_impl->db.query(
        "SELECT s.step, s.layer, s.layer_name, s.class, s.bits, s.max_abs, s.saturation, "
        "s.underflow, s.sqnr, hv.quant_step, hv.clip_lo, hv.clip_hi, hv.lo, hv.hi, hv.counts, "
        "he.lo, he.hi, he.counts FROM tensor_stats s "
        "LEFT JOIN histograms hv ON hv.run = s.run AND hv.layer = s.layer AND hv.class = s.class "
        "AND hv.kind = 'value' AND hv.step = s.step "
        "LEFT JOIN histograms he ON he.run = s.run AND he.layer = s.layer AND he.class = s.class "
        "AND he.kind = 'error' AND he.step = s.step "
        "WHERE s.run = ? AND s.step BETWEEN ? AND ? ORDER BY s.step, s.layer, instr('WAGE', "
        "s.class)");
    q.bind(1, runId).bind(2, stepFrom).bind(3, stepTo);
    while (q.step()) {
        TensorStats s;
        s.step = q.colInt(0);
        s.layer = int32_t(q.colInt(1));
        s.layerName = q.colText(2);
        s.cls = classParse(q.colText(3));
        s.bits = int32_t(q.colInt(4));
        s.maxAbs = q.colDouble(5);
        s.saturation = q.colDouble(6);
        s.underflow = q.colDouble(7);
        s.sqnrDb = q.colDouble(8);
        s.quantStep = q.colDouble(9);
        s.clipLo = q.colDouble(10);
        s.clipHi = q.colDouble(11);
        s.values = readHistogram(q, 12);
        s.error = readHistogram(q, 15);
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<HistogramRecord> RunStore::histogramsGet(int64_t runId, int32_t layer, TensorClass cls,
                                                     HistogramKind kind, int64_t stepFrom,
                                                     int64_t stepTo) {
    std::vector<HistogramRecord> out;
    auto q = m_impl->db.query(
        "SELECT step, lo, hi, counts, quant_step, clip_lo, clip_hi FROM histograms WHERE run = ? "
        "AND layer = ? AND class = ? AND kind = ? AND step BETWEEN ? AND ? ORDER BY step");
    q.bind(1, runId)
        .bind(2, layer)
        .bind(3, std::string(kTensorClassNames[int(cls)]))
        .bind(4, std::string(kind == HistogramKind::Value ? "value" : "error"))
        .bind(5, stepFrom)
        .bind(6, stepTo);
    while (q.step()) {
        HistogramRecord h;
        h.step = q.colInt(0);
        h.layer = layer;
        h.cls = cls;
        h.kind = kind;
        h.hist = readHistogram(q, 1);
        h.quantStep = q.colDouble(4);
        h.clipLo = q.colDouble(5);
        h.clipHi = q.colDouble(6);
        out.push_back(std::move(h));
    }
    return out;
}

std::optional<CheckpointRecord> RunStore::checkpointLatest(int64_t runId) {
    auto q = m_impl->db.query("SELECT step, epoch, blob, created_at FROM checkpoints "
                              "WHERE run = ? ORDER BY step DESC LIMIT 1");
    q.bind(1, runId);
    if (!q.step()) return std::nullopt;
    return CheckpointRecord{q.colInt(0), int32_t(q.colInt(1)), q.colBlob(2), q.colText(3)};
}

int64_t RunStore::sweepCreate(const std::string& name, const std::string& sweepJson) {
    requireWritable(*m_impl, "create a sweep");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("INSERT INTO sweeps (name, sweep_json, created_at) VALUES (?, ?, "
             "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))")
        .bind(1, name)
        .bind(2, sweepJson)
        .run();
    const int64_t id = db.lastInsertId();
    txn.commit();
    return id;
}

int64_t RunStore::sweepFindOrCreate(const std::string& name, const std::string& sweepJson) {
    requireWritable(*m_impl, "create a sweep");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    {
        auto q = db.query(
            "SELECT id FROM sweeps WHERE name = ? AND sweep_json = ? ORDER BY id DESC LIMIT 1");
        q.bind(1, name).bind(2, sweepJson);
        if (q.step()) return q.colInt(0);
    }
    db.query("INSERT INTO sweeps (name, sweep_json, created_at) VALUES (?, ?, "
             "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))")
        .bind(1, name)
        .bind(2, sweepJson)
        .run();
    const int64_t id = db.lastInsertId();
    txn.commit();
    return id;
}

std::vector<SweepRecord> RunStore::sweepsList() {
    std::vector<SweepRecord> out;
    auto q = m_impl->db.query("SELECT id, name, sweep_json, created_at FROM sweeps ORDER BY id");
    while (q.step())
        out.push_back({q.colInt(0), q.colText(1), q.colText(2), q.colText(3)});
    return out;
}

SweepRecord RunStore::sweepGet(int64_t sweepId) {
    auto q = m_impl->db.query("SELECT id, name, sweep_json, created_at FROM sweeps WHERE id = ?");
    q.bind(1, sweepId);
    if (!q.step())
        throw StoreError(
            error_message_file(m_impl->path, "has no sweep with id " + std::to_string(sweepId)));
    return {q.colInt(0), q.colText(1), q.colText(2), q.colText(3)};
}

void RunStore::sweepTrialPut(int64_t sweepId, const std::string& configHash, int64_t runId,
                             TrialStatus status, const std::string& message) {
    requireWritable(*m_impl, "record a sweep trial");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    auto q =
        db.query("INSERT INTO sweep_trials (sweep, config_hash, run, status, message) "
                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sweep, config_hash) DO UPDATE SET "
                 "run = excluded.run, status = excluded.status, message = excluded.message");
    q.bind(1, sweepId).bind(2, configHash).bind(4, std::string(trialName(status)));
    if (message.empty())
        q.bindNull(5);
    else
        q.bind(5, message);
    if (runId > 0)
        q.bind(3, runId);
    else
        q.bindNull(3);
    try {
        q.run();
    } catch (const StoreError&) {
        if (!runExists(runId) && runId > 0) noSuchRun(m_impl->path, runId);
        sweepGet(sweepId); // names a missing sweep
        throw;
    }
    txn.commit();
}

std::vector<SweepTrial> RunStore::sweepTrialsGet(int64_t sweepId) {
    std::vector<SweepTrial> out;
    auto q = m_impl->db.query("SELECT config_hash, run, status, message, claim_host, claim_pid "
                              "FROM sweep_trials WHERE sweep = ? ORDER BY rowid");
    q.bind(1, sweepId);
    while (q.step()) {
        SweepTrial t;
        t.configHash = q.colText(0);
        t.runId = q.isNull(1) ? 0 : q.colInt(1);
        t.status = trialParse(q.colText(2));
        t.message = q.colText(3);
        t.claimHost = q.colText(4);
        t.claimPid = q.isNull(5) ? 0 : q.colInt(5);
        out.push_back(std::move(t));
    }
    return out;
}

TrialClaim RunStore::sweepTrialClaim(int64_t sweepId, const std::string& configHash,
                                     const RunInfo& info, int32_t keepCheckpoints) {
    requireWritable(*m_impl, "claim a sweep trial");
    SqliteDb& db = m_impl->db;
    // One BEGIN IMMEDIATE transaction from the first read to the claim: two processes claiming
    // the same trial at once are serialized, and the second one sees the first one's claim.
    SqliteWriteTxn txn(db);
    {
        auto q = db.query("SELECT 1 FROM sweeps WHERE id = ?");
        q.bind(1, sweepId);
        if (!q.step())
            throw StoreError(error_message_file(m_impl->path,
                                                "has no sweep with id " + std::to_string(sweepId)));
    }
    TrialClaim c;
    int64_t runId = 0;
    {
        auto q = db.query("SELECT t.run, t.status, t.claim_host, t.claim_pid, t.claim_token, "
                          "r.status FROM sweep_trials t LEFT JOIN runs r ON r.id = t.run "
                          "WHERE t.sweep = ? AND t.config_hash = ?");
        q.bind(1, sweepId).bind(2, configHash);
        if (q.step()) {
            const TrialStatus trial = trialParse(q.colText(1));
            if (!q.isNull(0) && !q.isNull(5)) runId = q.colInt(0);
            const std::string run = runId ? q.colText(5) : std::string();
            // A run that ended finished or diverged is done whatever the trial row says (a
            // process may have died between finishing the run and updating its trial).
            if (run == "finished" || run == "diverged") {
                c.outcome = TrialClaim::Outcome::Done;
                c.runId = runId;
                c.status = run == "finished" ? TrialStatus::Finished : TrialStatus::Diverged;
            } else if (trial == TrialStatus::Running && !q.isNull(3) &&
                       store_owner_live(q.colText(2), q.colInt(3), q.colText(4))) {
                c.outcome = TrialClaim::Outcome::Busy;
                c.runId = runId;
                c.owner = {q.colText(2), q.colInt(3)};
            }
        }
    }
    if (c.outcome == TrialClaim::Outcome::Done) {
        db.query("UPDATE sweep_trials SET status = ? WHERE sweep = ? AND config_hash = ?")
            .bind(1, std::string(trialName(c.status)))
            .bind(2, sweepId)
            .bind(3, configHash)
            .run();
        txn.commit();
        return c;
    }
    if (c.outcome == TrialClaim::Outcome::Busy) return c;
    if (runId) {
        // Somebody may be resuming the trial's run by hand.
        if (const auto owner = store_run_live_owner(db, runId)) {
            c.outcome = TrialClaim::Outcome::Busy;
            c.runId = runId;
            c.owner = *owner;
            return c;
        }
        store_put_run_owner(db, runId);
        c.resumed = true;
    } else {
        runId = insertRun(db, info, keepCheckpoints);
    }
    const int64_t pid = store_pid();
    db.query("INSERT INTO sweep_trials (sweep, config_hash, run, status, message, claim_host, "
             "claim_pid, claim_token) VALUES (?, ?, ?, 'running', NULL, ?, ?, ?) "
             "ON CONFLICT (sweep, config_hash) DO UPDATE SET run = excluded.run, "
             "status = 'running', message = NULL, claim_host = excluded.claim_host, "
             "claim_pid = excluded.claim_pid, claim_token = excluded.claim_token")
        .bind(1, sweepId)
        .bind(2, configHash)
        .bind(3, runId)
        .bind(4, store_host_name())
        .bind(5, pid)
        .bind(6, store_process_token(pid))
        .run();
    txn.commit();
    c.outcome = TrialClaim::Outcome::Claimed;
    c.runId = runId;
    return c;
}

} // namespace bitbench
