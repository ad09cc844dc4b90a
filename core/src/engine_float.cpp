// Placeholder until the float engine lands: refuses patterns with float classes.
#include "bitbench/engine.h"

#include "bitbench/error.h"

namespace bitbench {

std::unique_ptr<Engine> engine_create_float(const Experiment& e) {
    std::string why;
    engine_integer_supported(e, &why);
    throw InputError("this pattern needs the float engine, which is not built yet: " + why);
}

} // namespace bitbench
