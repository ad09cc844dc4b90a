// Fuzz target: model files (JSON layer lists) as bitbench reads them, and their shapes.
#include "bitbench/experiment.h"
#include "bitbench/model.h"
#include "fuzz_common.h"

using namespace bitbench;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = fuzz::scratch_write("model.json", data, size);
    fuzz::accept_rejections([&] {
        const ModelDesc m = model_from_json(json_file_read(path, "model file"));
        fuzz::require(!m.layers.empty(), "a model has layers");
        int64_t params = 0;
        for (const auto& l : m.layers) {
            fuzz::require(l.inH >= 1 && l.inW >= 1 && l.inC >= 1, "input shapes are positive");
            fuzz::require(l.outH >= 1 && l.outW >= 1, "output shapes are positive");
            params += l.weightCount();
        }
        fuzz::require(params == m.parameterCount(), "parameterCount() sums the layers");
        // The stored form (runs keep model_to_json) reads back to the same model.
        const nlohmann::json stored = model_to_json(m);
        fuzz::require(model_to_json(model_from_json(stored)) == stored, "model_to_json round-trips");
    });
    return 0;
}
