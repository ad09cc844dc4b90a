// Reader for IDX files (the MNIST container format), plain or gzip-compressed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitbench {

// An IDX array of unsigned bytes: dims[0] is the item count, the rest the item shape.
struct IdxArray {
    std::vector<uint32_t> dims;
    std::vector<uint8_t> data; // row-major, product(dims) bytes

    uint64_t itemCount() const { return dims.empty() ? 0 : dims[0]; }
    uint64_t itemSize() const; // product of dims[1..]
};

// Reads an IDX file holding unsigned bytes (type 0x08); a name ending in ".gz" is inflated.
// requires: nothing about the file.
// ensures: a returned array has data.size() == product(dims) and 1 <= dims.size() <= 4.
// throws: DataError naming the file and what was expected when the file is missing, not IDX,
//         of another element type, truncated, or longer than its header says.
IdxArray idx_read(const std::string& path);

// Parses IDX bytes already in memory; `name` is used in messages.
IdxArray idx_parse(const std::vector<uint8_t>& bytes, const std::string& name);

// Reads a whole file, inflating gzip when the name ends in ".gz". throws DataError.
std::vector<uint8_t> file_read_bytes(const std::string& path);

} // namespace bitbench
