// Chooses the engine for an experiment: integer where every class is quantized, float otherwise.
#include "bitbench/engine.h"

#include "bitbench/error.h"

namespace bitbench {

std::unique_ptr<Engine> engine_create_integer(const Experiment& e);
std::unique_ptr<Engine> engine_create_float(const Experiment& e);

std::unique_ptr<Engine> engine_create(const Experiment& e, EngineKind kind) {
    std::string why;
    const bool integer = engine_integer_supported(e, &why);
    if (kind == EngineKind::Integer && !integer) throw InputError("the integer engine cannot run this experiment: " + why);
    if (kind == EngineKind::Integer || (kind == EngineKind::Auto && integer)) return engine_create_integer(e);
    return engine_create_float(e);
}

} // namespace bitbench
