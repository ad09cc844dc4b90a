// RunStore queries: runs, metrics, epochs, tensor statistics, histograms, the latest checkpoint.
#include "store/store_impl.h"

#include "bitbench/error.h"

#include <cstdlib>

namespace bitbench {

namespace {

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
    r.status = store_run_status_parse(q.colText(11), path);
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
    if (!q.step()) store_no_such_run(m_impl->path, runId);
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
        s.cls = store_tensor_class_parse(q.colText(3));
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

} // namespace bitbench
