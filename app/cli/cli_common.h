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
    kExitStore = 4,     // run database unusable
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
Command cli_add_runs(CLI::App& app);
Command cli_add_export(CLI::App& app);
Command cli_add_bench(CLI::App& app);

// Runs `body`, turning bitbench errors into a one-line message on stderr and the matching code.
int cli_run_guarded(const std::function<int()>& body);

} // namespace bitbench::cli
