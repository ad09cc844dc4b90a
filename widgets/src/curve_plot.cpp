// CurvePlot: streaming curves on QCustomPlot, incremental smoothing and interaction.
#include "bitbench_widgets/curve_plot.h"

#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <QCheckBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>
#include <QTextDocument>
#include <QVBoxLayout>

#include <cmath>
#include <limits>

namespace bitbench::widgets {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kSliderSteps = 1000; // slider value / 1000 = EMA weight, capped at 0.999
constexpr int kRawAlphaSmoothed = 55;

QString formatValue(double v) {
    if (!std::isfinite(v))
        return QStringLiteral("%1").arg(v);
    const double a = std::abs(v);
    if (a != 0.0 && (a < 1e-3 || a >= 1e6))
        return QString::number(v, 'e', 3);
    return QString::number(v, 'g', 5);
}

// Index of the point whose key is nearest to x, or -1 for an empty graph.
int nearestIndex(const QCPGraph* graph, double x) {
    const auto data = graph->data();
    if (data->isEmpty())
        return -1;
    auto it = data->findBegin(x, false); // first point with key >= x (or end)
    if (it == data->constEnd())
        return data->size() - 1;
    int i = int(it - data->constBegin());
    if (i > 0 && std::abs(data->at(i - 1)->key - x) <= std::abs(it->key - x))
        --i;
    return i;
}

// On a log axis a zero or negative value (a batch with 0 % error) has no position: QCustomPlot
// would draw a spike off the bottom. Such points become gaps; the stored data stays as given.
class CurveGraph : public QCPGraph {
public:
    using QCPGraph::QCPGraph;

protected:
    void getOptimizedLineData(QVector<QCPGraphData>* lineData,
                              const QCPGraphDataContainer::const_iterator& begin,
                              const QCPGraphDataContainer::const_iterator& end) const override {
        QCPGraph::getOptimizedLineData(lineData, begin, end);
        if (valueAxis()->scaleType() != QCPAxis::stLogarithmic)
            return;
        for (QCPGraphData& d : *lineData)
            if (!(d.value > 0.0))
                d.value = std::numeric_limits<double>::quiet_NaN();
    }
};

} // namespace

double EmaSmoother::push(double y) {
    if (!std::isfinite(y))
        return y;
    m_sum = m_weight * m_sum + (1.0 - m_weight) * y;
    m_decay *= m_weight;
    const double debias = 1.0 - m_decay;
    return debias > 0.0 ? m_sum / debias : y;
}

CurvePlot::CurvePlot(QWidget* parent) : QWidget(parent) {
    m_plot = new QCustomPlot(this);
    plot_style_apply(m_plot);
    m_plot->setMinimumSize(240, 160);
    plot_style_legend_above(m_plot);
    m_plot->xAxis->setLabel(QStringLiteral("step"));
    m_plot->layer(QStringLiteral("overlay"))->setMode(QCPLayer::lmBuffered);
    m_plot->installEventFilter(this);
    m_plot->setMouseTracking(true);

    m_crossV = new QCPItemStraightLine(m_plot);
    m_crossV->setLayer(QStringLiteral("overlay"));
    m_crossV->setPen(QPen(QColor(90, 90, 90), 1, Qt::DashLine));
    m_crossV->setVisible(false);
    m_crossV->setSelectable(false);

    m_smoothSlider = new QSlider(Qt::Horizontal, this);
    m_smoothSlider->setRange(0, kSliderSteps - 1);
    m_smoothSlider->setFixedWidth(120);
    m_smoothSlider->setToolTip(QStringLiteral("Exponential moving average weight; the raw curve "
                                              "stays visible, faint"));
    m_smoothValue = new QLabel(QStringLiteral("0.00"), this);
    m_smoothValue->setMinimumWidth(m_smoothValue->fontMetrics().horizontalAdvance(
        QStringLiteral("0.000")));
    m_logBox = new QCheckBox(QStringLiteral("Log y"), this);
    m_followBox = new QCheckBox(QStringLiteral("Follow"), this);
    m_followBox->setChecked(true);
    m_followBox->setToolTip(QStringLiteral("Fit the axes to new data. Zooming or panning turns "
                                           "this off; double-click the plot to turn it on."));
    m_readout = new QLabel(this);
    m_readout->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_readout->setMinimumWidth(0);
    m_readout->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(QStringLiteral("Smoothing"), this));
    bar->addWidget(m_smoothSlider);
    bar->addWidget(m_smoothValue);
    bar->addSpacing(8);
    bar->addWidget(m_logBox);
    bar->addWidget(m_followBox);
    bar->addSpacing(8);
    bar->addWidget(m_readout, 1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(bar);
    layout->addWidget(m_plot, 1);

    connect(m_smoothSlider, &QSlider::valueChanged, this,
            [this](int v) { setSmoothing(double(v) / kSliderSteps); });
    connect(m_logBox, &QCheckBox::toggled, this, &CurvePlot::setLogScale);
    connect(m_followBox, &QCheckBox::toggled, this,
            [this](bool on) { setFollowInternal(on, true); });

    // A user zoom or pan ends following; ranges we set ourselves do not.
    auto noteRange = [this](const QCPRange&) {
        if (!m_settingRange)
            m_userMovedRange = true;
    };
    connect(m_plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, noteRange);
    connect(m_plot->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, noteRange);
    connect(m_plot, &QCustomPlot::mouseWheel, this, [this](QWheelEvent*) {
        // QCustomPlot zooms after emitting this signal.
        setFollowInternal(false, true);
    });
    connect(m_plot, &QCustomPlot::mousePress, this, [this](QMouseEvent*) {
        m_dragging = true;
        m_userMovedRange = false;
    });
    connect(m_plot, &QCustomPlot::mouseRelease, this, [this](QMouseEvent*) {
        if (m_dragging && m_userMovedRange)
            setFollowInternal(false, true);
        m_dragging = false;
    });
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this,
            [this](QMouseEvent*) { setFollowInternal(true, true); });
    connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
        if (m_dragging)
            return;
        if (!m_plot->axisRect()->rect().contains(event->pos())) {
            hideCrosshair();
            return;
        }
        showCrosshairAt(m_plot->xAxis->pixelToCoord(event->position().x()));
    });
}

CurvePlot::~CurvePlot() = default;

int CurvePlot::addSeries(const QString& name, const QColor& colour) {
    Series s;
    s.name = name;
    s.colour = colour.isValid() ? colour : plot_style_colour(int(m_series.size()));
    s.raw = new CurveGraph(m_plot->xAxis, m_plot->yAxis);
    s.smooth = new CurveGraph(m_plot->xAxis, m_plot->yAxis);
    s.raw->setName(name);
    s.smooth->setName(name);
    s.raw->setAdaptiveSampling(true);
    s.smooth->setAdaptiveSampling(true);
    s.ema = EmaSmoother(m_smoothing);
    s.yMin = s.yMinPositive = s.sMinPositive = s.xMin = kInf;
    s.yMax = s.xMax = -kInf;
    s.tracer = new QCPItemTracer(m_plot);
    s.tracer->setLayer(QStringLiteral("overlay"));
    s.tracer->setStyle(QCPItemTracer::tsCircle);
    s.tracer->setSize(7);
    s.tracer->setPen(QPen(s.colour.darker(130), 1.5));
    s.tracer->setBrush(Qt::white);
    s.tracer->setInterpolating(false);
    s.tracer->setVisible(false);
    s.tracer->setSelectable(false);
    m_series.push_back(s);
    applySeriesLook(m_series.back());
    rebuildLegend();
    return int(m_series.size()) - 1;
}

QString CurvePlot::seriesName(int seriesId) const {
    return validId(seriesId) ? m_series[seriesId].name : QString();
}

void CurvePlot::appendPoints(int seriesId, const QVector<double>& x, const QVector<double>& y) {
    if (!validId(seriesId) || x.size() != y.size() || x.isEmpty())
        return;
    Series& s = m_series[seriesId];
    bool sorted = std::is_sorted(x.begin(), x.end());
    const bool appendsAtEnd = s.raw->data()->isEmpty() || x.front() >= s.xMax;
    s.raw->addData(x, y, sorted);
    for (int i = 0; i < y.size(); ++i) {
        const double v = y[i];
        if (std::isfinite(v)) {
            s.yMin = std::min(s.yMin, v);
            s.yMax = std::max(s.yMax, v);
            if (v > 0)
                s.yMinPositive = std::min(s.yMinPositive, v);
        }
    }
    s.xMin = std::min(s.xMin, *std::min_element(x.begin(), x.end()));
    s.xMax = std::max(s.xMax, *std::max_element(x.begin(), x.end()));
    if (!isSmoothed(s))
        return;
    if (sorted && appendsAtEnd) {
        // The common case: continue the EMA over the new points only.
        QVector<double> sy(y.size());
        for (int i = 0; i < y.size(); ++i) {
            sy[i] = s.ema.push(y[i]);
            if (sy[i] > 0.0)
                s.sMinPositive = std::min(s.sMinPositive, sy[i]);
        }
        s.smooth->addData(x, sy, true);
    } else {
        recomputeSmoothed(s); // out-of-order data changes every later smoothed value
    }
}

void CurvePlot::clearSeries(int seriesId) {
    if (!validId(seriesId))
        return;
    Series& s = m_series[seriesId];
    s.raw->data()->clear();
    s.smooth->data()->clear();
    s.ema.reset();
    s.yMin = s.yMinPositive = s.sMinPositive = s.xMin = kInf;
    s.yMax = s.xMax = -kInf;
}

int CurvePlot::pointCount(int seriesId) const {
    return validId(seriesId) ? m_series[seriesId].raw->dataCount() : 0;
}

QCPGraph* CurvePlot::rawGraph(int seriesId) const {
    return validId(seriesId) ? m_series[seriesId].raw : nullptr;
}

QCPGraph* CurvePlot::smoothedGraph(int seriesId) const {
    return validId(seriesId) ? m_series[seriesId].smooth : nullptr;
}

void CurvePlot::setXLabel(const QString& label) { m_plot->xAxis->setLabel(label); }

void CurvePlot::setYLabel(const QString& label) { m_plot->yAxis->setLabel(label); }

void CurvePlot::setLogScale(bool on) {
    if (on == m_logScale)
        return;
    m_logScale = on;
    {
        const QSignalBlocker block(m_logBox);
        m_logBox->setChecked(on);
    }
    m_settingRange = true;
    if (on) {
        m_plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
        auto ticker = QSharedPointer<QCPAxisTickerLog>::create();
        ticker->setSubTickCount(8);
        m_plot->yAxis->setTicker(ticker);
        m_plot->yAxis->setNumberFormat(QStringLiteral("eb"));
        m_plot->yAxis->setNumberPrecision(0);
    } else {
        m_plot->yAxis->setScaleType(QCPAxis::stLinear);
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        m_plot->yAxis->setNumberFormat(QStringLiteral("gb"));
        m_plot->yAxis->setNumberPrecision(6);
    }
    m_settingRange = false;
    // The old range means nothing on the other scale.
    fitAxes();
    m_plot->replot();
}

void CurvePlot::setSmoothing(double weight) {
    weight = std::clamp(weight, 0.0, 0.999);
    if (weight == m_smoothing)
        return;
    m_smoothing = weight;
    {
        const QSignalBlocker block(m_smoothSlider);
        m_smoothSlider->setValue(int(std::lround(weight * kSliderSteps)));
    }
    m_smoothValue->setText(QString::number(weight, 'f', 3));
    for (Series& s : m_series) {
        recomputeSmoothed(s);
        applySeriesLook(s);
    }
    rebuildLegend();
    m_plot->replot();
}

void CurvePlot::setSeriesSmoothed(int seriesId, bool on) {
    if (!validId(seriesId) || m_series[seriesId].smoothEnabled == on)
        return;
    Series& s = m_series[seriesId];
    s.smoothEnabled = on;
    recomputeSmoothed(s);
    applySeriesLook(s);
    rebuildLegend();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

bool CurvePlot::seriesSmoothed(int seriesId) const {
    return validId(seriesId) && m_series[seriesId].smoothEnabled;
}

void CurvePlot::recomputeSmoothed(Series& s) {
    s.ema = EmaSmoother(m_smoothing);
    s.smooth->data()->clear();
    s.sMinPositive = kInf;
    if (!isSmoothed(s))
        return;
    const auto raw = s.raw->data();
    QVector<QCPGraphData> out;
    out.reserve(raw->size());
    for (auto it = raw->constBegin(); it != raw->constEnd(); ++it) {
        out.push_back(QCPGraphData(it->key, s.ema.push(it->value)));
        if (out.back().value > 0.0)
            s.sMinPositive = std::min(s.sMinPositive, out.back().value);
    }
    s.smooth->data()->set(out, true);
}

void CurvePlot::applySeriesLook(Series& s) {
    const bool smoothing = isSmoothed(s);
    QColor rawColour = s.colour;
    if (smoothing)
        rawColour.setAlpha(kRawAlphaSmoothed);
    s.raw->setPen(QPen(rawColour, smoothing ? 1.0 : 1.5));
    s.smooth->setPen(QPen(s.colour, 2.0));
    s.smooth->setVisible(smoothing);
    s.tracer->setGraph(nullptr); // attached when the crosshair shows
}

void CurvePlot::rebuildLegend() {
    m_plot->legend->clearItems();
    for (Series& s : m_series)
        (isSmoothed(s) ? s.smooth : s.raw)->addToLegend();
}

void CurvePlot::setFollow(bool on) { setFollowInternal(on, false); }

void CurvePlot::setFollowInternal(bool on, bool fromUser) {
    if (on != m_follow) {
        m_follow = on;
        const QSignalBlocker block(m_followBox);
        m_followBox->setChecked(on);
        Q_EMIT followChanged(on);
    }
    if (on && fromUser) {
        fitAxes();
        m_plot->replot();
    }
}

void CurvePlot::fitAxes() {
    double xMin = kInf, xMax = -kInf, yMin = kInf, yMax = -kInf;
    for (const Series& s : m_series) {
        if (!s.raw->visible() || s.raw->data()->isEmpty())
            continue;
        xMin = std::min(xMin, s.xMin);
        xMax = std::max(xMax, s.xMax);
        yMin = std::min(yMin, m_logScale ? s.yMinPositive : s.yMin);
        if (m_logScale && isSmoothed(s))
            yMin = std::min(yMin, s.sMinPositive);
        yMax = std::max(yMax, s.yMax);
    }
    if (!(xMin <= xMax) || !(yMin <= yMax))
        return;
    m_settingRange = true;
    if (xMin == xMax)
        m_plot->xAxis->setRange(xMin - 0.5, xMax + 0.5);
    else
        m_plot->xAxis->setRange(xMin, xMax);
    if (m_logScale) {
        const double lo = yMin / 1.3, hi = yMax * 1.3;
        m_plot->yAxis->setRange(lo, hi);
    } else {
        const double pad = (yMax > yMin) ? 0.05 * (yMax - yMin) : std::max(0.5, 0.1 * std::abs(yMax));
        m_plot->yAxis->setRange(yMin - pad, yMax + pad);
    }
    m_settingRange = false;
}

void CurvePlot::flush() {
    if (m_follow)
        fitAxes();
    m_plot->replot();
}

void CurvePlot::showCrosshairAt(double x) {
    QStringList parts;
    double anchorKey = std::numeric_limits<double>::quiet_NaN();
    for (Series& s : m_series) {
        const QCPGraph* shown = isSmoothed(s) ? s.smooth : s.raw;
        const int i = nearestIndex(shown, x);
        if (i < 0) {
            s.tracer->setVisible(false);
            continue;
        }
        const double key = shown->data()->at(i)->key;
        if (std::isnan(anchorKey))
            anchorKey = key;
        s.tracer->setGraph(const_cast<QCPGraph*>(shown));
        s.tracer->setGraphKey(key);
        s.tracer->setVisible(true);
        QString part = QStringLiteral("<span style=\"color:%1\">&#9679;</span> %2 %3")
                           .arg(s.colour.name(), s.name.toHtmlEscaped(),
                                formatValue(shown->data()->at(i)->value));
        if (isSmoothed(s))
            part += QStringLiteral(" (raw %1)").arg(formatValue(s.raw->data()->at(i)->value));
        parts << part;
    }
    if (std::isnan(anchorKey)) {
        hideCrosshair();
        return;
    }
    m_crossV->point1->setCoords(anchorKey, 0);
    m_crossV->point2->setCoords(anchorKey, 1);
    m_crossV->setVisible(true);
    const QString xName = m_plot->xAxis->label().isEmpty() ? QStringLiteral("x")
                                                           : m_plot->xAxis->label();
    m_readout->setText(QStringLiteral("%1 %2: ").arg(xName.toHtmlEscaped(), formatValue(anchorKey)) +
                       parts.join(QStringLiteral("&nbsp;&nbsp; ")));
    // Only the overlay layer is redrawn: the 100k-point curves stay in their buffer.
    m_plot->layer(QStringLiteral("overlay"))->replot();
}

void CurvePlot::hideCrosshair() {
    if (!m_crossV->visible())
        return;
    m_crossV->setVisible(false);
    for (Series& s : m_series)
        s.tracer->setVisible(false);
    m_readout->clear();
    m_plot->layer(QStringLiteral("overlay"))->replot();
}

QString CurvePlot::readoutText() const {
    QTextDocument doc;
    doc.setHtml(m_readout->text());
    return doc.toPlainText();
}

bool CurvePlot::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_plot && event->type() == QEvent::Leave)
        hideCrosshair();
    return QWidget::eventFilter(watched, event);
}

} // namespace bitbench::widgets
