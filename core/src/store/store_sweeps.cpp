// RunStore sweeps: sweep records, their trials, and the claim that hands a trial to one process.
#include "store/store_impl.h"
#include "store/store_process.h"

#include "bitbench/error.h"

namespace bitbench {

int64_t RunStore::sweepCreate(const std::string& name, const std::string& sweepJson) {
    store_require_writable(*m_impl, "create a sweep");
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

int64_t store_sweep_find_or_create(SqliteDb& db, const std::string& name,
                                   const std::string& sweepJson) {
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
    return db.lastInsertId();
}

int64_t RunStore::sweepFindOrCreate(const std::string& name, const std::string& sweepJson) {
    store_require_writable(*m_impl, "create a sweep");
    SqliteWriteTxn txn(m_impl->db);
    const int64_t id = store_sweep_find_or_create(m_impl->db, name, sweepJson);
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
    store_require_writable(*m_impl, "record a sweep trial");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    auto q =
        db.query("INSERT INTO sweep_trials (sweep, config_hash, run, status, message) "
                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sweep, config_hash) DO UPDATE SET "
                 "run = excluded.run, status = excluded.status, message = excluded.message");
    q.bind(1, sweepId).bind(2, configHash).bind(4, std::string(store_trial_status_name(status)));
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
        if (!runExists(runId) && runId > 0) store_no_such_run(m_impl->path, runId);
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
        t.status = store_trial_status_parse(q.colText(2));
        t.message = q.colText(3);
        t.claimHost = q.colText(4);
        t.claimPid = q.isNull(5) ? 0 : q.colInt(5);
        out.push_back(std::move(t));
    }
    return out;
}

TrialClaim RunStore::sweepTrialClaim(int64_t sweepId, const std::string& configHash,
                                     const RunInfo& info, int32_t keepCheckpoints) {
    store_require_writable(*m_impl, "claim a sweep trial");
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
            const TrialStatus trial = store_trial_status_parse(q.colText(1));
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
            .bind(1, std::string(store_trial_status_name(c.status)))
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
        runId = store_insert_run(db, info, keepCheckpoints);
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
