// CurvePlot: live training curves with incremental EMA smoothing, log scale, crosshair and follow.
#pragma once

#include <QColor>
#include <QVector>
#include <QWidget>

#include <vector>

class QCheckBox;
class QCPGraph;
class QCPItemStraightLine;
class QCPItemTracer;
class QCustomPlot;
class QLabel;
class QSlider;

namespace bitbench::widgets {

// Exponential moving average in the TensorBoard form: s_n = w s_(n-1) + (1-w) y_n, divided by
// (1 - w^n) so the start is not pulled towards zero. Non-finite inputs pass through and do not
// disturb the state (a diverged step should show, not poison the rest of the curve).
class EmaSmoother {
public:
    explicit EmaSmoother(double weight = 0.0) : m_weight(weight) {}
    double weight() const { return m_weight; }
    void reset() { m_sum = 0.0, m_decay = 1.0; }
    double push(double y);

private:
    double m_weight;
    double m_sum = 0.0;
    double m_decay = 1.0; // w^n
};

// Series are added by name and fed in batches; nothing is drawn until flush(), which replots once,
// so a caller that coalesces events (e.g. every 30 ms) pays one replot per batch. While "follow"
// is on, flush() fits the axes to all data; zooming or panning with the mouse turns it off, a
// double click or the checkbox turns it back on.
class CurvePlot : public QWidget {
    Q_OBJECT
public:
    explicit CurvePlot(QWidget* parent = nullptr);
    ~CurvePlot() override;

    // Returns the id to append to. An invalid colour picks the next palette colour.
    int addSeries(const QString& name, const QColor& colour = QColor());
    int seriesCount() const { return int(m_series.size()); }
    QString seriesName(int seriesId) const;

    // requires: x and y of equal size. Batches sorted by x and starting at or after the last x
    // take the fast path (no re-sort); anything else is merged correctly, only slower.
    void appendPoints(int seriesId, const QVector<double>& x, const QVector<double>& y);
    void clearSeries(int seriesId);
    int pointCount(int seriesId) const;

    void setXLabel(const QString& label);
    void setYLabel(const QString& label);

    void setLogScale(bool on);
    bool logScale() const { return m_logScale; }

    // EMA weight in [0, 0.999]; 0 shows the raw curves only.
    void setSmoothing(double weight);
    double smoothing() const { return m_smoothing; }
    // Sparse series (test error once per epoch) read better unsmoothed: the weight is per point,
    // so it would lag by epochs there. On by default.
    void setSeriesSmoothed(int seriesId, bool on);
    bool seriesSmoothed(int seriesId) const;

    void setFollow(bool on);
    bool follow() const { return m_follow; }

    // Replots once (and fits the axes while following).
    void flush();

    // Places the crosshair at the data point nearest to x and fills the readout.
    void showCrosshairAt(double x);
    void hideCrosshair();
    QString readoutText() const;

    QCustomPlot* plot() const { return m_plot; }
    QCPGraph* rawGraph(int seriesId) const;
    QCPGraph* smoothedGraph(int seriesId) const;

Q_SIGNALS:
    void followChanged(bool on);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    struct Series {
        QString name;
        QColor colour;
        QCPGraph* raw = nullptr;
        QCPGraph* smooth = nullptr;
        QCPItemTracer* tracer = nullptr;
        EmaSmoother ema;
        bool smoothEnabled = true;
        double yMin, yMax, yMinPositive; // running extents: fitting never rescans the data
        double sMinPositive;             // the EMA of data with zeros dips below yMinPositive
        double xMin, xMax;
    };

    bool validId(int id) const { return id >= 0 && id < int(m_series.size()); }
    bool isSmoothed(const Series& s) const { return m_smoothing > 0.0 && s.smoothEnabled; }
    void recomputeSmoothed(Series& s);
    void applySeriesLook(Series& s);
    void rebuildLegend();
    void fitAxes();
    void setFollowInternal(bool on, bool fromUser);

    QCustomPlot* m_plot = nullptr;
    QSlider* m_smoothSlider = nullptr;
    QLabel* m_smoothValue = nullptr;
    QCheckBox* m_logBox = nullptr;
    QCheckBox* m_followBox = nullptr;
    QLabel* m_readout = nullptr;
    QCPItemStraightLine* m_crossV = nullptr;
    std::vector<Series> m_series;
    double m_smoothing = 0.0;
    bool m_logScale = false;
    bool m_follow = true;
    bool m_dragging = false;
    bool m_settingRange = false;
    bool m_userMovedRange = false;
};

} // namespace bitbench::widgets
