// The runs table: one row per stored run with derived figures, plus its filter and sort model.
#pragma once

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QString>

#include <cstdint>
#include <vector>

namespace bitbench {

// What the browser, compare, Pareto and sweep views show about a run. Figures that are not known
// (no epoch yet, config the cost model cannot price) are NaN.
struct RunRow {
    qint64 id = 0;
    QString name;
    QString bits;
    QString model;
    QString dataset;
    QString dataDir;    // the folder the run read its data from; empty for generated data
    int dataFiles = -1; // data files fingerprinted with the run; -1 when stored without
    QString status;
    QString statusMessage; // why a run diverged or failed (the Status column's tooltip)
    int epochs = 0;
    double bestTestError = qQNaN();   // fraction
    double finalTestError = qQNaN();  // fraction
    double imagesPerSecond = qQNaN(); // mean over stored epochs
    double trainStepEnergyPj = qQNaN();
    double inferenceEnergyPj = qQNaN();
    double trainAreaUm2 = qQNaN();
    double inferenceAreaUm2 = qQNaN();
    int totalBits = 0; // W+A+G+E of the base pattern, float counted as 32
    QString startedAt;
    QString configHash;
    QString resolvedConfigJson;
};

// Rows keyed by run id. setRows() updates in place (rows that stay keep their selection).
class RunsTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        Id,
        Name,
        Bits,
        Model,
        Dataset,
        Status,
        Epochs,
        BestError,
        FinalError,
        ImagesPerS,
        Energy,
        Started,
        ColumnCount
    };
    // The raw value for sorting (numbers as double, unknown numbers sort last) and the run id.
    static constexpr int kSortRole = Qt::UserRole;
    static constexpr int kRunIdRole = Qt::UserRole + 1;

    explicit RunsTableModel(QObject* parent = nullptr);

    void setRows(std::vector<RunRow> rows);
    const std::vector<RunRow>& rows() const { return m_rows; }
    // nullptr when the id is not in the table.
    const RunRow* rowById(qint64 id) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    std::vector<RunRow> m_rows;
};

// Text filter (id, name, bits, model, dataset, status; case-insensitive substring) and exact
// filters on status, model and bits (empty = any). Sorts numbers as numbers.
class RunsFilterModel : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit RunsFilterModel(QObject* parent = nullptr);

    void setText(const QString& text);
    void setStatus(const QString& status);
    void setModelName(const QString& model);
    void setBits(const QString& bits);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

private:
    QString m_text, m_status, m_model, m_bits;
};

// "0.43 %" for a fraction; empty for NaN.
QString runs_format_percent(double fraction);

} // namespace bitbench
