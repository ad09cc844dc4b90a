// Optimizer configuration: strict JSON reading and the canonical form.
#include "bitbench/error.h"
#include "bitbench/optim.h"
#include "experiment/json_read.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>

namespace bitbench {

namespace {

// The keys each kind reads besides "kind".
const std::vector<std::string>& keysOf(SolverKind k) {
    static const std::vector<std::string> wage, sgd{"momentum", "weight_decay", "nesterov", "warmup_epochs", "latent_clip", "lr_scale"},
        adam{"betas", "eps", "weight_decay", "warmup_epochs", "latent_clip", "lr_scale"};
    return k == SolverKind::Sgd ? sgd : k == SolverKind::Adam ? adam : wage;
}

std::string numberText(double x) { return nlohmann::json(x).dump(); }

} // namespace

OptimizerConfig optimizer_parse(const nlohmann::json& j, const std::string& where) {
    if (j.is_string()) return optimizer_parse(nlohmann::json{{"kind", j}}, where);
    JsonReader r(j, where);
    OptimizerConfig c;
    const std::string kind = r.string("kind");
    if (kind == "wage") c.kind = SolverKind::Wage;
    else if (kind == "sgd") c.kind = SolverKind::Sgd;
    else if (kind == "adam") c.kind = SolverKind::Adam;
    else r.fail("kind", "expected \"wage\", \"sgd\" or \"adam\", got \"" + kind + "\"");
    // A key of another kind is a likely mix-up: say whose it is rather than "unknown key".
    for (SolverKind other : {SolverKind::Wage, SolverKind::Sgd, SolverKind::Adam}) {
        if (other == c.kind) continue;
        for (const auto& key : keysOf(other)) {
            const auto& mine = keysOf(c.kind);
            if (r.has(key) && std::find(mine.begin(), mine.end(), key) == mine.end())
                r.fail(key, std::string("applies to kind \"") + solver_kind_name(other) + "\", not \"" + kind + "\"");
        }
    }
    auto nonNegative = [&](const std::string& key, double dflt) {
        const double v = r.numberOr(key, dflt);
        if (!(v >= 0)) r.fail(key, "expected a number >= 0, got " + numberText(v));
        return v;
    };
    if (c.kind == SolverKind::Sgd) {
        c.momentum = nonNegative("momentum", 0);
        c.weightDecay = nonNegative("weight_decay", 0);
        c.nesterov = r.booleanOr("nesterov", false);
        if (c.nesterov && c.momentum == 0) r.fail("nesterov", "needs a momentum above 0");
    } else if (c.kind == SolverKind::Adam) {
        if (r.has("betas")) {
            const auto betas = r.array("betas");
            if (betas.size() != 2) r.fail("betas", "expected [beta1, beta2], got " + std::to_string(betas.size()) + " values");
            double* out[2] = {&c.beta1, &c.beta2};
            for (size_t i = 0; i < 2; ++i) {
                const std::string at = r.path() + ".betas[" + std::to_string(i) + "]";
                const double b = json_number(betas[i], at);
                if (!(b >= 0 && b < 1)) throw InputError(at + ": expected a number in [0, 1), got " + numberText(b));
                *out[i] = b;
            }
        }
        c.eps = nonNegative("eps", 1e-8);
        c.weightDecay = nonNegative("weight_decay", 0);
    }
    if (c.kind != SolverKind::Wage) {
        c.warmupEpochs = int32_t(r.integerOr("warmup_epochs", 0, kWarmupEpochsMax, 0));
        c.latentClip = nonNegative("latent_clip", 0);
        const std::string scale = r.stringOr("lr_scale", "none");
        if (scale == "glorot") c.lrGlorot = true;
        else if (scale != "none") r.fail("lr_scale", "expected \"none\" or \"glorot\", got \"" + scale + "\"");
    }
    r.finish();
    return c;
}

nlohmann::json optimizer_to_json(const OptimizerConfig& c) {
    nlohmann::json j = {{"kind", solver_kind_name(c.kind)}};
    if (c.kind == SolverKind::Sgd) {
        j["momentum"] = c.momentum;
        j["weight_decay"] = c.weightDecay;
        j["nesterov"] = c.nesterov;
        j["warmup_epochs"] = c.warmupEpochs;
    } else if (c.kind == SolverKind::Adam) {
        j["betas"] = {c.beta1, c.beta2};
        j["eps"] = c.eps;
        j["weight_decay"] = c.weightDecay;
        j["warmup_epochs"] = c.warmupEpochs;
    }
    // Written only when set, so the configurations of earlier experiments keep their hash.
    if (c.latentClip > 0) j["latent_clip"] = c.latentClip;
    if (c.lrGlorot) j["lr_scale"] = "glorot";
    return j;
}

} // namespace bitbench
