// Sweeps: build a grid (per-class sets, a list of patterns or per-layer variations), see the trial
// count and estimated time, run the queue with overall progress, and view results as a table and
// a heat map of test error over two classes' bits.
#pragma once

#include "sweep_queue.h"

#include <QWidget>

class QComboBox;
class QCustomPlot;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QTableWidget;

namespace bitbench {

class RunsDatabase;

class SweepPanel : public QWidget {
    Q_OBJECT
public:
    enum class Mode { Classes = 0, Patterns = 1, Layers = 2 };

    explicit SweepPanel(RunsDatabase* db, QWidget* parent = nullptr);

    // The base: an experiment file, or a stored run's configuration.
    void setBaseFile(const QString& path);
    void setBaseRun(qint64 runId);
    void setMode(Mode m);
    // Per-class value lists, e.g. ("2", "8", "8", "2,4,6,8").
    void setClassValues(const QStringList& wage);
    void setPatterns(const QString& text);
    void setLayerLines(const QString& text); // "conv1 W 2,4" per line
    void setEpochs(int epochs);              // 0 = the base's
    void setSweepName(const QString& name);

    // The sweep JSON the form describes; empty with *error when incomplete.
    nlohmann::json sweepJson(QString* error = nullptr) const;
    // Re-expands and updates the trial count and time estimate; returns the trial count (-1 on
    // error).
    int updatePreview();
    bool startSweep(QString* error = nullptr);
    SweepQueue* queue() const { return m_queue; }
    QTableWidget* results() const { return m_results; }
    QCustomPlot* heatMap() const { return m_heat; }
    // Fills the results table and heat map from a stored sweep.
    void showSweep(qint64 sweepId);

private:
    void rebuildResults();

    RunsDatabase* m_db;
    SweepQueue* m_queue;
    QLineEdit* m_name;
    QComboBox* m_baseKind;
    QLineEdit* m_basePath;
    QSpinBox* m_baseRun;
    QComboBox* m_mode;
    QStackedWidget* m_modeStack;
    QLineEdit* m_class[4];
    QLineEdit* m_patterns;
    QPlainTextEdit* m_layers;
    QSpinBox* m_epochs;
    QLabel* m_preview;
    QPushButton* m_start;
    QPushButton* m_stop;
    QProgressBar* m_progress;
    QLabel* m_status;
    QComboBox* m_sweeps;
    QComboBox* m_heatX;
    QComboBox* m_heatY;
    QTableWidget* m_results;
    QCustomPlot* m_heat;
    qint64 m_shownSweep = 0;
};

} // namespace bitbench
