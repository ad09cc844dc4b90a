// RunsBrowser: filter bar, live table, and the actions on selected runs.
#include "runs_browser.h"

#include "export_files.h"
#include "runs_database.h"
#include "runs_model.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSet>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>

namespace bitbench {

RunsBrowser::RunsBrowser(RunsDatabase* db, QWidget* parent) : QWidget(parent), m_db(db) {
    m_model = new RunsTableModel(this);
    m_filter = new RunsFilterModel(this);
    m_filter->setSourceModel(m_model);

    m_banner = new QLabel;
    m_banner->setWordWrap(true);
    m_banner->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_banner->setContentsMargins(6, 4, 6, 4);

    m_text = new QLineEdit;
    m_text->setPlaceholderText(tr("Filter: name, bits, model, run id…"));
    m_text->setClearButtonEnabled(true);
    m_status = new QComboBox;
    m_modelBox = new QComboBox;
    m_bits = new QComboBox;
    fillCombo(m_status, {});
    fillCombo(m_modelBox, {});
    fillCombo(m_bits, {});
    m_count = new QLabel;
    auto* filters = new QHBoxLayout;
    filters->addWidget(m_text, 3);
    filters->addWidget(new QLabel(tr("Status")));
    filters->addWidget(m_status, 1);
    filters->addWidget(new QLabel(tr("Model")));
    filters->addWidget(m_modelBox, 1);
    filters->addWidget(new QLabel(tr("Bits")));
    filters->addWidget(m_bits, 1);
    filters->addWidget(m_count);

    m_view = new QTableView;
    m_view->setModel(m_filter);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(RunsTableModel::Id, Qt::DescendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setAlternatingRowColors(true);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 8);
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_view->setWordWrap(false);

    m_compare = new QPushButton(tr("Compare"));
    m_compare->setToolTip(tr("Overlay the curves of the selected runs and diff their configs"));
    m_replay = new QPushButton(tr("Replay…"));
    m_sweep = new QPushButton(tr("Sweep from run…"));
    m_rename = new QPushButton(tr("Rename…"));
    m_delete = new QPushButton(tr("Delete…"));
    m_export = new QPushButton(tr("Export table…"));
    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : {m_compare, m_replay, m_sweep})
        buttons->addWidget(b);
    buttons->addStretch(1);
    for (QPushButton* b : {m_rename, m_delete, m_export})
        buttons->addWidget(b);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_banner);
    layout->addLayout(filters);
    layout->addWidget(m_view, 1);
    layout->addLayout(buttons);

    connect(m_text, &QLineEdit::textChanged, m_filter, &RunsFilterModel::setText);
    connect(m_status, &QComboBox::currentIndexChanged, this,
            [this] { m_filter->setStatus(m_status->currentData().toString()); });
    connect(m_modelBox, &QComboBox::currentIndexChanged, this,
            [this] { m_filter->setModelName(m_modelBox->currentData().toString()); });
    connect(m_bits, &QComboBox::currentIndexChanged, this,
            [this] { m_filter->setBits(m_bits->currentData().toString()); });
    connect(m_filter, &QAbstractItemModel::rowsInserted, this, &RunsBrowser::updateButtons);
    connect(m_filter, &QAbstractItemModel::rowsRemoved, this, &RunsBrowser::updateButtons);
    connect(m_filter, &QAbstractItemModel::modelReset, this, &RunsBrowser::updateButtons);
    connect(m_filter, &QAbstractItemModel::layoutChanged, this, &RunsBrowser::updateButtons);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &RunsBrowser::updateButtons);
    connect(m_view, &QTableView::doubleClicked, this, [this](const QModelIndex& i) {
        Q_EMIT compareRequested({i.data(RunsTableModel::kRunIdRole).toLongLong()});
    });
    connect(m_compare, &QPushButton::clicked, this,
            [this] { Q_EMIT compareRequested(selectedRuns()); });
    connect(m_replay, &QPushButton::clicked, this, [this] {
        const auto ids = selectedRuns();
        if (!ids.isEmpty()) Q_EMIT replayRequested(ids.front());
    });
    connect(m_sweep, &QPushButton::clicked, this, [this] {
        const auto ids = selectedRuns();
        Q_EMIT sweepRequested(ids.isEmpty() ? 0 : ids.front());
    });
    connect(m_rename, &QPushButton::clicked, this, [this] { renameSelected(); });
    connect(m_delete, &QPushButton::clicked, this, [this] { deleteSelected(); });
    connect(m_export, &QPushButton::clicked, this, [this] {
        export_table_interactive(this, export_table_from_model(m_filter), QStringLiteral("runs"));
    });
    connect(m_db, &RunsDatabase::rowsChanged, this, &RunsBrowser::onRowsChanged);
    connect(m_db, &RunsDatabase::opened, this, &RunsBrowser::updateBanner);
    connect(m_db, &RunsDatabase::closed, this, &RunsBrowser::updateBanner);
    connect(m_db, &RunsDatabase::errorOccurred, this, [this](const QString& m) {
        m_banner->setText(m);
        m_banner->setStyleSheet(
            QStringLiteral("background:#fde2e1; color:#7a1010; border-radius:3px;"));
    });
    onRowsChanged();
    updateBanner();
}

void RunsBrowser::fillCombo(QComboBox* box, const QStringList& values) {
    const QString current = box->currentData().toString();
    const QSignalBlocker block(box);
    box->clear();
    box->addItem(tr("any"), QString());
    for (const QString& v : values)
        box->addItem(v, v);
    const int i = box->findData(current);
    box->setCurrentIndex(i < 0 ? 0 : i);
    if (i < 0 && !current.isEmpty())
        Q_EMIT box->currentIndexChanged(0); // the filtered value is gone
}

void RunsBrowser::onRowsChanged() {
    m_model->setRows(m_db->rows());
    QSet<QString> statuses, models, bits;
    for (const RunRow& r : m_db->rows()) {
        statuses << r.status;
        models << r.model;
        bits << r.bits;
    }
    auto sorted = [](const QSet<QString>& s) {
        QStringList l(s.begin(), s.end());
        std::sort(l.begin(), l.end());
        return l;
    };
    fillCombo(m_status, sorted(statuses));
    fillCombo(m_modelBox, sorted(models));
    fillCombo(m_bits, sorted(bits));
    updateButtons();
}

void RunsBrowser::updateBanner() {
    if (!m_db->isOpen()) {
        m_banner->setText(tr("No run database is open."));
        m_banner->setStyleSheet(QStringLiteral("background:#eeeeee; border-radius:3px;"));
    } else if (m_db->readOnly()) {
        m_banner->setText(
            tr("<b>%1</b> is open <b>read-only</b>: %2. Runs can be viewed, compared and exported, "
               "not renamed or deleted.")
                .arg(m_db->path().toHtmlEscaped(), m_db->readOnlyReason().toHtmlEscaped()));
        m_banner->setStyleSheet(
            QStringLiteral("background:#fff4d6; color:#5a4300; border-radius:3px;"));
    } else {
        m_banner->setText(tr("<b>%1</b> — updates live while runs are written.")
                              .arg(m_db->path().toHtmlEscaped()));
        m_banner->setStyleSheet(QStringLiteral("background:#e6f0fa; border-radius:3px;"));
    }
    updateButtons();
}

void RunsBrowser::updateButtons() {
    const int n = int(selectedRuns().size());
    const bool writable = m_db->isOpen() && !m_db->readOnly();
    m_compare->setEnabled(n >= 1);
    m_replay->setEnabled(n == 1);
    m_sweep->setEnabled(m_db->isOpen());
    m_rename->setEnabled(n == 1 && writable);
    m_delete->setEnabled(n >= 1 && writable);
    m_export->setEnabled(m_filter->rowCount() > 0);
    m_count->setText(tr("%1 of %2 runs").arg(m_filter->rowCount()).arg(m_model->rowCount()));
}

QList<qint64> RunsBrowser::selectedRuns() const {
    QList<qint64> ids;
    QModelIndexList rows = m_view->selectionModel()->selectedRows();
    std::sort(rows.begin(), rows.end(),
              [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
    for (const QModelIndex& i : rows)
        ids << i.data(RunsTableModel::kRunIdRole).toLongLong();
    return ids;
}

void RunsBrowser::selectRuns(const QList<qint64>& ids) {
    QItemSelection sel;
    for (int r = 0; r < m_filter->rowCount(); ++r) {
        const QModelIndex i = m_filter->index(r, 0);
        if (ids.contains(i.data(RunsTableModel::kRunIdRole).toLongLong()))
            sel.select(i, m_filter->index(r, RunsTableModel::ColumnCount - 1));
    }
    m_view->selectionModel()->select(sel, QItemSelectionModel::ClearAndSelect |
                                              QItemSelectionModel::Rows);
}

bool RunsBrowser::renameSelected(const QString& name, bool confirm) {
    const auto ids = selectedRuns();
    if (ids.size() != 1) return false;
    const RunRow* row = m_model->rowById(ids.front());
    QString newName = name;
    if (confirm) {
        bool ok = false;
        newName = QInputDialog::getText(this, tr("Rename run %1").arg(ids.front()), tr("New name:"),
                                        QLineEdit::Normal, row ? row->name : QString(), &ok);
        if (!ok) return false;
    }
    newName = newName.trimmed();
    if (newName.isEmpty()) return false;
    QString why;
    if (!m_db->renameRun(ids.front(), newName, &why)) {
        if (confirm) QMessageBox::warning(this, tr("Rename failed"), why);
        return false;
    }
    return true;
}

bool RunsBrowser::deleteSelected(bool confirm) {
    const auto ids = selectedRuns();
    if (ids.isEmpty()) return false;
    if (confirm) {
        QStringList names;
        for (qint64 id : ids)
            if (const RunRow* r = m_model->rowById(id))
                names << QStringLiteral("%1 (%2, %3)").arg(id).arg(r->name, r->bits);
        const auto answer =
            QMessageBox::question(this, tr("Delete runs"),
                                  tr("Delete %n run(s) and everything stored for them (curves, "
                                     "histograms, checkpoints)? This cannot be undone.\n\n%1",
                                     nullptr, int(ids.size()))
                                      .arg(names.mid(0, 12).join(QLatin1Char('\n')) +
                                           (names.size() > 12 ? QStringLiteral("\n…") : QString())),
                                  QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
        if (answer != QMessageBox::Yes) return false;
    }
    for (qint64 id : ids) {
        QString why;
        if (!m_db->deleteRun(id, &why)) {
            if (confirm) QMessageBox::warning(this, tr("Delete failed"), why);
            return false;
        }
    }
    return true;
}

bool RunsBrowser::exportTable(const QString& path, QString* error) {
    return export_table_write(export_table_from_model(m_filter), path, error);
}

} // namespace bitbench
