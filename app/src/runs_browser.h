// The runs browser: every run of the open database in a sortable, filterable, live table.
#pragma once

#include <QList>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableView;

namespace bitbench {

class RunsDatabase;
class RunsFilterModel;
class RunsTableModel;

class RunsBrowser : public QWidget {
    Q_OBJECT
public:
    explicit RunsBrowser(RunsDatabase* db, QWidget* parent = nullptr);

    RunsTableModel* tableModel() const { return m_model; }
    RunsFilterModel* filterModel() const { return m_filter; }
    QTableView* view() const { return m_view; }
    QLineEdit* filterEdit() const { return m_text; }
    QComboBox* statusFilter() const { return m_status; }
    QComboBox* modelFilter() const { return m_modelBox; }
    QComboBox* bitsFilter() const { return m_bits; }
    QLabel* banner() const { return m_banner; }

    // Run ids of the selected rows, in view order.
    QList<qint64> selectedRuns() const;
    void selectRuns(const QList<qint64>& ids);

    // With confirmation unless `confirm` is false (tests, automation).
    bool renameSelected(const QString& name = {}, bool confirm = true);
    bool deleteSelected(bool confirm = true);
    // Writes the table as shown; format by extension. false with *error.
    bool exportTable(const QString& path, QString* error = nullptr);

Q_SIGNALS:
    void compareRequested(const QList<qint64>& ids);
    void replayRequested(qint64 id);
    void sweepRequested(qint64 baseRunId);
    void openDatabaseRequested();

private:
    void onRowsChanged();
    void updateBanner();
    void updateButtons();
    void fillCombo(QComboBox* box, const QStringList& values);

    RunsDatabase* m_db;
    RunsTableModel* m_model;
    RunsFilterModel* m_filter;
    QTableView* m_view;
    QLineEdit* m_text;
    QComboBox* m_status;
    QComboBox* m_modelBox;
    QComboBox* m_bits;
    QLabel* m_banner;
    QLabel* m_count;
    QPushButton* m_compare;
    QPushButton* m_replay;
    QPushButton* m_rename;
    QPushButton* m_delete;
    QPushButton* m_export;
    QPushButton* m_sweep;
};

} // namespace bitbench
