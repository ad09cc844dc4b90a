// BitwidthEditor: a W-A-G-E pattern field kept in sync with a per-layer grid of quantizers
// (a family and its bits per cell; WAGE patterns are the wage and float families).
#pragma once

#include "bitbench_widgets/bitwidth_pattern.h"

#include <QColor>
#include <QHash>
#include <QWidget>

#include <functional>

class QAction;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;
class QTableWidgetItem;

namespace bitbench::widgets {

// Cell colour for a bitwidth: a light scale from warm (few bits) to cool (many bits); float is a
// distinct grey-violet. Light tones keep dark text readable.
QColor bitwidth_colour(int bits);

// The pattern applies to every layer; a cell edited to a value other than the pattern's becomes an
// override, drawn bold with a dark frame, and keeps its value when the pattern changes. Editing a
// cell back to the pattern's value, or "Reset overrides", lets it follow the pattern again. When
// every layer of a class carries the same override, that value becomes the pattern's (so the
// field always describes the common case). With families (setFamilies), a cell chooses a family
// and its bits; the field then shows and accepts the extended pattern (`ternary-affine8-f-8`).
class BitwidthEditor : public QWidget {
    Q_OBJECT
public:
    // Returns an empty string when the text is acceptable, else the message to show.
    using Validator = std::function<QString(const QString&)>;

    explicit BitwidthEditor(QWidget* parent = nullptr);

    // Rows of the grid. Layers that keep their name keep their overrides.
    void setLayers(const QStringList& names);
    QStringList layers() const { return m_layers; }

    // An extra check the caller owns (e.g. the core's parser). The built-in syntax check still
    // runs after it, because the grid needs bits. An empty function restores the default.
    void setValidator(Validator validator);

    // Same as typing the text: applies it when valid; returns whether it was accepted.
    bool setPattern(const QString& text);
    QString pattern() const { return m_pattern; }    // last accepted pattern
    QString patternText() const;                      // what the field shows now
    QString errorText() const;                        // empty when the field is valid

    // The families the cells offer (the caller's registry); empty: wage 1..16 and float.
    void setFamilies(const QVector<QuantFamilyChoice>& families);
    QVector<QuantFamilyChoice> families() const;

    // Same as editing a cell: the value becomes an override unless it equals the pattern's.
    // setCellBits(k) is wage k (0: float) and keeps a non-wage family, changing its bits.
    void setCellBits(int layer, int cls, int bits);
    int cellBits(int layer, int cls) const;
    void setCellQuant(int layer, int cls, const CellQuant& q);
    CellQuant cellQuant(int layer, int cls) const;
    // Replaces everything: the pattern's cells and per-layer overrides (rows by name; absent
    // names and classes follow the pattern). Overrides equal to the pattern are no overrides.
    void setQuant(const std::array<CellQuant, kClassCount>& pattern,
                  const QHash<QString, QHash<int, CellQuant>>& overrides);
    // The cell text ("affine 8", "ternary", "float").
    QString cellText(int layer, int cls) const;
    // A read-only column after the four classes, e.g. E_grad (the weight gradient's copy of E)
    // where it differs from E: its header, tooltip and one cell per layer (rows in order); an
    // empty list removes it. It is shown, not edited: the pattern and config() ignore it.
    void setExtraColumn(const QString& title, const QString& tip, const QVector<CellQuant>& cells);
    QString extraColumnText(int layer) const; // "" without the column

    // The engine plan of a cell: integer or float arithmetic, and why (the cell's tooltip). An
    // empty list clears the plans.
    struct CellPlan {
        bool known = false;
        bool integer = false;
        QString why;
    };
    void setPlans(const QVector<std::array<CellPlan, kClassCount>>& plans);
    CellPlan cellPlan(int layer, int cls) const;
    bool isOverridden(int layer, int cls) const;
    int overrideCount() const;
    void resetOverrides();
    QAction* resetOverridesAction() const { return m_resetAction; }

    BitwidthConfig config() const;

    // Free text under the grid, e.g. "Energy per step 1.9 mJ, area 0.42 mm^2".
    void setCostText(const QString& text);
    QString costText() const;

    QLineEdit* patternEdit() const { return m_edit; }
    QTableWidget* grid() const { return m_grid; }

Q_SIGNALS:
    void configChanged(const bitbench::widgets::BitwidthConfig& config);
    // The pattern field's text (typed or given to setPattern) was accepted and applied.
    void patternApplied(const QString& pattern);

private:
    void onTextEdited(const QString& text);
    void onItemChanged(QTableWidgetItem* item);
    void applyCellEdit(int layer, int cls, const CellQuant& q);
    void setPatternCells(const std::array<CellQuant, kClassCount>& cells);
    void foldColumns();
    void showError(const QString& message);
    void rebuildGrid();
    void refreshCells();
    void refreshExtraColumn();
    void emitIfChanged();

    QLineEdit* m_edit = nullptr;
    QLabel* m_error = nullptr;
    QTableWidget* m_grid = nullptr;
    QPushButton* m_resetButton = nullptr;
    QAction* m_resetAction = nullptr;
    QLabel* m_cost = nullptr;
    Validator m_validator;

    QString m_pattern;
    std::array<CellQuant, kClassCount> m_patternQuant{};
    QStringList m_layers;
    QVector<std::array<CellQuant, kClassCount>> m_cells;
    QVector<std::array<CellPlan, kClassCount>> m_plans;
    QVector<QuantFamilyChoice> m_families;
    class QuantCellDelegate* m_delegate = nullptr;
    QVector<std::array<bool, kClassCount>> m_override;
    BitwidthConfig m_lastEmitted;
    QString m_extraTitle, m_extraTip;
    QVector<CellQuant> m_extra;
    bool m_updating = false;
};

} // namespace bitbench::widgets
