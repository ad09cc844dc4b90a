// Opening data files safely (regular files only, never blocking on a FIFO) and checked sizes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace bitbench {

// a * b, or nothing when the product does not fit in 64 bits.
inline std::optional<uint64_t> size_mul(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
    return r;
}

// Opens `path` for reading. A FIFO is opened without waiting for a writer and then refused.
// ensures: the returned descriptor is a regular file, blocking, close-on-exec; the caller closes
// it. throws: DataError naming the file: "missing", "not a regular file (a directory)", or why it
//         cannot be opened.
int data_file_open(const std::string& path);

// Whether `path` exists, refusing one that exists but is not a regular file (a directory, a FIFO)
// so it is never mistaken for a missing file. throws DataError naming it.
bool data_file_exists(const std::filesystem::path& path);

} // namespace bitbench
