// Fuzz target: IDX files (plain, or gzip when the input starts with the gzip magic) via idx_read.
#include "bitbench/idx.h"
#include "fuzz_common.h"

using namespace bitbench;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    const std::string path = fuzz::scratch_write(gzip ? "input-idx.gz" : "input-idx", data, size);
    fuzz::accept_rejections([&] {
        const IdxArray a = idx_read(path);
        fuzz::require(!a.dims.empty() && a.dims.size() <= 4, "1 to 4 dimensions");
        uint64_t product = 1;
        for (uint32_t d : a.dims)
            fuzz::require(!__builtin_mul_overflow(product, uint64_t(d), &product),
                          "accepted dims have a product that fits 64 bits");
        fuzz::require(a.itemCount() * a.itemSize() == a.data.size(), "items x item size = bytes");
        fuzz::require(product == a.data.size(), "dims describe the data exactly");
    });
    return 0;
}
