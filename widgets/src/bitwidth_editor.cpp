// BitwidthEditor: pattern field, validation, per-layer grid with override marking.
#include "bitbench_widgets/bitwidth_editor.h"

#include "quant_cell_delegate.h"

#include <QAction>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPainter>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace bitbench::widgets {

namespace {

QString bitsText(int bits) {
    return bits == kFloatBits ? QStringLiteral("float") : QString::number(bits);
}

QString legendHtml() {
    QString html = QStringLiteral("<span>bits: </span>");
    for (int b : {1, 2, 4, 6, 8, 12, 16, kFloatBits})
        html += QStringLiteral("<span style=\"background-color:%1;\">&nbsp;%2&nbsp;</span> ")
                    .arg(bitwidth_colour(b).name(), bitsText(b));
    html += QStringLiteral("&nbsp;&nbsp;<b>bold, framed</b> = per-layer override; "
                           "corner: engine plan, <span style=\"color:#1b5e20\">int</span> or "
                           "<span style=\"color:#5e35b1\">flt</span>");
    return html;
}

} // namespace

QColor bitwidth_colour(int bits) {
    if (bits == kFloatBits)
        return QColor(0xd8, 0xd0, 0xe8);
    // Stops chosen so neighbouring common widths (2, 4, 8, 16) are easy to tell apart.
    struct Stop {
        double bits;
        QColor colour;
    };
    static const Stop stops[] = {{1, QColor(0xf4, 0x9a, 0x8a)},  {2, QColor(0xf7, 0xb7, 0x8f)},
                                 {4, QColor(0xfb, 0xe0, 0x9a)},  {8, QColor(0xbf, 0xe3, 0xa8)},
                                 {12, QColor(0x9f, 0xd8, 0xd2)}, {16, QColor(0xa8, 0xc8, 0xf0)}};
    const double b = std::clamp<double>(bits, kMinBits, kMaxBits);
    for (size_t i = 1; i < std::size(stops); ++i) {
        if (b <= stops[i].bits) {
            const double t = (b - stops[i - 1].bits) / (stops[i].bits - stops[i - 1].bits);
            const QColor& a = stops[i - 1].colour;
            const QColor& c = stops[i].colour;
            return QColor::fromRgbF(float(a.redF() + t * (c.redF() - a.redF())),
                                    float(a.greenF() + t * (c.greenF() - a.greenF())),
                                    float(a.blueF() + t * (c.blueF() - a.blueF())));
        }
    }
    return stops[std::size(stops) - 1].colour;
}

BitwidthEditor::BitwidthEditor(QWidget* parent) : QWidget(parent) {
    m_edit = new QLineEdit(this);
    m_edit->setPlaceholderText(QStringLiteral("W-A-G-E, e.g. 2-8-8-8 or 28f8"));
    m_edit->setToolTip(
        QStringLiteral("Bitwidths for Weights, Activations, Gradients, Errors.\n"
                       "Dashed: 1..16 or f per class (2-8-8-8, 2-8-f-8).\n"
                       "Compact: one character per class, 1-9, A-E = 10-14, f = float (28C8)."));
    m_error = new QLabel(this);
    m_error->setStyleSheet(QStringLiteral("color: #b00020;"));
    m_error->setWordWrap(true);
    m_error->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_grid = new QTableWidget(0, kClassCount, this);
    m_delegate = new QuantCellDelegate(m_grid);
    m_grid->setItemDelegate(m_delegate);
    m_grid->setEditTriggers(QAbstractItemView::AllEditTriggers);
    m_grid->setSelectionMode(QAbstractItemView::SingleSelection);
    const QString classTips[kClassCount] = {QStringLiteral("Weights"), QStringLiteral("Activations"),
                                            QStringLiteral("Gradients (weight updates)"),
                                            QStringLiteral("Errors (backpropagated)")};
    for (int c = 0; c < kClassCount; ++c) {
        auto* header = new QTableWidgetItem(tensor_class_name(c));
        header->setToolTip(classTips[c]);
        m_grid->setHorizontalHeaderItem(c, header);
    }
    m_grid->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_grid->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    // As tall as its rows: the legend and cost sit right under the last layer.
    m_grid->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
    m_grid->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff); // the columns stretch to fit
    m_grid->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Maximum);

    m_resetAction = new QAction(QStringLiteral("Reset overrides"), this);
    m_resetAction->setToolTip(QStringLiteral("Make every layer follow the pattern again"));
    m_resetAction->setEnabled(false);
    connect(m_resetAction, &QAction::triggered, this, &BitwidthEditor::resetOverrides);
    m_resetButton = new QPushButton(m_resetAction->text(), this);
    m_resetButton->setEnabled(false);
    m_resetButton->setToolTip(m_resetAction->toolTip());
    connect(m_resetButton, &QPushButton::clicked, m_resetAction, &QAction::trigger);

    auto* legend = new QLabel(legendHtml(), this);
    legend->setWordWrap(true);

    m_cost = new QLabel(this);
    m_cost->setWordWrap(true);
    m_cost->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_cost->setFrameShape(QFrame::StyledPanel);
    m_cost->setMargin(4);
    m_cost->setVisible(false);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(QStringLiteral("Pattern"), this));
    top->addWidget(m_edit, 1);
    top->addWidget(m_resetButton);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(top);
    layout->addWidget(m_error);
    layout->addWidget(m_grid);
    layout->addWidget(legend);
    layout->addWidget(m_cost);
    layout->addStretch(1);

    connect(m_edit, &QLineEdit::textEdited, this, &BitwidthEditor::onTextEdited);
    connect(m_grid, &QTableWidget::itemChanged, this, &BitwidthEditor::onItemChanged);

    m_patternQuant = {cell_quant_from_bits(2), cell_quant_from_bits(8), cell_quant_from_bits(8),
                      cell_quant_from_bits(8)};
    m_pattern = QStringLiteral("2-8-8-8");
    m_edit->setText(m_pattern);
    showError({});
    m_lastEmitted = config();
}

void BitwidthEditor::setLayers(const QStringList& names) {
    QVector<std::array<CellQuant, kClassCount>> cells;
    QVector<std::array<bool, kClassCount>> overrides;
    for (const QString& name : names) {
        const qsizetype old = m_layers.indexOf(name);
        if (old >= 0) {
            cells.push_back(m_cells[old]);
            overrides.push_back(m_override[old]);
        } else {
            cells.push_back(m_patternQuant);
            overrides.push_back({false, false, false, false});
        }
    }
    m_layers = names;
    m_cells = cells;
    m_override = overrides;
    m_plans.clear();
    rebuildGrid();
    emitIfChanged();
}

void BitwidthEditor::setValidator(Validator validator) { m_validator = std::move(validator); }

bool BitwidthEditor::setPattern(const QString& text) {
    m_edit->setText(text);
    onTextEdited(text);
    return errorText().isEmpty();
}

QString BitwidthEditor::patternText() const { return m_edit->text(); }

QString BitwidthEditor::errorText() const { return m_error->text(); }

void BitwidthEditor::onTextEdited(const QString& text) {
    QString message;
    // The extended pattern (a family token in some field) first; numbers and f only are a WAGE
    // pattern, checked by the caller's validator and the built-in parser.
    if (const auto cells = m_families.isEmpty() ? std::nullopt : quant_pattern_parse(text, m_families, &message)) {
        showError({});
        m_pattern = text.trimmed();
        setPatternCells(*cells);
        Q_EMIT patternApplied(m_pattern);
        return;
    }
    if (message.isEmpty() && m_validator)
        message = m_validator(text);
    std::optional<ClassBits> parsed;
    if (message.isEmpty())
        parsed = bitwidth_parse_pattern(text, &message);
    if (!parsed) {
        showError(message);
        return; // the grid keeps the last accepted pattern
    }
    showError({});
    m_pattern = text.trimmed();
    std::array<CellQuant, kClassCount> cells;
    for (int c = 0; c < kClassCount; ++c)
        cells[c] = cell_quant_from_bits((*parsed)[c]);
    setPatternCells(cells);
    Q_EMIT patternApplied(m_pattern);
}

void BitwidthEditor::setPatternCells(const std::array<CellQuant, kClassCount>& cells) {
    m_patternQuant = cells;
    for (int l = 0; l < m_layers.size(); ++l)
        for (int c = 0; c < kClassCount; ++c) {
            if (!m_override[l][c])
                m_cells[l][c] = m_patternQuant[c];
        }
    refreshCells();
    emitIfChanged();
}

void BitwidthEditor::onItemChanged(QTableWidgetItem* item) {
    if (m_updating)
        return;
    const int l = item->row(), c = item->column();
    if (c >= kClassCount) return; // the read-only extra column
    const CellQuant q = cell_quant_of_variant(item->data(kQuantRole));
    if (!(q == m_cells[l][c])) { // the family editor
        applyCellEdit(l, c, q);
        return;
    }
    setCellBits(l, c, item->data(Qt::EditRole).toInt()); // the bits alone
}

void BitwidthEditor::setFamilies(const QVector<QuantFamilyChoice>& families) {
    m_families = families;
    m_delegate->setFamilies(families);
    refreshCells();
}

QVector<QuantFamilyChoice> BitwidthEditor::families() const {
    return m_families.isEmpty() ? quant_family_choices_wage() : m_families;
}

void BitwidthEditor::setCellBits(int layer, int cls, int bits) {
    if (layer < 0 || layer >= m_layers.size() || cls < 0 || cls >= kClassCount)
        return;
    bits = (bits == kFloatBits) ? kFloatBits : std::clamp(bits, kMinBits, kMaxBits);
    CellQuant q = cell_quant_from_bits(bits);
    const CellQuant& now = m_cells[layer][cls];
    if (bits != kFloatBits && !now.isWage() && !now.isFloat()) {
        // Another family keeps itself when its bits change (within its range).
        for (const auto& f : families())
            if (f.name == now.family && f.hasBitsChoice() && bits >= f.minBits && bits <= f.maxBits) {
                q = now;
                q.bits = bits;
            }
    }
    applyCellEdit(layer, cls, q);
}

void BitwidthEditor::setCellQuant(int layer, int cls, const CellQuant& q) {
    if (layer < 0 || layer >= m_layers.size() || cls < 0 || cls >= kClassCount)
        return;
    applyCellEdit(layer, cls, q);
}

CellQuant BitwidthEditor::cellQuant(int layer, int cls) const {
    if (layer < 0 || layer >= m_layers.size() || cls < 0 || cls >= kClassCount)
        return {};
    return m_cells[layer][cls];
}

QString BitwidthEditor::cellText(int layer, int cls) const {
    return cell_quant_text(cellQuant(layer, cls), families());
}

void BitwidthEditor::setQuant(const std::array<CellQuant, kClassCount>& pattern,
                              const QHash<QString, QHash<int, CellQuant>>& overrides) {
    m_patternQuant = pattern;
    for (int l = 0; l < m_layers.size(); ++l) {
        const auto it = overrides.constFind(m_layers[l]);
        for (int c = 0; c < kClassCount; ++c) {
            const bool has = it != overrides.constEnd() && it->contains(c);
            m_cells[l][c] = has ? it->value(c) : pattern[c];
            m_override[l][c] = has && !(m_cells[l][c] == pattern[c]);
        }
    }
    m_pattern = cell_quants_are_wage(pattern) ? [&] {
        ClassBits b{};
        for (int c = 0; c < kClassCount; ++c)
            b[c] = pattern[c].patternBits();
        return bitwidth_format_dashed(b);
    }()
                                              : quant_pattern_format(pattern, families());
    m_edit->setText(m_pattern);
    showError({});
    refreshCells();
    emitIfChanged();
}

void BitwidthEditor::setPlans(const QVector<std::array<CellPlan, kClassCount>>& plans) {
    m_plans = plans;
    refreshCells();
}

BitwidthEditor::CellPlan BitwidthEditor::cellPlan(int layer, int cls) const {
    if (layer < 0 || layer >= m_plans.size() || cls < 0 || cls >= kClassCount)
        return {};
    return m_plans[layer][cls];
}

void BitwidthEditor::applyCellEdit(int layer, int cls, const CellQuant& q) {
    m_cells[layer][cls] = q;
    m_override[layer][cls] = !(q == m_patternQuant[cls]);
    foldColumns();
    refreshCells();
    emitIfChanged();
}

// A class overridden the same way in every layer is the pattern's value in all but name.
void BitwidthEditor::foldColumns() {
    if (m_layers.isEmpty())
        return;
    bool changed = false;
    for (int c = 0; c < kClassCount; ++c) {
        bool allSame = true;
        for (int l = 0; l < m_layers.size() && allSame; ++l)
            allSame = m_override[l][c] && m_cells[l][c] == m_cells[0][c];
        if (!allSame)
            continue;
        m_patternQuant[c] = m_cells[0][c];
        for (int l = 0; l < m_layers.size(); ++l)
            m_override[l][c] = false;
        changed = true;
    }
    if (!changed)
        return;
    // Keep the user's chosen form where it can express the new pattern.
    if (cell_quants_are_wage(m_patternQuant)) {
        ClassBits bits{};
        for (int c = 0; c < kClassCount; ++c)
            bits[c] = m_patternQuant[c].patternBits();
        const bool dashed = m_pattern.contains(QLatin1Char('-'));
        const QString compact = bitwidth_format_compact(bits);
        m_pattern = (dashed || compact.isEmpty()) ? bitwidth_format_dashed(bits) : compact;
    } else {
        m_pattern = quant_pattern_format(m_patternQuant, families());
    }
    m_edit->setText(m_pattern);
    showError({});
}

void BitwidthEditor::resetOverrides() {
    for (int l = 0; l < m_layers.size(); ++l)
        for (int c = 0; c < kClassCount; ++c) {
            m_override[l][c] = false;
            m_cells[l][c] = m_patternQuant[c];
        }
    refreshCells();
    emitIfChanged();
}

int BitwidthEditor::cellBits(int layer, int cls) const {
    if (layer < 0 || layer >= m_layers.size() || cls < 0 || cls >= kClassCount)
        return -1;
    return m_cells[layer][cls].patternBits();
}

bool BitwidthEditor::isOverridden(int layer, int cls) const {
    if (layer < 0 || layer >= m_layers.size() || cls < 0 || cls >= kClassCount)
        return false;
    return m_override[layer][cls];
}

int BitwidthEditor::overrideCount() const {
    int n = 0;
    for (const auto& row : m_override)
        n += int(std::count(row.begin(), row.end(), true));
    return n;
}

BitwidthConfig BitwidthEditor::config() const {
    BitwidthConfig cfg;
    cfg.pattern = m_pattern;
    for (int c = 0; c < kClassCount; ++c)
        cfg.patternBits[c] = m_patternQuant[c].patternBits();
    cfg.layerNames = m_layers;
    for (const auto& row : m_cells) {
        ClassBits b{};
        for (int c = 0; c < kClassCount; ++c)
            b[c] = row[c].patternBits();
        cfg.layerBits.push_back(b);
    }
    cfg.patternQuant = m_patternQuant;
    cfg.layerQuant = m_cells;
    return cfg;
}

void BitwidthEditor::setCostText(const QString& text) {
    m_cost->setText(text);
    m_cost->setVisible(!text.isEmpty());
}

QString BitwidthEditor::costText() const { return m_cost->text(); }

void BitwidthEditor::showError(const QString& message) {
    m_error->setText(message);
    m_error->setVisible(!message.isEmpty());
    m_edit->setStyleSheet(message.isEmpty() ? QString()
                                            : QStringLiteral("QLineEdit { border: 1px solid "
                                                             "#b00020; }"));
}

void BitwidthEditor::rebuildGrid() {
    m_updating = true;
    m_grid->setRowCount(int(m_layers.size()));
    m_grid->setVerticalHeaderLabels(m_layers);
    for (int l = 0; l < m_layers.size(); ++l)
        for (int c = 0; c < kClassCount; ++c)
            if (!m_grid->item(l, c))
                m_grid->setItem(l, c, new QTableWidgetItem);
    m_updating = false;
    refreshCells();
}

void BitwidthEditor::refreshCells() {
    m_updating = true;
    QFont bold = m_grid->font();
    bold.setBold(true);
    const QVector<QuantFamilyChoice> fams = families();
    for (int l = 0; l < m_layers.size(); ++l) {
        for (int c = 0; c < kClassCount; ++c) {
            QTableWidgetItem* item = m_grid->item(l, c);
            const CellQuant& q = m_cells[l][c];
            const bool over = m_override[l][c];
            const QString text = cell_quant_text(q, fams);
            item->setData(Qt::EditRole, q.patternBits());
            item->setData(kQuantRole, cell_quant_variant(q));
            item->setData(kTextRole, text);
            item->setData(kOverrideRole, over);
            item->setBackground(bitwidth_colour(q.patternBits()));
            item->setForeground(QColor(20, 20, 20));
            item->setFont(over ? bold : m_grid->font());
            QString tip = over ? QStringLiteral("%1 %2: %3 (override; pattern says %4)")
                                     .arg(m_layers[l], tensor_class_name(c), text,
                                          cell_quant_text(m_patternQuant[c], fams))
                               : QStringLiteral("%1 %2: %3 (from the pattern)").arg(m_layers[l], tensor_class_name(c), text);
            if (!q.options.isEmpty())
                tip += QStringLiteral("\nsettings: ") + q.options;
            const CellPlan plan = cellPlan(l, c);
            item->setData(kPlanRole, plan.known ? (plan.integer ? QStringLiteral("int") : QStringLiteral("float"))
                                                : QString());
            if (plan.known)
                tip += QStringLiteral("\nengine: %1 — %2")
                           .arg(plan.integer ? QStringLiteral("integer") : QStringLiteral("float"), plan.why);
            item->setToolTip(tip);
        }
    }
    const bool any = overrideCount() > 0;
    m_resetAction->setEnabled(any);
    m_resetButton->setEnabled(any);
    m_updating = false;
    refreshExtraColumn();
}

void BitwidthEditor::emitIfChanged() {
    const BitwidthConfig cfg = config();
    if (cfg == m_lastEmitted)
        return;
    m_lastEmitted = cfg;
    Q_EMIT configChanged(cfg);
}

} // namespace bitbench::widgets
