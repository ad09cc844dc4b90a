// RunsWindow: tabs over one RunsDatabase, wiring between the browser and the other views.
#include "runs_window.h"

#include "compare_view.h"
#include "pareto_view.h"
#include "replay_view.h"
#include "runs_browser.h"
#include "runs_database.h"
#include "sweep_panel.h"

#include "bitbench_widgets/qcp.h"

#include <QAction>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPointer>
#include <QStatusBar>
#include <QTabWidget>

namespace bitbench {

RunsWindow::RunsWindow(QWidget* parent) : QMainWindow(parent) {
    setObjectName(QStringLiteral("RunsWindow"));
    setWindowTitle(tr("bitbench — runs"));
    m_db = new RunsDatabase(this);
    m_tabs = new QTabWidget;
    m_browser = new RunsBrowser(m_db);
    m_compare = new CompareView(m_db);
    m_tabs->addTab(m_browser, tr("Runs"));
    m_pareto = new ParetoView(m_db);
    m_replay = new ReplayView(m_db);
    m_tabs->addTab(m_compare, tr("Compare"));
    m_tabs->addTab(m_pareto, tr("Pareto"));
    m_tabs->addTab(m_replay, tr("Replay"));
    m_sweeps = new SweepPanel(m_db);
    m_tabs->addTab(m_sweeps, tr("Sweeps"));
    setCentralWidget(m_tabs);

    auto* file = menuBar()->addMenu(tr("&Database"));
    QAction* open = file->addAction(tr("&Open run database…"));
    open->setShortcut(QKeySequence::Open);
    connect(open, &QAction::triggered, this, [this] {
        const QString p =
            QFileDialog::getOpenFileName(this, tr("Open run database"), m_db->path(),
                                         tr("Run databases (*.db *.sqlite);;All files (*)"));
        if (!p.isEmpty()) openDatabase(p);
    });
    QAction* reload = file->addAction(tr("&Refresh now"));
    reload->setShortcut(QKeySequence::Refresh);
    connect(reload, &QAction::triggered, m_db, &RunsDatabase::refresh);

    connect(m_browser, &RunsBrowser::compareRequested, this, &RunsWindow::showCompare);
    connect(m_browser, &RunsBrowser::openDatabaseRequested, open, &QAction::trigger);
    connect(m_browser, &RunsBrowser::replayRequested, this, &RunsWindow::showReplay);
    connect(m_browser, &RunsBrowser::sweepRequested, this, [this](qint64 id) {
        if (id) m_sweeps->setBaseRun(id);
        m_tabs->setCurrentWidget(m_sweeps);
    });
    connect(m_pareto, &ParetoView::runActivated, this, [this](qint64 id) {
        m_browser->selectRuns({id});
        showCompare({id});
    });
    resize(1280, 820);
}

RunsWindow::~RunsWindow() = default;

bool RunsWindow::openDatabase(const QString& path, bool interactive) {
    QString why;
    if (m_db->open(path, &why)) {
        statusBar()->showMessage(
            m_db->readOnly() ? tr("Opened %1 read-only: %2").arg(path, m_db->readOnlyReason())
                             : tr("Opened %1").arg(path));
        return true;
    }
    m_browser->banner()->setText(why);
    m_browser->banner()->setStyleSheet(
        QStringLiteral("background:#fde2e1; color:#7a1010; border-radius:3px;"));
    statusBar()->showMessage(why);
    if (interactive) QMessageBox::warning(this, tr("Cannot open run database"), why);
    return false;
}

void RunsWindow::setCostTable(const CostTable& t) {
    m_db->setCostTable(t);
}

void RunsWindow::showCompare(const QList<qint64>& ids) {
    m_compare->setRuns(ids);
    m_tabs->setCurrentWidget(m_compare);
}

void RunsWindow::showReplay(qint64 id) {
    m_replay->setRun(id);
    m_tabs->setCurrentWidget(m_replay);
}

QStringList RunsWindow::saveScreenshots(const QString& dir) {
    QDir().mkpath(dir);
    QStringList written;
    const int current = m_tabs->currentIndex();
    for (int i = 0; i < m_tabs->count(); ++i) {
        m_tabs->setCurrentIndex(i);
        // Let the newly shown tab lay out and its plots replot at their real size before the grab.
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        for (QCustomPlot* p : m_tabs->widget(i)->findChildren<QCustomPlot*>())
            p->replot();
        const QString path =
            QDir(dir).filePath(QStringLiteral("runs-%1.png")
                                   .arg(m_tabs->tabText(i).toLower().remove(QLatin1Char('&'))));
        if (grab().save(path)) written << path;
    }
    m_tabs->setCurrentIndex(current);
    return written;
}

void runs_window_install(QMainWindow* window, std::function<QString()> dbPath,
                         std::function<CostTable()> costTable) {
    auto* menu = window->menuBar()->addMenu(QObject::tr("Run&s"));
    QAction* act = menu->addAction(QObject::tr("Runs and comparison…"));
    act->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    act->setObjectName(QStringLiteral("OpenRunsWindow"));
    auto runs = std::make_shared<QPointer<RunsWindow>>();
    QObject::connect(act, &QAction::triggered, window, [window, runs, dbPath, costTable] {
        if (!*runs) {
            *runs = new RunsWindow(window);
            (*runs)->setWindowFlag(Qt::Window);
        }
        RunsWindow* w = *runs;
        if (costTable) w->setCostTable(costTable());
        const QString path = dbPath ? dbPath() : QString();
        if (w->database()->path() != path) w->openDatabase(path, false);
        w->show();
        w->raise();
        w->activateWindow();
    });
}

} // namespace bitbench
