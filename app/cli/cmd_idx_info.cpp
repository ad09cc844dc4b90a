// `bitbench-cli idx-info FILE`: validates an IDX file and prints its dimensions.
#include "cli_common.h"

#include "bitbench/idx.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

namespace bitbench::cli {

Command cli_add_idx_info(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    auto* sub = app.add_subcommand("idx-info", "Validate an IDX file and print its dimensions");
    sub->add_option("file", *path, "IDX file (.gz accepted)")->required();
    return {sub, [path] {
                IdxArray a = idx_read(*path);
                std::printf("%s:", path->c_str());
                for (size_t i = 0; i < a.dims.size(); ++i) std::printf("%s%u", i ? " x " : " ", a.dims[i]);
                std::printf(" (%zu bytes)\n", a.data.size());
                return int(kExitOk);
            }};
}

} // namespace bitbench::cli
