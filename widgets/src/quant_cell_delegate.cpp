// QuantCellDelegate: a family combo beside a bits spin box; the cell text, frame and plan badge.
#include "quant_cell_delegate.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QPainter>
#include <QSpinBox>

namespace bitbench::widgets {

QVariant cell_quant_variant(const CellQuant& q) {
    return QVariantList{q.family, q.bits, q.suffix, q.options};
}

CellQuant cell_quant_of_variant(const QVariant& v) {
    const QVariantList l = v.toList();
    CellQuant q;
    if (l.size() != 4)
        return q;
    q.family = l[0].toString();
    q.bits = l[1].toInt();
    q.suffix = l[2].toString();
    q.options = l[3].toString();
    return q;
}

namespace {

// The editor: families of the column's class, and bits where the family has a choice.
class CellEditor : public QWidget {
public:
    CellEditor(QWidget* parent, const QVector<QuantFamilyChoice>& families, int cls) : QWidget(parent) {
        setAutoFillBackground(true);
        auto* h = new QHBoxLayout(this);
        h->setContentsMargins(0, 0, 0, 0);
        h->setSpacing(1);
        family = new QComboBox(this);
        family->setObjectName(QStringLiteral("familyCombo"));
        for (const auto& f : families)
            if (f.serves(cls)) {
                family->addItem(f.name);
                family->setItemData(family->count() - 1, f.tip, Qt::ToolTipRole);
                m_choices.push_back(f);
            }
        bits = new QSpinBox(this);
        bits->setObjectName(QStringLiteral("bitsSpin"));
        bits->setFrame(false);
        h->addWidget(family, 3);
        h->addWidget(bits, 2);
        connect(family, &QComboBox::currentIndexChanged, this, [this] { updateBits(); });
    }

    void setValue(const CellQuant& q) {
        m_original = q;
        const int i = family->findText(q.family);
        family->setCurrentIndex(i < 0 ? 0 : i);
        updateBits();
        bits->setValue(q.bits);
    }

    CellQuant value() const {
        const int i = family->currentIndex();
        if (i < 0)
            return m_original;
        const QuantFamilyChoice& f = m_choices[i];
        CellQuant q;
        q.family = f.name;
        q.bits = f.hasBitsChoice() ? bits->value() : f.minBits;
        if (q.family == m_original.family) { // the settings the editor does not show stay
            q.suffix = m_original.suffix;
            q.options = m_original.options;
        }
        return q;
    }

    QComboBox* family = nullptr;
    QSpinBox* bits = nullptr;

private:
    void updateBits() {
        const int i = family->currentIndex();
        const bool choice = i >= 0 && m_choices[i].hasBitsChoice();
        bits->setEnabled(choice);
        bits->setVisible(choice);
        if (choice) {
            bits->setRange(m_choices[i].minBits, m_choices[i].maxBits);
            if (family->currentText() == m_original.family)
                bits->setValue(m_original.bits);
        }
    }

    QVector<QuantFamilyChoice> m_choices;
    CellQuant m_original;
};

} // namespace

QWidget* QuantCellDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex& index) const {
    const QVector<QuantFamilyChoice> families = m_families.isEmpty() ? quant_family_choices_wage() : m_families;
    return new CellEditor(parent, families, index.column());
}

void QuantCellDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const {
    static_cast<CellEditor*>(editor)->setValue(cell_quant_of_variant(index.data(kQuantRole)));
}

void QuantCellDelegate::setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const {
    auto* e = static_cast<CellEditor*>(editor);
    e->bits->interpretText();
    model->setData(index, cell_quant_variant(e->value()), kQuantRole);
}

void QuantCellDelegate::updateEditorGeometry(QWidget* editor, const QStyleOptionViewItem& option,
                                             const QModelIndex&) const {
    QRect r = option.rect;
    r.setWidth(std::max(r.width(), editor->sizeHint().width()));
    editor->setGeometry(r);
}

void QuantCellDelegate::initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const {
    QStyledItemDelegate::initStyleOption(option, index);
    const QString text = index.data(kTextRole).toString();
    if (!text.isEmpty())
        option->text = text;
    option->displayAlignment = Qt::AlignCenter;
}

QSize QuantCellDelegate::sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const {
    QSize s = QStyledItemDelegate::sizeHint(option, index);
    s.setWidth(s.width() + 18); // room for the plan badge
    return s;
}

void QuantCellDelegate::paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const {
    QStyledItemDelegate::paint(painter, option, index);
    painter->save();
    // The engine plan: a small corner badge, "int" in dark green, "flt" in violet.
    const QString plan = index.data(kPlanRole).toString();
    if (!plan.isEmpty()) {
        QFont f = option.font;
        f.setPointSizeF(std::max(6.0, f.pointSizeF() * 0.72));
        f.setBold(false);
        painter->setFont(f);
        const bool integer = plan == QLatin1String("int");
        painter->setPen(integer ? QColor(0x1b, 0x5e, 0x20) : QColor(0x5e, 0x35, 0xb1));
        painter->drawText(option.rect.adjusted(2, 1, -3, -1), Qt::AlignRight | Qt::AlignBottom,
                          integer ? QStringLiteral("int") : QStringLiteral("flt"));
    }
    if (index.data(kOverrideRole).toBool()) {
        painter->setPen(QPen(QColor(30, 30, 30), 2));
        painter->setBrush(Qt::NoBrush);
        painter->drawRect(option.rect.adjusted(1, 1, -1, -1));
    }
    painter->restore();
}

} // namespace bitbench::widgets
