// The workbench main window: experiment panel, bitwidth editor, live curves, inspector, overview.
#pragma once

#include "bitbench/cost_model.h"
#include "training_controller.h"

#include <nlohmann/json_fwd.hpp>

#include <QElapsedTimer>
#include <QMainWindow>

#include <optional>

class QAction;
class QLabel;
class QProgressBar;

namespace bitbench {

namespace widgets {
class BitwidthEditor;
class TensorOverview;
} // namespace widgets

class CurvesPanel;
class ExperimentPanel;
class InspectorPanel;

// Unattended use (scripts/screenshot, measurements): start at once, stop after N steps, save
// PNGs of the main views, print a JSON line of measurements, quit.
struct WindowAutomation {
    bool autotrain = false;
    qint64 quitAfterSteps = 0;   // 0: run to the end
    bool quitWhenDone = false;   // quit once the run has ended
    QString screenshotDir;       // empty: no screenshots
    bool perfLog = false;        // print {"fps", "images_per_s", ...} on stdout at the end
    bool confirmClose = true;
    int inspectLayer = -1, inspectClass = -1;
};

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Reads settings (geometry, last experiment and database) and the shipped presets.
    void restoreSession();
    void setAutomation(const WindowAutomation& a);

    // Builds the experiment from the panel and the editor and starts it; false with the reason
    // in the status bar (and *error) when it cannot start.
    bool startTraining(QString* error = nullptr);
    // Continues an interrupted run of the panel's database from its last checkpoint.
    bool resumeRun(qint64 runId, QString* error = nullptr);
    void pauseTraining();
    void resumeTraining();
    void stopTraining();

    // The cost estimate of what the panel and editor describe now.
    std::optional<CostEstimate> currentCost() const { return m_cost; }
    CostTable costTable() const { return m_costTable; }
    void setCostTable(const CostTable& t);

    ExperimentPanel* experimentPanel() const { return m_panel; }
    widgets::BitwidthEditor* bitwidthEditor() const { return m_editor; }
    CurvesPanel* curves() const { return m_curves; }
    InspectorPanel* inspector() const { return m_inspector; }
    widgets::TensorOverview* overview() const { return m_overview; }
    TrainingController* controller() const { return m_controller; }
    QAction* trainAction() const { return m_trainAct; }
    QAction* pauseAction() const { return m_pauseAct; }
    QAction* stopAction() const { return m_stopAct; }

    // Saves PNGs of the main views into dir; returns the files written.
    QStringList saveScreenshots(const QString& dir);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildUi();
    void onPanelChanged();
    void onExperimentLoaded();
    void updateCost();
    void updateActions();
    void onRunStarted(qint64 runId, qint64 totalSteps, qint64 stepsPerEpoch, int batch, const QString& engineKind);
    void onBatch(const MetricsBatch& batch);
    void onRunFinished(int outcome, const QString& message, qint64 runId, qint64 steps);
    void finishAutomation();
    void chooseRunToResume();
    void loadStoredCurves(qint64 runId);
    void updatePlans();

public:
    // The experiment keys the editor stands for (bits or quant form), as startTraining uses them.
    // throws: InputError when a cell is not a valid quantizer.
    nlohmann::json editorQuantKeys() const;
    // True while the editor's state is written as the WAGE shorthand ("bits") when it can be.
    bool bitsForm() const { return m_bitsForm; }

private:

    ExperimentPanel* m_panel = nullptr;
    widgets::BitwidthEditor* m_editor = nullptr;
    CurvesPanel* m_curves = nullptr;
    InspectorPanel* m_inspector = nullptr;
    widgets::TensorOverview* m_overview = nullptr;
    class QDockWidget* m_editorDock = nullptr;
    class QWidget* m_overviewBox = nullptr;
    TrainingController* m_controller = nullptr;
    QAction* m_trainAct = nullptr;
    QAction* m_pauseAct = nullptr;
    QAction* m_stopAct = nullptr;
    QAction* m_resumeRunAct = nullptr;
    qint64 m_resumingRunId = 0;
    QLabel* m_stepLabel = nullptr;
    QLabel* m_epochLabel = nullptr;
    QLabel* m_rateLabel = nullptr;
    QLabel* m_etaLabel = nullptr;
    QLabel* m_fpsLabel = nullptr;
    QProgressBar* m_progress = nullptr;

    bool m_bitsForm = true; // the loaded experiment (or the typed pattern) used the bits shorthand
    std::optional<QuantConfig> m_sourceQuant; // the loaded experiment's families (for E_grad)
    class QTimer* m_planTimer = nullptr;
    CostTable m_costTable;
    std::optional<CostEstimate> m_cost;
    QStringList m_layerNames;
    WindowAutomation m_auto;
    bool m_autoStopping = false;
    int m_failureCode = 1;  // how bitbench-cli would exit for the last failed run
    QString m_failureLine;  // and the line it would print
    bool m_closeAfterStop = false;

    // Measurements: frames (drains with a replot) per second and trainer throughput.
    QElapsedTimer m_runClock;
    QElapsedTimer m_fpsClock;
    qint64 m_fpsFrames = 0;
    qint64 m_frames = 0;
    qint64 m_guiBusyNs = 0;
    qint64 m_guiCpuStartNs = 0;
    qint64 m_guiCpuNs = 0;
    double m_lastRate = 0;
    double m_rateSum = 0;
    qint64 m_rateCount = 0;
    double m_lastEpochRate = 0;
    double m_fps = 0;
    double m_trainSeconds = 0;
    qint64 m_stepsDone = 0;
    qint64 m_firstStep = -1;
};

} // namespace bitbench
