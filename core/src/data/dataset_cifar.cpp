// Loading CIFAR-10 binary batches into HWC memory, and the WAGE pad-crop-flip augmentation.
#include "bitbench/dataset.h"

#include "bitbench/error.h"
#include "data/data_file.h"
#include "data/dataset_cifar_impl.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace bitbench {

namespace {

namespace fs = std::filesystem;

constexpr int32_t kSide = 32;
constexpr int32_t kChannels = 3;
constexpr int32_t kClasses = 10;
constexpr int64_t kPlane = int64_t(kSide) * kSide;
constexpr int64_t kRecord = kCifarRecordBytes;
constexpr int64_t kRecordsPerFile = 10000;
constexpr int kTrainBatches = 5;
constexpr const char* kSubfolder = "cifar-10-batches-bin";
constexpr const char* kTestBatch = "test_batch.bin";

std::string trainBatchName(int i) {
    return "data_batch_" + std::to_string(i) + ".bin";
}

// The folder holding the batches: `dir` itself or its cifar-10-batches-bin subfolder (the layout
// the official archive unpacks to). Whichever holds any batch wins, `dir` first.
fs::path resolveFolder(const std::string& dir) {
    std::error_code ec;
    const fs::path root(dir);
    if (!fs::is_directory(root, ec))
        throw DataError(error_message_file(
            dir,
            "not a folder (expected CIFAR-10 binary batches data_batch_1..5.bin and test_batch.bin "
            "in it or in its " +
                std::string(kSubfolder) + " subfolder)"));
    for (const fs::path& candidate : {root, root / kSubfolder}) {
        if (data_file_exists(candidate / kTestBatch)) return candidate;
        for (int i = 1; i <= kTrainBatches; ++i)
            if (data_file_exists(candidate / trainBatchName(i))) return candidate;
    }
    throw DataError(error_message_file(
        dir,
        "holds no CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin), neither directly "
        "nor in its " +
            std::string(kSubfolder) + " subfolder"));
}

// Appends one batch file's records to images (HWC) and labels.
void readBatch(const fs::path& path, std::vector<uint8_t>& images, std::vector<uint8_t>& labels) {
    const std::string name = path.string();
    const int fd = data_file_open(name);
    struct Close {
        int fd;
        ~Close() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw DataError(error_message_file(name, std::string("cannot read its size (") +
                                                     std::strerror(errno) + ")"));
    const uint64_t size = uint64_t(st.st_size);
    const uint64_t expected = *size_mul(kRecordsPerFile, kRecord);
    if (size != expected)
        throw DataError(error_message_file(
            name, std::string(size < expected ? "truncated" : "too long") + ": " +
                      std::to_string(size) + " bytes, expected " + std::to_string(expected) +
                      " (10000 records of 3073 bytes); " +
                      "fetch the CIFAR-10 binary version again"));
    std::vector<uint8_t> raw(static_cast<size_t>(expected));
    for (size_t got = 0; got < raw.size();) {
        const ssize_t n = ::read(fd, raw.data() + got, raw.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            throw DataError(
                error_message_file(name, "cannot read (unreadable or changed while reading)"));
        got += size_t(n);
    }
    cifar_batch_decode(raw, kRecordsPerFile, name, images, labels);
}

} // namespace

void cifar_batch_decode(const std::vector<uint8_t>& raw, int64_t records, const std::string& name,
                        std::vector<uint8_t>& images, std::vector<uint8_t>& labels) {
    const auto bytes = records < 0 ? std::nullopt : size_mul(uint64_t(records), kRecord);
    if (!bytes || raw.size() != *bytes)
        throw DataError(error_message_file(
            name, std::to_string(raw.size()) + " bytes, expected " +
                      std::to_string(records) + " records of 3073 bytes"));
    const size_t imageBase = images.size();
    images.resize(imageBase + size_t(*size_mul(uint64_t(records), kPlane * kChannels)));
    labels.reserve(labels.size() + size_t(records));
    for (int64_t r = 0; r < records; ++r) {
        const uint8_t* rec = raw.data() + r * kRecord;
        if (rec[0] >= kClasses)
            throw DataError(error_message_file(name, "record " + std::to_string(r) + " has label " +
                                                         std::to_string(rec[0]) +
                                                         ", expected 0 to 9"));
        labels.push_back(rec[0]);
        uint8_t* dst = images.data() + imageBase + size_t(r * kPlane * kChannels);
        for (int64_t p = 0; p < kPlane; ++p)
            for (int64_t c = 0; c < kChannels; ++c)
                dst[p * kChannels + c] = rec[1 + c * kPlane + p];
    }
}

Dataset dataset_load_cifar10(const std::string& dir) {
    const fs::path folder = resolveFolder(dir);
    std::string missing;
    for (int i = 1; i <= kTrainBatches; ++i)
        if (!data_file_exists(folder / trainBatchName(i)))
            missing += (missing.empty() ? "" : ", ") + trainBatchName(i);
    if (!data_file_exists(folder / kTestBatch))
        missing += (missing.empty() ? "" : ", ") + std::string(kTestBatch);
    // Training on fewer batches than the paper used would quietly change every result.
    if (!missing.empty())
        throw DataError(error_message_file(folder.string(), "missing CIFAR-10 batch file(s) " +
                                                                missing +
                                                                "; all six files are needed"));

    Dataset d;
    d.name = "cifar10";
    d.height = kSide;
    d.width = kSide;
    d.channels = kChannels;
    d.classes = kClasses;
    std::error_code ec;
    d.dir = fs::absolute(folder, ec).lexically_normal().string();
    if (d.dir.size() > 1 && d.dir.back() == '/') d.dir.pop_back();
    d.trainImages.reserve(size_t(*size_mul(kTrainBatches * kRecordsPerFile, kPlane * kChannels)));
    for (int i = 1; i <= kTrainBatches; ++i) {
        d.files.push_back((folder / trainBatchName(i)).string());
        readBatch(d.files.back(), d.trainImages, d.trainLabels);
    }
    d.files.push_back((folder / kTestBatch).string());
    readBatch(d.files.back(), d.testImages, d.testLabels);
    return d;
}

void dataset_augment_cifar(const uint8_t* src, uint8_t* dst, int32_t h, int32_t w, int32_t c,
                           int32_t pad, int32_t dy, int32_t dx, bool flip) {
    if (h < 1 || w < 1 || c < 1 || pad < 0 || dy < 0 || dx < 0 || dy > 2 * pad || dx > 2 * pad)
        throw InputError(
            "dataset_augment_cifar: need h, w, c >= 1, pad >= 0 and crop offsets in [0, 2*pad]; "
            "got h=" +
            std::to_string(h) + " w=" + std::to_string(w) + " c=" + std::to_string(c) + " pad=" +
            std::to_string(pad) + " dy=" + std::to_string(dy) + " dx=" + std::to_string(dx));
    const size_t row = size_t(w) * size_t(c);
    for (int32_t y = 0; y < h; ++y) {
        uint8_t* out = dst + size_t(y) * row;
        const int32_t sy = y + dy - pad; // source row in the unpadded image
        if (sy < 0 || sy >= h) {
            std::memset(out, 0, row);
            continue;
        }
        const uint8_t* in = src + size_t(sy) * row;
        for (int32_t x = 0; x < w; ++x) {
            // Mirroring after the crop: output column x shows crop column w-1-x.
            const int32_t cx = flip ? w - 1 - x : x;
            const int32_t sx = cx + dx - pad;
            uint8_t* o = out + size_t(x) * size_t(c);
            if (sx < 0 || sx >= w)
                std::memset(o, 0, size_t(c));
            else
                std::memcpy(o, in + size_t(sx) * size_t(c), size_t(c));
        }
    }
}

} // namespace bitbench
