// TensorOverview: painted grid of histogram sparklines, hit testing and flags.
#include "bitbench_widgets/tensor_overview.h"

#include "bitbench_widgets/bitwidth_pattern.h"

#include <QHelpEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>
#include <QToolTip>

#include <cmath>

namespace bitbench::widgets {

namespace {

constexpr int kClasses = kClassCount;
constexpr int kPad = 4;
const QColor kSatColour(0xC0, 0x39, 0x2B);
const QColor kUnderColour(0xE6, 0x8A, 0x00);
const QColor kSparkColour(0x00, 0x72, 0xB2);

QString pct(double f) {
    const double p = 100.0 * f;
    return QString::number(p, 'f', p < 10.0 ? 1 : 0) + "%";
}

} // namespace

TensorOverview::TensorOverview(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void TensorOverview::setLayers(const QStringList& names) {
    m_layers = names;
    m_slots = QVector<Slot>(names.size() * kClasses);
    m_hover = {-1, -1};
    updateGeometry();
    update();
}

void TensorOverview::setCell(int layer, int cls, const TensorCell& cell) {
    if (layer < 0 || layer >= m_layers.size() || cls < 0 || cls >= kClasses)
        return;
    Slot& s = m_slots[layer * kClasses + cls];
    s.present = true;
    s.cell = cell;
    update(cellRect(layer, cls).adjusted(-2, -2, 2, 2));
}

void TensorOverview::clearCells() {
    for (Slot& s : m_slots)
        s = Slot{};
    update();
}

bool TensorOverview::hasCell(int layer, int cls) const {
    const Slot* s = slot(layer, cls);
    return s && s->present;
}

void TensorOverview::setThresholds(double saturation, double underflow) {
    m_satThreshold = saturation;
    m_underThreshold = underflow;
    update();
}

const TensorOverview::Slot* TensorOverview::slot(int layer, int cls) const {
    if (layer < 0 || layer >= m_layers.size() || cls < 0 || cls >= kClasses)
        return nullptr;
    return &m_slots[layer * kClasses + cls];
}

TensorFlag TensorOverview::flag(int layer, int cls) const {
    const Slot* s = slot(layer, cls);
    if (!s || !s->present)
        return TensorFlag::None;
    const bool sat = s->cell.saturation > m_satThreshold;
    const bool under = s->cell.underflow > m_underThreshold;
    if (sat && under)
        return TensorFlag::Both;
    if (sat)
        return TensorFlag::Saturation;
    return under ? TensorFlag::Underflow : TensorFlag::None;
}

int TensorOverview::labelWidth() const {
    int w = fontMetrics().horizontalAdvance(QStringLiteral("layer"));
    for (const QString& name : m_layers)
        w = std::max(w, fontMetrics().horizontalAdvance(name));
    return w + 2 * kPad + 2; // slack so rounding never elides the widest name
}

int TensorOverview::headerHeight() const { return fontMetrics().height() + 2 * kPad; }

QRect TensorOverview::gridRect() const {
    return rect().adjusted(labelWidth(), headerHeight(), -1, -1);
}

QRect TensorOverview::cellRect(int layer, int cls) const {
    if (m_layers.isEmpty())
        return {};
    const QRect g = gridRect();
    const int rows = int(m_layers.size());
    const int x0 = g.left() + g.width() * cls / kClasses;
    const int x1 = g.left() + g.width() * (cls + 1) / kClasses;
    const int y0 = g.top() + g.height() * layer / rows;
    const int y1 = g.top() + g.height() * (layer + 1) / rows;
    return QRect(QPoint(x0, y0), QPoint(x1 - 1, y1 - 1)).adjusted(2, 2, -2, -2);
}

QPair<int, int> TensorOverview::cellAt(const QPoint& pos) const {
    for (int l = 0; l < m_layers.size(); ++l)
        for (int c = 0; c < kClasses; ++c)
            if (cellRect(l, c).contains(pos))
                return {l, c};
    return {-1, -1};
}

QSize TensorOverview::sizeHint() const {
    const int rows = std::max<int>(1, int(m_layers.size()));
    return QSize(labelWidth() + kClasses * 110, headerHeight() + rows * 64);
}

QSize TensorOverview::minimumSizeHint() const {
    const int rows = std::max<int>(1, int(m_layers.size()));
    return QSize(labelWidth() + kClasses * 60, headerHeight() + rows * 40);
}

void TensorOverview::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), palette().base());
    const QFontMetrics fm = fontMetrics();
    const QRect g = gridRect();
    p.setPen(palette().text().color());
    for (int c = 0; c < kClasses; ++c) {
        const QRect r(g.left() + g.width() * c / kClasses, 0, g.width() / kClasses, headerHeight());
        QFont bold = font();
        bold.setBold(true);
        p.setFont(bold);
        p.drawText(r, Qt::AlignCenter, tensor_class_name(c));
    }
    p.setFont(font());
    if (m_layers.isEmpty()) {
        p.setPen(palette().placeholderText().color());
        p.drawText(g, Qt::AlignCenter, tr("No layers"));
        return;
    }
    const QFont small = [this] {
        QFont f = font();
        f.setPointSizeF(std::max(7.0, f.pointSizeF() * 0.85));
        return f;
    }();
    const QFontMetrics sfm(small);
    for (int l = 0; l < m_layers.size(); ++l) {
        const QRect row = cellRect(l, 0);
        p.setPen(palette().text().color());
        p.drawText(QRect(kPad, row.top(), labelWidth() - 2 * kPad, row.height()),
                   Qt::AlignVCenter | Qt::AlignRight,
                   fm.elidedText(m_layers[l], Qt::ElideMiddle, labelWidth() - 2 * kPad));
        for (int c = 0; c < kClasses; ++c) {
            const QRect r = cellRect(l, c);
            const Slot& s = m_slots[l * kClasses + c];
            const bool hover = m_hover == qMakePair(l, c);
            p.setPen(QPen(hover ? QColor(90, 90, 90) : QColor(205, 205, 205), 1));
            p.setBrush(hover ? QColor(245, 248, 252) : palette().base().color());
            p.drawRect(r.adjusted(0, 0, -1, -1));
            if (!s.present) {
                p.setFont(small);
                p.setPen(palette().placeholderText().color());
                p.drawText(r, Qt::AlignCenter, tr("no data"));
                p.setFont(font());
                continue;
            }
            // Text line at the bottom, sparkline above it.
            const int textH = sfm.height() + 2;
            const QRect spark = r.adjusted(4, 4, -4, -textH - 2);
            const TensorCell& cell = s.cell;
            double top = 0.0;
            for (double v : cell.counts)
                top = std::max(top, v);
            if (top > 0.0 && !cell.counts.isEmpty() && spark.height() > 2) {
                // sqrt counts: a ternary or post-relu spike at zero would otherwise flatten the rest.
                const int n = int(cell.counts.size());
                QPainterPath path(QPointF(spark.left(), spark.bottom()));
                for (int i = 0; i < n; ++i) {
                    const double h = std::sqrt(cell.counts[i] / top) * spark.height();
                    const double x0 = spark.left() + double(spark.width()) * i / n;
                    const double x1 = spark.left() + double(spark.width()) * (i + 1) / n;
                    path.lineTo(x0, spark.bottom() - h);
                    path.lineTo(x1, spark.bottom() - h);
                }
                path.lineTo(spark.right(), spark.bottom());
                path.closeSubpath();
                p.setRenderHint(QPainter::Antialiasing, true);
                p.setPen(QPen(kSparkColour, 1));
                p.setBrush(QColor(kSparkColour.red(), kSparkColour.green(), kSparkColour.blue(), 70));
                p.drawPath(path);
                p.setRenderHint(QPainter::Antialiasing, false);
            }
            const TensorFlag f = flag(l, c);
            const bool sat = f == TensorFlag::Saturation || f == TensorFlag::Both;
            const bool under = f == TensorFlag::Underflow || f == TensorFlag::Both;
            p.setFont(small);
            const QRect textRect(r.left() + 4, r.bottom() - textH, r.width() - 8, textH);
            p.setPen(sat ? kSatColour : palette().text().color());
            p.drawText(textRect, Qt::AlignVCenter | Qt::AlignLeft,
                       QStringLiteral("sat %1").arg(pct(cell.saturation)));
            p.setPen(under ? kUnderColour.darker(115) : palette().text().color());
            p.drawText(textRect, Qt::AlignVCenter | Qt::AlignRight,
                       QStringLiteral("uf %1").arg(pct(cell.underflow)));
            p.setFont(font());
            p.setBrush(Qt::NoBrush);
            if (under) {
                p.setPen(QPen(kUnderColour, 2));
                p.drawRect(r.adjusted(sat ? 3 : 1, sat ? 3 : 1, sat ? -4 : -2, sat ? -4 : -2));
            }
            if (sat) {
                p.setPen(QPen(kSatColour, 2));
                p.drawRect(r.adjusted(1, 1, -2, -2));
            }
        }
    }
}

void TensorOverview::mouseReleaseEvent(QMouseEvent* event) {
    if (event->button() != Qt::LeftButton)
        return QWidget::mouseReleaseEvent(event);
    const auto [layer, cls] = cellAt(event->position().toPoint());
    if (layer >= 0)
        Q_EMIT cellClicked(layer, cls);
}

void TensorOverview::mouseMoveEvent(QMouseEvent* event) {
    const auto hit = cellAt(event->position().toPoint());
    if (hit != m_hover) {
        m_hover = hit;
        setCursor(hit.first >= 0 ? Qt::PointingHandCursor : Qt::ArrowCursor);
        update();
    }
    QWidget::mouseMoveEvent(event);
}

void TensorOverview::leaveEvent(QEvent* event) {
    m_hover = {-1, -1};
    update();
    QWidget::leaveEvent(event);
}

bool TensorOverview::event(QEvent* event) {
    if (event->type() == QEvent::ToolTip) {
        auto* help = static_cast<QHelpEvent*>(event);
        const auto [l, c] = cellAt(help->pos());
        const Slot* s = slot(l, c);
        if (!s) {
            QToolTip::hideText();
            event->ignore();
            return true;
        }
        QString text = QStringLiteral("%1 %2").arg(m_layers[l], tensor_class_name(c));
        if (s->present)
            text += QStringLiteral("\nsaturation %1 (flag above %2)\nunderflow to zero %3 (flag "
                                   "above %4)\nrange [%5, %6]\nclick to inspect")
                        .arg(pct(s->cell.saturation), pct(m_satThreshold), pct(s->cell.underflow),
                             pct(m_underThreshold), QString::number(s->cell.lo, 'g', 3),
                             QString::number(s->cell.hi, 'g', 3));
        else
            text += QStringLiteral("\nno data yet");
        QToolTip::showText(help->globalPos(), text, this);
        return true;
    }
    return QWidget::event(event);
}

} // namespace bitbench::widgets
