// CompareView: curves read on a worker thread and thinned, overlaid per run; config diff table.
#include "compare_view.h"

#include "export_files.h"
#include "runs_database.h"

#include "bitbench/analysis.h"
#include "bitbench/store.h"

#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <nlohmann/json.hpp>

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QThread>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <functional>

namespace bitbench {

namespace {

struct MetricChoice {
    const char* key;
    const char* title;
    bool percent;
};
constexpr MetricChoice kMetrics[] = {
    {"test_error", "Test error (%)", true},
    {"train_error", "Train error (%)", true},
    {"test_loss", "Test loss", false},
    {"train_loss", "Train loss", false},
    {"loss", "Batch loss (per step)", false},
    {"error", "Batch error (%, per step)", true},
    {"epoch_images_per_s", "Images/s (per epoch)", false},
    {"lr", "Learning rate", false},
};

bool isPercent(const std::string& key) {
    for (const auto& m : kMetrics)
        if (key == m.key) return m.percent;
    return false;
}

// Keeps at most `maxPoints` points: per bucket the first minimum and maximum, in x order.
void thin(QVector<double>& x, QVector<double>& y, int maxPoints) {
    const qsizetype n = x.size();
    if (n <= maxPoints || maxPoints < 4) return;
    const qsizetype buckets = maxPoints / 2;
    QVector<double> ox, oy;
    ox.reserve(maxPoints);
    oy.reserve(maxPoints);
    for (qsizetype b = 0; b < buckets; ++b) {
        const qsizetype lo = b * n / buckets, hi = (b + 1) * n / buckets;
        if (lo >= hi) continue;
        qsizetype iMin = lo, iMax = lo;
        for (qsizetype i = lo; i < hi; ++i) {
            if (y[i] < y[iMin]) iMin = i;
            if (y[i] > y[iMax]) iMax = i;
        }
        for (qsizetype i : {std::min(iMin, iMax), std::max(iMin, iMax)}) {
            ox.push_back(x[i]);
            oy.push_back(y[i]);
            if (iMin == iMax) break;
        }
    }
    x.swap(ox);
    y.swap(oy);
}

} // namespace

std::vector<CompareCurve> compare_curves_read(const std::string& dbPath,
                                              const std::vector<qint64>& ids,
                                              const std::string& key, CompareView::Align align,
                                              int maxPoints,
                                              const std::function<bool()>& cancelled) {
    RunStore store = RunStore::open(dbPath, StoreAccess::ReadOnly);
    const double scale = isPercent(key) ? 100.0 : 1.0;
    std::vector<CompareCurve> out;
    for (qint64 id : ids) {
        if (cancelled && cancelled()) break;
        if (!store.runExists(id)) continue;
        CompareCurve c;
        c.runId = id;
        const std::vector<MetricPoint> pts = store.metricsGet(id, key);
        const bool epochKey = std::any_of(std::begin(kEpochMetricKeys), std::end(kEpochMetricKeys),
                                          [&](const char* k) { return key == k; });
        // Steps per epoch from the epoch-end records: epoch e ends after step (e+1)*spe - 1.
        double spe = 0;
        if (align == CompareView::Align::Epoch) {
            const std::vector<EpochMetrics> ep = store.epochsGet(id);
            if (!ep.empty() && ep.front().step > 0) spe = double(ep.front().step);
        }
        c.x.reserve(qsizetype(pts.size()));
        c.y.reserve(qsizetype(pts.size()));
        for (const MetricPoint& p : pts) {
            // Both axes count work done. Step metrics carry the step's index, epoch metrics the
            // steps done at the epoch's end, so "after step s" is s + 1 but an epoch's value is at
            // its step.
            double x = double(epochKey ? p.step : p.step + 1);
            if (align == CompareView::Align::Epoch) x = spe > 0 ? x / spe : double(p.epoch + 1);
            c.x.push_back(x);
            c.y.push_back(p.value * scale);
        }
        thin(c.x, c.y, maxPoints);
        out.push_back(std::move(c));
    }
    return out;
}

CompareView::CompareView(RunsDatabase* db, QWidget* parent)
    : QWidget(parent), m_db(db), m_latest(std::make_shared<std::atomic<quint64>>(0)) {
    m_metric = new QComboBox;
    for (const auto& m : kMetrics)
        m_metric->addItem(tr(m.title), QString::fromLatin1(m.key));
    m_align = new QComboBox;
    m_align->addItem(tr("by epoch"), int(Align::Epoch));
    m_align->addItem(tr("by step"), int(Align::Step));
    m_log = new QCheckBox(tr("log y"));
    m_status = new QLabel;
    auto* exportPlot = new QPushButton(tr("Export plot…"));
    auto* paper = new QPushButton(tr("Paper figure…"));
    paper->setToolTip(tr("PDF, SVG and 300 dpi PNG at one column width (3.5 in), in one go"));
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Metric")));
    bar->addWidget(m_metric);
    bar->addWidget(new QLabel(tr("Align")));
    bar->addWidget(m_align);
    bar->addWidget(m_log);
    bar->addWidget(m_status, 1);
    bar->addWidget(exportPlot);
    bar->addWidget(paper);

    auto* plotHost = new QWidget;
    m_plotBox = new QVBoxLayout(plotHost);
    m_plotBox->setContentsMargins(0, 0, 0, 0);

    m_diff = new QTableWidget;
    m_diff->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_diff->verticalHeader()->setDefaultSectionSize(m_diff->fontMetrics().height() + 6);
    m_diff->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_diff->setAlternatingRowColors(true);
    m_diffNote = new QLabel;
    auto* exportDiff = new QPushButton(tr("Export diff…"));
    auto* diffBox = new QWidget;
    auto* diffLayout = new QVBoxLayout(diffBox);
    diffLayout->setContentsMargins(0, 0, 0, 0);
    auto* diffBar = new QHBoxLayout;
    diffBar->addWidget(m_diffNote, 1);
    diffBar->addWidget(exportDiff);
    diffLayout->addLayout(diffBar);
    diffLayout->addWidget(m_diff, 1);

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(plotHost);
    split->addWidget(diffBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(split, 1);

    connect(m_metric, &QComboBox::currentIndexChanged, this, &CompareView::reload);
    connect(m_align, &QComboBox::currentIndexChanged, this, &CompareView::reload);
    connect(m_log, &QCheckBox::toggled, this, [this](bool on) {
        if (m_plot) m_plot->setLogScale(on);
    });
    connect(exportPlot, &QPushButton::clicked, this, [this] {
        if (m_plot)
            export_plot_interactive(this, m_plot->plot(), QStringLiteral("compare-") + metric());
    });
    connect(paper, &QPushButton::clicked, this, [this] {
        const QString base = QFileDialog::getSaveFileName(
            this, tr("Paper figure (PDF, SVG and PNG)"),
            QDir::home().filePath(QStringLiteral("compare-") + metric()));
        if (base.isEmpty()) return;
        QString why;
        const QStringList files = exportPaperFigure(
            QFileInfo(base).path() + QLatin1Char('/') + QFileInfo(base).completeBaseName(), &why);
        m_status->setText(why.isEmpty() ? tr("Wrote %1").arg(files.join(QStringLiteral(", ")))
                                        : why);
    });
    connect(exportDiff, &QPushButton::clicked, this, [this] {
        export_table_interactive(this, export_table_from_model(m_diff->model()),
                                 QStringLiteral("config-diff"));
    });
    setRuns({});
}

CompareView::~CompareView() {
    m_latest->store(~quint64(0)); // every reader sees itself as stale and stops
    for (QThread* t : m_threads) {
        t->wait();
        delete t;
    }
}

void CompareView::setMetric(const QString& key) {
    const int i = m_metric->findData(key);
    if (i >= 0) m_metric->setCurrentIndex(i);
}
QString CompareView::metric() const {
    return m_metric->currentData().toString();
}
void CompareView::setAlign(Align a) {
    m_align->setCurrentIndex(m_align->findData(int(a)));
}

void CompareView::setRuns(const QList<qint64>& ids) {
    m_ids = ids;
    rebuildDiff();
    reload();
}

void CompareView::reload() {
    const quint64 gen = ++m_generation;
    m_latest->store(gen);
    // Old threads that finished are reaped here; running ones see they are stale and stop soon.
    m_threads.erase(std::remove_if(m_threads.begin(), m_threads.end(),
                                   [](QThread* t) {
                                       if (!t->isFinished()) return false;
                                       delete t;
                                       return true;
                                   }),
                    m_threads.end());
    if (m_ids.isEmpty() || !m_db->isOpen()) {
        onCurves(gen, {},
                 m_ids.isEmpty() ? tr("Select runs in the browser and press Compare.")
                                 : tr("No database open."));
        return;
    }
    m_loading = true;
    m_status->setText(tr("Reading %n run(s)…", nullptr, int(m_ids.size())));
    const std::string path = m_db->path().toStdString();
    const std::vector<qint64> ids(m_ids.begin(), m_ids.end());
    const std::string key = metric().toStdString();
    const Align align = Align(m_align->currentData().toInt());
    auto latest = m_latest;
    QThread* t = QThread::create([this, path, ids, key, align, gen, latest] {
        std::vector<CompareCurve> curves;
        QString error;
        try {
            curves = compare_curves_read(path, ids, key, align, kMaxPointsPerRun,
                                         [&] { return latest->load() != gen; });
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        if (latest->load() != gen) return;
        QMetaObject::invokeMethod(
            this,
            [this, gen, c = std::move(curves), error]() mutable {
                onCurves(gen, std::move(c), error);
            },
            Qt::QueuedConnection);
    });
    m_threads.push_back(t);
    t->start();
}

void CompareView::onCurves(quint64 generation, std::vector<CompareCurve> curves, QString error) {
    if (generation != m_generation) return;
    m_loading = false;
    // A fresh plot per selection: series cannot be removed from a CurvePlot, and a rebuild of
    // 50 series with 2000 points each is a few milliseconds.
    auto* plot = new widgets::CurvePlot;
    plot->setXLabel(Align(m_align->currentData().toInt()) == Align::Epoch ? tr("epoch")
                                                                          : tr("step"));
    plot->setYLabel(m_metric->currentText());
    plot->setSmoothing(0);
    plot->setLogScale(m_log->isChecked());
    int points = 0;
    QStringList patterns;
    for (const CompareCurve& c : curves)
        for (const RunRow& r : m_db->rows())
            if (r.id == c.runId) patterns << r.bits;
    for (size_t i = 0; i < curves.size(); ++i) {
        const RunRow* row = nullptr;
        for (const RunRow& r : m_db->rows())
            if (r.id == curves[i].runId) row = &r;
        // The bit pattern alone when it names the run unambiguously, else with the run id.
        const bool unique = row && patterns.count(row->bits) == 1;
        const QString label = unique ? row->bits
                              : row  ? QStringLiteral("#%1 %2").arg(curves[i].runId).arg(row->bits)
                                     : QStringLiteral("#%1").arg(curves[i].runId);
        const int s = plot->addSeries(label, widgets::plot_style_colour(int(i)));
        plot->setSeriesSmoothed(s, false);
        plot->appendPoints(s, curves[i].x, curves[i].y);
        points += int(curves[i].x.size());
    }
    // Wrapped legend rows keep every label whole, also in a one-column paper figure.
    if (QCPLegend* legend = plot->plot()->legend) {
        legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, false);
        legend->setWrap(3);
        legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
    }
    plot->flush();
    if (m_plot) {
        m_plotBox->removeWidget(m_plot);
        m_plot->deleteLater();
    }
    m_plot = plot;
    m_plotBox->addWidget(plot);
    if (!error.isEmpty())
        m_status->setText(error);
    else if (!curves.empty() && points == 0)
        m_status->setText(tr("These runs have no stored %1 values yet.").arg(metric()));
    else
        m_status->setText(
            curves.empty() ? QString()
                           : tr("%n run(s), %1 points", nullptr, int(curves.size())).arg(points));
    Q_EMIT loaded();
}

void CompareView::rebuildDiff() {
    std::vector<nlohmann::json> configs;
    QStringList headers;
    for (qint64 id : m_ids) {
        const RunRow* row = nullptr;
        for (const RunRow& r : m_db->rows())
            if (r.id == id) row = &r;
        if (!row) continue;
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(row->resolvedConfigJson.toStdString());
        } catch (const std::exception&) {
            j = {{"(unreadable config)", row->resolvedConfigJson.left(60).toStdString()}};
        }
        configs.push_back(std::move(j));
        headers << QStringLiteral("#%1 %2").arg(id).arg(row->bits);
    }
    const std::vector<ConfigDiffRow> rows = analysis_config_diff(configs);
    m_diff->clear();
    m_diff->setColumnCount(int(headers.size()) + 1);
    m_diff->setHorizontalHeaderLabels(QStringList{tr("Key")} + headers);
    m_diff->setRowCount(int(rows.size()));
    for (int r = 0; r < int(rows.size()); ++r) {
        m_diff->setItem(r, 0, new QTableWidgetItem(QString::fromStdString(rows[size_t(r)].key)));
        for (int c = 0; c < int(rows[size_t(r)].values.size()); ++c) {
            const std::string& v = rows[size_t(r)].values[size_t(c)];
            auto* item =
                new QTableWidgetItem(v.empty() ? tr("(absent)") : QString::fromStdString(v));
            if (v.empty()) item->setForeground(Qt::gray);
            m_diff->setItem(r, c + 1, item);
        }
    }
    m_diff->resizeColumnsToContents();
    if (configs.size() < 2)
        m_diffNote->setText(tr("Config diff: select two or more runs."));
    else if (rows.empty())
        m_diffNote->setText(tr("Config diff: the %n runs have identical configurations.", nullptr,
                               int(configs.size())));
    else
        m_diffNote->setText(
            tr("Config diff: %n key(s) differ (keys equal in every run are hidden).", nullptr,
               int(rows.size())));
}

QStringList CompareView::exportPaperFigure(const QString& basePath, QString* error) {
    if (!m_plot) return {};
    return export_paper_figure(m_plot->plot(), basePath, error);
}

} // namespace bitbench
