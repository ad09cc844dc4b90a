// ExperimentPanel: experiment file or preset, model, data, schedule, seed, threads and database,
// each validated as typed with the reason shown under the field.
#pragma once

#include "bitbench/experiment.h"

#include <nlohmann/json.hpp>

#include <QWidget>

#include <optional>

class QComboBox;
class QGridLayout;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace bitbench {

class ExperimentPanel : public QWidget {
    Q_OBJECT
public:
    explicit ExperimentPanel(QWidget* parent = nullptr);

    // Folders searched for shipped experiments (*.json), in order; the combo lists them all.
    void setPresetDirs(const QStringList& dirs);
    QStringList presetPaths() const;

    // Reads an experiment file and fills every field from it; false with the reason shown.
    bool loadExperimentFile(const QString& path);
    QString experimentPath() const { return m_path; }
    const Experiment& loadedExperiment() const { return m_loaded; }

    // The model as currently chosen, shapes inferred; nullopt when the choice is invalid. An
    // op-form model (lenet5-bn, resnet8) has no layer list: model() gives its name and input
    // only, graph() its ops.
    std::optional<ModelDesc> model() const;
    std::optional<Graph> graph() const;
    // Names of the weight ops (conv, fc) of the chosen model: the bitwidth editor's rows.
    QStringList weightLayerNames() const;

    // The method preset ("wage", "float-sgd", ...) or "custom". Choosing a preset sets the keys
    // of its recipe (quantizers, optimizer, loss, batch, schedule) and re-emits experimentLoaded
    // so the bitwidth editor takes its quantizers; "custom" keeps the current settings.
    QString method() const;
    bool setMethod(const QString& name);
    // Chooses a built-in model by name; false when there is none of that name.
    bool setModel(const QString& name);
    QString lossName() const;
    int batch() const;
    int threads() const;
    QString dataDir() const;
    QString databasePath() const;

    void setDatabasePath(const QString& path);
    void setDataDir(const QString& dir);
    void setEpochs(int epochs);
    void setTrainLimit(qint64 n);
    void setTestLimit(qint64 n);
    void setThreads(int n);

    // The reasons shown now, one per rejected field.
    QStringList reasons() const;
    // Every field on its own is acceptable.
    bool fieldsValid() const { return m_valid; }
    // The experiment the fields describe with the given bits; nullopt with *error (also shown
    // under the field the core names) when the core rejects it.
    std::optional<Experiment> buildExperiment(const std::string& bits, const nlohmann::json& layerBits,
                                              QString* error = nullptr);
    // The same with the quantizer keys as given ({"bits", "layer_bits"} or {"quant",
    // "layer_quant"}, see quant_bridge_keys); `quiet` shows no reasons (for previews).
    std::optional<Experiment> buildExperiment(const nlohmann::json& quantKeys, QString* error = nullptr,
                                              bool quiet = false);
    // The experiment buildExperiment would build, for previews (cost): also while a field the
    // core does not read (data folder, database) is rejected; nullopt with *error when the core
    // rejects it. Shows no reasons.
    std::optional<Experiment> previewExperiment(const nlohmann::json& quantKeys, QString* error = nullptr) const;
    // The JSON buildExperiment parses (before the core reads it).
    nlohmann::json experimentJson(const nlohmann::json& quantKeys) const;

    // Disables editing while a run is going.
    void setLocked(bool locked);

Q_SIGNALS:
    // A new file was read: its bits and per-layer overrides should go to the bitwidth editor.
    void experimentLoaded(const QString& path);
    // Model, batch or validity changed.
    void changed();

private:
    struct Field {
        QWidget* editor = nullptr;
        QLabel* reason = nullptr;
    };
    Field addField(const QString& label, QWidget* editor, QWidget* extra = nullptr);
    void validate();
    void setReason(Field& f, const QString& reason);
    void onPresetActivated(int index);
    void showMethodFields(const Experiment& e);
    int builtinModelCount() const;
    QString lrText(const std::vector<LrStep>& lr) const;
    std::optional<nlohmann::json> parseLr(QString* error) const;

    QGridLayout* m_grid = nullptr;
    int m_row = 0;
    QComboBox* m_preset = nullptr;
    QLineEdit* m_name = nullptr;
    QComboBox* m_method = nullptr;
    QComboBox* m_model = nullptr;
    QComboBox* m_loss = nullptr;
    QLabel* m_optimizer = nullptr;
    QLabel* m_modelInfo = nullptr;
    QLineEdit* m_dataDir = nullptr;
    QSpinBox* m_epochs = nullptr;
    QSpinBox* m_batch = nullptr;
    QLineEdit* m_lr = nullptr;
    QLineEdit* m_seed = nullptr;
    QSpinBox* m_threads = nullptr;
    QSpinBox* m_trainLimit = nullptr;
    QSpinBox* m_testLimit = nullptr;
    QLineEdit* m_db = nullptr;
    QLabel* m_general = nullptr;
    Field m_fPreset, m_fModel, m_fData, m_fLr, m_fSeed, m_fDb;
    QList<QWidget*> m_lockable;

    QString m_path;
    QString m_baseDir;
    Experiment m_loaded;
    nlohmann::json m_source;
    bool m_valid = false;
    bool m_loading = false;
};

} // namespace bitbench
