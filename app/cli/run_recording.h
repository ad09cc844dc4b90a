// Runs a Trainer to the end while recording it in the run database (checkpoint every epoch).
#pragma once

#include "bitbench/experiment.h"
#include "bitbench/store.h"
#include "bitbench/trainer.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace bitbench::cli {

// Steps `t` until it finishes or is stopped. With `writer`, stores every event, a checkpoint at
// each epoch end and, when stopped early, a checkpoint at the stop; then finishes the run with
// its status and `summary`. Returns true when training ran to the end.
bool recording_run(Trainer& t, RunWriter* writer, const std::function<nlohmann::json()>& summary);

} // namespace bitbench::cli
