// Fuzz target: bitwidth patterns (quant_spec_parse) and per-layer overrides in JSON.
#include "bitbench/quant_spec.h"
#include "fuzz_common.h"

using namespace bitbench;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    fuzz::accept_rejections([&] {
        const ClassBits b = quant_spec_parse(text);
        for (int32_t v : b.bits) fuzz::require(v >= 0 && v <= kMaxBits, "bits in 0..16");
        // Both printed forms parse back to the same bits (runs store them, sweeps label with them).
        fuzz::require(quant_spec_parse(b.pattern()) == b, "pattern() round-trips");
        fuzz::require(quant_spec_parse(b.dashed()) == b, "dashed() round-trips");
    });
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        return 0;
    }
    fuzz::accept_rejections([&] {
        QuantSpec spec;
        quant_spec_read_overrides(spec, j);
        for (const auto& [layer, b] : spec.overrides) {
            fuzz::require(spec.forLayer(layer) == b, "forLayer() gives the override");
            fuzz::require(quant_spec_parse(b.dashed()) == b, "override dashed() round-trips");
        }
    });
    return 0;
}
