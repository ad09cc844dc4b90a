// Chooses the engine for an experiment: integer where every class is quantized, float otherwise.
#include "bitbench/engine.h"

#include "bitbench/error.h"

namespace bitbench {

std::unique_ptr<Engine> engine_create_integer(const Experiment& e);
std::unique_ptr<Engine> engine_create_float(const Experiment& e);

std::unique_ptr<Engine> engine_create(const Experiment& e) {
    if (engine_integer_supported(e)) return engine_create_integer(e);
    return engine_create_float(e);
}

} // namespace bitbench
