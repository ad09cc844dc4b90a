// Runs a Trainer to the end while recording it in the run database (checkpoint every epoch).
#pragma once

#include "bitbench/store.h"
#include "bitbench/trainer.h"

#include <nlohmann/json.hpp>

#include <functional>

namespace bitbench {

// Steps `t` until it finishes or is stopped. With `writer` (already observing `t`), stores a
// checkpoint at each epoch end and, when stopped early, one at the stop; then finishes the run
// with its status and `summary()`: diverged (with the step and message of t.divergence(), and no
// checkpoint of the non-finite weights) when training diverged. An exception finishes the run as
// failed and is rethrown. Returns true when training ran to the end.
bool run_recording(Trainer& t, RunWriter* writer, const std::function<nlohmann::json()>& summary);

} // namespace bitbench
