// ExperimentPanel: the model choice (layer lists and op graphs) and the method presets.
#include "experiment_panel.h"

#include "bitbench/graph.h"

#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>

namespace bitbench {

int ExperimentPanel::builtinModelCount() const {
    return int(model_builtin_names().size() + graph_builtin_names().size());
}

std::optional<ModelDesc> ExperimentPanel::model() const {
    const auto g = graph();
    if (!g) return std::nullopt;
    if (m_model->currentIndex() >= builtinModelCount()) return m_loaded.model;
    try {
        const nlohmann::json j = model_builtin_json(m_model->currentText().toStdString());
        if (j.contains("ops")) {
            ModelDesc m;
            m.name = g->name;
            m.inH = g->input.h;
            m.inW = g->input.w;
            m.inC = g->input.c;
            m.transform = g->transform;
            return m;
        }
        return model_from_json(j);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<Graph> ExperimentPanel::graph() const {
    try {
        if (m_model->currentIndex() < builtinModelCount())
            return graph_from_json(model_builtin_json(m_model->currentText().toStdString()));
        return m_loaded.graph;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

QStringList ExperimentPanel::weightLayerNames() const {
    QStringList names;
    if (const auto g = graph())
        for (const OpDesc& op : g->ops)
            if (op.hasWeights()) names << QString::fromStdString(op.name);
    return names;
}

bool ExperimentPanel::setModel(const QString& name) {
    const int i = m_model->findText(name);
    if (i < 0 || i >= builtinModelCount()) return false;
    m_model->setCurrentIndex(i);
    return true;
}

QString ExperimentPanel::method() const { return m_method->currentData().toString().isEmpty() ? QStringLiteral("custom") : m_method->currentData().toString(); }
QString ExperimentPanel::lossName() const { return m_loss->currentText(); }

void ExperimentPanel::showMethodFields(const Experiment& e) {
    const int mi = m_method->findData(QString::fromStdString(e.method));
    m_method->setCurrentIndex(mi < 0 ? 0 : mi);
    m_loss->setCurrentText(QString::fromLatin1(loss_kind_name(e.loss)));
    QString text = tr("wage (Q_G onto integer weight codes)");
    if (e.optimizer.kind != SolverKind::Wage) {
        // "sgd: momentum 0.9, weight_decay 0.0001": the settings that are not off.
        const nlohmann::json j = optimizer_to_json(e.optimizer);
        QStringList parts;
        for (const auto& [k, v] : j.items()) {
            if (k == "kind" || v == false || v == 0) continue;
            parts << QStringLiteral("%1 %2").arg(QString::fromStdString(k), QString::fromStdString(v.dump()));
        }
        text = QString::fromStdString(j.value("kind", std::string("?"))) +
               (parts.isEmpty() ? QString() : QStringLiteral(": ") + parts.join(QStringLiteral(", ")));
    }
    m_optimizer->setText(text);
}

bool ExperimentPanel::setMethod(const QString& name) {
    using nlohmann::json;
    json j = m_source.is_object() ? m_source : json::object();
    if (name.isEmpty() || name == QLatin1String("custom")) {
        // The recipe's keys become the experiment's own, so nothing changes but the name.
        if (j.contains("method")) {
            json merged = experiment_method_json(j["method"].get<std::string>());
            const bool userQuant = j.contains("quant") || j.contains("layer_quant");
            const bool userBits = j.contains("bits") || j.contains("layer_bits");
            if (userQuant) merged.erase("bits"), merged.erase("layer_bits");
            if (userBits) merged.erase("quant"), merged.erase("layer_quant");
            for (const auto& [k, v] : j.items())
                if (k != "method") merged[k] = v;
            m_source = merged;
        }
        m_method->setCurrentIndex(0);
        return true;
    }
    try {
        // The preset's keys replace the experiment's (and the quantizers of either form).
        const json recipe = experiment_method_json(name.toStdString()); // alive through the loop
        for (const auto& [k, v] : recipe.items()) j.erase(k);
        for (const char* k : {"bits", "layer_bits", "quant", "layer_quant", "loss", "optimizer"}) j.erase(k);
        j["method"] = name.toStdString();
        if (m_model->currentIndex() < builtinModelCount()) j["model"] = m_model->currentText().toStdString();
        Experiment e = experiment_from_json(j, m_baseDir.toStdString());
        m_loading = true;
        m_source = j;
        m_loaded = e;
        m_batch->setValue(e.batch);
        m_lr->setText(lrText(e.lr));
        showMethodFields(e);
        m_loading = false;
        setReason(m_fPreset, {});
        validate();
        Q_EMIT experimentLoaded(m_path);
        return true;
    } catch (const std::exception& ex) {
        m_loading = false;
        m_general->setText(QString::fromUtf8(ex.what()));
        m_general->show();
        const int mi = m_method->findData(QString::fromStdString(m_loaded.method));
        m_method->setCurrentIndex(mi < 0 ? 0 : mi);
        return false;
    }
}

} // namespace bitbench
