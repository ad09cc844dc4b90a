// HistogramView: value and error histograms with quantizer marks, header and statistics history.
#include "bitbench_widgets/histogram_view.h"

#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QTextDocument>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace bitbench::widgets {

namespace {

const QColor kInColour(0x00, 0x72, 0xB2);
const QColor kOutColour(0xC0, 0x39, 0x2B);
const QColor kErrorColour(0x55, 0x55, 0x55);
const QColor kLevelColour(0x20, 0x20, 0x20);

QCPBars* makeBars(QCustomPlot* plot, const QColor& colour) {
    auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
    bars->setPen(Qt::NoPen);
    bars->setBrush(colour);
    bars->setWidthType(QCPBars::wtPlotCoords);
    return bars;
}

// Bin centres and counts, optionally split by whether the centre is inside [clipLo, clipHi].
void fillBars(const HistogramData& h, QCPBars* in, QCPBars* out, double clipLo, double clipHi) {
    QVector<double> inKeys, inValues, outKeys, outValues;
    const int n = int(h.counts.size());
    const double width = n > 0 ? (h.hi - h.lo) / n : 0.0;
    for (int i = 0; i < n; ++i) {
        const double centre = h.lo + (i + 0.5) * width;
        const bool outside = out && (centre < clipLo || centre > clipHi);
        (outside ? outKeys : inKeys).push_back(centre);
        (outside ? outValues : inValues).push_back(h.counts[i]);
    }
    in->setWidth(width);
    in->setData(inKeys, inValues, true);
    if (out) {
        out->setWidth(width);
        out->setData(outKeys, outValues, true);
    }
}

double maxCount(const HistogramData& h) {
    double m = 0.0;
    for (double c : h.counts)
        m = std::max(m, c);
    return m;
}

void fitCounts(QCustomPlot* plot, double top, bool log) {
    if (log)
        plot->yAxis->setRange(0.8, std::max(10.0, top * 2.0));
    else
        plot->yAxis->setRange(0.0, top > 0 ? top * 1.08 : 1.0);
}

void setCountScale(QCustomPlot* plot, bool log) {
    if (log) {
        plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
        plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        plot->yAxis->setNumberFormat(QStringLiteral("eb"));
        plot->yAxis->setNumberPrecision(0);
    } else {
        plot->yAxis->setScaleType(QCPAxis::stLinear);
        plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        plot->yAxis->setNumberFormat(QStringLiteral("gb"));
        plot->yAxis->setNumberPrecision(4);
    }
}

// A vertical segment from the axis rect's bottom (ratio 1) up to `topRatio`.
QCPItemLine* verticalLine(QCustomPlot* plot, double x, double bottomRatio, double topRatio,
                          const QPen& pen) {
    auto* line = new QCPItemLine(plot);
    line->start->setTypeY(QCPItemPosition::ptAxisRectRatio);
    line->end->setTypeY(QCPItemPosition::ptAxisRectRatio);
    line->start->setCoords(x, bottomRatio);
    line->end->setCoords(x, topRatio);
    line->setPen(pen);
    line->setSelectable(false);
    return line;
}

QString percent(double fraction) { return QString::number(100.0 * fraction, 'f', 2) + " %"; }

} // namespace

QVector<double> histogram_quant_levels(const QuantMarks& marks, int maxLevels) {
    QVector<double> levels;
    if (!marks.levels.isEmpty()) {
        if (marks.levels.size() > maxLevels)
            return levels;
        levels = marks.levels;
        std::sort(levels.begin(), levels.end());
        return levels;
    }
    if (!(marks.step > 0.0) || !(marks.clipLo <= marks.clipHi) || !std::isfinite(marks.step))
        return levels;
    const double eps = 1e-9;
    const double kLo = std::ceil((marks.clipLo - marks.origin) / marks.step - eps);
    const double kHi = std::floor((marks.clipHi - marks.origin) / marks.step + eps);
    if (kHi < kLo || kHi - kLo + 1 > maxLevels)
        return levels;
    for (double k = kLo; k <= kHi; k += 1.0)
        levels.push_back(marks.origin + k * marks.step);
    return levels;
}

QVector<ValueInterval> histogram_saturated_ranges(double viewLo, double viewHi, double clipLo,
                                                  double clipHi) {
    QVector<ValueInterval> ranges;
    if (!(viewLo < viewHi) || !(clipLo <= clipHi))
        return ranges;
    if (viewLo < clipLo)
        ranges.push_back({viewLo, std::min(clipLo, viewHi)});
    if (viewHi > clipHi)
        ranges.push_back({std::max(clipHi, viewLo), viewHi});
    return ranges;
}

HistogramView::HistogramView(QWidget* parent) : QWidget(parent) {
    m_header = new QLabel(this);
    m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_header->setWordWrap(true);
    m_logBox = new QCheckBox(QStringLiteral("Log counts"), this);
    m_logBox->setToolTip(QStringLiteral("Show the tails next to a dominant zero bin"));
    connect(m_logBox, &QCheckBox::toggled, this, &HistogramView::setLogCounts);

    m_valuePlot = new QCustomPlot(this);
    m_errorPlot = new QCustomPlot(this);
    m_statsPlot = new QCustomPlot(this);
    for (QCustomPlot* p : {m_valuePlot, m_errorPlot, m_statsPlot}) {
        plot_style_apply(p);
        p->setMinimumSize(200, 120);
    }
    m_valuePlot->xAxis->setLabel(QStringLiteral("value"));
    m_valuePlot->yAxis->setLabel(QStringLiteral("count"));
    m_inBars = makeBars(m_valuePlot, kInColour);
    m_inBars->setName(QStringLiteral("in range"));
    m_outBars = makeBars(m_valuePlot, kOutColour);
    m_outBars->setName(QStringLiteral("saturated"));

    m_errorPlot->xAxis->setLabel(QStringLiteral("error x_q - x"));
    m_errorPlot->yAxis->setLabel(QStringLiteral("count"));
    m_errorBars = makeBars(m_errorPlot, kErrorColour);
    m_errorPlot->xAxis->ticker()->setTickCount(3); // a narrow plot: fewer, readable labels

    m_statsPlot->xAxis->setLabel(QStringLiteral("step"));
    m_statsPlot->yAxis->setLabel(QStringLiteral("% of values"));
    m_statsPlot->yAxis2->setLabel(QStringLiteral("SQNR (dB)"));
    m_statsPlot->yAxis2->setVisible(true);
    plot_style_apply(m_statsPlot); // styles the now visible right axis too
    m_statsPlot->axisRect()->setRangeZoomAxes({m_statsPlot->xAxis});
    m_statsPlot->axisRect()->setRangeDragAxes({m_statsPlot->xAxis});
    m_satGraph = m_statsPlot->addGraph();
    m_satGraph->setName(QStringLiteral("saturation %"));
    m_satGraph->setPen(QPen(kOutColour, 1.5));
    m_underGraph = m_statsPlot->addGraph();
    m_underGraph->setName(QStringLiteral("underflow %"));
    m_underGraph->setPen(QPen(QColor(0xE6, 0x9F, 0x00), 1.5));
    m_sqnrGraph = m_statsPlot->addGraph(m_statsPlot->xAxis, m_statsPlot->yAxis2);
    m_sqnrGraph->setName(QStringLiteral("SQNR dB (right)"));
    m_sqnrGraph->setPen(QPen(kInColour, 1.5));
    plot_style_legend_above(m_statsPlot);

    auto* top = new QHBoxLayout;
    top->addWidget(m_header, 1);
    top->addWidget(m_logBox);
    auto* plots = new QHBoxLayout;
    plots->addWidget(m_valuePlot, 3);
    plots->addWidget(m_errorPlot, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(top);
    layout->addLayout(plots, 3);
    layout->addWidget(m_statsPlot, 2);
    setStats(QuantStats{});
}

void HistogramView::setTitle(const QString& title) {
    m_title = title;
    setStats(QuantStats{});
}

void HistogramView::setValues(const HistogramData& values, const QuantMarks& marks) {
    m_values = values;
    m_marks = marks;
    const bool clipped = marks.clipLo < marks.clipHi;
    fillBars(values, m_inBars, m_outBars, clipped ? marks.clipLo : -HUGE_VAL,
             clipped ? marks.clipHi : HUGE_VAL);
    // The view shows all values and the whole clipping range, with a margin for the shading.
    double lo = values.lo, hi = values.hi;
    if (clipped) {
        lo = std::min(lo, marks.clipLo);
        hi = std::max(hi, marks.clipHi);
    }
    const double pad = hi > lo ? 0.06 * (hi - lo) : 0.5;
    m_view = {lo - pad, hi + pad};
    m_valuePlot->xAxis->setRange(m_view.lo, m_view.hi);
    fitCounts(m_valuePlot, maxCount(values), m_logCounts);
    redrawMarks();
    m_valuePlot->replot(QCustomPlot::rpQueuedReplot);
    if (!m_error.counts.isEmpty())
        setError(m_error); // the rounding bounds depend on the step
}

void HistogramView::redrawMarks() {
    clearItems(m_valuePlot, m_valueItems);
    m_levels = histogram_quant_levels(m_marks);
    m_shaded.clear();
    if (m_marks.clipLo < m_marks.clipHi) {
        m_shaded = histogram_saturated_ranges(m_view.lo, m_view.hi, m_marks.clipLo, m_marks.clipHi);
        for (const ValueInterval& r : m_shaded) {
            auto* rect = new QCPItemRect(m_valuePlot);
            rect->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
            rect->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
            rect->topLeft->setCoords(r.lo, 0.0);
            rect->bottomRight->setCoords(r.hi, 1.0);
            rect->setPen(Qt::NoPen);
            rect->setBrush(QColor(kOutColour.red(), kOutColour.green(), kOutColour.blue(), 28));
            rect->setSelectable(false);
            rect->setClipToAxisRect(true);
            m_valueItems.push_back(rect);
        }
        const QPen clipPen(kOutColour, 1.2, Qt::DashLine);
        m_valueItems.push_back(verticalLine(m_valuePlot, m_marks.clipLo, 1.0, 0.0, clipPen));
        m_valueItems.push_back(verticalLine(m_valuePlot, m_marks.clipHi, 1.0, 0.0, clipPen));
    }
    // Few levels: faint full-height guides; many: short ticks along the bottom only.
    const bool guides = m_levels.size() <= 16;
    for (double level : m_levels) {
        if (guides)
            m_valueItems.push_back(verticalLine(m_valuePlot, level, 1.0, 0.0,
                                                QPen(QColor(0, 0, 0, 45), 1, Qt::DotLine)));
        m_valueItems.push_back(
            verticalLine(m_valuePlot, level, 1.0, 0.92, QPen(kLevelColour, 1.5)));
    }
}

void HistogramView::setError(const HistogramData& error) {
    m_error = error;
    fillBars(error, m_errorBars, nullptr, 0, 0);
    clearItems(m_errorPlot, m_errorItems);
    double lo = error.lo, hi = error.hi;
    if (m_marks.step > 0) {
        const double half = 0.5 * m_marks.step;
        lo = std::min(lo, -half);
        hi = std::max(hi, half);
        const QPen pen(kInColour, 1.2, Qt::DashLine);
        m_errorItems.push_back(verticalLine(m_errorPlot, -half, 1.0, 0.0, pen));
        m_errorItems.push_back(verticalLine(m_errorPlot, half, 1.0, 0.0, pen));
    }
    const double pad = hi > lo ? 0.06 * (hi - lo) : 0.5;
    m_errorPlot->xAxis->setRange(lo - pad, hi + pad);
    fitCounts(m_errorPlot, maxCount(error), m_logCounts);
    m_errorPlot->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramView::setStats(const QuantStats& s) {
    QString html;
    if (!m_title.isEmpty())
        html += QStringLiteral("<b>%1</b>&nbsp;&nbsp; ").arg(m_title.toHtmlEscaped());
    const QString sqnr = std::isfinite(s.sqnrDb) ? QString::number(s.sqnrDb, 'f', 1) + " dB"
                                                 : QStringLiteral("n/a");
    html += QStringLiteral("saturation <b>%1</b> &middot; underflow to zero <b>%2</b> &middot; "
                           "SQNR <b>%3</b> &middot; max|x| <b>%4</b>")
                .arg(percent(s.saturation), percent(s.underflow), sqnr,
                     QString::number(s.maxAbs, 'g', 4));
    m_header->setText(html);
}

QString HistogramView::headerText() const {
    QTextDocument doc;
    doc.setHtml(m_header->text());
    return doc.toPlainText();
}

void HistogramView::appendStats(double step, const QuantStats& stats) {
    appendStats(QVector<double>{step}, QVector<QuantStats>{stats});
}

void HistogramView::appendStats(const QVector<double>& steps, const QVector<QuantStats>& stats) {
    if (steps.size() != stats.size() || steps.isEmpty())
        return;
    QVector<double> sat, under, sqnr;
    for (const QuantStats& s : stats) {
        sat.push_back(100.0 * s.saturation);
        under.push_back(100.0 * s.underflow);
        sqnr.push_back(s.sqnrDb);
    }
    m_satGraph->addData(steps, sat);
    m_underGraph->addData(steps, under);
    m_sqnrGraph->addData(steps, sqnr);
    m_statsPlot->xAxis->rescale();
    bool found = false;
    const QCPRange pct = m_satGraph->getValueRange(found);
    const QCPRange pct2 = m_underGraph->getValueRange(found);
    m_statsPlot->yAxis->setRange(0.0, std::max({5.0, pct.upper, pct2.upper}) * 1.1);
    m_statsPlot->yAxis2->rescale();
    m_statsPlot->yAxis2->scaleRange(1.15);
    m_statsPlot->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramView::clearStatsHistory() {
    for (QCPGraph* g : {m_satGraph, m_underGraph, m_sqnrGraph})
        g->data()->clear();
    m_statsPlot->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramView::setLogCounts(bool on) {
    if (on == m_logCounts)
        return;
    m_logCounts = on;
    const QSignalBlocker block(m_logBox);
    m_logBox->setChecked(on);
    setCountScale(m_valuePlot, on);
    setCountScale(m_errorPlot, on);
    fitCounts(m_valuePlot, maxCount(m_values), on);
    fitCounts(m_errorPlot, maxCount(m_error), on);
    m_valuePlot->replot(QCustomPlot::rpQueuedReplot);
    m_errorPlot->replot(QCustomPlot::rpQueuedReplot);
}

void HistogramView::clearItems(QCustomPlot* plot, QVector<QCPAbstractItem*>& items) {
    for (QCPAbstractItem* item : items)
        plot->removeItem(item);
    items.clear();
}

} // namespace bitbench::widgets
