// Main window: the run lifecycle (train, resume, pause, stop) and the live view of a run.
#include "main_window.h"

#include "app_settings.h"
#include "curves_panel.h"
#include "experiment_panel.h"
#include "inspector_panel.h"

#include "bitbench/store.h"

#include "bitbench_widgets/bitwidth_editor.h"
#include "bitbench_widgets/tensor_overview.h"

#include <nlohmann/json.hpp>

#include <QCoreApplication>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QStatusBar>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <limits>

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

} // namespace

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

} // namespace bitbench
