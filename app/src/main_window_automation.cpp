// Main window automation: autotrain, screenshots of the main views, the measurement line.
#include "main_window.h"

#include "curves_panel.h"
#include "experiment_panel.h"
#include "inspector_panel.h"

#include "bitbench/dataset.h"
#include "bitbench/error.h"

#include <nlohmann/json.hpp>

#include <QCoreApplication>
#include <QDir>
#include <QDockWidget>
#include <QTimer>

#include <algorithm>
#include <cstdio>

namespace bitbench {

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

} // namespace bitbench
