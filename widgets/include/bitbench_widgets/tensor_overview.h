// TensorOverview: small multiples of every layer's W, A, G, E histograms with problem flags.
#pragma once

#include <QVector>
#include <QWidget>

namespace bitbench::widgets {

// One tensor's summary: a histogram sparkline and its saturation/underflow fractions (0..1).
struct TensorCell {
    double lo = 0.0;
    double hi = 0.0;
    QVector<double> counts;
    double saturation = 0.0;
    double underflow = 0.0;
};

enum class TensorFlag { None, Underflow, Saturation, Both };

// Saturation takes precedence in colour (red) over underflow (orange); both draws both frames.
class TensorOverview : public QWidget {
    Q_OBJECT
public:
    static constexpr double kDefaultSaturationThreshold = 0.05;
    static constexpr double kDefaultUnderflowThreshold = 0.50;

    explicit TensorOverview(QWidget* parent = nullptr);

    // Rows; cells without data stay empty ("no data").
    void setLayers(const QStringList& names);
    QStringList layers() const { return m_layers; }
    void setCell(int layer, int cls, const TensorCell& cell);
    void clearCells();
    bool hasCell(int layer, int cls) const;

    // A cell is flagged when its fraction is strictly above the threshold.
    void setThresholds(double saturation, double underflow);
    double saturationThreshold() const { return m_satThreshold; }
    double underflowThreshold() const { return m_underThreshold; }
    TensorFlag flag(int layer, int cls) const;

    // Cell under a widget position as (layer, class), or (-1, -1).
    QPair<int, int> cellAt(const QPoint& pos) const;
    QRect cellRect(int layer, int cls) const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

Q_SIGNALS:
    void cellClicked(int layer, int cls);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    bool event(QEvent* event) override;

private:
    struct Slot {
        bool present = false;
        TensorCell cell;
    };
    int labelWidth() const;
    int headerHeight() const;
    QRect gridRect() const;
    const Slot* slot(int layer, int cls) const;

    QStringList m_layers;
    QVector<Slot> m_slots; // layer-major, 4 per layer
    double m_satThreshold = kDefaultSaturationThreshold;
    double m_underThreshold = kDefaultUnderflowThreshold;
    QPair<int, int> m_hover{-1, -1};
};

} // namespace bitbench::widgets
