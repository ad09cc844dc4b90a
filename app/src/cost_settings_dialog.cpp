// CostSettingsDialog: a 3 x 4 grid (int8, fp16, fp32 x MUL/ADD energy and area) with defaults.
#include "cost_settings_dialog.h"

#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QGridLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace bitbench {

namespace {
constexpr double CostTable::* kFields[12] = {
    &CostTable::int8MulPj,  &CostTable::int8AddPj,  &CostTable::int8MulUm2, &CostTable::int8AddUm2,
    &CostTable::fp16MulPj,  &CostTable::fp16AddPj,  &CostTable::fp16MulUm2, &CostTable::fp16AddUm2,
    &CostTable::fp32MulPj,  &CostTable::fp32AddPj,  &CostTable::fp32MulUm2, &CostTable::fp32AddUm2,
};
}

CostSettingsDialog::CostSettingsDialog(const CostTable& table, QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Cost table"));
    auto* v = new QVBoxLayout(this);
    auto* note = new QLabel(tr("Energy and area per operation (45 nm). Integer products of a-bit x b-bit operands scale "
                               "the 8-bit multiplier by a·b/64 and the adder by its accumulator width/8; products "
                               "with a float operand use the fp32 figures."));
    note->setWordWrap(true);
    v->addWidget(note);
    auto* g = new QGridLayout;
    const QStringList cols = {tr("MUL pJ"), tr("ADD pJ"), tr("MUL µm²"), tr("ADD µm²")};
    const QStringList rows = {tr("int8"), tr("fp16"), tr("fp32")};
    for (int c = 0; c < 4; ++c) g->addWidget(new QLabel(cols[c]), 0, c + 1, Qt::AlignCenter);
    for (int r = 0; r < 3; ++r) {
        g->addWidget(new QLabel(rows[r]), r + 1, 0);
        for (int c = 0; c < 4; ++c) {
            auto* s = new QDoubleSpinBox;
            const bool energy = c < 2;
            s->setDecimals(energy ? 3 : 0);
            s->setRange(0, energy ? 1000 : 1e7);
            s->setSingleStep(energy ? 0.01 : 10);
            m_spin[r * 4 + c] = s;
            g->addWidget(s, r + 1, c + 1);
        }
    }
    v->addLayout(g);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel |
                                         QDialogButtonBox::RestoreDefaults);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(buttons->button(QDialogButtonBox::RestoreDefaults), &QPushButton::clicked, this,
            [this] { setTable(CostTable{}); });
    v->addWidget(buttons);
    setTable(table);
}

void CostSettingsDialog::setTable(const CostTable& t) {
    for (int i = 0; i < 12; ++i) m_spin[i]->setValue(t.*kFields[i]);
}

CostTable CostSettingsDialog::table() const {
    CostTable t;
    for (int i = 0; i < 12; ++i) t.*kFields[i] = m_spin[i]->value();
    return t;
}

} // namespace bitbench
