// bitbench-cli: headless entry point; each subcommand lives in its own cmd_*.cpp.
#include "cli_common.h"

#include "bitbench/version.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <vector>

using namespace bitbench::cli;

int main(int argc, char** argv) {
    cli_stdout_track();
    CLI::App app{"bitbench-cli: train neural networks with integer arithmetic at chosen bitwidths.\n"
                 "Exit codes: 0 ok, 1 check failed, 2 usage or input error, 3 data error,\n"
                 "4 database, output file or standard output could not be written,\n"
                 "5 the run diverged (NaN or infinite loss or weight), 130 interrupted."};
    app.set_version_flag("--version", std::string("bitbench-cli ") + bitbench::kVersion);
    app.require_subcommand(1);

    std::vector<Command> commands = {
        cli_add_idx_info(app),
        cli_add_train(app),
        cli_add_resume(app),
        cli_add_replay(app),
        cli_add_sweep(app),
        cli_add_sweep_trial(app),
        cli_add_sweep_status(app),
        cli_add_merge(app),
        cli_add_runs(app),
        cli_add_export(app),
        cli_add_bench(app),
    };

    const auto emptyValue = [](const std::string& name) {
        std::fprintf(stderr,
                     "bitbench-cli: %s needs a value, got an empty one (leave the option out for "
                     "its default)\n",
                     name.c_str());
        return int(kExitUsage);
    };
    if (const std::string name = cli_option_empty(argc, argv); !name.empty())
        return emptyValue(name);
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return cli_finish_stdout(app.exit(e));
    } catch (const CLI::CallForAllHelp& e) {
        return cli_finish_stdout(app.exit(e));
    } catch (const CLI::CallForVersion& e) {
        return cli_finish_stdout(app.exit(e));
    } catch (const CLI::ParseError& e) {
        // CLI11 reports an unknown first word as a missing subcommand; name the word instead.
        if (argc > 1 && argv[1][0] != '-' && app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == argv[1]; }).empty()) {
            std::string known;
            for (const Command& c : commands) known += (known.empty() ? "" : ", ") + c.sub->get_name();
            std::fprintf(stderr, "bitbench-cli: unknown command '%s'; commands are %s (see bitbench-cli --help)\n", argv[1],
                         known.c_str());
            return kExitUsage;
        }
        std::fprintf(stderr, "bitbench-cli: %s (see bitbench-cli --help)\n", e.what());
        return kExitUsage;
    }
    if (const std::string name = cli_option_empty(app); !name.empty()) return emptyValue(name);
    for (const Command& c : commands)
        if (c.sub->parsed()) return cli_finish_stdout(cli_run_guarded(c.run));
    return kExitUsage;
}
