// Loading an MNIST-style folder of four IDX files into a Dataset, with cross-file checks.
#include "bitbench/dataset.h"

#include "bitbench/error.h"
#include "bitbench/idx.h"
#include "data/data_file.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>

namespace bitbench {

namespace {

namespace fs = std::filesystem;

constexpr const char* kTrainImages = "train-images-idx3-ubyte";
constexpr const char* kTrainLabels = "train-labels-idx1-ubyte";
constexpr const char* kTestImages = "t10k-images-idx3-ubyte";
constexpr const char* kTestLabels = "t10k-labels-idx1-ubyte";
// MNIST-style data has ten classes even when a small file happens to lack the top digits.
constexpr int32_t kMinClasses = 10;

// The plain file if present, else its .gz form, else empty. throws DataError for a name that
// exists but is not a regular file (a folder, a FIFO).
std::string findIdx(const fs::path& dir, const std::string& base) {
    for (const std::string& name : {base, base + ".gz"})
        if (data_file_exists(dir / name)) return (dir / name).string();
    return {};
}

std::string dimsText(const IdxArray& a) {
    std::string s;
    for (size_t i = 0; i < a.dims.size(); ++i)
        s += (i ? " x " : "") + std::to_string(a.dims[i]);
    return s;
}

IdxArray readImages(const std::string& path) {
    IdxArray a = idx_read(path);
    if (a.dims.size() != 3)
        throw DataError(error_message_file(
            path, "expected 3-D image data (count x height x width), found " +
                      std::to_string(a.dims.size()) + "-D (" + dimsText(a) + ")"));
    if (a.dims[0] == 0) throw DataError(error_message_file(path, "holds no images"));
    constexpr uint32_t kMaxSide = uint32_t(std::numeric_limits<int32_t>::max());
    if (a.dims[1] > kMaxSide || a.dims[2] > kMaxSide)
        throw DataError(error_message_file(path, "image side larger than 2^31-1"));
    return a;
}

IdxArray readLabels(const std::string& path, const std::string& imagesPath, uint64_t imageCount) {
    IdxArray a = idx_read(path);
    if (a.dims.size() != 1)
        throw DataError(error_message_file(path, "expected 1-D label data (count), found " +
                                                     std::to_string(a.dims.size()) + "-D (" +
                                                     dimsText(a) + ")"));
    if (a.itemCount() != imageCount)
        throw DataError(error_message_file(
            path, "holds " + std::to_string(a.itemCount()) + " labels, expected " +
                      std::to_string(imageCount) + " to match the images in '" + imagesPath + "'"));
    return a;
}

} // namespace

Dataset dataset_load_idx(const std::string& dir) {
    const fs::path root(dir);
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        throw DataError(error_message_file(dir,
                                           "not a folder (expected the four MNIST-style IDX files "
                                           "in it; run scripts/setup to fetch MNIST)"));

    std::string paths[4];
    const char* bases[4] = {kTrainImages, kTrainLabels, kTestImages, kTestLabels};
    std::string missing;
    for (int i = 0; i < 4; ++i) {
        paths[i] = findIdx(root, bases[i]);
        if (paths[i].empty()) missing += std::string(missing.empty() ? "" : ", ") + bases[i];
    }
    if (!missing.empty())
        throw DataError(
            error_message_file(dir, "missing IDX file(s) " + missing +
                                        " (plain or .gz); run scripts/setup to fetch MNIST"));

    IdxArray trainImages = readImages(paths[0]);
    IdxArray trainLabels = readLabels(paths[1], paths[0], trainImages.itemCount());
    IdxArray testImages = readImages(paths[2]);
    if (testImages.dims[1] != trainImages.dims[1] || testImages.dims[2] != trainImages.dims[2])
        throw DataError(
            error_message_file(paths[2], "images are " + std::to_string(testImages.dims[1]) +
                                             " x " + std::to_string(testImages.dims[2]) +
                                             ", expected " + std::to_string(trainImages.dims[1]) +
                                             " x " + std::to_string(trainImages.dims[2]) +
                                             " like the training images in '" + paths[0] + "'"));
    IdxArray testLabels = readLabels(paths[3], paths[2], testImages.itemCount());

    Dataset d;
    d.name =
        root.filename().empty() ? root.parent_path().filename().string() : root.filename().string();
    d.dir = fs::absolute(root, ec).lexically_normal().string();
    if (d.dir.size() > 1 && d.dir.back() == '/') d.dir.pop_back();
    d.files.assign(paths, paths + 4);
    d.height = int32_t(trainImages.dims[1]);
    d.width = int32_t(trainImages.dims[2]);
    d.channels = 1; // IDX images are grey levels: N x H x W is already HWC with C = 1.
    d.maxLabel.file = paths[1];
    for (int f = 0; f < 2; ++f) {
        const std::vector<uint8_t>& labels = (f == 0 ? trainLabels : testLabels).data;
        for (size_t i = 0; i < labels.size(); ++i)
            if (labels[i] > d.maxLabel.label)
                d.maxLabel = {paths[f == 0 ? 1 : 3], int64_t(i), labels[i]};
    }
    d.classes = std::max(kMinClasses, d.maxLabel.label + 1);
    d.trainImages = std::move(trainImages.data);
    d.trainLabels = std::move(trainLabels.data);
    d.testImages = std::move(testImages.data);
    d.testLabels = std::move(testLabels.data);
    return d;
}

} // namespace bitbench
