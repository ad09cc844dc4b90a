// SweepPanel: the grid form's widgets, the queue controls and their wiring.
#include "sweep_panel.h"

#include "export_files.h"
#include "runs_database.h"

#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableWidget>
#include <QVBoxLayout>

namespace bitbench {

SweepPanel::SweepPanel(RunsDatabase* db, QWidget* parent) : QWidget(parent), m_db(db) {
    m_queue = new SweepQueue(this);
    m_name = new QLineEdit(QStringLiteral("sweep"));
    m_baseKind = new QComboBox;
    m_baseKind->addItem(tr("experiment file"));
    m_baseKind->addItem(tr("stored run"));
    m_basePath = new QLineEdit;
    m_basePath->setPlaceholderText(tr("experiments/wage-lenet5-mnist-2888.json"));
    auto* browse = new QPushButton(tr("…"));
    m_baseRun = new QSpinBox;
    m_baseRun->setRange(0, 1 << 30);
    m_baseRun->setPrefix(tr("run "));
    auto* baseRow = new QHBoxLayout;
    baseRow->addWidget(m_baseKind);
    baseRow->addWidget(m_basePath, 1);
    baseRow->addWidget(browse);
    baseRow->addWidget(m_baseRun);

    m_mode = new QComboBox;
    m_mode->addItem(tr("per class: a set of bitwidths each"), int(Mode::Classes));
    m_mode->addItem(tr("a list of patterns"), int(Mode::Patterns));
    m_mode->addItem(tr("per-layer variations"), int(Mode::Layers));
    m_modeStack = new QStackedWidget;
    auto* classes = new QWidget;
    auto* classRow = new QHBoxLayout(classes);
    classRow->setContentsMargins(0, 0, 0, 0);
    const char* names[4] = {"W", "A", "G", "E"};
    const char* defaults[4] = {"2", "8", "8", "2,4,6,8"};
    for (int c = 0; c < 4; ++c) {
        m_class[c] = new QLineEdit(QString::fromLatin1(defaults[c]));
        m_class[c]->setToolTip(
            tr("Bitwidths of %1 to try, e.g. 2,4,8 or f for float; empty keeps the base's")
                .arg(QLatin1String(names[c])));
        classRow->addWidget(new QLabel(QString::fromLatin1(names[c])));
        classRow->addWidget(m_class[c]);
    }
    m_patterns = new QLineEdit(QStringLiteral("2888, 28f8, 28C8, 288C"));
    m_layers = new QPlainTextEdit(QStringLiteral("conv1 W 2,4,8\nfc2 A 4,8"));
    m_layers->setMaximumHeight(70);
    m_modeStack->addWidget(classes);
    m_modeStack->addWidget(m_patterns);
    m_modeStack->addWidget(m_layers);
    m_modeStack->setMaximumHeight(76); // the tallest page is the layer list; the form stays compact
    m_epochs = new QSpinBox;
    m_epochs->setRange(0, 100000);
    m_epochs->setSpecialValueText(tr("as the base"));
    m_preview = new QLabel;
    m_preview->setWordWrap(true);
    m_start = new QPushButton(tr("Start / resume sweep"));
    m_stop = new QPushButton(tr("Stop"));
    m_stop->setEnabled(false);
    m_progress = new QProgressBar;
    m_progress->setRange(0, 1000);
    m_progress->setFormat(QStringLiteral("%p %"));
    m_status = new QLabel;
    m_status->setWordWrap(true);

    auto* form = new QFormLayout;
    form->addRow(tr("Name"), m_name);
    form->addRow(tr("Base"), baseRow);
    form->addRow(tr("Grid"), m_mode);
    form->addRow(QString(), m_modeStack);
    form->addRow(tr("Epochs"), m_epochs);
    auto* controls = new QHBoxLayout;
    controls->addWidget(m_start);
    controls->addWidget(m_stop);
    controls->addWidget(m_progress, 1);
    auto* build = new QGroupBox(tr("New sweep"));
    auto* buildLayout = new QVBoxLayout(build);
    buildLayout->addLayout(form);
    buildLayout->addWidget(m_preview);
    buildLayout->addLayout(controls);
    buildLayout->addWidget(m_status);

    m_sweeps = new QComboBox;
    m_heatX = new QComboBox;
    m_heatY = new QComboBox;
    for (QComboBox* b : {m_heatX, m_heatY})
        for (int c = 0; c < 4; ++c)
            b->addItem(QString::fromLatin1(names[c]), c);
    m_heatX->setCurrentIndex(3);
    m_heatY->setCurrentIndex(2);
    auto* exportTable = new QPushButton(tr("Export table…"));
    auto* exportHeat = new QPushButton(tr("Export heat map…"));
    auto* resultBar = new QHBoxLayout;
    resultBar->addWidget(new QLabel(tr("Sweep")));
    resultBar->addWidget(m_sweeps, 1);
    resultBar->addWidget(new QLabel(tr("Heat map x")));
    resultBar->addWidget(m_heatX);
    resultBar->addWidget(new QLabel(tr("y")));
    resultBar->addWidget(m_heatY);
    resultBar->addWidget(exportTable);
    resultBar->addWidget(exportHeat);
    m_results = new QTableWidget(0, 7);
    m_results->setHorizontalHeaderLabels({tr("Trial"), tr("Run"), tr("Status"), tr("Epochs"),
                                          tr("Best test err."), tr("Final test err."),
                                          tr("Images/s")});
    m_results->verticalHeader()->hide();
    m_results->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_results->horizontalHeader()->setStretchLastSection(true);
    m_heat = new QCustomPlot;
    widgets::plot_style_apply(m_heat);
    m_heat->setInteractions({});
    auto* resultSplit = new QSplitter(Qt::Horizontal);
    resultSplit->addWidget(m_results);
    resultSplit->addWidget(m_heat);
    resultSplit->setStretchFactor(0, 3);
    resultSplit->setStretchFactor(1, 2);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(build);
    layout->addLayout(resultBar);
    layout->addWidget(resultSplit, 1);

    connect(browse, &QPushButton::clicked, this, [this] {
        const QString p = QFileDialog::getOpenFileName(
            this, tr("Base experiment"), m_basePath->text(), tr("Experiments (*.json)"));
        if (!p.isEmpty()) setBaseFile(p);
    });
    connect(m_baseKind, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_basePath->setVisible(i == 0);
        m_baseRun->setVisible(i == 1);
        updatePreview();
    });
    m_baseRun->setVisible(false);
    connect(m_mode, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_modeStack->setCurrentIndex(i);
        updatePreview();
    });
    for (QLineEdit* e :
         {m_class[0], m_class[1], m_class[2], m_class[3], m_patterns, m_basePath, m_name})
        connect(e, &QLineEdit::textChanged, this, [this] { updatePreview(); });
    connect(m_layers, &QPlainTextEdit::textChanged, this, [this] { updatePreview(); });
    connect(m_epochs, &QSpinBox::valueChanged, this, [this] { updatePreview(); });
    connect(m_baseRun, &QSpinBox::valueChanged, this, [this] { updatePreview(); });
    connect(m_start, &QPushButton::clicked, this, [this] {
        QString why;
        if (!startSweep(&why)) m_status->setText(why);
    });
    connect(m_stop, &QPushButton::clicked, m_queue, &SweepQueue::stop);
    connect(m_queue, &SweepQueue::progress, this,
            [this](double f) { m_progress->setValue(int(1000 * f)); });
    connect(m_queue, &SweepQueue::trialStarted, this, [this](int i, qint64 runId, int plan) {
        const auto& t = m_queue->trials();
        if (i >= int(t.size())) return;
        const char* what = plan == int(TrialPlan::Skip)     ? "finished before, skipped"
                           : plan == int(TrialPlan::Busy)   ? "trained by another process, skipped"
                           : plan == int(TrialPlan::Resume) ? "resuming"
                                                            : "training";
        m_status->setText(tr("Trial %1 of %2: %3 — run %4, %5")
                              .arg(i + 1)
                              .arg(t.size())
                              .arg(QString::fromStdString(t[size_t(i)].label))
                              .arg(runId)
                              .arg(tr(what)));
    });
    connect(m_queue, &SweepQueue::trialEnded, this, [this] {
        m_db->refresh();
        rebuildResults();
    });
    connect(m_queue, &SweepQueue::finished, this, [this](bool, const QString& m) {
        m_status->setText(m);
        m_start->setEnabled(true);
        m_stop->setEnabled(false);
        m_db->refresh();
        rebuildResults();
    });
    connect(m_sweeps, &QComboBox::currentIndexChanged, this,
            [this] { showSweep(m_sweeps->currentData().toLongLong()); });
    for (QComboBox* b : {m_heatX, m_heatY})
        connect(b, &QComboBox::currentIndexChanged, this, &SweepPanel::rebuildResults);
    connect(m_db, &RunsDatabase::rowsChanged, this, &SweepPanel::rebuildResults);
    connect(exportTable, &QPushButton::clicked, this, [this] {
        export_table_interactive(this, export_table_from_model(m_results->model()),
                                 QStringLiteral("sweep"));
    });
    connect(exportHeat, &QPushButton::clicked, this,
            [this] { export_plot_interactive(this, m_heat, QStringLiteral("sweep-heatmap")); });
    updatePreview();
}

void SweepPanel::setBaseFile(const QString& path) {
    m_baseKind->setCurrentIndex(0);
    m_basePath->setText(path);
}
void SweepPanel::setBaseRun(qint64 runId) {
    m_baseKind->setCurrentIndex(1);
    m_baseRun->setValue(int(runId));
}
void SweepPanel::setMode(Mode m) {
    m_mode->setCurrentIndex(int(m));
}
void SweepPanel::setClassValues(const QStringList& wage) {
    for (int c = 0; c < 4 && c < wage.size(); ++c)
        m_class[c]->setText(wage[c]);
}
void SweepPanel::setPatterns(const QString& text) {
    m_patterns->setText(text);
}
void SweepPanel::setLayerLines(const QString& text) {
    m_layers->setPlainText(text);
}
void SweepPanel::setEpochs(int epochs) {
    m_epochs->setValue(epochs);
}
void SweepPanel::setSweepName(const QString& name) {
    m_name->setText(name);
}

bool SweepPanel::startSweep(QString* error) {
    QString why;
    const nlohmann::json s = sweepJson(&why);
    if (s.is_null()) {
        if (error) *error = why;
        return false;
    }
    if (!m_db->isOpen()) {
        if (error) *error = tr("Open a run database first.");
        return false;
    }
    SweepRequest r;
    r.sweep = s;
    r.dbPath = m_db->path().toStdString();
    if (!m_queue->start(r, error)) return false;
    m_start->setEnabled(false);
    m_stop->setEnabled(true);
    m_progress->setValue(0);
    m_shownSweep = m_queue->sweepId();
    rebuildResults();
    return true;
}

void SweepPanel::showSweep(qint64 sweepId) {
    m_shownSweep = sweepId;
    rebuildResults();
}

} // namespace bitbench
