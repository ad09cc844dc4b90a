// The GUI's own read connection to a run database: polls for changes, derives the table rows.
#pragma once

#include "bitbench/cost_model.h"
#include "bitbench/store.h"
#include "runs_model.h"

#include <QObject>
#include <QTimer>

#include <map>
#include <memory>
#include <optional>

namespace bitbench {

// Opens a database for browsing without ever damaging it: a missing file is not created, a file
// that is not ours, too new or corrupt is refused with the store's message, and a file on a
// read-only medium opens read-only (rename and delete are then refused, with the reason).
// While open it re-reads the runs list every pollMs; per-run figures (test errors, images/s,
// cost) are recomputed only for runs whose epoch count or status changed, so a poll is one
// small query when nothing happens.
class RunsDatabase : public QObject {
    Q_OBJECT
public:
    static constexpr int kPollMs = 1000;

    explicit RunsDatabase(QObject* parent = nullptr);
    ~RunsDatabase() override;

    // false with *error (a sentence for the user) when the file cannot be browsed.
    bool open(const QString& path, QString* error = nullptr);
    void close();
    bool isOpen() const { return bool(m_store); }
    QString path() const { return m_path; }
    bool readOnly() const;
    QString readOnlyReason() const;

    // The connection, for views that read curves; nullptr when closed. GUI thread only.
    RunStore* store() { return m_store.get(); }

    // Polls now; emits rowsChanged when anything differs. Errors close nothing: they are
    // reported through errorOccurred and the next poll tries again.
    void refresh();
    void setPollInterval(int ms);
    const std::vector<RunRow>& rows() const { return m_rows; }
    qint64 pollCount() const { return m_polls; }

    void setCostTable(const CostTable& t);

    bool renameRun(qint64 id, const QString& name, QString* error = nullptr);
    bool deleteRun(qint64 id, QString* error = nullptr);

Q_SIGNALS:
    void opened(const QString& path);
    void closed();
    void rowsChanged();
    void errorOccurred(const QString& message);

private:
    RunRow rowOf(const RunRecord& r);
    std::optional<CostEstimate> costOf(const RunRecord& r);

    std::unique_ptr<RunStore> m_store;
    QString m_path;
    QTimer m_timer;
    std::vector<RunRow> m_rows;
    struct Cached {
        int epochs = -1;
        RunStatus status = RunStatus::Running;
        QString name;
        RunRow row;
    };
    std::map<qint64, Cached> m_cache;
    std::map<std::string, std::optional<CostEstimate>> m_costs; // by config hash
    CostTable m_costTable;
    qint64 m_polls = 0;
    QString m_lastError;
};

} // namespace bitbench
