// RunsDatabase: safe opening, cheap polling with a per-run cache, rename and delete.
#include "runs_database.h"

#include "bitbench/error.h"
#include "bitbench/experiment.h"

#include <nlohmann/json.hpp>

#include <QFileInfo>

#include <cmath>

namespace bitbench {

RunsDatabase::RunsDatabase(QObject* parent) : QObject(parent) {
    m_timer.setInterval(kPollMs);
    connect(&m_timer, &QTimer::timeout, this, &RunsDatabase::refresh);
}

RunsDatabase::~RunsDatabase() = default;

bool RunsDatabase::open(const QString& path, QString* error) {
    auto fail = [&](const QString& m) {
        if (error) *error = m;
        return false;
    };
    const QFileInfo fi(path);
    if (path.isEmpty()) return fail(tr("No run database chosen."));
    // Browsing must not create a database where the user only mistyped a name.
    if (!fi.exists())
        return fail(
            tr("There is no run database at '%1' yet: train a run into it first.").arg(path));
    if (fi.isDir()) return fail(tr("'%1' is a folder, not a run database.").arg(path));
    std::unique_ptr<RunStore> store;
    try {
        store =
            std::make_unique<RunStore>(RunStore::open(path.toStdString(), StoreAccess::ReadWrite));
    } catch (const std::exception& e) {
        return fail(tr("Cannot open '%1': %2").arg(path, QString::fromUtf8(e.what())));
    }
    close();
    m_store = std::move(store);
    m_path = path;
    m_lastError.clear();
    refresh();
    m_timer.start();
    Q_EMIT opened(path);
    return true;
}

void RunsDatabase::close() {
    if (!m_store) return;
    m_timer.stop();
    m_store.reset();
    m_path.clear();
    m_rows.clear();
    m_cache.clear();
    Q_EMIT closed();
    Q_EMIT rowsChanged();
}

bool RunsDatabase::readOnly() const {
    return m_store && m_store->readOnly();
}
QString RunsDatabase::readOnlyReason() const {
    return m_store ? QString::fromStdString(m_store->readOnlyReason()) : QString();
}

void RunsDatabase::setPollInterval(int ms) {
    m_timer.setInterval(ms);
}

void RunsDatabase::setCostTable(const CostTable& t) {
    if (t == m_costTable) return;
    m_costTable = t;
    m_costs.clear();
    m_cache.clear();
    refresh();
}

std::optional<CostEstimate> RunsDatabase::costOf(const RunRecord& r) {
    const auto it = m_costs.find(r.info.configHash);
    if (it != m_costs.end() && !r.info.configHash.empty()) return it->second;
    std::optional<CostEstimate> c;
    try {
        const Experiment e = run_experiment_of(r);
        c = cost_estimate(e, m_costTable);
    } catch (const std::exception&) {
        // A config this version cannot read has no estimate; the column stays empty.
    }
    if (!r.info.configHash.empty()) m_costs[r.info.configHash] = c;
    return c;
}

RunRow RunsDatabase::rowOf(const RunRecord& r) {
    RunRow row;
    row.id = r.id;
    row.name = QString::fromStdString(r.info.name);
    row.bits = QString::fromStdString(r.info.bitsPattern);
    row.model = QString::fromStdString(r.info.model);
    row.dataset = QString::fromStdString(r.info.dataset);
    row.dataDir = QString::fromStdString(r.info.dataDir);
    if (!r.info.dataFingerprint.empty()) {
        try {
            row.dataFiles = int(data_fingerprint_from_json(r.info.dataFingerprint).size());
        } catch (const std::exception&) {
        }
    }
    row.status = QString::fromLatin1(run_status_name(r.status));
    row.statusMessage = QString::fromStdString(r.statusMessage);
    row.epochs = r.epochs;
    row.startedAt = QString::fromStdString(r.startedAt);
    row.configHash = QString::fromStdString(r.info.configHash);
    row.resolvedConfigJson = QString::fromStdString(r.info.resolvedConfigJson);
    double ipsSum = 0;
    int ipsCount = 0;
    for (const EpochMetrics& e : m_store->epochsGet(r.id)) {
        if (std::isfinite(e.testError)) {
            row.finalTestError = e.testError;
            row.bestTestError = std::isfinite(row.bestTestError)
                                    ? std::min(row.bestTestError, e.testError)
                                    : e.testError;
        }
        if (std::isfinite(e.imagesPerSecond)) {
            ipsSum += e.imagesPerSecond;
            ++ipsCount;
        }
    }
    if (ipsCount) row.imagesPerSecond = ipsSum / ipsCount;
    try {
        const ClassBits b = quant_spec_parse(r.info.bitsPattern);
        for (int32_t v : b.bits)
            row.totalBits += v == 0 ? 32 : v;
    } catch (const std::exception&) {
    }
    if (const auto c = costOf(r)) {
        row.trainStepEnergyPj = c->trainStepEnergyPj;
        row.inferenceEnergyPj = c->inferenceEnergyPj;
        row.trainAreaUm2 = c->trainAreaUm2;
        row.inferenceAreaUm2 = c->inferenceAreaUm2;
    }
    return row;
}

void RunsDatabase::refresh() {
    if (!m_store) return;
    ++m_polls;
    try {
        const std::vector<RunRecord> records = m_store->runsList();
        std::vector<RunRow> rows;
        rows.reserve(records.size());
        bool changed = records.size() != m_rows.size();
        std::map<qint64, Cached> cache;
        for (const RunRecord& r : records) {
            const auto it = m_cache.find(r.id);
            const QString name = QString::fromStdString(r.info.name);
            if (it != m_cache.end() && it->second.epochs == r.epochs &&
                it->second.status == r.status && it->second.name == name) {
                rows.push_back(it->second.row);
            } else {
                rows.push_back(rowOf(r));
                changed = true;
            }
            cache[r.id] = {r.epochs, r.status, name, rows.back()};
        }
        m_cache = std::move(cache);
        m_lastError.clear();
        if (changed) {
            m_rows = std::move(rows);
            Q_EMIT rowsChanged();
        }
    } catch (const std::exception& e) {
        const QString m = tr("Reading '%1' failed: %2").arg(m_path, QString::fromUtf8(e.what()));
        if (m != m_lastError)
            Q_EMIT errorOccurred(m); // once per distinct problem, not every second
        m_lastError = m;
    }
}

bool RunsDatabase::renameRun(qint64 id, const QString& name, QString* error) {
    try {
        if (!m_store) throw StoreError("no database is open");
        if (m_store->readOnly())
            throw StoreError("the database is read-only: " + m_store->readOnlyReason());
        m_store->runRename(id, name.toStdString());
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
    refresh();
    return true;
}

bool RunsDatabase::deleteRun(qint64 id, QString* error) {
    try {
        if (!m_store) throw StoreError("no database is open");
        if (m_store->readOnly())
            throw StoreError("the database is read-only: " + m_store->readOnlyReason());
        m_store->runDelete(id);
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        return false;
    }
    m_cache.erase(id);
    refresh();
    return true;
}

} // namespace bitbench
