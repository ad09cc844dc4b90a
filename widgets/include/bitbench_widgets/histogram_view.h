// HistogramView: one tensor's value histogram with quantization levels and clipping, its
// quantization-error histogram, a statistics header and the statistics over steps.
#pragma once

#include <QVector>
#include <QWidget>

#include <limits>

class QCheckBox;
class QCPAbstractItem;
class QCPBars;
class QCPGraph;
class QCustomPlot;
class QLabel;

namespace bitbench::widgets {

// Counts over uniform bins: bin i covers [lo + i*w, lo + (i+1)*w), w = (hi - lo) / counts.size().
struct HistogramData {
    double lo = 0.0;
    double hi = 0.0;
    QVector<double> counts;
};

// The quantizer of the tensor: levels origin + k*step, values outside [clipLo, clipHi]
// saturate. step <= 0 means no level grid is known (e.g. float). `levels`, when given, are the
// levels instead of the grid (a ternary's -Wn, 0, Wp); `step` then only sets the rounding bounds.
struct QuantMarks {
    double step = 0.0;
    double clipLo = 0.0;
    double clipHi = 0.0;
    double origin = 0.0;
    QVector<double> levels{};
};

// Fractions in [0, 1]; sqnrDb NaN when unknown (e.g. an all-zero tensor).
struct QuantStats {
    double saturation = 0.0; // share of values outside the clipping range
    double underflow = 0.0;  // share of non-zero values that quantize to zero
    double sqnrDb = std::numeric_limits<double>::quiet_NaN();
    double maxAbs = 0.0;
};

struct ValueInterval {
    double lo = 0.0;
    double hi = 0.0;
    bool operator==(const ValueInterval&) const = default;
};

// Levels are marked only up to this count; beyond it they would merge into a solid band.
inline constexpr int kMaxMarkedLevels = 64;

// The levels origin + k*step within [clipLo, clipHi] (a level within 1e-9 step of a bound
// counts), ascending; empty when step <= 0 or there are more than maxLevels. Explicit
// marks.levels are returned as given (sorted), unless there are more than maxLevels.
QVector<double> histogram_quant_levels(const QuantMarks& marks, int maxLevels = kMaxMarkedLevels);

// The parts of the view [viewLo, viewHi] outside [clipLo, clipHi]: where values saturate.
QVector<ValueInterval> histogram_saturated_ranges(double viewLo, double viewHi, double clipLo,
                                                  double clipHi);

class HistogramView : public QWidget {
    Q_OBJECT
public:
    explicit HistogramView(QWidget* parent = nullptr);

    // E.g. "conv2 · A (8 bits)".
    void setTitle(const QString& title);

    // Values and the quantizer. Bins whose centre lies outside the clipping range are drawn in the
    // saturation colour.
    void setValues(const HistogramData& values, const QuantMarks& marks);
    // Histogram of x_q - x; the rounding bounds +-step/2 of the last setValues() are marked.
    void setError(const HistogramData& error);
    void setStats(const QuantStats& stats);
    QString headerText() const; // plain text of the header line

    // Statistics over training steps; each call schedules one replot.
    void appendStats(double step, const QuantStats& stats);
    void appendStats(const QVector<double>& steps, const QVector<QuantStats>& stats);
    void clearStatsHistory();

    void setLogCounts(bool on);
    bool logCounts() const { return m_logCounts; }

    // What is drawn, for checks and for the app's tooltips.
    QVector<double> levelTicks() const { return m_levels; }
    QVector<ValueInterval> shadedRanges() const { return m_shaded; }
    ValueInterval valueView() const { return m_view; }

    QCustomPlot* valuePlot() const { return m_valuePlot; }
    QCustomPlot* errorPlot() const { return m_errorPlot; }
    QCustomPlot* statsPlot() const { return m_statsPlot; }

private:
    void redrawMarks();
    void clearItems(QCustomPlot* plot, QVector<QCPAbstractItem*>& items);

    QLabel* m_header = nullptr;
    QCheckBox* m_logBox = nullptr;
    QCustomPlot* m_valuePlot = nullptr;
    QCustomPlot* m_errorPlot = nullptr;
    QCustomPlot* m_statsPlot = nullptr;
    QCPBars* m_inBars = nullptr;
    QCPBars* m_outBars = nullptr;
    QCPBars* m_errorBars = nullptr;
    QCPGraph* m_satGraph = nullptr;
    QCPGraph* m_underGraph = nullptr;
    QCPGraph* m_sqnrGraph = nullptr;
    QVector<QCPAbstractItem*> m_valueItems;
    QVector<QCPAbstractItem*> m_errorItems;
    QString m_title;
    HistogramData m_values;
    HistogramData m_error;
    QuantMarks m_marks;
    QVector<double> m_levels;
    QVector<ValueInterval> m_shaded;
    ValueInterval m_view;
    bool m_logCounts = false;
};

} // namespace bitbench::widgets
