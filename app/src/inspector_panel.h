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
class QTableWidget;
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
    void setPlans(std::vector<std::array<QuantPlan, kQuantClassCount>> plans);
    // The plan drawn for (layer, class); nullptr when there is none. Classes in QuantClass order:
    // W, A, G, E, E_grad (the weight gradient's copy of E, when it is quantized apart from E).
    const QuantPlan* plan(int layer, int cls) const;
    // The plan table of the selected layer: one row per class (E_grad only when some layer
    // quantizes it apart from E), columns inspector_plan_columns(). "" for an empty cell.
    QString planCell(int cls, int column) const;
    bool eGradShown() const;
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
    static int key(int layer, int cls) { return layer * kQuantClassCount + cls; }
    void showSelected(bool rebuildHistory);
    QTableWidget* makePlanTable();
    void showPlanTable();
    void drawMaxAbs(const History* h);

    QComboBox* m_layer = nullptr;
    QButtonGroup* m_class = nullptr;
    QTableWidget* m_planTable = nullptr;
    widgets::HistogramView* m_view = nullptr;
    // max|x| before quantization over steps, on its own log axis in the view's statistics plot:
    // it shows when a scale (Shift(max)) is about to change.
    QCPAxis* m_maxAxis = nullptr;
    QCPGraph* m_maxGraph = nullptr;
    QHash<int, History> m_history;
    std::vector<std::array<QuantPlan, kQuantClassCount>> m_plans;
};

// Conversions from the core's statistics to the widgets' plain structs.
widgets::HistogramData inspector_histogram(const Histogram& h);
widgets::QuantStats inspector_stats(const TensorStats& s);

// The plan table's columns: family, scale, zero point, clip min, clip max, clamped low, clamped
// high (the shares of the last apply's elements clamped to the lowest and highest code).
QStringList inspector_plan_columns();
// One class's row from its plan (several groups: the range over groups); "" where the family has
// no such figure (zero points and clamp counts are affine's). Empty plan: all "".
QStringList inspector_plan_row(const QuantPlan& plan);

} // namespace bitbench
