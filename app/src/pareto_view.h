// Pareto view: test error against a cost (energy, area or bits) per run, the front drawn,
// each point labelled with its pattern; a click opens the run.
#pragma once

#include <QPointF>
#include <QVector>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;

namespace bitbench {

class RunsDatabase;
struct RunRow;

class ParetoView : public QWidget {
    Q_OBJECT
public:
    enum class Cost { TrainEnergy, InferenceEnergy, TrainArea, InferenceArea, TotalBits };
    enum class ErrorKind { Best, Final };

    explicit ParetoView(RunsDatabase* db, QWidget* parent = nullptr);

    void setCost(Cost c);
    void setErrorKind(ErrorKind e);
    // Rebuilds the plot from the database's rows (also done on every change of the rows).
    void rebuild();

    QCustomPlot* plot() const { return m_plot; }
    // The plotted runs and which of them are on the front (run ids, front in cost order).
    const QVector<qint64>& pointRuns() const { return m_runs; }
    const QVector<qint64>& frontRuns() const { return m_front; }
    // (cost, error in percent) of the i-th plotted run.
    QPointF pointValue(qsizetype i) const { return {m_x[i], m_y[i]}; }
    // The run whose point is within a few pixels of `pixel`, else 0.
    qint64 runAt(const QPointF& pixel) const;

    QStringList exportPaperFigure(const QString& basePath, QString* error = nullptr);

Q_SIGNALS:
    void runActivated(qint64 runId);

private:
    double costOf(const RunRow& r) const;

    RunsDatabase* m_db;
    QComboBox* m_cost;
    QComboBox* m_error;
    QComboBox* m_model;
    QCheckBox* m_finishedOnly;
    QCheckBox* m_labels;
    QLabel* m_note;
    QCustomPlot* m_plot;
    QVector<qint64> m_runs;
    QVector<double> m_x, m_y;
    QVector<qint64> m_front;
    QPointF m_pressAt;
};

} // namespace bitbench
