// Fuzz target: decoding CIFAR-10 binary batch records (label byte, then R, G, B planes).
// The first input byte chooses how many records (0..3) the rest must hold; real batch files hold
// 10000, which the loader checks from the file size before it reads.
#include "data/dataset_cifar_impl.h"
#include "fuzz_common.h"

using namespace bitbench;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const int64_t records = data[0] % 4;
    const std::vector<uint8_t> raw(data + 1, data + size);
    fuzz::accept_rejections([&] {
        std::vector<uint8_t> images, labels;
        cifar_batch_decode(raw, records, "input.bin", images, labels);
        fuzz::require(int64_t(labels.size()) == records, "one label per record");
        fuzz::require(int64_t(images.size()) == records * kCifarImageBytes, "one image per record");
        for (uint8_t l : labels) fuzz::require(l < 10, "labels 0..9");
    });
    return 0;
}
