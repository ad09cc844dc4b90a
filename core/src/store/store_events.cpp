// Row writers for trainer events (steps, tensor statistics, epochs, checkpoints) and the codec
// of histogram counts.
#include "store/store_impl.h"
#include "store/store_process.h"

#include <cstdio>

namespace bitbench {

namespace {

void putMetric(SqliteDb& db, int64_t runId, const char* key, int64_t step, int32_t epoch,
               double value) {
    // REPLACE: a resumed run re-runs the steps after its checkpoint and writes them again.
    db.query("INSERT OR REPLACE INTO metrics (run, key, step, epoch, value) VALUES (?, ?, ?, ?, ?)")
        .bind(1, runId)
        .bind(2, std::string(key))
        .bind(3, step)
        .bind(4, epoch)
        .bind(5, value)
        .run();
}

void putHistogram(SqliteDb& db, int64_t runId, const TensorStats& s, const char* kind,
                  const Histogram& h) {
    const std::vector<uint8_t> counts = store_counts_encode(h.counts);
    db.query("INSERT OR REPLACE INTO histograms (run, step, layer, class, kind, lo, hi, counts, "
             "quant_step, clip_lo, clip_hi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, runId)
        .bind(2, s.step)
        .bind(3, s.layer)
        .bind(4, std::string(kTensorClassNames[int(s.cls)]))
        .bind(5, std::string(kind))
        .bind(6, h.lo)
        .bind(7, h.hi)
        .bindBlob(8, counts)
        .bind(9, s.quantStep)
        .bind(10, s.clipLo)
        .bind(11, s.clipHi)
        .run();
}

} // namespace

std::vector<uint8_t> store_counts_encode(const std::vector<uint32_t>& counts) {
    std::vector<uint8_t> b(counts.size() * 4);
    for (size_t i = 0; i < counts.size(); ++i)
        for (int k = 0; k < 4; ++k)
            b[i * 4 + size_t(k)] = uint8_t(counts[i] >> (8 * k));
    return b;
}

std::vector<uint32_t> store_counts_decode(const std::vector<uint8_t>& blob) {
    std::vector<uint32_t> c(blob.size() / 4);
    for (size_t i = 0; i < c.size(); ++i)
        for (int k = 0; k < 4; ++k)
            c[i] |= uint32_t(blob[i * 4 + size_t(k)]) << (8 * k);
    return c;
}

void store_put_step(SqliteDb& db, int64_t runId, const StepMetrics& m) {
    putMetric(db, runId, "loss", m.step, m.epoch, m.loss);
    putMetric(db, runId, "error", m.step, m.epoch, m.error);
    putMetric(db, runId, "lr", m.step, m.epoch, m.learningRate);
    putMetric(db, runId, "images_per_s", m.step, m.epoch, m.imagesPerSecond);
}

void store_put_tensor_stats(SqliteDb& db, int64_t runId, const TensorStats& s) {
    db.query("INSERT OR REPLACE INTO tensor_stats (run, step, layer, layer_name, class, bits, "
             "max_abs, saturation, underflow, sqnr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, runId)
        .bind(2, s.step)
        .bind(3, s.layer)
        .bind(4, s.layerName)
        .bind(5, std::string(kTensorClassNames[int(s.cls)]))
        .bind(6, s.bits)
        .bind(7, s.maxAbs)
        .bind(8, s.saturation)
        .bind(9, s.underflow)
        .bind(10, s.sqnrDb)
        .run();
    putHistogram(db, runId, s, "value", s.values);
    putHistogram(db, runId, s, "error", s.error);
}

void store_put_epoch(SqliteDb& db, int64_t runId, const EpochMetrics& m) {
    putMetric(db, runId, "train_loss", m.step, m.epoch, m.trainLoss);
    putMetric(db, runId, "train_error", m.step, m.epoch, m.trainError);
    putMetric(db, runId, "test_loss", m.step, m.epoch, m.testLoss);
    putMetric(db, runId, "test_error", m.step, m.epoch, m.testError);
    putMetric(db, runId, "epoch_seconds", m.step, m.epoch, m.seconds);
    putMetric(db, runId, "epoch_images_per_s", m.step, m.epoch, m.imagesPerSecond);
    // Hex text: SQLite integers are signed 64-bit, and hex is what people compare by eye.
    db.query("INSERT OR REPLACE INTO epoch_hashes (run, epoch, step, weights_hash) "
             "VALUES (?, ?, ?, ?)")
        .bind(1, runId)
        .bind(2, m.epoch)
        .bind(3, m.step)
        .bind(4, hash_hex(m.weightsHash))
        .run();
}

void store_put_checkpoint(SqliteDb& db, int64_t runId, int64_t step, int32_t epoch,
                          std::span<const uint8_t> blob) {
    db.query("INSERT OR REPLACE INTO checkpoints (run, step, epoch, blob, created_at) "
             "VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))")
        .bind(1, runId)
        .bind(2, step)
        .bind(3, epoch)
        .bindBlob(4, blob)
        .run();
    store_prune_checkpoints(db, runId);
}

void store_prune_checkpoints(SqliteDb& db, int64_t runId) {
    int64_t keep = 0;
    {
        auto q = db.query("SELECT keep_checkpoints FROM runs WHERE id = ?");
        q.bind(1, runId);
        if (q.step()) keep = q.colInt(0);
    }
    if (keep <= 0) return; // 0 keeps every checkpoint
    db.query("DELETE FROM checkpoints WHERE run = ?1 AND step NOT IN "
             "(SELECT step FROM checkpoints WHERE run = ?1 ORDER BY step DESC LIMIT ?2) "
             "AND step IS NOT (SELECT step FROM metrics WHERE run = ?1 AND key = 'test_error' "
             "AND value IS NOT NULL ORDER BY value, step LIMIT 1)")
        .bind(1, runId)
        .bind(2, keep)
        .run();
    // Incremental auto-vacuum: the freed pages leave the file (at the next WAL checkpoint)
    // instead of staying on the free list.
    if (db.changes() > 0) db.exec("PRAGMA incremental_vacuum", "returning freed checkpoint space");
}

void store_put_run_owner(SqliteDb& db, int64_t runId) {
    const int64_t pid = store_pid();
    db.query("UPDATE runs SET status = 'running', ended_at = NULL, status_message = NULL, "
             "writer_host = ?, writer_pid = ?, writer_token = ? WHERE id = ?")
        .bind(1, store_host_name())
        .bind(2, pid)
        .bind(3, store_process_token(pid))
        .bind(4, runId)
        .run();
}

std::string run_busy_message(int64_t runId, const ProcessOwner& owner) {
    std::string m = "run " + std::to_string(runId) + " is being trained by process " +
                    std::to_string(owner.pid);
    if (owner.host != store_host_name()) m += " on host " + owner.host;
    return m;
}

bool store_owner_live(const std::string& host, int64_t pid, const std::string& token) {
    if (host != store_host_name()) return true;
    if (pid == store_pid()) return false; // this process, or a dead one whose pid we now have
    return store_process_alive(pid, token);
}

std::optional<ProcessOwner> store_run_live_owner(SqliteDb& db, int64_t runId) {
    auto q = db.query("SELECT writer_host, writer_pid, writer_token FROM runs "
                      "WHERE id = ? AND status = 'running' AND writer_pid IS NOT NULL");
    q.bind(1, runId);
    if (!q.step()) return std::nullopt;
    ProcessOwner o{q.colText(0), q.colInt(1)};
    if (!store_owner_live(o.host, o.pid, q.colText(2))) return std::nullopt;
    return o;
}

} // namespace bitbench
