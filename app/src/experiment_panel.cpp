// ExperimentPanel: field layout, per-field validation, and the experiment JSON built from the fields.
#include "experiment_panel.h"

#include "bitbench/error.h"
#include "bitbench/graph.h"
#include "bitbench/paths.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QSpinBox>
#include <QToolButton>

#include <limits>

namespace bitbench {

namespace {

using nlohmann::json;

bool idxFolderOk(const QDir& d) {
    return d.exists(QStringLiteral("train-images-idx3-ubyte")) || d.exists(QStringLiteral("train-images-idx3-ubyte.gz"));
}

bool cifarFolderOk(const QDir& d) {
    return d.exists(QStringLiteral("data_batch_1.bin")) ||
           d.exists(QStringLiteral("cifar-10-batches-bin/data_batch_1.bin"));
}

QString shortNumber(double v) { return QString::number(v, 'g', 10); }

} // namespace

ExperimentPanel::ExperimentPanel(QWidget* parent) : QWidget(parent) {
    m_grid = new QGridLayout(this);
    m_grid->setContentsMargins(6, 6, 6, 6);
    m_grid->setHorizontalSpacing(8);
    m_grid->setVerticalSpacing(2);
    m_grid->setColumnStretch(1, 1);

    m_preset = new QComboBox;
    m_preset->setToolTip(tr("A shipped experiment from experiments/, or any experiment file"));
    auto* browse = new QToolButton;
    browse->setText(QStringLiteral("…"));
    browse->setToolTip(tr("Open an experiment file"));
    m_fPreset = addField(tr("Experiment"), m_preset, browse);
    connect(m_preset, &QComboBox::activated, this, &ExperimentPanel::onPresetActivated);
    connect(browse, &QToolButton::clicked, this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open experiment"), QFileInfo(m_path).absolutePath(),
                                                       tr("Experiments (*.json)"));
        if (!p.isEmpty()) loadExperimentFile(p);
    });

    m_name = new QLineEdit;
    m_name->setToolTip(tr("Name of the run in the database"));
    addField(tr("Run name"), m_name);

    m_method = new QComboBox;
    m_method->setObjectName(QStringLiteral("methodCombo"));
    m_method->addItem(tr("custom"), QString());
    for (const auto& n : experiment_method_names())
        m_method->addItem(QString::fromStdString(n), QString::fromStdString(n));
    m_method->setToolTip(tr("A method preset sets its recipe: quantizers, optimizer, loss, batch and learning "
                            "rates (as \"method\" in an experiment file). custom: the settings as they are."));
    addField(tr("Method"), m_method);
    connect(m_method, &QComboBox::activated, this, [this](int i) { setMethod(m_method->itemData(i).toString()); });

    m_model = new QComboBox;
    for (const auto& n : model_builtin_names()) m_model->addItem(QString::fromStdString(n));
    for (const auto& n : graph_builtin_names()) m_model->addItem(QString::fromStdString(n));
    m_fModel = addField(tr("Model"), m_model);
    m_modelInfo = new QLabel;
    m_modelInfo->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_grid->addWidget(m_modelInfo, m_row++, 1, 1, 2);

    m_dataDir = new QLineEdit;
    m_dataDir->setPlaceholderText(tr("default data folder"));
    auto* dataBrowse = new QToolButton;
    dataBrowse->setText(QStringLiteral("…"));
    m_fData = addField(tr("Data folder"), m_dataDir, dataBrowse);
    connect(dataBrowse, &QToolButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Dataset folder"), m_dataDir->text());
        if (!d.isEmpty()) {
            m_dataDir->setText(d);
            validate();
        }
    });

    m_epochs = new QSpinBox;
    m_epochs->setRange(1, 100000);
    addField(tr("Epochs"), m_epochs);
    m_batch = new QSpinBox;
    m_batch->setRange(1, 65536);
    addField(tr("Batch"), m_batch);
    m_lr = new QLineEdit;
    m_lr->setObjectName(QStringLiteral("lrEdit"));
    m_lr->setToolTip(tr("Learning rate by epoch: \"0:8, 200:1, 250:0.125\" or one number. Integer Q_G needs "
                        "multiples of 2^-16 below 2^15."));
    m_fLr = addField(tr("LR schedule"), m_lr);
    m_loss = new QComboBox;
    m_loss->setObjectName(QStringLiteral("lossCombo"));
    for (LossKind k : {LossKind::Sse, LossKind::SoftmaxCrossEntropy, LossKind::SquaredHinge})
        m_loss->addItem(QString::fromLatin1(loss_kind_name(k)));
    addField(tr("Loss"), m_loss);
    m_optimizer = new QLabel;
    m_optimizer->setObjectName(QStringLiteral("optimizerLabel"));
    m_optimizer->setWordWrap(true);
    m_optimizer->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_optimizer->setToolTip(tr("The solver of every parameter tensor: from the experiment file or the method"));
    addField(tr("Optimizer"), m_optimizer);
    m_seed = new QLineEdit;
    m_seed->setObjectName(QStringLiteral("seedEdit"));
    m_fSeed = addField(tr("Seed"), m_seed);
    m_threads = new QSpinBox;
    m_threads->setRange(0, 1024);
    m_threads->setSpecialValueText(tr("all cores"));
    m_threads->setToolTip(tr("Worker threads; results do not depend on it"));
    addField(tr("Threads"), m_threads);
    m_trainLimit = new QSpinBox;
    m_trainLimit->setRange(0, std::numeric_limits<int>::max());
    m_trainLimit->setSpecialValueText(tr("all"));
    m_trainLimit->setSingleStep(1000);
    addField(tr("Train images"), m_trainLimit);
    m_testLimit = new QSpinBox;
    m_testLimit->setRange(0, std::numeric_limits<int>::max());
    m_testLimit->setSpecialValueText(tr("all"));
    m_testLimit->setSingleStep(1000);
    addField(tr("Test images"), m_testLimit);

    m_db = new QLineEdit;
    auto* dbBrowse = new QToolButton;
    dbBrowse->setText(QStringLiteral("…"));
    m_fDb = addField(tr("Database"), m_db, dbBrowse);
    connect(dbBrowse, &QToolButton::clicked, this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Run database"), m_db->text(), tr("Run databases (*.db)"),
                                                       nullptr, QFileDialog::DontConfirmOverwrite);
        if (!p.isEmpty()) {
            m_db->setText(p);
            validate();
        }
    });
    m_db->setText(QString::fromStdString(paths_default_db()));

    m_general = new QLabel;
    m_general->setWordWrap(true);
    m_general->setStyleSheet(QStringLiteral("color: #b3261e;"));
    m_general->hide();
    m_grid->addWidget(m_general, m_row++, 0, 1, 3);
    m_grid->setRowStretch(m_row, 1);

    for (QLineEdit* e : {m_name, m_dataDir, m_lr, m_seed, m_db})
        connect(e, &QLineEdit::textChanged, this, &ExperimentPanel::validate);
    for (QSpinBox* s : {m_epochs, m_batch, m_threads, m_trainLimit, m_testLimit})
        connect(s, &QSpinBox::valueChanged, this, &ExperimentPanel::validate);
    connect(m_model, &QComboBox::currentIndexChanged, this, &ExperimentPanel::validate);
    connect(m_loss, &QComboBox::currentIndexChanged, this, &ExperimentPanel::validate);
    m_lockable = {m_preset, browse, m_name, m_method, m_model, m_loss, m_dataDir, dataBrowse, m_epochs, m_batch, m_lr,
                  m_seed, m_threads, m_trainLimit, m_testLimit, m_db, dbBrowse};
}

ExperimentPanel::Field ExperimentPanel::addField(const QString& label, QWidget* editor, QWidget* extra) {
    Field f;
    f.editor = editor;
    editor->setProperty("baseToolTip", editor->toolTip());
    auto* l = new QLabel(label);
    l->setBuddy(editor);
    m_grid->addWidget(l, m_row, 0);
    m_grid->addWidget(editor, m_row, 1, 1, extra ? 1 : 2);
    if (extra) m_grid->addWidget(extra, m_row, 2);
    ++m_row;
    f.reason = new QLabel;
    f.reason->setWordWrap(true);
    f.reason->setStyleSheet(QStringLiteral("color: #b3261e; font-size: 8pt;"));
    f.reason->hide();
    m_grid->addWidget(f.reason, m_row++, 1, 1, 2);
    return f;
}

void ExperimentPanel::setPresetDirs(const QStringList& dirs) {
    m_preset->clear();
    QStringList seen;
    for (const QString& d : dirs) {
        const QDir dir(d);
        for (const QFileInfo& fi : dir.entryInfoList({QStringLiteral("*.json")}, QDir::Files, QDir::Name)) {
            if (seen.contains(fi.fileName())) continue;
            seen << fi.fileName();
            m_preset->addItem(fi.completeBaseName(), fi.absoluteFilePath());
        }
    }
}

QStringList ExperimentPanel::presetPaths() const {
    QStringList out;
    for (int i = 0; i < m_preset->count(); ++i) out << m_preset->itemData(i).toString();
    return out;
}

void ExperimentPanel::onPresetActivated(int index) {
    const QString p = m_preset->itemData(index).toString();
    if (!p.isEmpty() && p != m_path) loadExperimentFile(p);
}

QString ExperimentPanel::lrText(const std::vector<LrStep>& lr) const {
    if (lr.size() == 1) return shortNumber(lr.front().lr);
    QStringList parts;
    for (const auto& s : lr) parts << QStringLiteral("%1:%2").arg(s.epoch).arg(shortNumber(s.lr));
    return parts.join(QStringLiteral(", "));
}

bool ExperimentPanel::loadExperimentFile(const QString& path) {
    try {
        Experiment e = experiment_load(path.toStdString());
        m_loading = true;
        m_loaded = e;
        m_source = e.source;
        m_path = QFileInfo(path).absoluteFilePath();
        m_baseDir = QFileInfo(path).absolutePath();
        int idx = m_preset->findData(m_path);
        if (idx < 0) {
            m_preset->addItem(QFileInfo(path).completeBaseName(), m_path);
            idx = m_preset->count() - 1;
        }
        m_preset->setCurrentIndex(idx);
        m_preset->setToolTip(m_path);
        m_name->setText(QString::fromStdString(e.name));
        const QString model = QString::fromStdString(e.model.name);
        const bool builtin = m_source.contains("model") && m_source["model"].is_string() &&
                             m_model->findText(model) >= 0 && m_model->findText(model) < builtinModelCount();
        int mi = m_model->findText(model);
        if (!builtin || mi < 0) {
            const QString label = tr("%1 (from file)").arg(model);
            mi = m_model->findText(label);
            if (mi < 0) {
                m_model->addItem(label);
                mi = m_model->count() - 1;
            }
        }
        m_model->setCurrentIndex(mi);
        m_dataDir->setText(QString::fromStdString(e.datasetDir));
        m_epochs->setValue(e.epochs);
        m_batch->setValue(e.batch);
        m_lr->setText(lrText(e.lr));
        m_seed->setText(QString::number(e.seed));
        m_trainLimit->setValue(int(std::min<int64_t>(e.trainLimit, std::numeric_limits<int>::max())));
        m_testLimit->setValue(int(std::min<int64_t>(e.testLimit, std::numeric_limits<int>::max())));
        showMethodFields(e);
        m_loading = false;
        setReason(m_fPreset, {});
        validate();
        Q_EMIT experimentLoaded(m_path);
        return true;
    } catch (const std::exception& ex) {
        m_loading = false;
        setReason(m_fPreset, QString::fromUtf8(ex.what()));
        m_valid = false;
        Q_EMIT changed();
        return false;
    }
}

int ExperimentPanel::batch() const { return m_batch->value(); }
int ExperimentPanel::threads() const { return m_threads->value(); }
QString ExperimentPanel::dataDir() const { return m_dataDir->text().trimmed(); }
QString ExperimentPanel::databasePath() const { return m_db->text().trimmed(); }
void ExperimentPanel::setDatabasePath(const QString& path) { m_db->setText(path); }
void ExperimentPanel::setDataDir(const QString& dir) { m_dataDir->setText(dir); }
void ExperimentPanel::setEpochs(int epochs) { m_epochs->setValue(epochs); }
void ExperimentPanel::setTrainLimit(qint64 n) { m_trainLimit->setValue(int(std::min<qint64>(n, m_trainLimit->maximum()))); }
void ExperimentPanel::setTestLimit(qint64 n) { m_testLimit->setValue(int(std::min<qint64>(n, m_testLimit->maximum()))); }
void ExperimentPanel::setThreads(int n) { m_threads->setValue(n); }

QStringList ExperimentPanel::reasons() const {
    QStringList out;
    for (const Field* f : {&m_fPreset, &m_fModel, &m_fData, &m_fLr, &m_fSeed, &m_fDb})
        if (!f->reason->text().isEmpty()) out << f->reason->text();
    if (!m_general->isHidden() && !m_general->text().isEmpty()) out << m_general->text();
    return out;
}

void ExperimentPanel::setLocked(bool locked) {
    for (QWidget* w : m_lockable) w->setEnabled(!locked);
}

void ExperimentPanel::setReason(Field& f, const QString& reason) {
    f.reason->setText(reason);
    f.reason->setVisible(!reason.isEmpty());
    f.editor->setStyleSheet(reason.isEmpty() ? QString() : QStringLiteral("border: 1px solid #b3261e;"));
    f.editor->setToolTip(reason.isEmpty() ? f.editor->property("baseToolTip").toString() : reason);
}

std::optional<json> ExperimentPanel::parseLr(QString* error) const {
    const QString text = m_lr->text().trimmed();
    if (text.isEmpty()) {
        *error = tr("Enter a rate (e.g. 8) or a schedule \"epoch:rate, …\" starting at epoch 0");
        return std::nullopt;
    }
    bool ok = false;
    const double single = text.toDouble(&ok);
    if (ok) {
        if (!(single > 0)) {
            *error = tr("The rate must be positive");
            return std::nullopt;
        }
        return json(single);
    }
    json sched = json::array();
    int lastEpoch = -1;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const QStringList kv = part.trimmed().split(QLatin1Char(':'));
        bool okE = false, okR = false;
        const int ep = kv.size() == 2 ? kv[0].trimmed().toInt(&okE) : 0;
        const double rate = kv.size() == 2 ? kv[1].trimmed().toDouble(&okR) : 0;
        if (!okE || !okR) {
            *error = tr("\"%1\" is not epoch:rate (e.g. 200:1)").arg(part.trimmed());
            return std::nullopt;
        }
        if (sched.empty() && ep != 0) {
            *error = tr("The schedule must start at epoch 0");
            return std::nullopt;
        }
        if (ep <= lastEpoch) {
            *error = tr("Epochs must increase (%1 after %2)").arg(ep).arg(lastEpoch);
            return std::nullopt;
        }
        if (!(rate > 0)) {
            *error = tr("Rates must be positive");
            return std::nullopt;
        }
        lastEpoch = ep;
        sched.push_back({ep, rate});
    }
    return sched;
}

void ExperimentPanel::validate() {
    if (m_loading) return;
    bool ok = !m_path.isEmpty() && m_fPreset.reason->text().isEmpty();

    const auto m = model();
    QString modelReason;
    QString kind = QString::fromStdString(m_loaded.datasetKind);
    if (!m) modelReason = tr("Unknown model");
    else {
        const auto g = graph();
        m_modelInfo->setText(tr("%1 weight layers, %2 parameters, input %3x%4x%5%6")
                                 .arg(weightLayerNames().size())
                                 .arg(QLocale().toString(qlonglong(g ? g->parameterCount() : m->parameterCount())))
                                 .arg(m->inH)
                                 .arg(m->inW)
                                 .arg(m->inC)
                                 .arg(g && m->layers.empty() ? tr(", %1 ops").arg(g->ops.size()) : QString()));
        const bool mnistLike =
            kind == QLatin1String("mnist") || kind == QLatin1String("fashion-mnist") || kind == QLatin1String("idx");
        if (mnistLike && m->inC != 1)
            modelReason = tr("%1 expects %2x%3x%4 images; %5 images are 28x28x1")
                              .arg(QString::fromStdString(m->name))
                              .arg(m->inH)
                              .arg(m->inW)
                              .arg(m->inC)
                              .arg(kind);
        else if (kind == QLatin1String("cifar10") && (m->inC != 3 || m->inH != 32))
            modelReason = tr("%1 expects %2x%3x%4 images; CIFAR-10 images are 32x32x3")
                              .arg(QString::fromStdString(m->name))
                              .arg(m->inH)
                              .arg(m->inW)
                              .arg(m->inC);
    }
    setReason(m_fModel, modelReason);
    ok = ok && modelReason.isEmpty();

    QString dataReason;
    if (kind != QLatin1String("synthetic")) {
        QString dir = dataDir();
        if (dir.isEmpty()) dir = QString::fromStdString(paths_dataset_dir(kind.toStdString()));
        const QDir d(dir);
        if (!d.exists()) dataReason = tr("Folder %1 does not exist; run scripts/setup or choose the dataset folder").arg(dir);
        else if (kind == QLatin1String("cifar10") ? !cifarFolderOk(d) : !idxFolderOk(d))
            dataReason = kind == QLatin1String("cifar10")
                             ? tr("No data_batch_1.bin in %1 (CIFAR-10 binary version expected)").arg(dir)
                             : tr("No train-images-idx3-ubyte[.gz] in %1 (the four MNIST IDX files expected)").arg(dir);
    }
    setReason(m_fData, dataReason);
    ok = ok && dataReason.isEmpty();

    QString lrReason;
    parseLr(&lrReason);
    setReason(m_fLr, lrReason);
    ok = ok && lrReason.isEmpty();

    QString seedReason;
    try {
        seed_parse(m_seed->text().trimmed().toStdString(), "seed");
    } catch (const InputError&) {
        seedReason = tr("Expected a whole number from 0 to %1").arg(qulonglong(kSeedMax));
    }
    setReason(m_fSeed, seedReason);
    ok = ok && seedReason.isEmpty();

    QString dbReason;
    const QString db = databasePath();
    if (db.isEmpty()) dbReason = tr("Choose a database file (it is created if absent)");
    else {
        const QFileInfo fi(db);
        if (fi.isDir()) dbReason = tr("%1 is a folder; choose a file such as runs.db").arg(db);
        else if (!fi.absoluteDir().exists() && !QDir().mkpath(fi.absolutePath()))
            dbReason = tr("Cannot create folder %1").arg(fi.absolutePath());
    }
    setReason(m_fDb, dbReason);
    ok = ok && dbReason.isEmpty();

    m_general->hide();
    m_valid = ok;
    Q_EMIT changed();
}

std::optional<Experiment> ExperimentPanel::buildExperiment(const std::string& bits, const json& layerBits,
                                                           QString* error) {
    json keys = {{"bits", bits}};
    if (layerBits.is_object() && !layerBits.empty()) keys["layer_bits"] = layerBits;
    return buildExperiment(keys, error);
}

json ExperimentPanel::experimentJson(const json& quantKeys) const {
    QString why;
    const auto lr = parseLr(&why);
    json j = m_source.is_object() ? m_source : json::object();
    j["name"] = m_name->text().trimmed().isEmpty() ? m_loaded.name : m_name->text().trimmed().toStdString();
    if (m_model->currentIndex() < builtinModelCount()) j["model"] = m_model->currentText().toStdString();
    const std::string kind = m_loaded.datasetKind;
    if (!dataDir().isEmpty()) j["dataset"] = {{"kind", kind}, {"dir", dataDir().toStdString()}};
    j["epochs"] = m_epochs->value();
    j["batch"] = m_batch->value();
    if (lr) j["lr"] = *lr;
    try {
        j["seed"] = seed_parse(m_seed->text().trimmed().toStdString(), "experiment.seed");
    } catch (const InputError&) {
    }
    j["train_limit"] = m_trainLimit->value();
    j["test_limit"] = m_testLimit->value();
    // The loss as shown; written only when it differs from what the file or method gives, so
    // the JSON stays the one a user would write.
    const std::string loss = m_loss->currentText().toStdString();
    if (loss != loss_kind_name(m_loaded.loss) || j.contains("loss")) j["loss"] = loss;
    for (const char* k : {"bits", "layer_bits", "quant", "layer_quant"}) j.erase(k);
    for (const auto& [k, v] : quantKeys.items()) j[k] = v;
    return j;
}

std::optional<Experiment> ExperimentPanel::previewExperiment(const json& quantKeys, QString* error) const {
    try {
        return experiment_from_json(experimentJson(quantKeys), m_baseDir.toStdString());
    } catch (const std::exception& ex) {
        if (error) *error = QString::fromUtf8(ex.what());
        return std::nullopt;
    }
}

std::optional<Experiment> ExperimentPanel::buildExperiment(const json& quantKeys, QString* error, bool quiet) {
    QString why;
    const auto lr = parseLr(&why);
    if (!lr || !m_valid) {
        if (error) *error = why.isEmpty() ? tr("Fix the fields marked in red first") : why;
        return std::nullopt;
    }
    const json j = experimentJson(quantKeys);
    try {
        Experiment e = experiment_from_json(j, m_baseDir.toStdString());
        if (!quiet) m_general->hide();
        return e;
    } catch (const std::exception& ex) {
        const QString msg = QString::fromUtf8(ex.what());
        if (error) *error = msg;
        if (quiet) return std::nullopt;
        // Show the core's message under the field it names.
        Field* target = msg.startsWith(QLatin1String("experiment.lr")) ? &m_fLr
                        : msg.startsWith(QLatin1String("experiment.seed")) ? &m_fSeed
                        : msg.startsWith(QLatin1String("model")) ? &m_fModel
                                                                  : nullptr;
        if (target) setReason(*target, msg);
        else {
            m_general->setText(msg);
            m_general->show();
        }
        return std::nullopt;
    }
}

} // namespace bitbench
