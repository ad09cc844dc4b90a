// RunStore: a run's lifecycle (create, rename, delete, finish, claim, release) and crash recovery.
#include "store/store_impl.h"
#include "store/store_process.h"

#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/version.h"

#include <algorithm>

namespace bitbench {

int64_t store_insert_run(SqliteDb& db, const RunInfo& info, int32_t keepCheckpoints) {
    // One seed range everywhere: a larger seed would be stored negative and not read back.
    if (info.seed > kSeedMax)
        throw InputError("seed " + std::to_string(info.seed) + " is out of range 0.." + std::to_string(kSeedMax));
    const int64_t pid = store_pid();
    SqliteQuery q = db.query(
        "INSERT INTO runs (name, experiment_json, resolved_config_json, config_hash, seed, "
        "bits_pattern, model, dataset, status, started_at, program_version, host, "
        "writer_host, writer_pid, writer_token, keep_checkpoints, data_dir, data_fingerprint, "
        "executor, uid) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?, ?, "
        "?, ?, ?, ?, ?, ?, ?, lower(hex(randomblob(16))))");
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

int64_t RunStore::runCreate(const RunInfo& info, int32_t keepCheckpoints) {
    store_require_writable(*m_impl, "create a run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    const int64_t id = store_insert_run(db, info, keepCheckpoints);
    txn.commit();
    return id;
}

void RunStore::runRename(int64_t runId, const std::string& name) {
    store_require_writable(*m_impl, "rename a run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("UPDATE runs SET name = ? WHERE id = ?").bind(1, name).bind(2, runId).run();
    if (db.changes() == 0) store_no_such_run(m_impl->path, runId);
    txn.commit();
}

void RunStore::runDelete(int64_t runId) {
    store_require_writable(*m_impl, "delete a run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("DELETE FROM runs WHERE id = ?").bind(1, runId).run();
    if (db.changes() == 0) store_no_such_run(m_impl->path, runId);
    db.exec("PRAGMA incremental_vacuum", "returning the run's space to the file system");
    txn.commit();
}

void RunStore::runFinish(int64_t runId, RunStatus status, const std::string& summaryJson,
                         int64_t statusStep, const std::string& statusMessage) {
    store_require_writable(*m_impl, "finish a run");
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
    if (db.changes() == 0) store_no_such_run(m_impl->path, runId);
    txn.commit();
}

void RunStore::runSetKeepCheckpoints(int64_t runId, int32_t keepCheckpoints) {
    store_require_writable(*m_impl, "set the run's checkpoint policy");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("UPDATE runs SET keep_checkpoints = ? WHERE id = ?")
        .bind(1, int64_t(std::max(keepCheckpoints, 0)))
        .bind(2, runId)
        .run();
    if (db.changes() == 0) store_no_such_run(m_impl->path, runId);
    txn.commit();
}

void RunStore::runSetData(int64_t runId, const RunInfo& info) {
    store_require_writable(*m_impl, "record the run's data");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    auto q = db.query("UPDATE runs SET dataset = ?, data_dir = ?, data_fingerprint = ? WHERE id = ?");
    q.bind(1, info.dataset).bind(4, runId);
    // NULL, not '', for what is not known, as store_insert_run stores it.
    if (info.dataDir.empty())
        q.bindNull(2);
    else
        q.bind(2, info.dataDir);
    if (info.dataFingerprint.empty())
        q.bindNull(3);
    else
        q.bind(3, info.dataFingerprint);
    q.run();
    if (db.changes() == 0) store_no_such_run(m_impl->path, runId);
    txn.commit();
}

RunClaim RunStore::runClaim(int64_t runId) {
    store_require_writable(*m_impl, "claim a run");
    SqliteDb& db = m_impl->db;
    // BEGIN IMMEDIATE holds the write lock from the first read: of two processes claiming at
    // once, the second reads the first one's claim.
    SqliteWriteTxn txn(db);
    RunClaim c;
    {
        auto q = db.query("SELECT status FROM runs WHERE id = ?");
        q.bind(1, runId);
        if (!q.step()) store_no_such_run(m_impl->path, runId);
        c.previous = store_run_status_parse(q.colText(0), m_impl->path);
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
    store_require_writable(*m_impl, "release a run");
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
    store_require_writable(*m_impl, "record a failed run");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("UPDATE runs SET status = 'failed', ended_at = strftime('%Y-%m-%dT%H:%M:%SZ', "
             "'now'), status_message = ? WHERE id = ?")
        .bind(1, message)
        .bind(2, runId)
        .run();
    if (db.changes() == 0) store_no_such_run(m_impl->path, runId);
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

} // namespace bitbench
