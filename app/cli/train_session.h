// Shared training driver of the CLI: options, dataset resolution, progress, JSON summary.
#pragma once

#include "bitbench/dataset.h"
#include "bitbench/experiment.h"
#include "bitbench/store.h"
#include "bitbench/trainer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace CLI {
class App;
}

namespace bitbench::cli {

struct TrainOptions {
    std::string experimentPath;
    std::string bits;
    int32_t epochs = 0;
    std::optional<std::string> seed; // as typed; seed_parse checks it (0..kSeedMax)
    int32_t threads = 0;
    std::string dataDir;
    bool json = false;
    int64_t trainLimit = -1;
    int64_t testLimit = -1;
    bool quiet = false;
    std::string db;       // run database; empty = the default in the data directory
    bool noStore = false; // do not record the run
    std::string keepCheckpoints; // --keep-checkpoints as typed; empty = not given
};

void add_train_options(CLI::App* sub, TrainOptions& opt);

// Adds --keep-checkpoints N|all (stored into `text`) to a subcommand.
void add_keep_checkpoints_option(CLI::App* sub, std::string& text);
// The number of newest checkpoints to keep (0 = all) from --keep-checkpoints; the default when
// the option was not given. throws InputError for anything but a positive integer or "all".
int32_t keep_checkpoints_of(const std::string& text);

// Reads the experiment and applies command-line overrides. throws InputError.
Experiment train_experiment(const TrainOptions& opt);

// Prints the per-layer table (bits, fan-in, alpha, int32 bound) to `out`.
void train_print_layers(std::FILE* out, const Trainer& t);

// Runs to the end with a progress bar, recording the run unless --no-store; returns the exit code.
int train_run(const TrainOptions& opt);

// Drives an already set-up trainer (fresh or resumed) with progress output and optional
// recording; prints the summary; returns the exit code.
int train_drive(Trainer& t, const TrainOptions& opt, RunWriter* writer);

// The database path of the options: --db, else the default one.
std::string train_db_path(const std::string& db);

// The machine-readable summary of a finished (or stopped) training.
nlohmann::json train_summary(const Trainer& t);

// Installs a SIGINT/SIGTERM handler that asks `t` to stop; returns true once a signal arrived.
void train_install_signals(Trainer* t);
bool train_interrupted();

} // namespace bitbench::cli
