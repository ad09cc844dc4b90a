// Bitwidth specifications: W-A-G-E patterns such as `2-8-8-8`, `2888`, `28f8`, `28C8`.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace bitbench {

// Bits of the four tensor classes of one layer, in W, A, G, E order. 0 means float (`f`).
struct ClassBits {
    std::array<int32_t, 4> bits{2, 8, 8, 8};

    int32_t w() const { return bits[0]; }
    int32_t a() const { return bits[1]; }
    int32_t g() const { return bits[2]; }
    int32_t e() const { return bits[3]; }
    bool allInteger() const { return bits[0] && bits[1] && bits[2] && bits[3]; }
    bool operator==(const ClassBits&) const = default;

    // Compact form when every class fits one character (`2888`, `28C8`, `28ff`), else dashed.
    std::string pattern() const;
    // Always the dashed form: `2-8-8-8`, `2-8-f-8`, `2-8-12-8`.
    std::string dashed() const;
};

inline constexpr int32_t kMaxBits = 16;

// Parses a pattern. Accepted forms:
//   dashed:  four fields joined by '-', each a decimal 1..16 or 'f' (float): `2-8-8-8`, `2-8-f-8`
//   compact: exactly four characters, each 1-9, A-E (10..14, either case) or 'f': `2888`, `28C8`
// throws: InputError quoting the input and saying what is allowed.
ClassBits quant_spec_parse(const std::string& text);

// A model-wide pattern plus per-layer overrides (layer name -> bits).
struct QuantSpec {
    ClassBits base;
    std::map<std::string, ClassBits> overrides;

    ClassBits forLayer(const std::string& layerName) const;
    bool allInteger() const;
};

// Reads per-layer overrides from JSON: {"conv1": "4-8-8-8", "fc2": {"A": 8, "E": "f"}}.
// Object form changes only the named classes of the base pattern.
// throws: InputError naming the layer and the key.
void quant_spec_read_overrides(QuantSpec& spec, const nlohmann::json& overrides);

} // namespace bitbench
