// SweepPanel: a sweep's results as a table of trials and a heat map of test error over two
// classes' bits.
#include "sweep_panel.h"

#include "runs_database.h"

#include "bitbench/store.h"

#include "bitbench_widgets/qcp.h"

#include <QComboBox>
#include <QLabel>
#include <QTableWidget>

#include <algorithm>
#include <cmath>
#include <map>

namespace bitbench {

void SweepPanel::rebuildResults() {
    RunStore* store = m_db->store();
    if (!store) return;
    std::vector<SweepRecord> sweeps;
    std::vector<SweepTrial> trials;
    try {
        sweeps = store->sweepsList();
        if (!m_shownSweep && !sweeps.empty()) m_shownSweep = sweeps.back().id;
        if (m_shownSweep) trials = store->sweepTrialsGet(m_shownSweep);
    } catch (const std::exception& e) {
        m_status->setText(QString::fromUtf8(e.what()));
        return;
    }
    {
        const QSignalBlocker block(m_sweeps);
        m_sweeps->clear();
        for (const auto& s : sweeps)
            m_sweeps->addItem(
                QStringLiteral("%1 · %2").arg(s.id).arg(QString::fromStdString(s.name)),
                qint64(s.id));
        m_sweeps->setCurrentIndex(m_sweeps->findData(m_shownSweep));
    }
    m_results->setRowCount(0);
    // Heat map cells: (x bits, y bits) -> best error among the trials with those bits.
    std::map<std::pair<int, int>, double> cells;
    const int cx = m_heatX->currentData().toInt(), cy = m_heatY->currentData().toInt();
    for (const SweepTrial& t : trials) {
        const RunRow* row = nullptr;
        for (const RunRow& r : m_db->rows())
            if (r.id == t.runId) row = &r;
        const int i = m_results->rowCount();
        m_results->insertRow(i);
        const char* st = t.status == TrialStatus::Finished   ? "finished"
                         : t.status == TrialStatus::Running  ? "running / interrupted"
                         : t.status == TrialStatus::Failed   ? "failed"
                         : t.status == TrialStatus::Diverged ? "diverged"
                                                             : "pending";
        const QStringList cells_ = {!row ? QString::fromStdString(t.configHash)
                                    : row->name.contains(QLatin1Char('@'))
                                        ? row->name.section(QLatin1Char('@'), -1)
                                        : row->bits,
                                    t.runId ? QString::number(t.runId) : QString(),
                                    tr(st),
                                    row ? QString::number(row->epochs) : QString(),
                                    row ? runs_format_percent(row->bestTestError) : QString(),
                                    row ? runs_format_percent(row->finalTestError) : QString(),
                                    row && std::isfinite(row->imagesPerSecond)
                                        ? QString::number(qRound64(row->imagesPerSecond))
                                        : QString()};
        for (int c = 0; c < cells_.size(); ++c)
            m_results->setItem(i, c, new QTableWidgetItem(cells_[c]));
        if (!t.message.empty())
            m_results->item(i, 2)->setToolTip(QString::fromStdString(t.message));
        // A diverged trial's errors before it diverged are no result for the heat map.
        if (t.status == TrialStatus::Diverged) continue;
        if (!row || !std::isfinite(row->bestTestError)) continue;
        try {
            const ClassBits b = quant_spec_parse(row->bits.toStdString());
            const auto key = std::make_pair(b.bits[size_t(cx)], b.bits[size_t(cy)]);
            const auto it = cells.find(key);
            if (it == cells.end() || row->bestTestError < it->second)
                cells[key] = row->bestTestError;
        } catch (const std::exception&) {
        }
    }
    m_results->resizeColumnsToContents();

    // Heat map on a categorical grid (bits as ordered labels; float last).
    m_heat->clearPlottables();
    m_heat->clearItems();
    auto order = [](int b) { return b == 0 ? 99 : b; };
    std::vector<int> xs, ys;
    for (const auto& [k, v] : cells) {
        if (std::find(xs.begin(), xs.end(), k.first) == xs.end()) xs.push_back(k.first);
        if (std::find(ys.begin(), ys.end(), k.second) == ys.end()) ys.push_back(k.second);
    }
    std::sort(xs.begin(), xs.end(), [&](int a, int b) { return order(a) < order(b); });
    std::sort(ys.begin(), ys.end(), [&](int a, int b) { return order(a) < order(b); });
    const char* names[4] = {"W", "A", "G", "E"};
    m_heat->xAxis->setLabel(tr("k%1 (bits)").arg(QLatin1String(names[cx])));
    m_heat->yAxis->setLabel(tr("k%1 (bits)").arg(QLatin1String(names[cy])));
    if (!cells.empty()) {
        auto* map = new QCPColorMap(m_heat->xAxis, m_heat->yAxis);
        map->setInterpolate(false); // one flat cell per trial: a sparse grid must not blur
        map->data()->setSize(int(xs.size()), int(ys.size()));
        map->data()->setRange(QCPRange(0, std::max<double>(1, xs.size() - 1)),
                              QCPRange(0, std::max<double>(1, ys.size() - 1)));
        double lo = 1e9, hi = -1e9;
        for (size_t i = 0; i < xs.size(); ++i)
            for (size_t j = 0; j < ys.size(); ++j) {
                const auto it = cells.find({xs[i], ys[j]});
                const double v = it == cells.end() ? qQNaN() : 100 * it->second;
                map->data()->setCell(int(i), int(j), v);
                if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
                if (std::isfinite(v)) {
                    auto* t = new QCPItemText(m_heat);
                    t->position->setCoords(double(i), double(j));
                    t->setText(QStringLiteral("%1 %").arg(v, 0, 'f', 2));
                    // Dark text on a light box stays readable over every colour of the scale.
                    t->setColor(Qt::black);
                    t->setBrush(QColor(255, 255, 255, 190));
                    t->setPadding(QMargins(3, 1, 3, 1));
                }
            }
        QCPColorGradient g(QCPColorGradient::gpThermal);
        g.setNanHandling(QCPColorGradient::nhTransparent);
        map->setGradient(g.inverted());
        map->setDataRange(QCPRange(lo, hi > lo ? hi : lo + 1));
        auto ticks = [&](const std::vector<int>& v) {
            auto t = QSharedPointer<QCPAxisTickerText>::create();
            for (size_t i = 0; i < v.size(); ++i)
                t->addTick(double(i), v[i] ? QString::number(v[i]) : QStringLiteral("f"));
            return t;
        };
        m_heat->xAxis->setTicker(ticks(xs));
        m_heat->yAxis->setTicker(ticks(ys));
        m_heat->xAxis->setRange(-0.5, double(xs.size()) - 0.5);
        m_heat->yAxis->setRange(-0.5, double(ys.size()) - 0.5);
    }
    m_heat->replot();
}

} // namespace bitbench
