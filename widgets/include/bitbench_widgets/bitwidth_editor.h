// BitwidthEditor: a W-A-G-E pattern field kept in sync with a per-layer grid of bitwidths.
#pragma once

#include "bitbench_widgets/bitwidth_pattern.h"

#include <QColor>
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
// field always describes the common case).
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

    // Same as editing a cell: the value becomes an override unless it equals the pattern's.
    void setCellBits(int layer, int cls, int bits);
    int cellBits(int layer, int cls) const;
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

private:
    void onTextEdited(const QString& text);
    void onItemChanged(QTableWidgetItem* item);
    void applyCellEdit(int layer, int cls, int bits);
    void foldColumns();
    void showError(const QString& message);
    void rebuildGrid();
    void refreshCells();
    void emitIfChanged();

    QLineEdit* m_edit = nullptr;
    QLabel* m_error = nullptr;
    QTableWidget* m_grid = nullptr;
    QPushButton* m_resetButton = nullptr;
    QAction* m_resetAction = nullptr;
    QLabel* m_cost = nullptr;
    Validator m_validator;

    QString m_pattern;
    ClassBits m_patternBits{};
    QStringList m_layers;
    QVector<ClassBits> m_bits;
    QVector<std::array<bool, kClassCount>> m_override;
    BitwidthConfig m_lastEmitted;
    bool m_updating = false;
};

} // namespace bitbench::widgets
