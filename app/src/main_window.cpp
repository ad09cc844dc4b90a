// Main window layout, session and window state, and the wiring of the views to the controller.
#include "main_window.h"

#include "app_settings.h"
#include "cost_settings_dialog.h"
#include "curves_panel.h"
#include "experiment_panel.h"
#include "inspector_panel.h"
#include "quant_bridge.h"
#include "runs_window.h"

#include "bitbench/paths.h"
#include "bitbench/version.h"

#include "bitbench_widgets/bitwidth_editor.h"
#include "bitbench_widgets/tensor_overview.h"

#include <QAction>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QScrollArea>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTableWidget>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

namespace bitbench {

namespace {

// Shipped experiments: installed beside the program, or next to the sources in a build tree.
QStringList presetDirs() {
    QStringList dirs;
    for (const std::string& d : paths_experiment_dirs()) dirs << QString::fromStdString(d);
    return dirs;
}

} // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("bitbench %1").arg(QLatin1String(kVersion)));
    setObjectName(QStringLiteral("MainWindow"));
    m_controller = new TrainingController(this);
    buildUi();
    m_costTable = settings_cost_table();
    connect(m_controller, &TrainingController::stateChanged, this, [this] { updateActions(); });
    connect(m_controller, &TrainingController::statusMessage, this,
            [this](const QString& m) { statusBar()->showMessage(m); });
    connect(m_controller, &TrainingController::runStarted, this, &MainWindow::onRunStarted);
    connect(m_controller, &TrainingController::batchReady, this, &MainWindow::onBatch);
    connect(m_controller, &TrainingController::runFailed, this, [this](int code, const QString& line) {
        m_failureCode = code;
        m_failureLine = line;
    });
    connect(m_controller, &TrainingController::runFinished, this, &MainWindow::onRunFinished);
    updateActions();
    resize(1500, 940);
}

MainWindow::~MainWindow() { m_controller->stopAndWait(); }

void MainWindow::buildUi() {
    // Toolbar: the run controls.
    auto* tb = addToolBar(tr("Run"));
    tb->setObjectName(QStringLiteral("RunToolBar"));
    tb->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_trainAct = tb->addAction(style()->standardIcon(QStyle::SP_MediaPlay), tr("Train"));
    m_trainAct->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Return));
    m_pauseAct = tb->addAction(style()->standardIcon(QStyle::SP_MediaPause), tr("Pause"));
    m_pauseAct->setCheckable(true);
    m_stopAct = tb->addAction(style()->standardIcon(QStyle::SP_MediaStop), tr("Stop"));
    tb->addSeparator();
    QAction* costAct = tb->addAction(tr("Cost table…"));
    connect(m_trainAct, &QAction::triggered, this, [this] { startTraining(); });
    connect(m_pauseAct, &QAction::toggled, this, [this](bool on) { on ? pauseTraining() : resumeTraining(); });
    connect(m_stopAct, &QAction::triggered, this, &MainWindow::stopTraining);
    connect(costAct, &QAction::triggered, this, [this] {
        CostSettingsDialog d(m_costTable, this);
        if (d.exec() == QDialog::Accepted) setCostTable(d.table());
    });

    auto* fileMenu = menuBar()->addMenu(tr("&File"));
    QAction* quit = fileMenu->addAction(tr("&Quit"));
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);
    auto* runMenu = menuBar()->addMenu(tr("&Run"));
    runMenu->addActions({m_trainAct, m_pauseAct, m_stopAct});
    runMenu->addSeparator();
    m_resumeRunAct = runMenu->addAction(tr("Resume interrupted run…"));
    connect(m_resumeRunAct, &QAction::triggered, this, &MainWindow::chooseRunToResume);
    auto* settingsMenu = menuBar()->addMenu(tr("&Settings"));
    settingsMenu->addAction(costAct);

    // Left: experiment and bitwidths.
    m_panel = new ExperimentPanel;
    auto* scroll = new QScrollArea;
    scroll->setWidget(m_panel);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    auto* expDock = new QDockWidget(tr("Experiment"), this);
    expDock->setObjectName(QStringLiteral("ExperimentDock"));
    expDock->setWidget(scroll);
    expDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::LeftDockWidgetArea, expDock);

    m_editor = new widgets::BitwidthEditor;
    m_editor->setValidator([](const QString& text) -> QString {
        try {
            quant_spec_parse(text.toStdString());
            return {};
        } catch (const std::exception& e) {
            return QString::fromUtf8(e.what());
        }
    });
    m_editor->setFamilies(quant_bridge_families());
    m_editorDock = new QDockWidget(tr("Quantizers (W-A-G-E)"), this);
    m_editorDock->setObjectName(QStringLiteral("BitwidthDock"));
    m_editorDock->setWidget(m_editor);
    m_editorDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::LeftDockWidgetArea, m_editorDock);
    resizeDocks({expDock}, {430}, Qt::Horizontal);
    resizeDocks({expDock, m_editorDock}, {340, 480}, Qt::Vertical);

    // Centre: curves above, inspector and overview below.
    m_curves = new CurvesPanel;
    m_inspector = new InspectorPanel;
    m_overview = new widgets::TensorOverview;
    auto* ovBox = new QGroupBox(tr("All tensors (click to inspect)"));
    auto* ovLayout = new QVBoxLayout(ovBox);
    ovLayout->setContentsMargins(4, 4, 4, 4);
    ovLayout->addWidget(m_overview);
    m_overviewBox = ovBox;
    auto* insBox = new QGroupBox(tr("Quantization inspector"));
    auto* insLayout = new QVBoxLayout(insBox);
    insLayout->setContentsMargins(4, 4, 4, 4);
    insLayout->addWidget(m_inspector);
    auto* bottom = new QSplitter(Qt::Horizontal);
    bottom->addWidget(insBox);
    bottom->addWidget(ovBox);
    bottom->setStretchFactor(0, 3);
    bottom->setStretchFactor(1, 2);
    auto* centre = new QSplitter(Qt::Vertical);
    centre->setObjectName(QStringLiteral("CentreSplitter"));
    centre->addWidget(m_curves);
    centre->addWidget(bottom);
    centre->setStretchFactor(0, 4);
    centre->setStretchFactor(1, 5);
    setCentralWidget(centre);
    connect(m_overview, &widgets::TensorOverview::cellClicked, m_inspector, &InspectorPanel::select);

    // Status bar: where the run is.
    m_stepLabel = new QLabel;
    m_epochLabel = new QLabel;
    m_rateLabel = new QLabel;
    m_etaLabel = new QLabel;
    m_fpsLabel = new QLabel;
    m_progress = new QProgressBar;
    m_progress->setMaximumWidth(220);
    m_progress->setTextVisible(true);
    for (QLabel* l : {m_stepLabel, m_epochLabel, m_rateLabel, m_etaLabel, m_fpsLabel}) {
        l->setMinimumWidth(90);
        statusBar()->addPermanentWidget(l);
    }
    statusBar()->addPermanentWidget(m_progress);

    connect(m_panel, &ExperimentPanel::changed, this, &MainWindow::onPanelChanged);
    connect(m_panel, &ExperimentPanel::experimentLoaded, this, &MainWindow::onExperimentLoaded);
    // A rejected pattern changes no config, but Train must follow the field's validity. A typed
    // WAGE pattern makes the experiment use the bits shorthand again.
    connect(m_editor->patternEdit(), &QLineEdit::textEdited, this, &MainWindow::updateActions);
    connect(m_editor, &widgets::BitwidthEditor::patternApplied, this, [this] {
        if (widgets::cell_quants_are_wage(m_editor->config().patternQuant)) m_bitsForm = true;
    });
    m_planTimer = new QTimer(this);
    m_planTimer->setSingleShot(true);
    m_planTimer->setInterval(250);
    connect(m_planTimer, &QTimer::timeout, this, &MainWindow::updatePlans);
    connect(m_editor, &widgets::BitwidthEditor::configChanged, this, [this] {
        updateCost();
        updateActions();
        m_planTimer->start();
    });

    // Runs window (browser, compare, Pareto, replay, sweeps) over the database the panel names.
    runs_window_install(this, [this] { return m_panel->databasePath(); }, [this] { return m_costTable; });
}

void MainWindow::restoreSession() {
    m_panel->setPresetDirs(presetDirs());
    const QString db = settings_get(settings::kLastDatabase);
    if (!db.isEmpty()) m_panel->setDatabasePath(db);
    m_panel->setThreads(settings_get(settings::kThreads));
    QString exp = settings_get(settings::kLastExperiment);
    const QStringList presets = m_panel->presetPaths();
    if (exp.isEmpty() || !QFileInfo::exists(exp)) {
        exp.clear();
        for (const QString& p : presets)
            if (p.endsWith(QLatin1String("wage-lenet5-mnist-2888.json"))) exp = p;
        if (exp.isEmpty() && !presets.isEmpty()) exp = presets.front();
    }
    if (!exp.isEmpty()) m_panel->loadExperimentFile(exp);
    const QString dataDir = settings_get(settings::kLastDataDir);
    if (!dataDir.isEmpty() && m_panel->dataDir().isEmpty()) m_panel->setDataDir(dataDir);
    m_curves->setAxis(CurvesPanel::Axis(settings_get(settings::kCurveAxis) == 1 ? 1 : 0));
    connect(m_curves, &CurvesPanel::axisChanged, this,
            [](CurvesPanel::Axis a) { settings_set(settings::kCurveAxis, int(a)); });
    const QByteArray geo = settings_get(settings::kWindowGeometry);
    if (!geo.isEmpty()) restoreGeometry(geo);
    const QByteArray st = settings_get(settings::kWindowState);
    if (!st.isEmpty()) restoreState(st);
}

void MainWindow::onExperimentLoaded() {
    onPanelChanged(); // layers first, so overrides land on the right rows
    const Experiment& e = m_panel->loadedExperiment();
    m_sourceQuant = e.quantGiven;
    m_bitsForm = quant_bridge_load(*m_editor, e);
    settings_set(settings::kLastExperiment, m_panel->experimentPath());
    updateCost();
    m_planTimer->start();
}

void MainWindow::onPanelChanged() {
    const QStringList names = m_panel->weightLayerNames();
    if (names != m_layerNames && !m_controller->busy()) {
        m_layerNames = names;
        m_editor->setLayers(names);
        m_inspector->setLayers(names);
        m_overview->setLayers(names);
    }
    updateCost();
    updateActions();
    if (!m_controller->busy()) m_planTimer->start();
}

void MainWindow::updateActions() {
    const auto st = m_controller->state();
    const bool idle = st == TrainingController::State::Idle;
    const bool canStart = idle && m_panel->fieldsValid() && !m_editor->pattern().isEmpty() &&
                          m_editor->errorText().isEmpty();
    m_trainAct->setEnabled(canStart);
    m_trainAct->setToolTip(canStart ? tr("Start training (Ctrl+Return)")
                           : idle   ? tr("Fix the fields marked in red first")
                                    : tr("A run is in progress"));
    const bool live = st == TrainingController::State::Running || st == TrainingController::State::Paused;
    m_pauseAct->setEnabled(live);
    {
        const QSignalBlocker block(m_pauseAct);
        m_pauseAct->setChecked(st == TrainingController::State::Paused);
    }
    m_pauseAct->setText(st == TrainingController::State::Paused ? tr("Resume") : tr("Pause"));
    m_pauseAct->setIcon(style()->standardIcon(st == TrainingController::State::Paused ? QStyle::SP_MediaPlay
                                                                                         : QStyle::SP_MediaPause));
    m_stopAct->setEnabled(live || st == TrainingController::State::Starting);
    m_resumeRunAct->setEnabled(idle);
    m_panel->setLocked(!idle);
    // Read-only rather than disabled while training: the grid keeps its colours and stays legible.
    m_editor->patternEdit()->setReadOnly(!idle);
    m_editor->grid()->setEditTriggers(idle ? QAbstractItemView::AllEditTriggers : QAbstractItemView::NoEditTriggers);
    if (m_editor->resetOverridesAction()) m_editor->resetOverridesAction()->setEnabled(idle);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (m_controller->busy()) {
        if (m_auto.confirmClose) {
            const auto answer = QMessageBox::question(
                this, tr("Training in progress"),
                tr("A run is training. Stop it and close? The run keeps a checkpoint, so it can be resumed later."),
                QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
            if (answer != QMessageBox::Yes) {
                event->ignore();
                return;
            }
        }
        m_closeAfterStop = true;
        stopTraining();
        event->ignore(); // closes once the run has stopped and checkpointed
        return;
    }
    settings_set(settings::kLastDatabase, m_panel->databasePath());
    settings_set(settings::kWindowGeometry, saveGeometry());
    settings_set(settings::kWindowState, saveState());
    event->accept();
}

} // namespace bitbench
