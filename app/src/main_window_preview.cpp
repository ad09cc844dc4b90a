// Main window previews of what Train would run: the cost estimate and the engine plan per cell.
#include "main_window.h"

#include "app_settings.h"
#include "experiment_panel.h"
#include "quant_bridge.h"

#include "bitbench/engine.h"

#include "bitbench_widgets/bitwidth_editor.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace bitbench {

void MainWindow::setCostTable(const CostTable& t) {
    m_costTable = t;
    settings_set_cost_table(t);
    updateCost();
}

nlohmann::json MainWindow::editorQuantKeys() const {
    return quant_bridge_keys(m_editor->config(), m_bitsForm, m_sourceQuant ? &*m_sourceQuant : nullptr);
}

// The engine plan of what the panel and editor describe: an engine built for it (with a small
// batch: the plan does not depend on it) reports integer or float per layer and class.
void MainWindow::updatePlans() {
    if (m_controller->busy()) return;
    QVector<std::array<widgets::BitwidthEditor::CellPlan, 4>> plans;
    try {
        auto e = m_panel->buildExperiment(editorQuantKeys(), nullptr, true);
        if (e) {
            std::unique_ptr<Engine> engine;
            Experiment small = *e;
            small.batch = std::min(e->batch, 32);
            try {
                engine = engine_create(small);
            } catch (const std::exception&) {
                engine = engine_create(*e); // a size rule (range BN chunks) may need the real batch
            }
            plans = quant_bridge_plans(m_layerNames, engine->layers());
        }
    } catch (const std::exception&) {
        // No plan to show; Train reports the reason.
    }
    m_editor->setPlans(plans);
}

// The estimate of the experiment Train would build (layer lists and op graphs, every quantizer
// family, the optimizer's update), also while a field the core does not read (data folder,
// database) is rejected.
void MainWindow::updateCost() {
    m_cost.reset();
    if (!m_panel->model() || m_editor->pattern().isEmpty()) {
        m_editor->setCostText(tr("Cost: choose a model and a valid pattern"));
        return;
    }
    try {
        QString why;
        const auto experiment = m_panel->previewExperiment(editorQuantKeys(), &why);
        if (!experiment) {
            m_editor->setCostText(tr("Cost: %1").arg(why));
            return;
        }
        m_cost = cost_estimate(*experiment, m_costTable);
        const auto& c = *m_cost;
        auto e = [](double pj) { return QString::fromStdString(cost_format_energy(pj)); };
        auto a = [](double um2) {
            return QString::fromStdString(cost_format_area(um2))
                .replace(QLatin1String("um^2"), QStringLiteral("µm²"))
                .replace(QLatin1String("mm^2"), QStringLiteral("mm²"));
        };
        QString text =
            tr("<b>Cost (45 nm)</b> &nbsp; training step (batch %1): <b>%2</b>, %3 MMAC &nbsp;·&nbsp; "
               "inference: <b>%4</b>/image<br>MAC datapath area: training %5 &nbsp;·&nbsp; inference %6")
                .arg(c.batch)
                .arg(e(c.trainStepEnergyPj))
                .arg(double(c.trainMacsPerStep) / 1e6, 0, 'f', 1)
                .arg(e(c.inferenceEnergyPj))
                .arg(a(c.trainAreaUm2))
                .arg(a(c.inferenceAreaUm2));
        // Where a step's energy goes: which layer and product to narrow first.
        text += tr("<table cellspacing=0 cellpadding=1 style='margin-top:4px'><tr><th align=left>layer</th>"
                   "<th align=right>&nbsp;forward</th><th align=right>&nbsp;error</th>"
                   "<th align=right>&nbsp;gradient</th><th align=right>&nbsp;share</th></tr>");
        for (const auto& l : c.layers) {
            double layerPj = l.updateEnergyPj + l.requantEnergyPj * c.batch;
            QString cells;
            for (int p = 0; p < 3; ++p) {
                layerPj += l.energyPj[p] * c.batch;
                cells += l.macs[p] ? QStringLiteral("<td align=right>&nbsp;%1×%2 %3</td>")
                                         .arg(l.operandBits[p][0] ? QString::number(l.operandBits[p][0]) : QStringLiteral("f"))
                                         .arg(l.operandBits[p][1] ? QString::number(l.operandBits[p][1]) : QStringLiteral("f"))
                                         .arg(e(l.energyPj[p] * c.batch))
                                   : QStringLiteral("<td align=right>&nbsp;–</td>");
            }
            text += QStringLiteral("<tr><td>%1</td>%2<td align=right>&nbsp;%3 %</td></tr>")
                        .arg(QString::fromStdString(l.name), cells)
                        .arg(100.0 * layerPj / c.trainStepEnergyPj, 0, 'f', 0);
        }
        text += QStringLiteral("</table>");
        m_editor->setCostText(text);
    } catch (const std::exception& ex) {
        m_editor->setCostText(tr("Cost: %1").arg(QString::fromUtf8(ex.what())));
    }
}

} // namespace bitbench
