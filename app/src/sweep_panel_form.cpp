// SweepPanel: the sweep JSON the form describes and its preview (trial count, time estimated
// from measured images/s).
#include "sweep_panel.h"

#include "runs_database.h"

#include <QComboBox>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>

#include <cmath>

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

} // namespace bitbench
