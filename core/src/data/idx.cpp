// IDX parsing with full validation of magic, dimensions and length.
#include "bitbench/idx.h"

#include "bitbench/error.h"
#include "data/data_file.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

namespace bitbench {

uint64_t IdxArray::itemSize() const {
    // idx_parse bounds this product (by 2^34), even when the item count is zero.
    uint64_t n = 1;
    for (size_t i = 1; i < dims.size(); ++i)
        n = size_mul(n, dims[i]).value_or(UINT64_MAX);
    return n;
}

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<uint8_t> readGzip(const std::string& path, int fd) {
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        ::close(fd);
        throw DataError(error_message_file(path, "cannot open"));
    }
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
    const int fd = data_file_open(path);
    if (endsWith(path, ".gz")) return readGzip(path, fd);
    struct Close {
        int fd;
        ~Close() { ::close(fd); }
    } guard{fd};
    std::vector<uint8_t> out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(size_t(st.st_size));
    uint8_t buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            throw DataError(error_message_file(path, std::string("cannot read (") +
                                                         std::strerror(errno) + ")"));
        if (n == 0) break;
        out.insert(out.end(), buf, buf + n);
    }
    return out;
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
    std::string dimsText;
    for (unsigned d = 0; d < ndims; ++d) {
        const uint8_t* p = bytes.data() + 4 + 4 * d;
        uint32_t v = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
        if (v == 0 && d > 0)
            throw DataError(error_message_file(name, "IDX dimension " + std::to_string(d) + " is zero"));
        a.dims.push_back(v);
        dimsText += (d ? " x " : "") + std::to_string(v);
    }
    // Checked products: the item size alone (the count may be zero) and then the whole array.
    constexpr uint64_t kMaxBytes = uint64_t(1) << 34;
    std::optional<uint64_t> item = 1;
    for (unsigned d = 1; d < ndims && item; ++d)
        item = size_mul(*item, a.dims[d]);
    const std::optional<uint64_t> all = item ? size_mul(*item, a.dims[0]) : std::nullopt;
    if (!all)
        throw DataError(
            error_message_file(name, "IDX dimensions " + dimsText +
                                         " overflow: their product does not fit in 64 bits"));
    if (*item > kMaxBytes || *all > kMaxBytes)
        throw DataError(error_message_file(name, "IDX dimensions " + dimsText +
                                                     " describe more than 16 GiB of data"));
    const uint64_t total = *all;
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
