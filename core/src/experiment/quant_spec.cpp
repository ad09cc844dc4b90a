// Parsing and printing of W-A-G-E bitwidth patterns.
#include "bitbench/quant_spec.h"

#include "bitbench/error.h"

#include <nlohmann/json.hpp>

#include <cctype>

namespace bitbench {

namespace {

const char* kAllowed = "expected W-A-G-E as four dash-separated fields, each 1..16 or 'f' for float "
                       "(e.g. 2-8-8-8, 2-8-f-8), or four characters 1-9, A-E (10..14) or f "
                       "(e.g. 2888, 28C8, 28ff)";

[[noreturn]] void reject(const std::string& text, const std::string& why) {
    throw InputError("invalid bitwidth pattern '" + text + "': " + why + "; " + kAllowed);
}

char compactChar(int32_t bits) {
    if (bits == 0) return 'f';
    if (bits < 10) return char('0' + bits);
    return char('A' + bits - 10);
}

int32_t parseField(const std::string& text, const std::string& field, const char* cls) {
    if (field == "f" || field == "F") return 0;
    if (field.empty()) reject(text, std::string("the ") + cls + " field is empty");
    for (char c : field)
        if (!std::isdigit(static_cast<unsigned char>(c)))
            reject(text, std::string("the ") + cls + " field '" + field + "' is not a number or 'f'");
    if (field.size() > 2) reject(text, std::string("the ") + cls + " field '" + field + "' is out of range 1..16");
    const int v = std::stoi(field);
    if (v < 1 || v > kMaxBits)
        reject(text, std::string("the ") + cls + " field '" + field + "' is out of range 1..16");
    return v;
}

int32_t parseClassValue(const nlohmann::json& v, const std::string& where) {
    if (v.is_number_integer()) { // compared unsigned when nlohmann holds it unsigned: never wrapped
        const bool ok = v.is_number_unsigned() ? v.get<uint64_t>() >= 1 && v.get<uint64_t>() <= uint64_t(kMaxBits)
                                               : v.get<int64_t>() >= 1 && v.get<int64_t>() <= kMaxBits;
        if (!ok) throw InputError(where + ": bits must be 1..16 or \"f\", got " + v.dump());
        return int32_t(v.get<int64_t>());
    }
    if (v.is_string() && (v.get<std::string>() == "f" || v.get<std::string>() == "float")) return 0;
    throw InputError(where + ": bits must be 1..16 or \"f\", got " + v.dump());
}

} // namespace

std::string ClassBits::pattern() const {
    for (int32_t b : bits)
        if (b > 14) return dashed();
    std::string s;
    for (int32_t b : bits) s += compactChar(b);
    return s;
}

std::string ClassBits::dashed() const {
    std::string s;
    for (size_t i = 0; i < 4; ++i) {
        if (i) s += '-';
        s += bits[i] ? std::to_string(bits[i]) : std::string("f");
    }
    return s;
}

ClassBits quant_spec_parse(const std::string& text) {
    static const char* kNames[4] = {"W", "A", "G", "E"};
    if (text.empty()) reject(text, "it is empty");
    ClassBits out;
    if (text.find('-') != std::string::npos) {
        std::string fields[5];
        size_t n = 0, start = 0;
        for (;;) {
            size_t d = text.find('-', start);
            if (n == 4) reject(text, "it has more than four fields");
            fields[n++] = text.substr(start, d == std::string::npos ? std::string::npos : d - start);
            if (d == std::string::npos) break;
            start = d + 1;
        }
        if (n != 4) reject(text, "it has " + std::to_string(n) + " fields, not four");
        for (size_t i = 0; i < 4; ++i) out.bits[i] = parseField(text, fields[i], kNames[i]);
        return out;
    }
    if (text.size() != 4)
        reject(text, "a pattern without dashes must have exactly four characters, this has " +
                         std::to_string(text.size()));
    for (size_t i = 0; i < 4; ++i) {
        const char c = text[i];
        if (c == 'f' || c == 'F') out.bits[i] = 0;
        else if (c >= '1' && c <= '9') out.bits[i] = c - '0';
        else if (c >= 'A' && c <= 'E') out.bits[i] = 10 + (c - 'A');
        else if (c >= 'a' && c <= 'e') out.bits[i] = 10 + (c - 'a');
        else if (c == '0') reject(text, std::string("the ") + kNames[i] + " class has 0 bits (minimum is 1)");
        else reject(text, std::string("character '") + c + "' for " + kNames[i] + " is not 1-9, A-E or f");
    }
    return out;
}

ClassBits QuantSpec::forLayer(const std::string& layerName) const {
    auto it = overrides.find(layerName);
    return it == overrides.end() ? base : it->second;
}

bool QuantSpec::allInteger() const {
    if (!base.allInteger()) return false;
    for (const auto& [name, b] : overrides)
        if (!b.allInteger()) return false;
    return true;
}

void quant_spec_read_overrides(QuantSpec& spec, const nlohmann::json& overrides) {
    if (!overrides.is_object())
        throw InputError("layer_bits: expected an object mapping layer names to patterns, got " + overrides.dump());
    for (const auto& [layer, v] : overrides.items()) {
        const std::string where = "layer_bits." + layer;
        if (v.is_string()) {
            try {
                spec.overrides[layer] = quant_spec_parse(v.get<std::string>());
            } catch (const InputError& e) {
                throw InputError(where + ": " + e.what());
            }
        } else if (v.is_object()) {
            ClassBits b = spec.forLayer(layer);
            for (const auto& [cls, bits] : v.items()) {
                static const std::string kNames = "WAGE";
                if (cls.size() != 1 || kNames.find(cls[0]) == std::string::npos)
                    throw InputError(where + ": unknown class \"" + cls + "\", expected W, A, G or E");
                b.bits[kNames.find(cls[0])] = parseClassValue(bits, where + "." + cls);
            }
            spec.overrides[layer] = b;
        } else {
            throw InputError(where + ": expected a pattern string or an object like {\"A\": 8}");
        }
    }
}

} // namespace bitbench
