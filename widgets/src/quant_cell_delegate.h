// QuantCellDelegate: the bitwidth grid's cell editor (family menu + bits) and painter (override
// frame, engine-plan badge). Private to the bitwidth editor.
#pragma once

#include "bitbench_widgets/quant_cells.h"

#include <QStyledItemDelegate>

namespace bitbench::widgets {

// Item data roles of the grid. Qt::EditRole holds the cell's bits (0 = float) as before.
inline constexpr int kOverrideRole = Qt::UserRole + 1; // bool: a per-layer override
inline constexpr int kQuantRole = Qt::UserRole + 2;    // QVariantList {family, bits, suffix, options}
inline constexpr int kTextRole = Qt::UserRole + 3;     // QString: the text drawn
inline constexpr int kPlanRole = Qt::UserRole + 4;     // QString: engine plan badge ("int", "float", "")

QVariant cell_quant_variant(const CellQuant& q);
CellQuant cell_quant_of_variant(const QVariant& v);

class QuantCellDelegate : public QStyledItemDelegate {
public:
    explicit QuantCellDelegate(QObject* parent = nullptr) : QStyledItemDelegate(parent) {}
    void setFamilies(const QVector<QuantFamilyChoice>& families) { m_families = families; }

    QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex& index) const override;
    void setEditorData(QWidget* editor, const QModelIndex& index) const override;
    void setModelData(QWidget* editor, QAbstractItemModel* model, const QModelIndex& index) const override;
    void updateEditorGeometry(QWidget* editor, const QStyleOptionViewItem& option, const QModelIndex&) const override;
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override;
    QSize sizeHint(const QStyleOptionViewItem& option, const QModelIndex& index) const override;

protected:
    void initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const override;

private:
    QVector<QuantFamilyChoice> m_families;
};

} // namespace bitbench::widgets
