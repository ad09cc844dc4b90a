// Learning-rate schedules: the step schedule of an experiment, with an optional linear warm-up.
#include "bitbench/error.h"
#include "bitbench/optim.h"

#include <string>

namespace bitbench {

double schedule_lr(const std::vector<LrStep>& steps, int32_t warmupEpochs, int64_t step, int64_t stepsPerEpoch) {
    if (steps.empty()) throw InputError("schedule: no learning rate given");
    if (stepsPerEpoch < 1) throw InputError("schedule: steps per epoch " + std::to_string(stepsPerEpoch) + " below 1");
    if (warmupEpochs < 0) throw InputError("schedule: negative warm-up " + std::to_string(warmupEpochs));
    if (step < 0) throw InputError("schedule: negative step " + std::to_string(step));
    const int64_t epoch = step / stepsPerEpoch;
    double base = steps.front().lr;
    for (const auto& s : steps)
        if (s.epoch <= epoch) base = s.lr;
    const int64_t warmupSteps = int64_t(warmupEpochs) * stepsPerEpoch;
    if (step < warmupSteps) return base * double(step + 1) / double(warmupSteps);
    return base;
}

} // namespace bitbench
