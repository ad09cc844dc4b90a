// Quantizer <-> editor cell conversions, experiment keys of an editor state, plan marks.
#include "quant_bridge.h"

#include "bitbench/error.h"

#include <algorithm>
#include <cmath>

namespace bitbench {

namespace {

using widgets::CellQuant;
using widgets::QuantFamilyChoice;

// The short-string prefix of a family (Quantizer::text()): pow2's is "pow".
QString tokenOf(QuantFamily f) {
    return f == QuantFamily::Pow2 ? QStringLiteral("pow") : QString::fromLatin1(quant_family(f).name);
}

const QuantFamilyTraits* traitsByName(const QString& name) {
    for (const auto& t : quant_families())
        if (name == QLatin1String(t.name)) return &t;
    return nullptr;
}

} // namespace

QVector<QuantFamilyChoice> quant_bridge_families() {
    QVector<QuantFamilyChoice> out;
    for (const auto& t : quant_families()) {
        QuantFamilyChoice c;
        c.name = QString::fromLatin1(t.name);
        c.token = tokenOf(t.family);
        c.minBits = t.minBits;
        c.maxBits = t.maxBits;
        c.classes = 0;
        for (int k = 0; k < 4; ++k)
            if (t.serves(QuantClass(k))) c.classes |= 1u << k;
        c.stochasticSuffix = t.family == QuantFamily::Affine || t.family == QuantFamily::Sign;
        const char* cost = t.cost == QuantCost::AddSubtract ? "products as adds" : t.cost == QuantCost::Float ? "float products" : "multiplies";
        c.tip = QStringLiteral("%1: %2, %3").arg(c.name, t.integerCodes ? QStringLiteral("integer codes") : QStringLiteral("float values"),
                                                 QLatin1String(cost));
        out.push_back(c);
    }
    return out;
}

CellQuant quant_bridge_cell(const Quantizer& q) {
    CellQuant c;
    c.family = QString::fromLatin1(quant_family(q.family).name);
    c.bits = q.family == QuantFamily::Float ? 0 : q.bits;
    const std::string text = q.text();
    if (!text.empty() && text.front() == '{') {
        c.suffix = QStringLiteral("*");
        c.options = QString::fromStdString(text);
    } else if (q.rounding == Rounding::Stochastic && (q.family == QuantFamily::Affine || q.family == QuantFamily::Sign)) {
        c.suffix = QStringLiteral("s");
    }
    return c;
}

Quantizer quant_bridge_quantizer(const CellQuant& c, QuantClass cls, const std::string& where) {
    const QuantFamilyTraits* t = traitsByName(c.family);
    if (!t) throw InputError(where + ": unknown quantizer family \"" + c.family.toStdString() + "\"");
    nlohmann::json j;
    if (!c.options.isEmpty()) {
        j = nlohmann::json::parse(c.options.toStdString(), nullptr, false);
        if (!j.is_object()) throw InputError(where + ": settings are not a JSON object: " + c.options.toStdString());
        if (t->maxBits > t->minBits) j["bits"] = c.bits;
    } else {
        std::string s = tokenOf(t->family).toStdString();
        if (t->maxBits > t->minBits) s += std::to_string(c.bits);
        if (c.suffix == QLatin1String("s")) s += 's';
        j = s;
    }
    const Quantizer q = quantizer_parse(j, where);
    if (!quant_family(q.family).serves(cls))
        throw InputError(where + ": " + q.text() + " does not serve class " + quant_class_name(cls));
    return q;
}

nlohmann::json quant_bridge_keys(const widgets::BitwidthConfig& cfg, bool bitsForm, const QuantConfig* source) {
    bool wage = widgets::cell_quants_are_wage(cfg.patternQuant);
    for (const auto& row : cfg.layerQuant) wage = wage && widgets::cell_quants_are_wage(row);
    nlohmann::json j = nlohmann::json::object();
    if (bitsForm && wage) {
        ClassBits base;
        for (size_t c = 0; c < 4; ++c) base.bits[c] = cfg.patternBits[c];
        j["bits"] = base.dashed();
        nlohmann::json layers = nlohmann::json::object();
        for (int l = 0; l < cfg.layerNames.size() && l < cfg.layerBits.size(); ++l) {
            if (cfg.layerBits[l] == cfg.patternBits) continue;
            ClassBits b;
            for (size_t c = 0; c < 4; ++c) b.bits[c] = cfg.layerBits[l][c];
            layers[cfg.layerNames[l].toStdString()] = b.dashed();
        }
        if (!layers.empty()) j["layer_bits"] = layers;
        return j;
    }
    QuantConfig q;
    for (int c = 0; c < 4; ++c) {
        // A float class the source left unset stays unset (both mean float; the hash differs).
        if (cfg.patternQuant[size_t(c)].isFloat() && !(source && source->base.q[size_t(c)])) continue;
        q.base.q[size_t(c)] = quant_bridge_quantizer(cfg.patternQuant[size_t(c)], QuantClass(c),
                                                     std::string("quant.") + quant_class_name(QuantClass(c)));
    }
    const size_t eg = size_t(QuantClass::EGrad);
    if (source) q.base.q[eg] = source->base.q[eg];
    for (int l = 0; l < cfg.layerNames.size() && l < cfg.layerQuant.size(); ++l) {
        const std::string name = cfg.layerNames[l].toStdString();
        QuantClassSet set;
        for (int c = 0; c < 4; ++c)
            if (!(cfg.layerQuant[l][size_t(c)] == cfg.patternQuant[size_t(c)]))
                set.q[size_t(c)] = quant_bridge_quantizer(cfg.layerQuant[l][size_t(c)], QuantClass(c),
                                                          "layer_quant." + name + "." + quant_class_name(QuantClass(c)));
        if (source)
            if (const auto it = source->ops.find(name); it != source->ops.end()) set.q[eg] = it->second.q[eg];
        if (set != QuantClassSet{}) q.ops[name] = set;
    }
    if (source) // E_grad of ops the grid has no row for (e.g. a quantize op's own entry)
        for (const auto& [op, set] : source->ops)
            if (!q.ops.count(op) && set.q[eg]) q.ops[op].q[eg] = set.q[eg];
    return quant_config_to_json(q);
}

// E_grad beside E, read-only, when some layer quantizes the weight gradient's copy of E apart.
static void showEGrad(widgets::BitwidthEditor& editor, const QuantConfig* q) {
    QVector<CellQuant> cells;
    bool differs = false;
    for (const QString& layer : editor.layers()) {
        const std::string name = layer.toStdString();
        const Quantizer eg = q ? q->forOp(name, QuantClass::EGrad) : Quantizer{};
        differs = differs || (q && !(eg == q->forOp(name, QuantClass::E)));
        cells.push_back(quant_bridge_cell(eg));
    }
    editor.setExtraColumn(
        QStringLiteral("E_grad"),
        QStringLiteral(
            "The copy of the errors that feeds the weight gradient, quantized apart from E "
            "(the experiment's \"E_grad\"; edit it in the JSON)"),
        differs ? cells : QVector<CellQuant>{});
}

bool quant_bridge_load(widgets::BitwidthEditor& editor, const Experiment& e) {
    showEGrad(editor, e.quantGiven ? &*e.quantGiven : nullptr);
    if (!e.quantGiven) {
        // As the window always loaded bits: the pattern, then each override cell by cell.
        editor.resetOverrides();
        editor.setPattern(QString::fromStdString(e.bits.base.dashed()));
        for (const auto& [layer, bits] : e.bits.overrides) {
            const int row = int(editor.layers().indexOf(QString::fromStdString(layer)));
            if (row < 0) continue;
            for (int c = 0; c < 4; ++c) editor.setCellBits(row, c, bits.bits[size_t(c)]);
        }
        return true;
    }
    const QuantConfig& q = *e.quantGiven;
    std::array<CellQuant, 4> base;
    for (int c = 0; c < 4; ++c) base[size_t(c)] = quant_bridge_cell(q.forOp("", QuantClass(c)));
    QHash<QString, QHash<int, CellQuant>> overrides;
    for (const auto& [op, set] : q.ops)
        for (int c = 0; c < 4; ++c)
            if (set.q[size_t(c)]) overrides[QString::fromStdString(op)][c] = quant_bridge_cell(*set.q[size_t(c)]);
    editor.setQuant(base, overrides);
    return false;
}

QVector<std::array<widgets::BitwidthEditor::CellPlan, 4>> quant_bridge_plans(const QStringList& rows,
                                                                               const std::vector<LayerReport>& layers) {
    QVector<std::array<widgets::BitwidthEditor::CellPlan, 4>> out(rows.size());
    for (const auto& l : layers) {
        const int r = int(rows.indexOf(QString::fromStdString(l.name)));
        if (r < 0) continue;
        for (size_t c = 0; c < 4; ++c) {
            const ClassPlan& p = l.plan[c];
            if (p.quantizer.empty()) continue;
            out[r][c] = {true, p.integer, QString::fromStdString(p.why)};
        }
    }
    return out;
}

widgets::QuantMarks quant_bridge_marks(const QuantPlan& plan) {
    widgets::QuantMarks m;
    if (plan.groups.empty() || plan.family == QuantFamily::Float) return m;
    // WAGE's G and E outputs are relative to a power-of-two scale the plan keeps apart.
    if (plan.family == QuantFamily::Wage && (plan.cls != QuantClass::W && plan.cls != QuantClass::A)) return m;
    auto value = [&](const QuantGroup& g, int32_t code) -> double {
        if (plan.family == QuantFamily::TernaryLearned) return code > 0 ? g.pos : code < 0 ? -double(g.neg) : 0.0;
        return double(float(code - g.zero) * g.scale + g.offset);
    };
    double lo = INFINITY, hi = -INFINITY;
    for (const QuantGroup& g : plan.groups) {
        lo = std::min(lo, value(g, g.codeLo));
        hi = std::max(hi, value(g, g.codeHi));
    }
    m.clipLo = lo;
    m.clipHi = hi;
    if (plan.groups.size() != 1) return m; // per-channel or per-sample: the common range only
    const QuantGroup& g = plan.groups.front();
    const bool oddCodes = plan.family == QuantFamily::Dorefa && g.codeLo < 0; // codes 2c - n
    if (plan.family == QuantFamily::TernaryLearned) {
        m.levels = {-double(g.neg), 0.0, double(g.pos)};
        m.step = std::max(g.pos, g.neg);
        return m;
    }
    m.step = oddCodes ? 2.0 * double(g.scale) : double(g.scale);
    m.origin = oddCodes ? double(g.scale) : value(g, 0);
    // Few codes: each level as the family computes it (exact, where a grid rounds off).
    if (int64_t(g.codeHi) - g.codeLo < widgets::kMaxMarkedLevels * (oddCodes ? 2 : 1))
        for (int32_t code = g.codeLo; code <= g.codeHi; ++code) {
            if (oddCodes && (code - g.codeLo) % 2 != 0) continue;
            if (plan.family == QuantFamily::Sign && code == 0) continue; // sign has no zero
            m.levels.push_back(value(g, code));
        }
    return m;
}

} // namespace bitbench
