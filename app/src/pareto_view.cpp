// ParetoView: scatter of runs, staircase front from analysis_pareto_front, click to open.
#include "pareto_view.h"

#include "export_files.h"
#include "runs_database.h"

#include "bitbench/analysis.h"

#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <algorithm>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSet>
#include <QVBoxLayout>

#include <cmath>
#include <vector>

namespace bitbench {

ParetoView::ParetoView(RunsDatabase* db, QWidget* parent) : QWidget(parent), m_db(db) {
    m_cost = new QComboBox;
    m_cost->addItem(tr("Energy per training step"), int(Cost::TrainEnergy));
    m_cost->addItem(tr("Energy per inference"), int(Cost::InferenceEnergy));
    m_cost->addItem(tr("MAC area, training"), int(Cost::TrainArea));
    m_cost->addItem(tr("MAC area, inference"), int(Cost::InferenceArea));
    m_cost->addItem(tr("Bits W+A+G+E"), int(Cost::TotalBits));
    m_error = new QComboBox;
    m_error->addItem(tr("best test error"), int(ErrorKind::Best));
    m_error->addItem(tr("final test error"), int(ErrorKind::Final));
    m_model = new QComboBox;
    m_finishedOnly = new QCheckBox(tr("finished runs only"));
    m_finishedOnly->setChecked(true);
    m_labels = new QCheckBox(tr("labels"));
    m_labels->setChecked(true);
    auto* exportPlot = new QPushButton(tr("Export plot…"));
    auto* paper = new QPushButton(tr("Paper figure…"));
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Cost")));
    bar->addWidget(m_cost);
    bar->addWidget(new QLabel(tr("Error")));
    bar->addWidget(m_error);
    bar->addWidget(new QLabel(tr("Model")));
    bar->addWidget(m_model);
    bar->addWidget(m_finishedOnly);
    bar->addWidget(m_labels);
    bar->addStretch(1);
    bar->addWidget(exportPlot);
    bar->addWidget(paper);
    m_plot = new QCustomPlot;
    widgets::plot_style_apply(m_plot);
    widgets::plot_style_legend_above(m_plot);
    m_note = new QLabel;
    m_note->setWordWrap(true);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(bar);
    layout->addWidget(m_plot, 1);
    layout->addWidget(m_note);

    for (QComboBox* b : {m_cost, m_error, m_model})
        connect(b, &QComboBox::currentIndexChanged, this, &ParetoView::rebuild);
    for (QCheckBox* b : {m_finishedOnly, m_labels})
        connect(b, &QCheckBox::toggled, this, &ParetoView::rebuild);
    connect(m_db, &RunsDatabase::rowsChanged, this, &ParetoView::rebuild);
    connect(m_plot, &QCustomPlot::mousePress, this,
            [this](QMouseEvent* e) { m_pressAt = e->position(); });
    connect(m_plot, &QCustomPlot::mouseRelease, this, [this](QMouseEvent* e) {
        if ((e->position() - m_pressAt).manhattanLength() > 4) return; // a pan, not a click
        if (const qint64 id = runAt(e->position())) Q_EMIT runActivated(id);
    });
    connect(exportPlot, &QPushButton::clicked, this,
            [this] { export_plot_interactive(this, m_plot, QStringLiteral("pareto")); });
    connect(paper, &QPushButton::clicked, this, [this] {
        const QString base =
            QFileDialog::getSaveFileName(this, tr("Paper figure (PDF, SVG and PNG)"),
                                         QDir::home().filePath(QStringLiteral("pareto")));
        if (base.isEmpty()) return;
        QString why;
        const QStringList files = exportPaperFigure(
            QFileInfo(base).path() + QLatin1Char('/') + QFileInfo(base).completeBaseName(), &why);
        m_note->setText(why.isEmpty() ? tr("Wrote %1").arg(files.join(QStringLiteral(", "))) : why);
    });
    rebuild();
}

void ParetoView::setCost(Cost c) {
    m_cost->setCurrentIndex(m_cost->findData(int(c)));
}
void ParetoView::setErrorKind(ErrorKind e) {
    m_error->setCurrentIndex(m_error->findData(int(e)));
}

double ParetoView::costOf(const RunRow& r) const {
    switch (Cost(m_cost->currentData().toInt())) {
    case Cost::TrainEnergy:
        return r.trainStepEnergyPj;
    case Cost::InferenceEnergy:
        return r.inferenceEnergyPj;
    case Cost::TrainArea:
        return r.trainAreaUm2;
    case Cost::InferenceArea:
        return r.inferenceAreaUm2;
    case Cost::TotalBits:
        return r.totalBits > 0 ? double(r.totalBits) : qQNaN();
    }
    return qQNaN();
}

void ParetoView::rebuild() {
    // Keep the model choice while the list of models changes.
    QSet<QString> models;
    for (const RunRow& r : m_db->rows())
        models << r.model;
    QStringList sorted(models.begin(), models.end());
    std::sort(sorted.begin(), sorted.end());
    {
        const QString current = m_model->currentData().toString();
        const QSignalBlocker block(m_model);
        m_model->clear();
        m_model->addItem(tr("any"), QString());
        for (const QString& m : sorted)
            m_model->addItem(m, m);
        const int i = m_model->findData(current);
        m_model->setCurrentIndex(i < 0 ? (sorted.size() == 1 ? 1 : 0) : i);
    }
    const QString model = m_model->currentData().toString();
    const bool best = ErrorKind(m_error->currentData().toInt()) == ErrorKind::Best;
    const Cost cost = Cost(m_cost->currentData().toInt());
    m_runs.clear();
    m_x.clear();
    m_y.clear();
    QStringList labels;
    int unpriced = 0;
    for (const RunRow& r : m_db->rows()) {
        if (!model.isEmpty() && r.model != model) continue;
        if (m_finishedOnly->isChecked() && r.status != QLatin1String("finished")) continue;
        const double err = best ? r.bestTestError : r.finalTestError;
        const double c = costOf(r);
        if (!std::isfinite(err)) continue;
        if (!std::isfinite(c) || c <= 0) {
            ++unpriced;
            continue;
        }
        m_runs << r.id;
        m_x << c;
        m_y << 100.0 * err;
        labels << r.bits;
    }
    const std::vector<size_t> front = analysis_pareto_front(
        std::vector<double>(m_x.begin(), m_x.end()), std::vector<double>(m_y.begin(), m_y.end()));
    m_front.clear();
    for (size_t i : front)
        m_front << m_runs[qsizetype(i)];

    m_plot->clearPlottables();
    m_plot->clearItems();
    // A log axis only pays when the costs span a decade; within one its ticks crowd together.
    double lo = 0, hi = 0;
    for (qsizetype i = 0; i < m_x.size(); ++i) {
        if (!(m_x[i] > 0)) continue;
        lo = lo > 0 ? std::min(lo, m_x[i]) : m_x[i];
        hi = std::max(hi, m_x[i]);
    }
    const bool logX = cost != Cost::TotalBits && lo > 0 && hi / lo >= 10;
    m_plot->xAxis->setScaleType(logX ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (logX)
        m_plot->xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    else
        m_plot->xAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    const QString unit = cost == Cost::TrainEnergy || cost == Cost::InferenceEnergy ? tr(" (pJ)")
                         : cost == Cost::TotalBits                                  ? QString()
                                                   : tr(" (µm²)");
    m_plot->xAxis->setLabel(m_cost->currentText() + unit);
    m_plot->yAxis->setLabel(tr("%1 (%)").arg(m_error->currentText()));

    auto* pts = new QCPCurve(m_plot->xAxis, m_plot->yAxis);
    pts->setName(tr("runs"));
    pts->setLineStyle(QCPCurve::lsNone);
    pts->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, widgets::plot_style_colour(0), 7));
    pts->setData(m_x, m_y);
    auto* line = new QCPGraph(m_plot->xAxis, m_plot->yAxis);
    line->setName(tr("Pareto front"));
    line->setLineStyle(QCPGraph::lsStepLeft);
    QPen pen(widgets::plot_style_colour(1));
    pen.setWidthF(2);
    line->setPen(pen);
    line->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssDisc, widgets::plot_style_colour(1), 9));
    QVector<double> fx, fy;
    for (size_t i : front) {
        fx << m_x[qsizetype(i)];
        fy << m_y[qsizetype(i)];
    }
    line->setData(fx, fy, true);
    if (m_labels->isChecked()) {
        for (qsizetype i = 0; i < m_x.size(); ++i) {
            auto* t = new QCPItemText(m_plot);
            t->position->setCoords(m_x[i], m_y[i]);
            t->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
            t->setPadding(QMargins(5, 0, 0, 3));
            t->setText(labels[i]);
            QFont f = m_plot->xAxis->tickLabelFont();
            f.setPointSizeF(f.pointSizeF() * 0.85);
            t->setFont(f);
            t->setClipToAxisRect(true);
        }
    }
    if (!m_x.isEmpty()) {
        // Margins in the axes' own scale so labels and edge points stay inside.
        double xlo = *std::min_element(m_x.begin(), m_x.end()),
               xhi = *std::max_element(m_x.begin(), m_x.end());
        double ylo = *std::min_element(m_y.begin(), m_y.end()),
               yhi = *std::max_element(m_y.begin(), m_y.end());
        if (logX) {
            xlo /= 1.6;
            xhi *= 2.2;
        } else {
            const double d = std::max(1.0, xhi - xlo);
            xlo -= 0.08 * d;
            xhi += 0.25 * d;
        }
        const double dy = std::max(0.05, yhi - ylo);
        m_plot->xAxis->setRange(xlo, xhi);
        m_plot->yAxis->setRange(std::max(0.0, ylo - 0.1 * dy), yhi + 0.2 * dy);
    }
    m_plot->replot();
    QString note = m_x.isEmpty() ? tr("No runs with a test error and a cost to show yet.")
                                 : tr("%n run(s); %1 on the front. Click a point to open the run.",
                                      nullptr, int(m_x.size()))
                                       .arg(m_front.size());
    if (unpriced)
        note += tr(" %n run(s) without a cost estimate are not shown.", nullptr, unpriced);
    note += tr(" Costs from the 45 nm table (Settings › Cost table).");
    m_note->setText(note);
}

qint64 ParetoView::runAt(const QPointF& pixel) const {
    qint64 best = 0;
    double bestD = 8.0 * 8.0;
    for (qsizetype i = 0; i < m_x.size(); ++i) {
        const double dx = m_plot->xAxis->coordToPixel(m_x[i]) - pixel.x();
        const double dy = m_plot->yAxis->coordToPixel(m_y[i]) - pixel.y();
        if (dx * dx + dy * dy <= bestD) {
            bestD = dx * dx + dy * dy;
            best = m_runs[i];
        }
    }
    return best;
}

QStringList ParetoView::exportPaperFigure(const QString& basePath, QString* error) {
    return export_paper_figure(m_plot, basePath, error);
}

} // namespace bitbench
