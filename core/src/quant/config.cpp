// Quantizers and quant configurations in JSON: short strings, the object form, per-op overrides, the bits shorthand.
#include "bitbench/quant.h"

#include "bitbench/error.h"
#include "experiment/json_read.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <set>

namespace bitbench {

namespace {

const char* kShortForms = "\"float\" or \"f\", \"wageK\" (K 1..16), \"powK\" (K 2..16), \"affineK\" or \"affineKs\" "
                          "(K 1..16, s = stochastic), \"sign\", \"signs\", \"ternary\", \"ttq\", \"dorefaK\" (K 1..16), "
                          "\"terngrad\", or an object {\"family\": ..., \"bits\": ...}";

const char* kRoundingNames[2] = {"nearest", "stochastic"};
const char* kGranularityNames[3] = {"tensor", "channel", "sample"};
const char* kRangeNames[2] = {"batch", "running"};

std::string family_list() {
    std::string s;
    for (const auto& t : quant_families()) s += (s.empty() ? "" : ", ") + std::string(t.name);
    return s;
}

// Keys of the object form that a family accepts besides "family".
std::set<std::string> family_keys(QuantFamily f) {
    std::set<std::string> k;
    if (f == QuantFamily::Float) return k;
    k = {"bits", "rounding", "granularity"};
    if (f == QuantFamily::Affine) k.insert({"range", "momentum", "zero_point"});
    if (f == QuantFamily::Ternary || f == QuantFamily::TernaryLearned) k.insert("threshold");
    if (f == QuantFamily::Terngrad) k.insert("clip");
    return k;
}

template <size_t N> int pick(JsonReader& r, const std::string& key, const char* const (&names)[N], int dflt) {
    if (!r.has(key)) {
        r.stringOr(key, ""); // marks the key as read
        return dflt;
    }
    const std::string v = r.string(key);
    std::string allowed;
    for (size_t i = 0; i < N; ++i) {
        if (v == names[i]) return int(i);
        allowed += (i ? ", " : "") + std::string("\"") + names[i] + "\"";
    }
    r.fail(key, "unknown value \"" + v + "\"; allowed: " + allowed);
}

// A short string, or nullopt when `s` is not one.
std::optional<Quantizer> parse_short(const std::string& s) {
    auto with = [](QuantFamily f, int32_t bits, Rounding r = Rounding::NearestEven) {
        Quantizer q;
        q.family = f;
        q.bits = bits;
        q.rounding = r;
        q.param = quant_default_param(f);
        return q;
    };
    if (s == "float" || s == "f") return with(QuantFamily::Float, 0);
    if (s == "sign") return with(QuantFamily::Sign, 1);
    if (s == "signs") return with(QuantFamily::Sign, 1, Rounding::Stochastic);
    if (s == "ternary") return with(QuantFamily::Ternary, 2);
    if (s == "ttq") return with(QuantFamily::TernaryLearned, 2);
    if (s == "terngrad") return with(QuantFamily::Terngrad, 2, Rounding::Stochastic);
    static const std::pair<const char*, QuantFamily> kPrefixed[] = {
        {"wage", QuantFamily::Wage}, {"pow", QuantFamily::Pow2}, {"affine", QuantFamily::Affine}, {"dorefa", QuantFamily::Dorefa}};
    for (const auto& [prefix, family] : kPrefixed) {
        const std::string p = prefix;
        if (s.size() <= p.size() || s.compare(0, p.size(), p) != 0) continue;
        std::string digits = s.substr(p.size());
        Rounding r = Rounding::NearestEven;
        if (family == QuantFamily::Affine && !digits.empty() && digits.back() == 's') {
            r = Rounding::Stochastic;
            digits.pop_back();
        }
        if (digits.empty() || digits.size() > 2 || digits[0] == '0') return std::nullopt;
        for (char c : digits)
            if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        const auto& t = quant_family(family);
        const int32_t bits = std::stoi(digits);
        if (bits < t.minBits || bits > t.maxBits) return std::nullopt;
        return with(family, bits, r);
    }
    return std::nullopt;
}

Quantizer parse_object(const nlohmann::json& j, const std::string& where) {
    JsonReader r(j, where);
    const std::string name = r.string("family");
    const QuantFamilyTraits* traits = nullptr;
    for (const auto& t : quant_families())
        if (name == t.name) traits = &t;
    if (!traits) r.fail("family", "unknown family \"" + name + "\"; allowed: " + family_list());
    const QuantFamily f = traits->family;
    const std::set<std::string> keys = family_keys(f);
    for (const auto& [k, v] : j.items())
        if (k != "family" && !keys.count(k))
            throw InputError(where + "." + k + ": unknown key for family " + name +
                             (keys.empty() ? std::string(" (it takes no other key)")
                                           : "; allowed: family, " + [&] {
                                                 std::string s;
                                                 for (const auto& a : keys) s += (s.empty() ? "" : ", ") + a;
                                                 return s;
                                             }()));
    Quantizer q;
    q.family = f;
    q.param = quant_default_param(f);
    if (f == QuantFamily::Float) return q;
    q.bits = traits->minBits == traits->maxBits ? int32_t(r.integerOr("bits", traits->minBits, traits->maxBits, traits->minBits))
                                                : int32_t(r.integer("bits", traits->minBits, traits->maxBits));
    q.rounding = Rounding(pick(r, "rounding", kRoundingNames, traits->stochasticRequired ? 1 : 0));
    q.granularity = Granularity(pick(r, "granularity", kGranularityNames, 0));
    if (f == QuantFamily::Affine) {
        q.range = RangeSource(pick(r, "range", kRangeNames, 0));
        q.param = r.numberOr("momentum", q.param);
        if (r.has("zero_point")) {
            const std::string z = r.string("zero_point");
            if (z != "min" && z != "integer" && z != "symmetric")
                r.fail("zero_point", "unknown value \"" + z +
                                         "\"; allowed: \"min\" (Banner), \"integer\" (gemmlowp), \"symmetric\"");
            q.zeroPoint = z == "integer" ? ZeroPoint::Integer : z == "symmetric" ? ZeroPoint::Symmetric : ZeroPoint::Min;
        }
    }
    if (f == QuantFamily::Ternary || f == QuantFamily::TernaryLearned) q.param = r.numberOr("threshold", q.param);
    if (f == QuantFamily::Terngrad) q.param = r.numberOr("clip", q.param);
    return q;
}

} // namespace

void quantizer_check(const Quantizer& q, const std::string& where) {
    if (uint8_t(q.family) >= kQuantFamilyCount) throw InputError(where + ".family: unknown family");
    const QuantFamilyTraits& t = quant_family(q.family);
    const std::string fam = std::string(" for family ") + t.name;
    if (q.bits < t.minBits || q.bits > t.maxBits)
        throw InputError(where + ".bits: " + std::to_string(q.bits) + " is out of range " + std::to_string(t.minBits) +
                         ".." + std::to_string(t.maxBits) + fam);
    if (q.rounding == Rounding::Stochastic && !t.stochasticAllowed)
        throw InputError(where + ".rounding: stochastic is not available" + fam + "; allowed: \"nearest\"");
    if (q.rounding != Rounding::Stochastic && t.stochasticRequired)
        throw InputError(where + ".rounding: family " + t.name + " is stochastic by definition; allowed: \"stochastic\"");
    if (q.granularity != Granularity::Tensor && !t.groupsAllowed)
        throw InputError(where + ".granularity: only \"tensor\" is available" + fam);
    if (q.range == RangeSource::Running && q.family != QuantFamily::Affine)
        throw InputError(where + ".range: running ranges exist for family affine only");
    if (q.range == RangeSource::Running && q.granularity != Granularity::Tensor)
        throw InputError(where + ".range: a running range is per tensor; it needs granularity \"tensor\"");
    if (q.integerZero() && q.family != QuantFamily::Affine)
        throw InputError(where + ".zero_point: an integer zero point exists for family affine only");
    if (q.zeroPoint == ZeroPoint::Symmetric && q.bits < 2)
        throw InputError(where + ".zero_point: a symmetric range needs at least 2 bits");
    const bool ternary = q.family == QuantFamily::Ternary || q.family == QuantFamily::TernaryLearned;
    if (ternary && !(q.param > 0 && q.param < 1))
        throw InputError(where + ".threshold: " + nlohmann::json(q.param).dump() + " is not in (0, 1)" + fam);
    if (q.family == QuantFamily::Affine && !(q.param > 0 && q.param <= 1))
        throw InputError(where + ".momentum: " + nlohmann::json(q.param).dump() + " is not in (0, 1] (the weight of the new value)");
    if (q.family == QuantFamily::Terngrad && !(q.param >= 0 && q.param <= 1e6))
        throw InputError(where + ".clip: " + nlohmann::json(q.param).dump() + " must be >= 0 (0 = s is max|g|)");
    if (!ternary && q.family != QuantFamily::Affine && q.family != QuantFamily::Terngrad &&
        q.param != quant_default_param(q.family))
        throw InputError(where + ": family " + t.name + " has no parameter");
}

Quantizer quantizer_parse(const nlohmann::json& j, const std::string& where) {
    if (j.is_string()) {
        const std::string s = j.get<std::string>();
        if (auto q = parse_short(s)) return *q;
        throw InputError(where + ": unknown quantizer \"" + s + "\"; allowed: " + kShortForms);
    }
    if (!j.is_object())
        throw InputError(where + ": expected a quantizer string or object, got " + JsonReader::typeName(j) +
                         "; allowed: " + kShortForms);
    Quantizer q = parse_object(j, where);
    quantizer_check(q, where);
    return q;
}

nlohmann::json quantizer_to_json(const Quantizer& q) {
    const QuantFamilyTraits& t = quant_family(q.family);
    nlohmann::json j = {{"family", t.name}};
    if (q.family == QuantFamily::Float) return j;
    j["bits"] = q.bits;
    j["rounding"] = kRoundingNames[int(q.rounding)];
    j["granularity"] = kGranularityNames[int(q.granularity)];
    if (q.family == QuantFamily::Affine) {
        j["range"] = kRangeNames[int(q.range)];
        j["momentum"] = q.param;
        j["zero_point"] = q.zeroPoint == ZeroPoint::Integer ? "integer" : q.zeroPoint == ZeroPoint::Symmetric ? "symmetric" : "min";
    }
    if (q.family == QuantFamily::Ternary || q.family == QuantFamily::TernaryLearned) j["threshold"] = q.param;
    if (q.family == QuantFamily::Terngrad) j["clip"] = q.param;
    return j;
}

std::string Quantizer::text() const {
    const char* name = quant_family(family).name;
    std::string s = family == QuantFamily::Pow2 ? "pow" : name;
    const bool prefixed = family == QuantFamily::Wage || family == QuantFamily::Pow2 || family == QuantFamily::Affine ||
                          family == QuantFamily::Dorefa;
    if (prefixed) s += std::to_string(bits);
    if (rounding == Rounding::Stochastic && (family == QuantFamily::Affine || family == QuantFamily::Sign)) s += 's';
    if (const auto q = parse_short(s); q && *q == *this) return s;
    return quantizer_to_json(*this).dump();
}

std::string Quantizer::label() const {
    const std::string t = text();
    if (t.empty() || t[0] != '{') return t;
    std::string s = family == QuantFamily::Pow2 ? "pow" : quant_family(family).name;
    if (family == QuantFamily::Wage || family == QuantFamily::Pow2 || family == QuantFamily::Affine ||
        family == QuantFamily::Dorefa)
        s += std::to_string(bits);
    if (rounding == Rounding::Stochastic && (family == QuantFamily::Affine || family == QuantFamily::Sign)) s += 's';
    const auto base = parse_short(s);
    if (!base) return t;
    const nlohmann::json mine = quantizer_to_json(*this), theirs = quantizer_to_json(*base);
    for (const auto& [key, v] : mine.items())
        if (!theirs.contains(key) || theirs[key] != v) s += " " + key + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    return s;
}

Quantizer QuantConfig::forOp(const std::string& opName, QuantClass cls) const {
    const auto it = ops.find(opName);
    const QuantClassSet* op = it == ops.end() ? nullptr : &it->second;
    const size_t c = size_t(cls);
    if (op && op->q[c]) return *op->q[c];
    if (cls == QuantClass::EGrad) return base.q[c] ? *base.q[c] : forOp(opName, QuantClass::E);
    return base.q[c] ? *base.q[c] : Quantizer{};
}

namespace {

QuantClassSet parse_classes(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object())
        throw InputError(where + ": expected an object of classes like {\"W\": \"ternary\"}, got " + JsonReader::typeName(j));
    QuantClassSet s;
    for (const auto& [key, v] : j.items()) {
        int c = -1;
        for (int i = 0; i < kQuantClassCount; ++i)
            if (key == quant_class_name(QuantClass(i))) c = i;
        if (c < 0) throw InputError(where + "." + key + ": unknown class; allowed: W, A, G, E, E_grad");
        const std::string at = where + "." + key;
        const Quantizer q = quantizer_parse(v, at);
        const QuantFamilyTraits& t = quant_family(q.family);
        if (!t.serves(QuantClass(c))) {
            std::string serves;
            for (int i = 0; i < kQuantClassCount; ++i)
                if (t.serves(QuantClass(i))) serves += (serves.empty() ? "" : ", ") + std::string(quant_class_name(QuantClass(i)));
            throw InputError(at + ": family " + t.name + " does not serve class " + key + "; it serves " + serves);
        }
        s.q[size_t(c)] = q;
    }
    return s;
}

nlohmann::json classes_to_json(const QuantClassSet& s) {
    nlohmann::json j = nlohmann::json::object();
    for (int i = 0; i < kQuantClassCount; ++i) {
        if (!s.q[size_t(i)]) continue;
        const std::string text = s.q[size_t(i)]->text();
        j[quant_class_name(QuantClass(i))] = text[0] == '{' ? quantizer_to_json(*s.q[size_t(i)]) : nlohmann::json(text);
    }
    return j;
}

} // namespace

QuantConfig quant_config_parse(const nlohmann::json& quant, const nlohmann::json* layerQuant, const std::string& where) {
    const std::string prefix = where.empty() ? "" : where + ".";
    QuantConfig c;
    c.base = parse_classes(quant, prefix + "quant");
    if (layerQuant) {
        if (!layerQuant->is_object())
            throw InputError(prefix + "layer_quant: expected an object mapping op names to classes, got " +
                             JsonReader::typeName(*layerQuant));
        for (const auto& [op, v] : layerQuant->items()) c.ops[op] = parse_classes(v, prefix + "layer_quant." + op);
    }
    return c;
}

nlohmann::json quant_config_to_json(const QuantConfig& c) {
    nlohmann::json j = {{"quant", classes_to_json(c.base)}};
    if (!c.ops.empty()) {
        nlohmann::json ops = nlohmann::json::object();
        for (const auto& [name, s] : c.ops) ops[name] = classes_to_json(s);
        j["layer_quant"] = ops;
    }
    return j;
}

QuantConfig quant_config_from_bits(const QuantSpec& spec) {
    auto classes = [](const ClassBits& b) {
        QuantClassSet s;
        for (size_t i = 0; i < 4; ++i) {
            Quantizer q;
            if (b.bits[i]) {
                q.family = QuantFamily::Wage;
                q.bits = b.bits[i];
            }
            s.q[i] = q;
        }
        return s;
    };
    QuantConfig c;
    c.base = classes(spec.base);
    for (const auto& [layer, b] : spec.overrides) c.ops[layer] = classes(b);
    return c;
}

} // namespace bitbench
