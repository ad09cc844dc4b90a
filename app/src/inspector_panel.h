// InspectorPanel: one tensor's live histograms and statistics over steps, chosen by layer and class.
#pragma once

#include "bitbench/observer.h"
#include "bitbench/quant.h"

#include "bitbench_widgets/histogram_view.h"

#include <QHash>
#include <QWidget>

#include <array>
#include <vector>

class QButtonGroup;
class QComboBox;
class QCPAxis;
class QCPGraph;

namespace bitbench {

class InspectorPanel : public QWidget {
    Q_OBJECT
public:
    explicit InspectorPanel(QWidget* parent = nullptr);

    // New model: forgets all statistics.
    void setLayers(const QStringList& names);
    void select(int layer, int cls);
    int selectedLayer() const;
    int selectedClass() const;

    // A statistics step of every tensor (trainer order); the view redraws if its tensor is in it.
    void addStats(const std::vector<TensorStats>& stats);
    void clear();
    // The quantizer plans of the newest statistics step, per layer and class: the view draws
    // their levels and clip range (instead of the statistics' own step and range).
    void setPlans(std::vector<std::array<QuantPlan, 4>> plans);
    // The plan drawn for (layer, class); nullptr when there is none.
    const QuantPlan* plan(int layer, int cls) const;
    // Statistics steps seen for (layer, class).
    int historySize(int layer, int cls) const;

    widgets::HistogramView* view() const { return m_view; }

private:
    struct History {
        QVector<double> steps;
        QVector<widgets::QuantStats> stats;
        QVector<double> maxAbs;
        TensorStats latest;
        bool present = false;
    };
    static int key(int layer, int cls) { return layer * 4 + cls; }
    void showSelected(bool rebuildHistory);
    void drawMaxAbs(const History* h);

    QComboBox* m_layer = nullptr;
    QButtonGroup* m_class = nullptr;
    widgets::HistogramView* m_view = nullptr;
    // max|x| before quantization over steps, on its own log axis in the view's statistics plot:
    // it shows when a scale (Shift(max)) is about to change.
    QCPAxis* m_maxAxis = nullptr;
    QCPGraph* m_maxGraph = nullptr;
    QHash<int, History> m_history;
    std::vector<std::array<QuantPlan, 4>> m_plans;
};

// Conversions from the core's statistics to the widgets' plain structs.
widgets::HistogramData inspector_histogram(const Histogram& h);
widgets::QuantStats inspector_stats(const TensorStats& s);

} // namespace bitbench
