// BitwidthEditor's read-only extra column (E_grad beside E where the two differ).
#include "bitbench_widgets/bitwidth_editor.h"

#include "quant_cell_delegate.h"

#include <QTableWidget>

namespace bitbench::widgets {

void BitwidthEditor::setExtraColumn(const QString& title, const QString& tip,
                                    const QVector<CellQuant>& cells) {
    m_extraTitle = title;
    m_extraTip = tip;
    m_extra = cells;
    refreshExtraColumn();
}

QString BitwidthEditor::extraColumnText(int layer) const {
    if (m_extra.isEmpty() || layer < 0 || layer >= m_extra.size()) return {};
    return cell_quant_text(m_extra[layer], families());
}

void BitwidthEditor::refreshExtraColumn() {
    const bool shown = !m_extra.isEmpty();
    const bool was = m_updating;
    m_updating = true;
    m_grid->setColumnCount(kClassCount + (shown ? 1 : 0));
    if (shown) {
        auto* header = new QTableWidgetItem(m_extraTitle);
        header->setToolTip(m_extraTip);
        m_grid->setHorizontalHeaderItem(kClassCount, header);
        for (int l = 0; l < m_layers.size(); ++l) {
            QTableWidgetItem* item = m_grid->item(l, kClassCount);
            if (!item) {
                item = new QTableWidgetItem;
                item->setFlags(Qt::ItemIsEnabled); // shown, not edited
                m_grid->setItem(l, kClassCount, item);
            }
            const CellQuant q = l < m_extra.size() ? m_extra[l] : CellQuant{};
            const QString text = l < m_extra.size() ? cell_quant_text(q, families()) : QString();
            item->setData(kTextRole, text);
            item->setData(Qt::DisplayRole, text);
            item->setBackground(bitwidth_colour(q.patternBits()));
            item->setForeground(QColor(20, 20, 20));
            item->setToolTip(
                QStringLiteral("%1 %2: %3 (%4)").arg(m_layers[l], m_extraTitle, text, m_extraTip));
        }
    }
    m_updating = was;
}

} // namespace bitbench::widgets
