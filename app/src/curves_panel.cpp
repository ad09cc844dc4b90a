// CurvesPanel: series setup, step/epoch axis, batched appends with one replot per flush.
#include "curves_panel.h"

#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/qcp.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSplitter>
#include <QVBoxLayout>

namespace bitbench {

CurvesPanel::CurvesPanel(QWidget* parent) : QWidget(parent) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(4, 4, 4, 0);
    v->setSpacing(2);
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("x axis")));
    m_axisBox = new QComboBox;
    m_axisBox->addItems({tr("step"), tr("epoch")});
    bar->addWidget(m_axisBox);
    bar->addStretch(1);
    v->addLayout(bar);
    auto* split = new QSplitter(Qt::Horizontal);
    m_loss = new widgets::CurvePlot;
    m_error = new widgets::CurvePlot;
    // Polylines drawn in one call: the same picture for solid pens at a fraction of the cost of
    // segment-by-segment drawing, which matters at 30 replots per second next to a busy trainer.
    for (widgets::CurvePlot* p : {m_loss, m_error}) p->plot()->setPlottingHint(QCP::phFastPolylines, true);
    split->addWidget(m_loss);
    split->addWidget(m_error);
    v->addWidget(split, 1);

    m_sLoss = m_loss->addSeries(tr("train loss (batch)"));
    m_sTestLoss = m_loss->addSeries(tr("test loss"));
    m_loss->setSeriesSmoothed(m_sTestLoss, false);
    m_loss->setYLabel(tr("loss per image"));
    m_loss->setLogScale(true);
    m_loss->setSmoothing(0.9);
    m_sTrainErr = m_error->addSeries(tr("train error (batch)"));
    m_sEpochTrainErr = m_error->addSeries(tr("train error (epoch)"));
    m_sTestErr = m_error->addSeries(tr("test error"));
    m_error->setSeriesSmoothed(m_sEpochTrainErr, false);
    m_error->setSeriesSmoothed(m_sTestErr, false);
    m_error->setYLabel(tr("error (%)"));
    m_error->setLogScale(true);
    m_error->setSmoothing(0.9);
    setAxis(Axis::Step);
    connect(m_axisBox, &QComboBox::currentIndexChanged, this, [this](int i) {
        setAxis(Axis(i));
        Q_EMIT axisChanged(m_axis);
    });
}

void CurvesPanel::reset(qint64 stepsPerEpoch, int batch) {
    m_stepsPerEpoch = std::max<qint64>(1, stepsPerEpoch);
    m_batch = std::max(1, batch);
    m_steps.clear();
    m_epochs.clear();
    rebuild();
}

void CurvesPanel::setAxis(Axis axis) {
    m_axis = axis;
    {
        const QSignalBlocker block(m_axisBox);
        m_axisBox->setCurrentIndex(int(axis));
    }
    const QString label = axis == Axis::Step ? tr("step") : tr("epoch");
    m_loss->setXLabel(label);
    m_error->setXLabel(label);
    rebuild();
}

double CurvesPanel::xOf(double step) const {
    return m_axis == Axis::Step ? step : step / double(m_stepsPerEpoch);
}

void CurvesPanel::rebuild() {
    for (int s : {m_sLoss, m_sTestLoss}) m_loss->clearSeries(s);
    for (int s : {m_sTrainErr, m_sEpochTrainErr, m_sTestErr}) m_error->clearSeries(s);
    appendToPlots(m_steps, m_epochs);
    flush();
}

void CurvesPanel::append(const std::vector<StepMetrics>& steps, const std::vector<EpochMetrics>& epochs) {
    m_steps.insert(m_steps.end(), steps.begin(), steps.end());
    m_epochs.insert(m_epochs.end(), epochs.begin(), epochs.end());
    appendToPlots(steps, epochs);
}

void CurvesPanel::appendToPlots(const std::vector<StepMetrics>& steps, const std::vector<EpochMetrics>& epochs) {
    if (!steps.empty()) {
        QVector<double> x, loss, err;
        x.reserve(qsizetype(steps.size()));
        loss.reserve(x.capacity());
        err.reserve(x.capacity());
        for (const auto& s : steps) {
            // Plotted at the end of the step, so step n's point and epoch ends line up.
            x.push_back(xOf(double(s.step + 1)));
            loss.push_back(s.loss / m_batch);
            err.push_back(100.0 * s.error);
        }
        m_loss->appendPoints(m_sLoss, x, loss);
        m_error->appendPoints(m_sTrainErr, x, err);
    }
    if (!epochs.empty()) {
        QVector<double> x, testLoss, testErr, trainErr;
        for (const auto& e : epochs) {
            x.push_back(xOf(double(e.step)));
            testLoss.push_back(e.testLoss);
            testErr.push_back(100.0 * e.testError);
            trainErr.push_back(100.0 * e.trainError);
        }
        m_loss->appendPoints(m_sTestLoss, x, testLoss);
        m_error->appendPoints(m_sTestErr, x, testErr);
        m_error->appendPoints(m_sEpochTrainErr, x, trainErr);
    }
}

void CurvesPanel::flush() {
    m_loss->flush();
    m_error->flush();
    ++m_replots;
}

} // namespace bitbench
