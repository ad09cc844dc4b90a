// IDX parsing with full validation of magic, dimensions and length.
#include "bitbench/idx.h"

#include "bitbench/error.h"

#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>

namespace bitbench {

uint64_t IdxArray::itemSize() const {
    uint64_t n = 1;
    for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
    return n;
}

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<uint8_t> readGzip(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw DataError(error_message_file(path, "cannot open"));
    std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, gzclose);
    std::vector<uint8_t> out;
    uint8_t buf[1 << 16];
    for (;;) {
        int n = gzread(f, buf, sizeof buf);
        if (n < 0) {
            int code = 0;
            const char* msg = gzerror(f, &code);
            throw DataError(error_message_file(path, std::string("corrupt gzip data (") + msg + ")"));
        }
        if (n == 0) break;
        out.insert(out.end(), buf, buf + n);
    }
    // gzread stops silently at a truncated stream; zlib reports it through gzerror.
    int code = 0;
    gzerror(f, &code);
    if (code != Z_OK && code != Z_STREAM_END)
        throw DataError(error_message_file(path, "truncated or corrupt gzip stream"));
    return out;
}

} // namespace

std::vector<uint8_t> file_read_bytes(const std::string& path) {
    if (endsWith(path, ".gz")) return readGzip(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DataError(error_message_file(path, "cannot open (missing or unreadable)"));
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

IdxArray idx_parse(const std::vector<uint8_t>& bytes, const std::string& name) {
    if (bytes.size() < 4)
        throw DataError(error_message_file(
            name, "not an IDX file: " + std::to_string(bytes.size()) +
                      " bytes, expected at least a 4-byte header (00 00 08 ndims)"));
    if (bytes[0] != 0 || bytes[1] != 0)
        throw DataError(error_message_file(name, "not an IDX file: the magic number must start with two zero bytes"));
    if (bytes[2] != 0x08)
        throw DataError(error_message_file(
            name, "unsupported IDX element type 0x" + [&] {
                char b[3];
                std::snprintf(b, sizeof b, "%02x", bytes[2]);
                return std::string(b);
            }() + ", expected 0x08 (unsigned byte)"));
    const unsigned ndims = bytes[3];
    if (ndims < 1 || ndims > 4)
        throw DataError(error_message_file(name, "IDX header declares " + std::to_string(ndims) +
                                                     " dimensions, expected 1 to 4"));
    const size_t header = 4 + 4 * size_t(ndims);
    if (bytes.size() < header)
        throw DataError(error_message_file(name, "truncated IDX header: " + std::to_string(bytes.size()) +
                                                     " bytes, expected " + std::to_string(header)));
    IdxArray a;
    uint64_t total = 1;
    for (unsigned d = 0; d < ndims; ++d) {
        const uint8_t* p = bytes.data() + 4 + 4 * d;
        uint32_t v = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
        if (v == 0 && d > 0)
            throw DataError(error_message_file(name, "IDX dimension " + std::to_string(d) + " is zero"));
        a.dims.push_back(v);
        total *= v;
        if (total > (uint64_t(1) << 34))
            throw DataError(error_message_file(name, "IDX dimensions describe more than 16 GiB of data"));
    }
    const uint64_t have = bytes.size() - header;
    if (have != total)
        throw DataError(error_message_file(
            name, std::string(have < total ? "truncated" : "too long") + ": header promises " +
                      std::to_string(total) + " data bytes, file holds " + std::to_string(have)));
    a.data.assign(bytes.begin() + long(header), bytes.end());
    return a;
}

IdxArray idx_read(const std::string& path) { return idx_parse(file_read_bytes(path), path); }

} // namespace bitbench
