// `bitbench-cli train`: runs an experiment with a progress bar and per-epoch lines.
#include "cli_common.h"
#include "train_session.h"

#include <CLI/CLI.hpp>

#include <memory>

namespace bitbench::cli {

Command cli_add_train(CLI::App& app) {
    auto opt = std::make_shared<TrainOptions>();
    auto* sub = app.add_subcommand("train", "Train an experiment (JSON file) and report test error per epoch");
    sub->add_option("experiment", opt->experimentPath, "Experiment JSON file, or the name of a shipped experiment (e.g. wage-lenet5-mnist-2888)")->required();
    add_train_options(sub, *opt);
    return {sub, [opt] { return train_run(*opt); }};
}

} // namespace bitbench::cli
