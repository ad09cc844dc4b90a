// CostSettingsDialog: edits the per-operation energy and area table of the cost model.
#pragma once

#include "bitbench/cost_model.h"

#include <QDialog>

class QDoubleSpinBox;

namespace bitbench {

class CostSettingsDialog : public QDialog {
    Q_OBJECT
public:
    explicit CostSettingsDialog(const CostTable& table, QWidget* parent = nullptr);
    CostTable table() const;

private:
    void setTable(const CostTable& t);
    QDoubleSpinBox* m_spin[12] = {};
};

} // namespace bitbench
