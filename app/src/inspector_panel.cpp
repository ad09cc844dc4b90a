// InspectorPanel: per-tensor statistics history and the HistogramView of the selected tensor.
#include "inspector_panel.h"

#include "quant_bridge.h"

#include "bitbench_widgets/qcp.h"

#include <QButtonGroup>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace bitbench {

widgets::HistogramData inspector_histogram(const Histogram& h) {
    widgets::HistogramData d;
    d.lo = h.lo;
    d.hi = h.hi;
    d.counts.reserve(qsizetype(h.counts.size()));
    for (uint32_t c : h.counts) d.counts.push_back(double(c));
    return d;
}

widgets::QuantStats inspector_stats(const TensorStats& s) {
    widgets::QuantStats q;
    q.saturation = s.saturation;
    q.underflow = s.underflow;
    // +inf means exact (no error): nothing to plot on a dB axis, so it reads as unknown.
    q.sqnrDb = std::isfinite(s.sqnrDb) ? s.sqnrDb : std::numeric_limits<double>::quiet_NaN();
    q.maxAbs = s.maxAbs;
    return q;
}

InspectorPanel::InspectorPanel(QWidget* parent) : QWidget(parent) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 4);
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Layer")));
    m_layer = new QComboBox;
    m_layer->setMinimumContentsLength(8);
    bar->addWidget(m_layer);
    bar->addSpacing(12);
    bar->addWidget(new QLabel(tr("Tensor")));
    m_class = new QButtonGroup(this);
    m_class->setExclusive(true);
    static const char* tips[] = {
        "Weights (forward copy)", "Activations", "Weight updates (gradients)",
        "Errors (gradients w.r.t. activations)",
        "The copy of the errors that feeds the weight gradient (quantized apart from E)"};
    for (int c = 0; c < kQuantClassCount; ++c) {
        auto* b = new QToolButton;
        b->setText(QLatin1String(quant_class_name(QuantClass(c))));
        b->setToolTip(tr(tips[c]));
        b->setCheckable(true);
        b->setAutoRaise(false);
        b->setMinimumWidth(28);
        m_class->addButton(b, c);
        bar->addWidget(b);
    }
    m_class->button(int(QuantClass::EGrad))
        ->setHidden(true); // shown when a plan has its own E_grad
    m_class->button(1)->setChecked(true);
    bar->addStretch(1);
    v->addLayout(bar);
    m_planTable = makePlanTable();
    v->addWidget(m_planTable);
    m_view = new widgets::HistogramView;
    m_view->setTitle(tr("No statistics yet: press Train"));
    v->addWidget(m_view, 1);
    QCustomPlot* sp = m_view->statsPlot();
    m_maxAxis = sp->axisRect()->addAxis(QCPAxis::atRight);
    m_maxAxis->setLabel(tr("max|x|"));
    m_maxAxis->setScaleType(QCPAxis::stLogarithmic);
    m_maxAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    m_maxAxis->setNumberFormat(QStringLiteral("gb"));
    m_maxAxis->setTickLabelFont(sp->yAxis2->tickLabelFont());
    m_maxAxis->setLabelFont(sp->yAxis2->labelFont());
    m_maxAxis->setBasePen(sp->yAxis2->basePen());
    m_maxAxis->setTickPen(sp->yAxis2->tickPen());
    m_maxAxis->setSubTickPen(sp->yAxis2->subTickPen());
    m_maxGraph = sp->addGraph(sp->xAxis, m_maxAxis);
    m_maxGraph->setName(tr("max|x| (far right, log)"));
    m_maxGraph->setPen(QPen(QColor(90, 90, 90), 1.2, Qt::DashLine));
    connect(m_layer, &QComboBox::currentIndexChanged, this, [this] { showSelected(true); });
    connect(m_planTable, &QTableWidget::cellClicked, this,
            [this](int row, int) { select(selectedLayer(), row); });
    connect(m_class, &QButtonGroup::idClicked, this, [this] { showSelected(true); });
}

void InspectorPanel::setLayers(const QStringList& names) {
    QStringList current;
    for (int i = 0; i < m_layer->count(); ++i) current << m_layer->itemText(i);
    if (current == names) return;
    const QSignalBlocker block(m_layer);
    m_layer->clear();
    m_layer->addItems(names);
    clear();
}

void InspectorPanel::clear() {
    m_history.clear();
    setPlans({});
    drawMaxAbs(nullptr);
    m_view->clearStatsHistory();
    m_view->setValues({}, {});
    m_view->setError({});
    m_view->setStats({});
    m_view->setTitle(tr("No statistics yet: press Train"));
}

void InspectorPanel::setPlans(std::vector<std::array<QuantPlan, kQuantClassCount>> plans) {
    m_plans = std::move(plans);
    // E_grad gets its button and row when some layer quantizes it apart from E.
    QAbstractButton* eg = m_class->button(int(QuantClass::EGrad));
    eg->setHidden(!eGradShown());
    if (eg->isHidden() && eg->isChecked()) m_class->button(int(QuantClass::E))->setChecked(true);
    showSelected(false);
}

const QuantPlan* InspectorPanel::plan(int layer, int cls) const {
    if (layer < 0 || size_t(layer) >= m_plans.size() || cls < 0 || cls >= kQuantClassCount)
        return nullptr;
    const QuantPlan& p = m_plans[size_t(layer)][size_t(cls)];
    return p.groups.empty() ? nullptr : &p;
}

void InspectorPanel::select(int layer, int cls) {
    if (layer < 0 || layer >= m_layer->count() || cls < 0 || cls >= kQuantClassCount) return;
    if (m_class->button(cls)->isHidden()) return; // E_grad when no plan has its own
    const QSignalBlocker block(m_layer);
    m_layer->setCurrentIndex(layer);
    m_class->button(cls)->setChecked(true);
    showSelected(true);
}

int InspectorPanel::selectedLayer() const { return m_layer->currentIndex(); }
int InspectorPanel::selectedClass() const { return m_class->checkedId(); }

int InspectorPanel::historySize(int layer, int cls) const {
    const auto it = m_history.constFind(key(layer, cls));
    return it == m_history.constEnd() ? 0 : int(it->steps.size());
}

void InspectorPanel::addStats(const std::vector<TensorStats>& stats) {
    const int selKey = key(selectedLayer(), selectedClass());
    bool selectedChanged = false;
    for (const auto& s : stats) {
        const int k = key(s.layer, int(s.cls));
        History& h = m_history[k];
        h.steps.push_back(double(s.step));
        h.stats.push_back(inspector_stats(s));
        h.maxAbs.push_back(s.maxAbs);
        h.latest = s;
        h.present = true;
        if (k == selKey) {
            selectedChanged = true;
            m_view->appendStats(double(s.step), h.stats.back());
        }
    }
    if (selectedChanged) showSelected(false);
}

void InspectorPanel::showSelected(bool rebuildHistory) {
    const int layer = selectedLayer(), cls = selectedClass();
    showPlanTable();
    const auto it = m_history.constFind(key(layer, cls));
    if (rebuildHistory) m_view->clearStatsHistory();
    drawMaxAbs(it == m_history.constEnd() ? nullptr : &*it);
    const QString clsName = QLatin1String(quant_class_name(QuantClass(cls)));
    const QuantPlan* p = plan(layer, cls);
    if (it == m_history.constEnd() || !it->present) {
        // No statistics (an engine may keep only the plan of a class, as E_grad): its marks.
        m_view->setValues({}, p ? quant_bridge_marks(*p) : widgets::QuantMarks{});
        m_view->setError({});
        m_view->setStats({});
        m_view->setTitle(
            layer < 0 ? tr("No model")
            : p       ? tr("%1 · %2 (%3): plan only, no statistics")
                      .arg(m_layer->currentText(), clsName,
                           QLatin1String(quant_family(p->family).name))
                : tr("%1 · %2: no statistics yet").arg(m_layer->currentText(), clsName));
        return;
    }
    const TensorStats& s = it->latest;
    QString bits = s.bits ? tr("%1 bits").arg(s.bits) : tr("float");
    if (p)
        bits = QString::fromLatin1(quant_family(p->family).name) + (s.bits ? QLatin1Char(' ') + QString::number(s.bits) : QString()) +
               (p->groups.size() > 1 ? tr(", %1 groups").arg(p->groups.size()) : QString());
    m_view->setTitle(tr("%1 · %2 (%3), step %4")
                         .arg(QString::fromStdString(s.layerName), clsName, bits)
                         .arg(s.step));
    widgets::QuantMarks marks;
    marks.step = s.quantStep;
    marks.clipLo = s.clipLo;
    marks.clipHi = s.clipHi;
    if (p) {
        // The family's own levels and range, from the plan of this step.
        marks = quant_bridge_marks(*p);
    } else if (s.bits == 0) {
        // Float: nothing saturates, so the whole histogram is the representable range.
        marks.step = 0;
        marks.clipLo = s.values.lo;
        marks.clipHi = s.values.hi;
    }
    m_view->setValues(inspector_histogram(s.values), marks);
    m_view->setError(inspector_histogram(s.error));
    m_view->setStats(inspector_stats(s));
    if (rebuildHistory) m_view->appendStats(it->steps, it->stats);
}

void InspectorPanel::drawMaxAbs(const History* h) {
    QVector<double> x, y;
    if (h)
        for (qsizetype i = 0; i < h->steps.size(); ++i)
            if (h->maxAbs[i] > 0) {
                x.push_back(h->steps[i]);
                y.push_back(h->maxAbs[i]);
            }
    m_maxGraph->setData(x, y, true);
    if (!y.isEmpty()) {
        const auto [lo, hi] = std::minmax_element(y.cbegin(), y.cend());
        m_maxAxis->setRange(*lo / 1.5, *hi * 1.5);
    }
    m_view->statsPlot()->replot(QCustomPlot::rpQueuedReplot);
}

} // namespace bitbench
