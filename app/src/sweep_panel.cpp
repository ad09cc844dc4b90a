// SweepPanel: grid form, estimate from measured images/s, queue controls, results and heat map.
#include "sweep_panel.h"

#include "export_files.h"
#include "runs_database.h"

#include "bitbench/error.h"
#include "bitbench/store.h"

#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QRegularExpression>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <map>

namespace bitbench {

namespace {

nlohmann::json bitsList(const QString& text, const QString& where, QString* error) {
    nlohmann::json out = nlohmann::json::array();
    for (const QString& part :
         text.split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts)) {
        bool ok = false;
        const int v = part.toInt(&ok);
        if (part == QLatin1String("f"))
            out.push_back("f");
        else if (ok)
            out.push_back(v);
        else if (error && error->isEmpty())
            *error = QObject::tr("%1: '%2' is not a bitwidth (1..16 or f)").arg(where, part);
    }
    return out;
}

// Images in one epoch of an experiment, for the time estimate.
double trainImages(const Experiment& e) {
    if (e.trainLimit > 0) return double(e.trainLimit);
    if (e.datasetKind == "synthetic") return 2048;
    if (e.datasetKind == "cifar10") return 50000;
    return 60000; // MNIST and other IDX sets of its size
}

QString durationText(double s) {
    if (!std::isfinite(s)) return QObject::tr("unknown");
    if (s < 90) return QObject::tr("%1 s").arg(qRound(s));
    if (s < 5400) return QObject::tr("%1 min").arg(qRound(s / 60));
    return QObject::tr("%1 h").arg(s / 3600, 0, 'f', 1);
}

} // namespace

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

nlohmann::json SweepPanel::sweepJson(QString* error) const {
    QString why;
    nlohmann::json s = {{"name", m_name->text().trimmed().isEmpty()
                                     ? std::string("sweep")
                                     : m_name->text().trimmed().toStdString()}};
    if (m_baseKind->currentIndex() == 0) {
        if (m_basePath->text().trimmed().isEmpty()) why = tr("Choose a base experiment file.");
        s["base"] = QFileInfo(m_basePath->text().trimmed()).absoluteFilePath().toStdString();
    } else {
        const RunRow* row = nullptr;
        for (const RunRow& r : m_db->rows())
            if (r.id == m_baseRun->value()) row = &r;
        if (!row)
            why = tr("Run %1 is not in the open database.").arg(m_baseRun->value());
        else {
            try {
                nlohmann::json base = nlohmann::json::parse(row->resolvedConfigJson.toStdString());
                if (!base.contains("name")) base["name"] = row->name.toStdString();
                s["base"] = base;
            } catch (const std::exception& e) {
                why = tr("Run %1 has an unreadable configuration: %2")
                          .arg(row->id)
                          .arg(QString::fromUtf8(e.what()));
            }
        }
    }
    if (m_epochs->value() > 0) s["set"] = {{"epochs", m_epochs->value()}};
    switch (Mode(m_mode->currentData().toInt())) {
    case Mode::Classes: {
        nlohmann::json grid = nlohmann::json::object();
        const char* names[4] = {"W", "A", "G", "E"};
        for (int c = 0; c < 4; ++c) {
            const nlohmann::json v = bitsList(m_class[c]->text(), QLatin1String(names[c]), &why);
            if (!v.empty()) grid[names[c]] = v;
        }
        if (grid.empty()) why = tr("Give at least one class a set of bitwidths.");
        s["grid"] = grid;
        break;
    }
    case Mode::Patterns: {
        nlohmann::json list = nlohmann::json::array();
        for (const QString& p : m_patterns->text().split(
                 QRegularExpression(QStringLiteral("[,;\\s]+")), Qt::SkipEmptyParts))
            list.push_back(p.toStdString());
        if (list.empty()) why = tr("List at least one pattern, e.g. 2888, 28f8.");
        s["patterns"] = list;
        break;
    }
    case Mode::Layers: {
        nlohmann::json layers = nlohmann::json::object();
        int line = 0;
        for (const QString& l : m_layers->toPlainText().split(QLatin1Char('\n'))) {
            ++line;
            const QStringList parts = l.simplified().split(QLatin1Char(' '));
            if (l.trimmed().isEmpty()) continue;
            if (parts.size() < 3) {
                if (why.isEmpty())
                    why = tr("Layer line %1: expected 'layer class bits', e.g. 'conv1 W 2,4'")
                              .arg(line);
                continue;
            }
            layers[parts[0].toStdString()][parts[1].toStdString()] =
                bitsList(parts.mid(2).join(QLatin1Char(',')), parts[0], &why);
        }
        if (layers.empty() && why.isEmpty())
            why = tr("Give at least one layer line, e.g. 'conv1 W 2,4'.");
        s["layers"] = layers;
        break;
    }
    }
    if (!why.isEmpty()) {
        if (error) *error = why;
        return {};
    }
    return s;
}

int SweepPanel::updatePreview() {
    QString why;
    const nlohmann::json s = sweepJson(&why);
    if (s.is_null()) {
        m_preview->setText(why);
        m_start->setEnabled(false);
        return -1;
    }
    std::vector<SweepTrialPlan> trials;
    try {
        trials = sweep_expand(s, {});
    } catch (const std::exception& e) {
        m_preview->setText(QString::fromUtf8(e.what()));
        m_start->setEnabled(false);
        return -1;
    }
    // The estimate uses the last measured speed of the same model, the best predictor we have.
    double ips = qQNaN();
    qint64 from = 0;
    const std::string model = trials.empty() ? std::string() : trials.front().experiment.model.name;
    for (const RunRow& r : m_db->rows())
        if (r.model.toStdString() == model && std::isfinite(r.imagesPerSecond) && r.id > from) {
            ips = r.imagesPerSecond;
            from = r.id;
        }
    double images = 0;
    for (const auto& t : trials)
        images += trainImages(t.experiment) * t.experiment.epochs;
    const QString estimate =
        std::isfinite(ips) && ips > 0
            ? tr("about %1 at %2 images/s (measured in run %3; test passes not counted)")
                  .arg(durationText(images / ips))
                  .arg(qRound64(ips))
                  .arg(from)
            : tr("time unknown: no run of %1 with a measured speed yet")
                  .arg(QString::fromStdString(model));
    m_preview->setText(
        tr("<b>%n trial(s)</b>, %1 training images in all; %2.", nullptr, int(trials.size()))
            .arg(QLocale().toString(qint64(images)))
            .arg(estimate));
    m_start->setEnabled(!m_queue->running() && m_db->isOpen());
    return int(trials.size());
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

void SweepPanel::rebuildResults() {
    RunStore* store = m_db->store();
    if (!store) return;
    std::vector<SweepRecord> sweeps;
    std::vector<SweepTrial> trials;
    try {
        sweeps = store->sweepsList();
        if (!m_shownSweep && !sweeps.empty()) m_shownSweep = sweeps.back().id;
        if (m_shownSweep) trials = store->sweepTrialsGet(m_shownSweep);
    } catch (const std::exception& e) {
        m_status->setText(QString::fromUtf8(e.what()));
        return;
    }
    {
        const QSignalBlocker block(m_sweeps);
        m_sweeps->clear();
        for (const auto& s : sweeps)
            m_sweeps->addItem(
                QStringLiteral("%1 · %2").arg(s.id).arg(QString::fromStdString(s.name)),
                qint64(s.id));
        m_sweeps->setCurrentIndex(m_sweeps->findData(m_shownSweep));
    }
    m_results->setRowCount(0);
    // Heat map cells: (x bits, y bits) -> best error among the trials with those bits.
    std::map<std::pair<int, int>, double> cells;
    const int cx = m_heatX->currentData().toInt(), cy = m_heatY->currentData().toInt();
    for (const SweepTrial& t : trials) {
        const RunRow* row = nullptr;
        for (const RunRow& r : m_db->rows())
            if (r.id == t.runId) row = &r;
        const int i = m_results->rowCount();
        m_results->insertRow(i);
        const char* st = t.status == TrialStatus::Finished   ? "finished"
                         : t.status == TrialStatus::Running  ? "running / interrupted"
                         : t.status == TrialStatus::Failed   ? "failed"
                         : t.status == TrialStatus::Diverged ? "diverged"
                                                             : "pending";
        const QStringList cells_ = {!row ? QString::fromStdString(t.configHash)
                                    : row->name.contains(QLatin1Char('@'))
                                        ? row->name.section(QLatin1Char('@'), -1)
                                        : row->bits,
                                    t.runId ? QString::number(t.runId) : QString(),
                                    tr(st),
                                    row ? QString::number(row->epochs) : QString(),
                                    row ? runs_format_percent(row->bestTestError) : QString(),
                                    row ? runs_format_percent(row->finalTestError) : QString(),
                                    row && std::isfinite(row->imagesPerSecond)
                                        ? QString::number(qRound64(row->imagesPerSecond))
                                        : QString()};
        for (int c = 0; c < cells_.size(); ++c)
            m_results->setItem(i, c, new QTableWidgetItem(cells_[c]));
        if (!t.message.empty())
            m_results->item(i, 2)->setToolTip(QString::fromStdString(t.message));
        // A diverged trial's errors before it diverged are no result for the heat map.
        if (t.status == TrialStatus::Diverged) continue;
        if (!row || !std::isfinite(row->bestTestError)) continue;
        try {
            const ClassBits b = quant_spec_parse(row->bits.toStdString());
            const auto key = std::make_pair(b.bits[size_t(cx)], b.bits[size_t(cy)]);
            const auto it = cells.find(key);
            if (it == cells.end() || row->bestTestError < it->second)
                cells[key] = row->bestTestError;
        } catch (const std::exception&) {
        }
    }
    m_results->resizeColumnsToContents();

    // Heat map on a categorical grid (bits as ordered labels; float last).
    m_heat->clearPlottables();
    m_heat->clearItems();
    auto order = [](int b) { return b == 0 ? 99 : b; };
    std::vector<int> xs, ys;
    for (const auto& [k, v] : cells) {
        if (std::find(xs.begin(), xs.end(), k.first) == xs.end()) xs.push_back(k.first);
        if (std::find(ys.begin(), ys.end(), k.second) == ys.end()) ys.push_back(k.second);
    }
    std::sort(xs.begin(), xs.end(), [&](int a, int b) { return order(a) < order(b); });
    std::sort(ys.begin(), ys.end(), [&](int a, int b) { return order(a) < order(b); });
    const char* names[4] = {"W", "A", "G", "E"};
    m_heat->xAxis->setLabel(tr("k%1 (bits)").arg(QLatin1String(names[cx])));
    m_heat->yAxis->setLabel(tr("k%1 (bits)").arg(QLatin1String(names[cy])));
    if (!cells.empty()) {
        auto* map = new QCPColorMap(m_heat->xAxis, m_heat->yAxis);
        map->setInterpolate(false); // one flat cell per trial: a sparse grid must not blur
        map->data()->setSize(int(xs.size()), int(ys.size()));
        map->data()->setRange(QCPRange(0, std::max<double>(1, xs.size() - 1)),
                              QCPRange(0, std::max<double>(1, ys.size() - 1)));
        double lo = 1e9, hi = -1e9;
        for (size_t i = 0; i < xs.size(); ++i)
            for (size_t j = 0; j < ys.size(); ++j) {
                const auto it = cells.find({xs[i], ys[j]});
                const double v = it == cells.end() ? qQNaN() : 100 * it->second;
                map->data()->setCell(int(i), int(j), v);
                if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
                if (std::isfinite(v)) {
                    auto* t = new QCPItemText(m_heat);
                    t->position->setCoords(double(i), double(j));
                    t->setText(QStringLiteral("%1 %").arg(v, 0, 'f', 2));
                    // Dark text on a light box stays readable over every colour of the scale.
                    t->setColor(Qt::black);
                    t->setBrush(QColor(255, 255, 255, 190));
                    t->setPadding(QMargins(3, 1, 3, 1));
                }
            }
        QCPColorGradient g(QCPColorGradient::gpThermal);
        g.setNanHandling(QCPColorGradient::nhTransparent);
        map->setGradient(g.inverted());
        map->setDataRange(QCPRange(lo, hi > lo ? hi : lo + 1));
        auto ticks = [&](const std::vector<int>& v) {
            auto t = QSharedPointer<QCPAxisTickerText>::create();
            for (size_t i = 0; i < v.size(); ++i)
                t->addTick(double(i), v[i] ? QString::number(v[i]) : QStringLiteral("f"));
            return t;
        };
        m_heat->xAxis->setTicker(ticks(xs));
        m_heat->yAxis->setTicker(ticks(ys));
        m_heat->xAxis->setRange(-0.5, double(xs.size()) - 0.5);
        m_heat->yAxis->setRange(-0.5, double(ys.size()) - 0.5);
    }
    m_heat->replot();
}

} // namespace bitbench
