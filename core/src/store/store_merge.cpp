// RunStore shards: folding shard databases written by cluster tasks into the main database, and a
// task taking its shard over from the processes before it.
#include "store/store_impl.h"

#include "bitbench/error.h"

#include <filesystem>

namespace bitbench {

namespace {

// A run's child tables, copied row for row with the run id replaced.
constexpr const char* kRunTables[] = {"metrics", "tensor_stats", "histograms", "epoch_hashes",
                                      "checkpoints"};

// What a shard's run looks like now: merging it again in the same state adds nothing.
constexpr const char* kStateSql =
    "SELECT r.status || '|' || coalesce(r.ended_at, '') || '|' || coalesce(r.writer_token, '') "
    "|| '|' || (SELECT coalesce(max(step), -1) FROM metrics WHERE run = r.id) || '|' || "
    "(SELECT count(*) FROM epoch_hashes WHERE run = r.id) || '|' || "
    "(SELECT coalesce(max(step), -1) FROM checkpoints WHERE run = r.id) || '|' || "
    "coalesce((SELECT group_concat(status || ':' || coalesce(message, ''), ',') "
    "FROM sweep_trials WHERE run = r.id), '') FROM runs r WHERE r.id = ?";

// Why a trial still marked running in a shard did not end: its process is gone.
constexpr const char* kTaskEnded =
    "its task ended before the trial did (killed, out of time or out of memory); running the "
    "sweep again resumes it from its shard's newest checkpoint";

// Copies the rows of `select` (already stepped onto its first row) into `table` of `to`, column
// by column under the same names; the column named "run" gets `toRun`.
void copyRows(SqliteQuery& select, SqliteDb& to, const std::string& table, int64_t toRun) {
    std::string cols, marks;
    int runCol = -1;
    for (int c = 0; c < select.colCount(); ++c) {
        const std::string name = select.colName(c);
        if (name == "run") runCol = c;
        cols += (c ? ", " : "") + name;
        marks += c ? ", ?" : "?";
    }
    const std::string sql = "INSERT INTO " + table + " (" + cols + ") VALUES (" + marks + ")";
    do {
        SqliteQuery insert = to.query(sql.c_str());
        for (int c = 0; c < select.colCount(); ++c) {
            if (c == runCol)
                insert.bind(c + 1, toRun);
            else
                insert.bindValue(c + 1, select.colValue(c));
        }
        insert.run();
    } while (select.step());
}

// Writes the shard's run row into `to`: a new row (returns its id) or over run `existing`.
int64_t putRun(SqliteDb& from, SqliteDb& to, int64_t fromRun, int64_t existing) {
    SqliteQuery row = from.query("SELECT * FROM runs WHERE id = ?");
    row.bind(1, fromRun);
    if (!row.step())
        throw StoreError(error_message_file(from.path(), "lost run " + std::to_string(fromRun)));
    int64_t id = existing;
    if (existing == 0) {
        std::string cols, marks;
        for (int c = 0, n = 0; c < row.colCount(); ++c) {
            if (row.colName(c) == "id") continue;
            cols += (n ? ", " : "") + row.colName(c);
            marks += n++ ? ", ?" : "?";
        }
        const std::string sql = "INSERT INTO runs (" + cols + ") VALUES (" + marks + ")";
        SqliteQuery insert = to.query(sql.c_str());
        for (int c = 0, n = 0; c < row.colCount(); ++c)
            if (row.colName(c) != "id") insert.bindValue(++n, row.colValue(c));
        insert.run();
        id = to.lastInsertId();
    } else {
        std::string sets;
        for (int c = 0; c < row.colCount(); ++c)
            if (row.colName(c) != "id")
                sets += (sets.empty() ? "" : ", ") + row.colName(c) + " = ?";
        const std::string sql = "UPDATE runs SET " + sets + " WHERE id = ?";
        SqliteQuery update = to.query(sql.c_str());
        int n = 0;
        for (int c = 0; c < row.colCount(); ++c)
            if (row.colName(c) != "id") update.bindValue(++n, row.colValue(c));
        update.bind(n + 1, existing);
        update.run();
        for (const char* t : kRunTables) {
            const std::string del = std::string("DELETE FROM ") + t + " WHERE run = ?";
            to.query(del.c_str()).bind(1, existing).run();
        }
    }
    // The writer was a process on a cluster node: it has ended, whatever the row says.
    to.query("UPDATE runs SET writer_host = NULL, writer_pid = NULL, writer_token = NULL, "
             "status = CASE status WHEN 'running' THEN 'interrupted' ELSE status END, "
             "ended_at = coalesce(ended_at, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) WHERE id = ?")
        .bind(1, id)
        .run();
    for (const char* t : kRunTables) {
        const std::string sql = std::string("SELECT * FROM ") + t + " WHERE run = ?";
        SqliteQuery rows = from.query(sql.c_str());
        rows.bind(1, fromRun);
        if (rows.step()) copyRows(rows, to, t, id);
    }
    return id;
}

// Links the run to its sweep trials here, as the shard links it.
void putTrials(SqliteDb& from, SqliteDb& to, int64_t fromRun, int64_t run) {
    SqliteQuery trials = from.query(
        "SELECT s.name, s.sweep_json, t.config_hash, t.status, t.message FROM sweep_trials t "
        "JOIN sweeps s ON s.id = t.sweep WHERE t.run = ? ORDER BY t.rowid");
    trials.bind(1, fromRun);
    while (trials.step()) {
        const int64_t sweep = store_sweep_find_or_create(to, trials.colText(0), trials.colText(1));
        const std::string hash = trials.colText(2);
        {
            // A trial done here with another run keeps it (it was trained elsewhere meanwhile).
            auto q = to.query("SELECT t.run FROM sweep_trials t JOIN runs r ON r.id = t.run "
                              "WHERE t.sweep = ? AND t.config_hash = ? AND t.run != ? "
                              "AND r.status IN ('finished', 'diverged')");
            q.bind(1, sweep).bind(2, hash).bind(3, run);
            if (q.step()) continue;
        }
        std::string status = trials.colText(3), message = trials.colText(4);
        if (status == "running") {
            status = "failed";
            message = kTaskEnded;
        }
        auto put =
            to.query("INSERT INTO sweep_trials (sweep, config_hash, run, status, message) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sweep, config_hash) DO UPDATE SET "
                     "run = excluded.run, status = excluded.status, message = excluded.message, "
                     "claim_host = NULL, claim_pid = NULL, claim_token = NULL");
        put.bind(1, sweep).bind(2, hash).bind(3, run).bind(4, status);
        if (message.empty())
            put.bindNull(5);
        else
            put.bind(5, message);
        put.run();
    }
}

// One shard, inside the caller's transaction on `to`.
ShardMergeResult mergeShard(SqliteDb& to, const std::string& shardPath) {
    RunStore shard = RunStore::open(shardPath, StoreAccess::ReadOnly);
    SqliteDb& from = store_connection(shard);
    ShardMergeResult result;
    result.shard = shardPath;
    std::vector<std::pair<int64_t, std::string>> runs; // shard id, uid
    {
        auto q = from.query("SELECT id, uid FROM runs ORDER BY id");
        while (q.step()) {
            if (q.isNull(1))
                throw StoreError(
                    error_message_file(shardPath, "run " + std::to_string(q.colInt(0)) +
                                                      " has no uid; open the shard "
                                                      "once read-write to give it one"));
            runs.emplace_back(q.colInt(0), q.colText(1));
        }
    }
    for (const auto& [fromRun, uid] : runs) {
        std::string state;
        {
            auto q = from.query(kStateSql);
            q.bind(1, fromRun);
            q.step();
            state = q.colText(0);
        }
        int64_t existing = 0;
        std::string mergedState;
        {
            auto q = to.query("SELECT r.id, m.state FROM runs r LEFT JOIN shard_merges m "
                              "ON m.uid = r.uid WHERE r.uid = ?");
            q.bind(1, uid);
            if (q.step()) {
                existing = q.colInt(0);
                mergedState = q.isNull(1) ? std::string() : q.colText(1);
            }
        }
        if (existing && mergedState == state) {
            ++result.unchanged;
            result.runIds.push_back(existing);
            continue;
        }
        const int64_t run = putRun(from, to, fromRun, existing);
        putTrials(from, to, fromRun, run);
        to.query("INSERT INTO shard_merges (uid, run, state, shard, merged_at) VALUES (?, ?, ?, ?, "
                 "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) ON CONFLICT (uid) DO UPDATE SET "
                 "run = excluded.run, state = excluded.state, shard = excluded.shard, "
                 "merged_at = excluded.merged_at")
            .bind(1, uid)
            .bind(2, run)
            .bind(3, state)
            .bind(4, shardPath)
            .run();
        ++(existing ? result.updated : result.added);
        result.runIds.push_back(run);
    }
    return result;
}

} // namespace

std::vector<ShardMergeResult> RunStore::shardsMerge(const std::vector<std::string>& shardPaths) {
    store_require_writable(*m_impl, "merge shards");
    std::error_code ec;
    for (const std::string& p : shardPaths)
        if (std::filesystem::equivalent(p, m_impl->path, ec))
            throw StoreError(
                error_message_file(p, "is the database being merged into, not a shard of it"));
    SqliteDb& db = m_impl->db;
    // One transaction for every shard: a merge that fails or is killed half-way leaves this
    // database exactly as it was. Each shard is opened (read-only) only when its turn comes.
    SqliteWriteTxn txn(db);
    std::vector<ShardMergeResult> results;
    for (const std::string& p : shardPaths)
        results.push_back(mergeShard(db, p));
    txn.commit();
    return results;
}

int32_t RunStore::shardTakeOver(const std::string& message) {
    store_require_writable(*m_impl, "take the shard over");
    SqliteDb& db = m_impl->db;
    SqliteWriteTxn txn(db);
    db.query("UPDATE sweep_trials SET status = 'failed', message = ?, claim_host = NULL, "
             "claim_pid = NULL, claim_token = NULL WHERE status = 'running'")
        .bind(1, message)
        .run();
    const auto trials = int32_t(db.changes());
    db.exec("UPDATE runs SET status = 'interrupted', writer_host = NULL, writer_pid = NULL, "
            "writer_token = NULL, ended_at = coalesce(ended_at, "
            "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) WHERE status = 'running'",
            "marking the shard's unfinished runs interrupted");
    txn.commit();
    return trials;
}

} // namespace bitbench
