// Maps typed core errors to messages and exit codes for every subcommand.
#include "cli_common.h"

#include "bitbench/error.h"

#include <cstdio>
#include <exception>

namespace bitbench::cli {

int cli_run_guarded(const std::function<int()>& body) {
    try {
        return body();
    } catch (const InputError& e) {
        std::fprintf(stderr, "bitbench-cli: %s\n", e.what());
        return kExitUsage;
    } catch (const DataError& e) {
        std::fprintf(stderr, "bitbench-cli: data error: %s\n", e.what());
        return kExitData;
    } catch (const StoreError& e) {
        std::fprintf(stderr, "bitbench-cli: database error: %s\n", e.what());
        return kExitStore;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bitbench-cli: internal error: %s\n", e.what());
        return kExitFailure;
    }
}

} // namespace bitbench::cli
