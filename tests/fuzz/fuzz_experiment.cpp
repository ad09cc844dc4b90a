// Fuzz target: experiment files as `train` reads them, and the stored form resume and replay read.
#include "bitbench/experiment.h"
#include "fuzz_common.h"

using namespace bitbench;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!fuzz::json_names_only_local(data, size)) return 0;
    const std::string path = fuzz::scratch_with_fixtures() + "/experiment.json";
    fuzz::scratch_write("experiment.json", data, size);
    fuzz::accept_rejections([&] {
        const Experiment e = experiment_load(path);
        fuzz::require(!e.lr.empty() && e.batch >= 1 && e.epochs >= 1, "schedule is usable");
        (void)e.lrAt(e.epochs - 1);
        // A run database keeps stored(); resume and replay must read it back to the same config.
        const nlohmann::json stored = e.stored();
        Experiment back;
        try {
            back = experiment_from_json(stored);
        } catch (const Error& err) {
            std::fprintf(stderr, "stored experiment does not read back: %s\n", err.what());
            fuzz::require(false, "stored() reads back");
        }
        fuzz::require(back.configHash() == e.configHash(), "stored() keeps the config hash");
        fuzz::require(back.stored() == stored, "stored() round-trips");
    });
    return 0;
}
