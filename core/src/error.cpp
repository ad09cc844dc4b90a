// Helpers for composing user-facing error messages.
#include "bitbench/error.h"

namespace bitbench {

std::string error_message_file(const std::string& path, const std::string& detail) {
    return "'" + path + "': " + detail;
}

} // namespace bitbench
