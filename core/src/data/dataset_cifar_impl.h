// CIFAR-10 binary records in memory: the decoder behind dataset_load_cifar10, open to the tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitbench {

inline constexpr int64_t kCifarImageBytes = 32 * 32 * 3;
inline constexpr int64_t kCifarRecordBytes = 1 + kCifarImageBytes; // label byte, R, G, B planes

// Appends `records` records of `raw` to images (HWC) and labels; `name` is used in messages.
// throws: DataError naming `name` when raw is not exactly `records` records long or a label is
//         not 0..9.
void cifar_batch_decode(const std::vector<uint8_t>& raw, int64_t records, const std::string& name,
                        std::vector<uint8_t>& images, std::vector<uint8_t>& labels);

} // namespace bitbench
