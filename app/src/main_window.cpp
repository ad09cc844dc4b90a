// Main window layout and wiring of the workbench views to the training controller.
#include "main_window.h"

#include "app_settings.h"
#include "cost_settings_dialog.h"
#include "curves_panel.h"
#include "experiment_panel.h"
#include "inspector_panel.h"
#include "quant_bridge.h"
#include "runs_window.h"

#include "bitbench/dataset.h"
#include "bitbench/engine.h"
#include "bitbench/error.h"
#include "bitbench/store.h"
#include "bitbench/version.h"

#include "bitbench_widgets/bitwidth_editor.h"
#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/tensor_overview.h"

#include <nlohmann/json.hpp>

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QCoreApplication>
#include <QDir>
#include <QDockWidget>
#include <QFileInfo>
#include <QGroupBox>
#include <QInputDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QProgressBar>
#include <QScrollArea>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTableWidget>
#include <QLineEdit>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include <cstdio>
#include <ctime>

#ifndef BITBENCH_EXPERIMENTS_DIR
#define BITBENCH_EXPERIMENTS_DIR ""
#endif

namespace bitbench {

namespace {

// CPU time of the calling thread: the GUI's own cost, independent of what else the machine runs.
qint64 threadCpuNs() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return qint64(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

QString clockText(double seconds) {
    if (!(seconds >= 0) || seconds > 1e7) return QStringLiteral("--:--");
    const auto s = qint64(seconds);
    if (s >= 3600) return QStringLiteral("%1:%2:%3").arg(s / 3600).arg(s / 60 % 60, 2, 10, QLatin1Char('0')).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

// Shipped experiments: next to the sources in a build tree, or installed beside the program.
QStringList presetDirs() {
    QStringList dirs;
    const QString app = QCoreApplication::applicationDirPath();
    for (const QString& d : {QString::fromUtf8(BITBENCH_EXPERIMENTS_DIR), app + QStringLiteral("/../../experiments"),
                             app + QStringLiteral("/../share/bitbench/experiments")})
        if (!d.isEmpty() && QDir(d).exists()) dirs << QDir(d).canonicalPath();
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

void MainWindow::setAutomation(const WindowAutomation& a) {
    m_auto = a;
    if (a.inspectLayer >= 0) m_inspector->select(a.inspectLayer, std::max(0, a.inspectClass));
    if (!a.autotrain && !a.screenshotDir.isEmpty())
        // No training: picture the window as it opens (e.g. the panel's validation), then quit.
        QTimer::singleShot(300, this, [this] {
            saveScreenshots(m_auto.screenshotDir);
            QCoreApplication::exit(0);
        });
    if (a.autotrain)
        QTimer::singleShot(0, this, [this] {
            QString err;
            if (startTraining(&err)) return;
            // The panel refuses a missing dataset before loading it; bitbench-cli reports the
            // loader's error (exit 3), so ask the loader, on this failure path only.
            try {
                if (!m_panel->experimentPath().isEmpty())
                    (void)dataset_for_experiment(m_panel->loadedExperiment(), m_panel->dataDir().toStdString());
            } catch (const std::exception& e) {
                std::fprintf(stderr, "bitbench: %s\n", error_line(e).c_str());
                QCoreApplication::exit(error_exit_code(e));
                return;
            }
            // Anything else the panel refuses is input, as in bitbench-cli.
            std::fprintf(stderr, "bitbench: cannot start training: %s\n", err.toUtf8().constData());
            QCoreApplication::exit(2);
        });
}

void MainWindow::setCostTable(const CostTable& t) {
    m_costTable = t;
    settings_set_cost_table(t);
    updateCost();
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

nlohmann::json MainWindow::editorQuantKeys() const {
    return quant_bridge_keys(m_editor->config(), m_bitsForm, m_sourceQuant ? &*m_sourceQuant : nullptr);
}

// The engine plan of what the panel and editor describe: an engine built for it (with a small
// batch: the plan does not depend on it) reports integer or float per layer and class.
void MainWindow::updatePlans() {
    if (m_controller->busy()) return;
    QVector<std::array<widgets::BitwidthEditor::CellPlan, 4>> plans;
    try {
        auto e = m_panel->buildExperiment(editorQuantKeys(), nullptr, true);
        if (e) {
            std::unique_ptr<Engine> engine;
            Experiment small = *e;
            small.batch = std::min(e->batch, 32);
            try {
                engine = engine_create(small);
            } catch (const std::exception&) {
                engine = engine_create(*e); // a size rule (range BN chunks) may need the real batch
            }
            plans = quant_bridge_plans(m_layerNames, engine->layers());
        }
    } catch (const std::exception&) {
        // No plan to show; Train reports the reason.
    }
    m_editor->setPlans(plans);
}

QuantSpec MainWindow::editorSpec() const {
    const widgets::BitwidthConfig c = m_editor->config();
    QuantSpec s;
    for (int i = 0; i < 4; ++i) s.base.bits[size_t(i)] = c.patternBits[size_t(i)];
    for (int l = 0; l < c.layerNames.size() && l < c.layerBits.size(); ++l) {
        if (c.layerBits[l] == c.patternBits) continue;
        ClassBits b;
        for (int i = 0; i < 4; ++i) b.bits[size_t(i)] = c.layerBits[l][size_t(i)];
        s.overrides[c.layerNames[l].toStdString()] = b;
    }
    return s;
}

nlohmann::json MainWindow::editorLayerBits() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [layer, bits] : editorSpec().overrides) j[layer] = bits.dashed();
    return j;
}

void MainWindow::updateCost() {
    m_cost.reset();
    const auto model = m_panel->model();
    if (!model || m_editor->pattern().isEmpty()) {
        m_editor->setCostText(tr("Cost: choose a model and a valid pattern"));
        return;
    }
    if (model->layers.empty()) {
        m_editor->setCostText(tr("Cost: the cost model prices layer-list models (lenet5, vgg7, mlp) so far"));
        return;
    }
    try {
        m_cost = cost_estimate(*model, editorSpec(), m_panel->batch(), m_costTable);
        const auto& c = *m_cost;
        auto e = [](double pj) { return QString::fromStdString(cost_format_energy(pj)); };
        auto a = [](double um2) {
            return QString::fromStdString(cost_format_area(um2))
                .replace(QLatin1String("um^2"), QStringLiteral("µm²"))
                .replace(QLatin1String("mm^2"), QStringLiteral("mm²"));
        };
        QString text =
            tr("<b>Cost (45 nm)</b> &nbsp; training step (batch %1): <b>%2</b>, %3 MMAC &nbsp;·&nbsp; "
               "inference: <b>%4</b>/image<br>MAC datapath area: training %5 &nbsp;·&nbsp; inference %6")
                .arg(c.batch)
                .arg(e(c.trainStepEnergyPj))
                .arg(double(c.trainMacsPerStep) / 1e6, 0, 'f', 1)
                .arg(e(c.inferenceEnergyPj))
                .arg(a(c.trainAreaUm2))
                .arg(a(c.inferenceAreaUm2));
        // Where a step's energy goes: which layer and product to narrow first.
        text += tr("<table cellspacing=0 cellpadding=1 style='margin-top:4px'><tr><th align=left>layer</th>"
                   "<th align=right>&nbsp;forward</th><th align=right>&nbsp;error</th>"
                   "<th align=right>&nbsp;gradient</th><th align=right>&nbsp;share</th></tr>");
        for (const auto& l : c.layers) {
            double layerPj = l.updateEnergyPj;
            QString cells;
            for (int p = 0; p < 3; ++p) {
                layerPj += l.energyPj[p] * c.batch;
                cells += l.macs[p] ? QStringLiteral("<td align=right>&nbsp;%1×%2 %3</td>")
                                         .arg(l.operandBits[p][0] ? QString::number(l.operandBits[p][0]) : QStringLiteral("f"))
                                         .arg(l.operandBits[p][1] ? QString::number(l.operandBits[p][1]) : QStringLiteral("f"))
                                         .arg(e(l.energyPj[p] * c.batch))
                                   : QStringLiteral("<td align=right>&nbsp;–</td>");
            }
            text += QStringLiteral("<tr><td>%1</td>%2<td align=right>&nbsp;%3 %</td></tr>")
                        .arg(QString::fromStdString(l.name), cells)
                        .arg(100.0 * layerPj / c.trainStepEnergyPj, 0, 'f', 0);
        }
        text += QStringLiteral("</table>");
        m_editor->setCostText(text);
    } catch (const std::exception& ex) {
        m_editor->setCostText(tr("Cost: %1").arg(QString::fromUtf8(ex.what())));
    }
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

bool MainWindow::startTraining(QString* error) {
    QString why;
    auto fail = [&](const QString& m) {
        statusBar()->showMessage(tr("Cannot start: %1").arg(m));
        if (error) *error = m;
        return false;
    };
    if (m_controller->busy()) return fail(tr("a run is in progress"));
    m_failureLine.clear();
    if (!m_editor->errorText().isEmpty()) return fail(m_editor->errorText());
    nlohmann::json keys;
    try {
        keys = editorQuantKeys();
    } catch (const std::exception& ex) {
        return fail(QString::fromUtf8(ex.what()));
    }
    const auto e = m_panel->buildExperiment(keys, &why);
    if (!e) return fail(why);
    TrainingRequest req;
    req.experiment = *e;
    req.dbPath = m_panel->databasePath().toStdString();
    req.threads = m_panel->threads();
    settings_set(settings::kLastDatabase, m_panel->databasePath());
    settings_set(settings::kThreads, m_panel->threads());
    settings_set(settings::kLastDataDir, m_panel->dataDir());
    m_inspector->clear();
    m_overview->clearCells();
    m_curves->reset(1, e->batch);
    m_progress->setValue(0);
    m_frames = m_fpsFrames = 0;
    m_guiBusyNs = 0;
    m_rateSum = 0;
    m_rateCount = 0;
    m_firstStep = -1;
    m_stepsDone = 0;
    m_lastEpochRate = 0;
    updatePlans(); // the plan of what runs now, also when Train comes before the preview timer
    if (!m_controller->start(std::move(req), &why)) return fail(why);
    m_resumingRunId = 0;
    statusBar()->showMessage(tr("Starting %1…").arg(QString::fromStdString(e->name)));
    return true;
}

bool MainWindow::resumeRun(qint64 runId, QString* error) {
    QString why;
    if (m_controller->busy()) why = tr("a run is in progress");
    TrainingRequest req;
    req.resumeRunId = runId;
    req.dbPath = m_panel->databasePath().toStdString();
    req.dataDir = m_panel->dataDir().toStdString();
    req.threads = m_panel->threads();
    m_inspector->clear();
    m_overview->clearCells();
    m_frames = m_fpsFrames = 0;
    m_guiBusyNs = 0;
    m_rateSum = 0;
    m_rateCount = 0;
    m_firstStep = -1;
    if (why.isEmpty() && m_controller->start(std::move(req), &why)) {
        m_resumingRunId = runId;
        statusBar()->showMessage(tr("Resuming run %1…").arg(runId));
        return true;
    }
    statusBar()->showMessage(tr("Cannot resume: %1").arg(why));
    if (error) *error = why;
    return false;
}

// A resumed run's curves start with what the store holds up to the checkpoint it continues from.
void MainWindow::loadStoredCurves(qint64 runId) {
    try {
        RunStore store = RunStore::open(m_panel->databasePath().toStdString(), StoreAccess::ReadOnly);
        const auto cp = store.checkpointLatest(runId);
        const int64_t from = cp ? cp->step : 0;
        const auto loss = store.metricsGet(runId, "loss");
        const auto err = store.metricsGet(runId, "error");
        std::vector<StepMetrics> steps;
        for (size_t i = 0; i < loss.size() && i < err.size(); ++i) {
            if (loss[i].step >= from || err[i].step != loss[i].step) break;
            StepMetrics m;
            m.step = loss[i].step;
            m.epoch = loss[i].epoch;
            m.loss = loss[i].value;
            m.error = err[i].value;
            steps.push_back(m);
        }
        std::vector<EpochMetrics> epochs;
        for (const auto& e : store.epochsGet(runId))
            if (e.step <= from) epochs.push_back(e);
        m_curves->append(steps, epochs);
        m_curves->flush();
    } catch (const std::exception& ex) {
        statusBar()->showMessage(tr("Resuming without the stored curves: %1").arg(QString::fromUtf8(ex.what())));
    }
}

void MainWindow::chooseRunToResume() {
    QStringList items;
    QList<qint64> ids;
    try {
        RunStore store = RunStore::open(m_panel->databasePath().toStdString(), StoreAccess::ReadOnly);
        for (const auto& r : store.runsList())
            if (r.status == RunStatus::Interrupted) {
                items << tr("#%1  %2  %3  step %4, %5 checkpoint(s)")
                             .arg(r.id)
                             .arg(QString::fromStdString(r.info.name), QString::fromStdString(r.info.bitsPattern))
                             .arg(r.steps)
                             .arg(r.checkpoints);
                ids << r.id;
            }
    } catch (const std::exception& ex) {
        QMessageBox::warning(this, tr("Resume"), QString::fromUtf8(ex.what()));
        return;
    }
    if (items.isEmpty()) {
        QMessageBox::information(this, tr("Resume"), tr("No interrupted runs in %1.").arg(m_panel->databasePath()));
        return;
    }
    bool ok = false;
    const QString pick = QInputDialog::getItem(this, tr("Resume interrupted run"), tr("Run"), items, 0, false, &ok);
    if (ok) resumeRun(ids[items.indexOf(pick)]);
}

void MainWindow::pauseTraining() {
    m_controller->pause();
    if (m_controller->state() == TrainingController::State::Paused)
        statusBar()->showMessage(tr("Paused after step %1: Resume continues exactly where it stopped").arg(m_stepsDone));
}
void MainWindow::resumeTraining() {
    m_controller->resume();
    statusBar()->clearMessage();
}
void MainWindow::stopTraining() {
    if (m_controller->busy()) statusBar()->showMessage(tr("Stopping: saving a checkpoint…"));
    m_controller->stop();
}

void MainWindow::onRunStarted(qint64 runId, qint64 totalSteps, qint64 stepsPerEpoch, int batch, const QString& engineKind) {
    m_curves->reset(stepsPerEpoch, batch);
    if (m_resumingRunId == runId) loadStoredCurves(runId);
    m_progress->setRange(0, int(std::min<qint64>(totalSteps, std::numeric_limits<int>::max())));
    m_progress->setValue(0);
    m_runClock.start();
    m_fpsClock.start();
    m_guiCpuStartNs = threadCpuNs();
    statusBar()->showMessage(tr("Run %1: %2 engine, %3 steps (%4 per epoch), stored in %5")
                                 .arg(runId)
                                 .arg(engineKind)
                                 .arg(totalSteps)
                                 .arg(stepsPerEpoch)
                                 .arg(QFileInfo(m_panel->databasePath()).fileName()));
}

void MainWindow::onBatch(const MetricsBatch& b) {
    const qint64 cpu0 = threadCpuNs();
    m_curves->append(b.steps, b.epochs);
    m_curves->flush();
    if (!b.plans.empty()) m_inspector->setPlans(b.plans);
    for (const auto& stats : b.stats) m_inspector->addStats(stats);
    if (!b.stats.empty()) {
        for (const auto& s : b.stats.back()) {
            widgets::TensorCell cell;
            cell.lo = s.values.lo;
            cell.hi = s.values.hi;
            cell.counts.reserve(qsizetype(s.values.counts.size()));
            for (uint32_t c : s.values.counts) cell.counts.push_back(double(c));
            cell.saturation = s.saturation;
            cell.underflow = s.underflow;
            m_overview->setCell(s.layer, int(s.cls), cell);
        }
    }
    ++m_frames;
    ++m_fpsFrames;
    if (!b.steps.empty()) {
        const StepMetrics& last = b.steps.back();
        if (m_firstStep < 0) m_firstStep = b.steps.front().step;
        m_stepsDone = last.step + 1;
        m_lastRate = last.imagesPerSecond;
        for (const auto& s : b.steps) {
            m_rateSum += s.imagesPerSecond;
            ++m_rateCount;
        }
        const qint64 total = m_controller->totalSteps();
        const qint64 perEpoch = std::max<qint64>(1, m_controller->stepsPerEpoch());
        m_progress->setValue(int(std::min<qint64>(m_stepsDone, m_progress->maximum())));
        m_stepLabel->setText(tr("step %1/%2").arg(m_stepsDone).arg(total));
        m_epochLabel->setText(tr("epoch %1/%2").arg(last.epoch + 1).arg((total + perEpoch - 1) / perEpoch));
        m_rateLabel->setText(tr("%1 img/s").arg(qRound64(m_lastRate)));
        const double eta = m_lastRate > 0 ? double(total - m_stepsDone) * m_controller->batch() / m_lastRate : -1;
        m_etaLabel->setText(tr("ETA %1").arg(clockText(eta)));
    }
    for (const auto& e : b.epochs) {
        m_lastEpochRate = e.imagesPerSecond;
        statusBar()->showMessage(tr("Epoch %1: test error %2 %, train error %3 %, %4 img/s")
                                     .arg(e.epoch + 1)
                                     .arg(100 * e.testError, 0, 'f', 2)
                                     .arg(100 * e.trainError, 0, 'f', 2)
                                     .arg(qRound64(e.imagesPerSecond)));
    }
    if (m_fpsClock.elapsed() >= 1000) {
        m_fps = 1000.0 * double(m_fpsFrames) / double(m_fpsClock.elapsed());
        m_fpsLabel->setText(tr("%1 fps").arg(m_fps, 0, 'f', 0));
        m_fpsFrames = 0;
        m_fpsClock.restart();
    }
    m_guiBusyNs += threadCpuNs() - cpu0;
    if (m_auto.quitAfterSteps > 0 && m_stepsDone >= m_auto.quitAfterSteps && !m_autoStopping) {
        m_autoStopping = true;
        m_trainSeconds = m_runClock.elapsed() / 1000.0;
        m_guiCpuNs = threadCpuNs() - m_guiCpuStartNs;
        if (!m_auto.screenshotDir.isEmpty()) saveScreenshots(m_auto.screenshotDir);
        m_controller->stop();
    }
}

void MainWindow::onRunFinished(int outcome, const QString& message, qint64 runId, qint64 steps) {
    Q_UNUSED(runId);
    if (!m_autoStopping) {
        m_trainSeconds = m_runClock.isValid() ? m_runClock.elapsed() / 1000.0 : 0;
        m_guiCpuNs = threadCpuNs() - m_guiCpuStartNs;
    }
    const QString prefix = outcome == int(TrainingOutcome::Failed) ? tr("Training failed: ") : QString();
    statusBar()->showMessage(prefix + message);
    if (outcome == int(TrainingOutcome::Failed) && !m_auto.autotrain)
        QMessageBox::warning(this, tr("Training failed"), message);
    updateActions();
    if (m_auto.autotrain && outcome == int(TrainingOutcome::Failed)) {
        // Automation cannot go on: report it as bitbench-cli would, with its exit code.
        const QString line = m_failureLine.isEmpty() ? message : m_failureLine;
        std::fprintf(stderr, "bitbench: %s\n", line.toUtf8().constData());
        finishAutomation();
        QCoreApplication::exit(m_failureLine.isEmpty() ? 1 : m_failureCode);
        return;
    }
    if (m_auto.autotrain && outcome == int(TrainingOutcome::Diverged)) {
        // The status bar says it (and the runs browser shows the status); automation reports it
        // as bitbench-cli does: its line, exit code 5.
        const QString line = m_failureLine.isEmpty() ? message : m_failureLine;
        std::fprintf(stderr, "bitbench: %s\n", line.toUtf8().constData());
        finishAutomation();
        QCoreApplication::exit(5);
        return;
    }
    if (m_auto.autotrain && (m_autoStopping || m_auto.quitWhenDone)) {
        if (!m_autoStopping && !m_auto.screenshotDir.isEmpty()) saveScreenshots(m_auto.screenshotDir);
        Q_UNUSED(steps);
        finishAutomation();
        QCoreApplication::exit(outcome == int(TrainingOutcome::Failed) ? 1 : 0);
        return;
    }
    if (m_closeAfterStop) close();
}

void MainWindow::finishAutomation() {
    if (!m_auto.perfLog) return;
    const qint64 steps = m_stepsDone - std::max<qint64>(0, m_firstStep);
    const double wall = m_trainSeconds > 0 ? m_trainSeconds : 1e-9;
    nlohmann::json j = {{"steps", m_stepsDone},
                        {"frames", m_frames},
                        {"seconds", m_trainSeconds},
                        {"fps", double(m_frames) / wall},
                        {"replots", m_curves->replotCount()},
                        // CPU seconds per wall second: appending + replotting in the drain, and
                        // everything the GUI thread did (also painting, event handling).
                        {"gui_drain_cpu_fraction", double(m_guiBusyNs) / 1e9 / wall},
                        {"gui_thread_cpu_fraction", double(m_guiCpuNs) / 1e9 / wall},
                        {"wall_images_per_s", double(steps) * m_controller->batch() / wall},
                        {"step_images_per_s_mean", m_rateCount ? m_rateSum / double(m_rateCount) : 0.0},
                        {"epoch_images_per_s", m_lastEpochRate},
                        {"mailbox_signals", m_controller->mailbox().signalCount()}};
    std::printf("%s\n", j.dump().c_str());
    std::fflush(stdout);
}

QStringList MainWindow::saveScreenshots(const QString& dir) {
    QDir().mkpath(dir);
    QStringList written;
    auto save = [&](QWidget* w, const char* name) {
        const QString path = QDir(dir).filePath(QLatin1String(name));
        if (w && w->grab().save(path)) written << path;
        else std::fprintf(stderr, "bitbench: could not write %s\n", path.toUtf8().constData());
    };
    save(this, "main-window.png");
    save(m_curves, "curves.png");
    save(m_inspector->parentWidget(), "inspector.png");
    save(m_overviewBox, "overview.png");
    save(m_editorDock, "bitwidth-editor.png");
    save(m_panel, "experiment-panel.png");
    return written;
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
