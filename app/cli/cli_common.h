// Shared pieces of the bitbench-cli subcommands: exit codes, registration and error reporting.
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace bitbench::cli {

// Documented exit codes (see README "Exit codes").
enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,   // the command ran but its check failed (e.g. replay mismatch)
    kExitUsage = 2,     // bad command line, bad pattern, bad experiment file
    kExitData = 3,      // dataset missing, truncated or corrupt
    kExitStore = 4,     // run database unusable, or an output file or stdout not writable
    kExitDiverged = 5,  // a NaN or infinite loss or weight stopped training (stored as diverged)
    kExitInterrupted = 130,
};

// A registered subcommand: the CLI11 node (parsed options live in the closure) and its action.
struct Command {
    CLI::App* sub = nullptr;
    std::function<int()> run;
};

// Each cmd_*.cpp defines one of these; main.cpp calls them all.
Command cli_add_idx_info(CLI::App& app);
Command cli_add_train(CLI::App& app);
Command cli_add_resume(CLI::App& app);
Command cli_add_replay(CLI::App& app);
Command cli_add_sweep(CLI::App& app);
Command cli_add_sweep_trial(CLI::App& app);
Command cli_add_sweep_status(CLI::App& app);
Command cli_add_merge(CLI::App& app);
Command cli_add_runs(CLI::App& app);
Command cli_add_export(CLI::App& app);
Command cli_add_bench(CLI::App& app);

// Runs `body`, turning bitbench errors into a one-line message on stderr and the matching code.
int cli_run_guarded(const std::function<int()>& body);

// The first option of `app` or its parsed subcommands given an empty value (`--db ''`), by name;
// empty when there is none. An empty value never stands for the default.
std::string cli_option_empty(const CLI::App& app);
// The same for the spelling `--name=` (CLI11 would take the next word as its value): "--name".
std::string cli_option_empty(int argc, char** argv);

// Routes standard output through a stream that remembers why a write failed, so
// cli_finish_stdout can say it. Call first thing in main.
void cli_stdout_track();
// Flushes standard output; when it (or an earlier write) failed, says so on stderr and returns
// kExitStore for a command that otherwise succeeded, else `code`.
int cli_finish_stdout(int code);

} // namespace bitbench::cli
