// Fuzz target: sweep files as `sweep` reads them, expanded into trials.
#include "bitbench/analysis.h"
#include "bitbench/experiment.h"
#include "fuzz_common.h"

#include <set>

using namespace bitbench;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!fuzz::json_names_only_local(data, size)) return 0;
    const std::string dir = fuzz::scratch_with_fixtures();
    const std::string path = fuzz::scratch_write("sweep.json", data, size);
    fuzz::accept_rejections([&] {
        std::string name;
        const auto trials = sweep_expand(json_file_read(path, "sweep file"), dir, &name);
        std::set<std::string> hashes;
        for (const auto& t : trials) {
            fuzz::require(hashes.insert(t.configHash).second, "trials have distinct config hashes");
            fuzz::require(t.configHash == t.experiment.configHash(), "trial hash is its experiment's");
        }
    });
    return 0;
}
