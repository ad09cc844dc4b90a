// Image classification datasets in memory: IDX (MNIST and alike), CIFAR-10 binary, synthetic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitbench {

struct Experiment;

// Images are uint8, stored image after image in HWC order (channel fastest).
struct Dataset {
    std::string name;           // "mnist", "cifar10", "synthetic", or the folder name
    int32_t height = 0, width = 0, channels = 0;
    int32_t classes = 0;
    std::vector<uint8_t> trainImages, trainLabels;
    std::vector<uint8_t> testImages, testLabels;
    // Where the data came from: the folder (absolute) and each file read, in loading order; both
    // empty for generated data. A run stores them with a fingerprint of the files.
    std::string dir{};
    std::vector<std::string> files{};
    // The largest label and where it is (file and item), when the labels decide `classes`;
    // file empty when the format fixes the number of classes.
    struct LabelAt {
        std::string file{};
        int64_t item = 0;
        int32_t label = 0;
    } maxLabel{};

    int64_t imageSize() const { return int64_t(height) * width * channels; }
    int64_t trainCount() const { return int64_t(trainLabels.size()); }
    int64_t testCount() const { return int64_t(testLabels.size()); }
};

// Loads the four IDX files of an MNIST-style folder: train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each may end in .gz).
// ensures: counts of images and labels agree, every label < classes (10 unless a label is larger).
// throws: DataError naming the folder or file and what is missing or inconsistent.
Dataset dataset_load_idx(const std::string& dir);

// Loads CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin) from `dir` or from
// `dir`/cifar-10-batches-bin. Images are converted from CHW planes to HWC. throws DataError.
Dataset dataset_load_cifar10(const std::string& dir);

// Loads by kind: "mnist" or "idx" (IDX folder), "cifar10". An empty `dir` means the default
// folder under paths_data_dir(): datasets/mnist or datasets/cifar10.
// throws: InputError for another kind (the message lists the kinds); DataError from the loader.
Dataset dataset_load(const std::string& kind, const std::string& dir);

// A small learnable dataset for tests and benchmarks: each class has a fixed random prototype
// image; samples are the prototype moved by up to one pixel each way, plus noise. Fully
// determined by `seed`.
// requires: height, width, channels >= 1; 2 <= classes <= 256; counts >= 0 (else InputError).
// ensures: every class occurs trainCount/classes or one more times in train (same for test).
Dataset dataset_generate_synthetic(int32_t height, int32_t width, int32_t channels, int32_t classes,
                                   int64_t trainCount, int64_t testCount, uint64_t seed);

// The WAGE CIFAR augmentation of one HWC image: zero-pad each side by `pad`, crop h x w at
// offset (dy, dx) of the padded image, then mirror left-right when `flip`.
// requires: src and dst hold h*w*c bytes each and do not overlap; pad >= 0;
//           0 <= dy, dx <= 2*pad (else InputError). dy = dx = pad with no flip copies src.
void dataset_augment_cifar(const uint8_t* src, uint8_t* dst, int32_t h, int32_t w, int32_t c,
                           int32_t pad, int32_t dy, int32_t dx, bool flip);

// The dataset an experiment trains on: `dataDir` if given, else the experiment's dataset.dir,
// else the default folder of its kind; "synthetic" generates train_limit (default 2048) and
// test_limit (default 512) images of the model's input shape from the seed. throws DataError.
Dataset dataset_for_experiment(const Experiment& e, const std::string& dataDir);

} // namespace bitbench
