// CurvesPanel: live loss and error curves (train per step, test per epoch) against step or epoch.
#pragma once

#include "bitbench/observer.h"

#include <QWidget>

#include <vector>

class QComboBox;

namespace bitbench {

namespace widgets {
class CurvePlot;
}

class CurvesPanel : public QWidget {
    Q_OBJECT
public:
    enum class Axis { Step = 0, Epoch = 1 };

    explicit CurvesPanel(QWidget* parent = nullptr);

    // New run: forgets the data. stepsPerEpoch converts steps to (fractional) epochs; batch turns
    // the trainer's summed batch loss into a per-image loss comparable with the test loss.
    void reset(qint64 stepsPerEpoch, int batch);
    void setAxis(Axis axis);
    Axis axis() const { return m_axis; }

    // Appends without drawing; flush() replots both plots once.
    void append(const std::vector<StepMetrics>& steps, const std::vector<EpochMetrics>& epochs);
    void flush();
    qint64 replotCount() const { return m_replots; }

    widgets::CurvePlot* lossPlot() const { return m_loss; }
    widgets::CurvePlot* errorPlot() const { return m_error; }
    int trainLossSeries() const { return m_sLoss; }
    int trainErrorSeries() const { return m_sTrainErr; }
    int testErrorSeries() const { return m_sTestErr; }

Q_SIGNALS:
    void axisChanged(bitbench::CurvesPanel::Axis axis);

private:
    double xOf(double step) const;
    void rebuild();
    void appendToPlots(const std::vector<StepMetrics>& steps, const std::vector<EpochMetrics>& epochs);

    QComboBox* m_axisBox = nullptr;
    widgets::CurvePlot* m_loss = nullptr;
    widgets::CurvePlot* m_error = nullptr;
    int m_sLoss = -1, m_sTrainErr = -1, m_sTestLoss = -1, m_sTestErr = -1, m_sEpochTrainErr = -1;
    Axis m_axis = Axis::Step;
    qint64 m_stepsPerEpoch = 1;
    double m_batch = 1;
    std::vector<StepMetrics> m_steps;   // kept to redraw when the axis changes
    std::vector<EpochMetrics> m_epochs;
    qint64 m_replots = 0;
};

} // namespace bitbench
