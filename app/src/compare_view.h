// Compare: overlay one metric of many runs (colour per run, legend with the bit pattern) and diff
// their stored configs, showing only the keys that differ.
#pragma once

#include <QList>
#include <QVector>
#include <QWidget>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QTableWidget;
class QThread;
class QVBoxLayout;

namespace bitbench {

namespace widgets {
class CurvePlot;
}

class RunsDatabase;

// One run's curve, ready to plot (x by step or epoch, y in display units).
struct CompareCurve {
    qint64 runId = 0;
    QVector<double> x, y;
};

class CompareView : public QWidget {
    Q_OBJECT
public:
    static constexpr int kMaxPointsPerRun = 2000; // more than a plot's width in pixels

    enum class Align { Step, Epoch };

    explicit CompareView(RunsDatabase* db, QWidget* parent = nullptr);
    ~CompareView() override;

    // Shows these runs (reads their curves on a worker thread; the view stays responsive).
    void setRuns(const QList<qint64>& ids);
    QList<qint64> runs() const { return m_ids; }
    void setMetric(const QString& key);
    QString metric() const;
    void setAlign(Align a);

    widgets::CurvePlot* plot() const { return m_plot; }
    QTableWidget* diffTable() const { return m_diff; }
    // True while curves are being read.
    bool loading() const { return m_loading; }

    // One-click paper figure: <base>.pdf/.svg/.png. Returns the files written.
    QStringList exportPaperFigure(const QString& basePath, QString* error = nullptr);

Q_SIGNALS:
    void loaded();

private:
    void reload();
    void rebuildDiff();
    void onCurves(quint64 generation, std::vector<CompareCurve> curves, QString error);

    RunsDatabase* m_db;
    QList<qint64> m_ids;
    QComboBox* m_metric;
    QComboBox* m_align;
    QCheckBox* m_log;
    QLabel* m_status;
    QVBoxLayout* m_plotBox;
    widgets::CurvePlot* m_plot = nullptr;
    QTableWidget* m_diff;
    QLabel* m_diffNote;
    quint64 m_generation = 0;
    bool m_loading = false;
    std::shared_ptr<std::atomic<quint64>> m_latest;
    std::vector<QThread*> m_threads;
};

// Reads one metric of the runs from the database at `dbPath` (its own read-only connection),
// aligned by step or epoch, errors in percent, each run thinned to at most maxPoints by keeping
// each bucket's minimum and maximum (so spikes survive). `cancelled` is polled between runs.
// throws StoreError.
std::vector<CompareCurve> compare_curves_read(const std::string& dbPath,
                                              const std::vector<qint64>& ids,
                                              const std::string& key, CompareView::Align align,
                                              int maxPoints,
                                              const std::function<bool()>& cancelled = {});

} // namespace bitbench
