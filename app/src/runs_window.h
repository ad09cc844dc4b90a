// The runs window: browser, compare, Pareto, replay and sweeps over one run database.
#pragma once

#include "bitbench/cost_model.h"

#include <QList>
#include <QMainWindow>

#include <functional>

class QLabel;
class QTabWidget;

namespace bitbench {

class CompareView;
class ParetoView;
class ReplayView;
class RunsBrowser;
class RunsDatabase;
class SweepPanel;

class RunsWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit RunsWindow(QWidget* parent = nullptr);
    ~RunsWindow() override;

    // Opens the database; on failure shows why in the browser (and a dialog when `interactive`).
    bool openDatabase(const QString& path, bool interactive = true);
    void setCostTable(const CostTable& t);

    RunsDatabase* database() const { return m_db; }
    RunsBrowser* browser() const { return m_browser; }
    CompareView* compare() const { return m_compare; }
    ParetoView* pareto() const { return m_pareto; }
    ReplayView* replay() const { return m_replay; }
    SweepPanel* sweeps() const { return m_sweeps; }
    QTabWidget* tabs() const { return m_tabs; }

    void showCompare(const QList<qint64>& ids);
    void showReplay(qint64 id);

    // PNGs of every view into dir (scripts/screenshot); returns the files written.
    QStringList saveScreenshots(const QString& dir);

private:
    RunsDatabase* m_db;
    QTabWidget* m_tabs;
    RunsBrowser* m_browser;
    CompareView* m_compare;
    ParetoView* m_pareto = nullptr;
    ReplayView* m_replay = nullptr;
    SweepPanel* m_sweeps = nullptr;
};

// Adds a "Runs" menu to `window` with "Runs and comparison…" (Ctrl+R), which opens the runs
// window on the database `dbPath()` names at that moment. The runs window is created on first use.
void runs_window_install(QMainWindow* window, std::function<QString()> dbPath,
                         std::function<CostTable()> costTable);

} // namespace bitbench
