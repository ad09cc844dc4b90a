// The inspector's plan table: what a quantizer's plan of the last step says about one class.
#include "inspector_panel.h"

#include "quant_bridge.h"

#include <QHeaderView>
#include <QTableWidget>

#include <algorithm>

namespace bitbench {

namespace {

QString number(double v) {
    return QString::number(v, 'g', 4);
}

// "a" or, when the groups differ, "a..b"; integers (zero points) in full.
template <class F> QString range(const QuantPlan& p, F value, bool integer = false) {
    double lo = value(p.groups.front()), hi = lo;
    for (const QuantGroup& g : p.groups) {
        lo = std::min(lo, double(value(g)));
        hi = std::max(hi, double(value(g)));
    }
    auto text = [&](double v) { return integer ? QString::number(qint64(v)) : number(v); };
    return lo == hi ? text(lo) : text(lo) + QStringLiteral("..") + text(hi);
}

QString share(int64_t n, int64_t total) {
    return QString::number(100.0 * double(n) / double(total), 'g', 3) + QStringLiteral(" %");
}

} // namespace

QStringList inspector_plan_columns() {
    return {InspectorPanel::tr("family"),      InspectorPanel::tr("scale"),
            InspectorPanel::tr("zero point"),  InspectorPanel::tr("clip min"),
            InspectorPanel::tr("clip max"),    InspectorPanel::tr("clamped low"),
            InspectorPanel::tr("clamped high")};
}

QStringList inspector_plan_row(const QuantPlan& p) {
    QStringList c(inspector_plan_columns().size());
    if (p.groups.empty()) return c;
    c[0] = QString::fromLatin1(quant_family(p.family).name);
    if (p.groups.size() > 1) c[0] += InspectorPanel::tr(" (%1 groups)").arg(p.groups.size());
    const widgets::QuantMarks m = quant_bridge_marks(p);
    if (m.clipLo == m.clipHi) return c; // no range of its own (WAGE's G and E keep 2^p apart)
    c[1] = range(p, [](const QuantGroup& g) { return g.scale; });
    c[3] = number(m.clipLo);
    c[4] = number(m.clipHi);
    if (p.family != QuantFamily::Affine) return c;
    // Banner's zero point is the float min (an offset); gemmlowp's and the symmetric one integers.
    const bool offset = std::any_of(p.groups.begin(), p.groups.end(),
                                    [](const QuantGroup& g) { return g.offset != 0; });
    c[2] = offset ? InspectorPanel::tr("min %1").arg(
                        range(p, [](const QuantGroup& g) { return g.offset; }))
                  : range(
                        p, [](const QuantGroup& g) { return double(g.zero); }, true);
    if (p.clamped.total > 0) {
        c[5] = share(p.clamped.lo, p.clamped.total);
        c[6] = share(p.clamped.hi, p.clamped.total);
    }
    return c;
}

QTableWidget* InspectorPanel::makePlanTable() {
    const QStringList columns = inspector_plan_columns();
    auto* t = new QTableWidget(kQuantClassCount, int(columns.size()));
    t->setHorizontalHeaderLabels(columns);
    QStringList rows;
    for (int c = 0; c < kQuantClassCount; ++c)
        rows << QLatin1String(quant_class_name(QuantClass(c)));
    t->setVerticalHeaderLabels(rows);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setSelectionMode(QAbstractItemView::SingleSelection);
    t->setFocusPolicy(Qt::NoFocus);
    t->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    t->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    t->verticalHeader()->setDefaultSectionSize(t->fontMetrics().height() + 4);
    t->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    t->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    t->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
    t->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Maximum);
    t->setToolTip(tr(
        "The quantizer's plan of the last statistics step, per class of the selected layer: scale "
        "(value of one code step), zero point (Banner's float min, or the integer code of 0), the "
        "clip range, and the shares of values clamped to the lowest and highest code (affine)"));
    for (int r = 0; r < kQuantClassCount; ++r)
        for (int c = 0; c < int(columns.size()); ++c) {
            auto* item = new QTableWidgetItem;
            item->setTextAlignment(c == 0 ? int(Qt::AlignLeft | Qt::AlignVCenter)
                                          : int(Qt::AlignRight | Qt::AlignVCenter));
            t->setItem(r, c, item);
        }
    t->setRowHidden(int(QuantClass::EGrad), true);
    return t;
}

void InspectorPanel::showPlanTable() {
    const int layer = selectedLayer();
    for (int r = 0; r < kQuantClassCount; ++r) {
        const QuantPlan* p = plan(layer, r);
        const QStringList row =
            p ? inspector_plan_row(*p) : QStringList(inspector_plan_columns().size());
        for (int c = 0; c < int(row.size()); ++c)
            m_planTable->item(r, c)->setText(row[c]);
    }
    m_planTable->setRowHidden(int(QuantClass::EGrad), !eGradShown());
    const QSignalBlocker block(m_planTable);
    m_planTable->selectRow(selectedClass());
}

QString InspectorPanel::planCell(int cls, int column) const {
    const QTableWidgetItem* item = m_planTable->item(cls, column);
    return item && !m_planTable->isRowHidden(cls) ? item->text() : QString();
}

bool InspectorPanel::eGradShown() const {
    return std::any_of(m_plans.begin(), m_plans.end(),
                       [](const auto& p) { return !p[size_t(QuantClass::EGrad)].groups.empty(); });
}

} // namespace bitbench
