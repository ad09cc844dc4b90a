// Helpers for composing user-facing error messages.
#include "bitbench/error.h"

namespace bitbench {

std::string error_message_file(const std::string& path, const std::string& detail) {
    return "'" + path + "': " + detail;
}

int error_exit_code(const std::exception& e) {
    if (dynamic_cast<const InputError*>(&e)) return 2;
    if (dynamic_cast<const DataError*>(&e)) return 3;
    if (dynamic_cast<const StoreError*>(&e) || dynamic_cast<const OutputError*>(&e)) return 4;
    return 1;
}

std::string error_line(const std::exception& e) {
    if (dynamic_cast<const InputError*>(&e) || dynamic_cast<const OutputError*>(&e))
        return e.what();
    if (dynamic_cast<const DataError*>(&e)) return std::string("data error: ") + e.what();
    if (dynamic_cast<const StoreError*>(&e)) return std::string("database error: ") + e.what();
    return std::string("internal error: ") + e.what();
}

} // namespace bitbench
