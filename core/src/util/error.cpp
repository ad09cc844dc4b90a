// Helpers for composing user-facing error messages.
#include "bitbench/error.h"

#include <nlohmann/json.hpp>

#include <new>

namespace bitbench {

std::string error_message_file(const std::string& path, const std::string& detail) {
    return "'" + path + "': " + detail;
}

int error_exit_code(const std::exception& e) {
    // A model or dataset too large for memory, or a JSON value of an unexpected type that no
    // reader caught by key, is a problem of the input, not of the program.
    if (dynamic_cast<const InputError*>(&e) || dynamic_cast<const std::bad_alloc*>(&e) ||
        dynamic_cast<const nlohmann::json::exception*>(&e))
        return 2;
    if (dynamic_cast<const DataError*>(&e)) return 3;
    if (dynamic_cast<const StoreError*>(&e) || dynamic_cast<const OutputError*>(&e)) return 4;
    return 1;
}

std::string error_line(const std::exception& e) {
    if (dynamic_cast<const InputError*>(&e) || dynamic_cast<const OutputError*>(&e))
        return e.what();
    if (dynamic_cast<const DataError*>(&e)) return std::string("data error: ") + e.what();
    if (dynamic_cast<const StoreError*>(&e)) return std::string("database error: ") + e.what();
    if (dynamic_cast<const std::bad_alloc*>(&e))
        return "out of memory: the model, batch or dataset does not fit in this machine's available memory "
               "(try a smaller batch, model or train_limit)";
    if (dynamic_cast<const nlohmann::json::exception*>(&e)) return std::string("unexpected JSON value: ") + e.what();
    return std::string("internal error: ") + e.what();
}

} // namespace bitbench
