// A deterministic synthetic classification dataset: shifted, noisy class prototypes.
#include "bitbench/dataset.h"

#include "bitbench/error.h"

#include <algorithm>

namespace bitbench {

namespace {

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough to make images; the data
// must not depend on the training engine's generator, so it has its own.
class SplitMix64 {
public:
    explicit SplitMix64(uint64_t seed) : m_state(seed) {}
    uint64_t next() {
        uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n) for n >= 1; the modulo bias is below 2^-32 for the small n used here.
    uint32_t below(uint32_t n) { return uint32_t((next() >> 32) % n); }

private:
    uint64_t m_state;
};

// Streams derived from the seed, so train, test and prototypes do not share draws.
enum class Stream : uint64_t { Prototypes = 1, Train = 2, Test = 3 };

uint64_t streamSeed(uint64_t seed, Stream s) {
    SplitMix64 g(seed ^ (uint64_t(s) * 0xD1B54A32D192ED03ull));
    return g.next();
}

// Images are built on a coarse grid of about 4 x 4 cells: low spatial frequency, so a one-pixel
// shift keeps most of a class's look and a conv net can learn it.
constexpr int32_t kCells = 4;
constexpr int32_t kTint = 20;
// Per-sample noise on each cell (shared by its channels), on each channel of a cell, and on each
// pixel. The cell noise sets the difficulty whatever the image size (pixel noise averages out
// over a cell); the channel noise keeps tints alone from giving a class away. Tuned so that a
// nearest class mean classifier is well above chance but short of perfect: with 10 classes it
// scores 0.61 (8x8x3), 0.70 (12x12x1), 0.80 (32x32x3), 0.83 (28x28x1).
constexpr int32_t kCellNoise = 112;
constexpr int32_t kTintNoise = 32;
constexpr int32_t kPixelNoise = 48;

int32_t noise(SplitMix64& g, int32_t amplitude) {
    return amplitude == 0 ? 0 : int32_t(g.below(uint32_t(2 * amplitude + 1))) - amplitude;
}

struct Grid {
    int32_t cellsY, cellsX;
    explicit Grid(int32_t h, int32_t w)
        : cellsY(std::min(h, kCells)), cellsX(std::min(w, kCells)) {}
    size_t size(int32_t c) const { return size_t(cellsY) * size_t(cellsX) * size_t(c); }
};

// Each class prototype: one level per cell, uniform in 48..207, tinted per channel by up to
// +-kTint, so that channels are correlated as in photographs rather than independent evidence.
std::vector<uint8_t> makePrototypes(const Grid& grid, int32_t c, int32_t classes, uint64_t seed) {
    SplitMix64 g(streamSeed(seed, Stream::Prototypes));
    std::vector<uint8_t> protos(grid.size(c) * size_t(classes));
    for (size_t k = 0; k < protos.size(); k += size_t(c)) {
        const int32_t level = 48 + int32_t(g.below(160));
        for (int32_t ch = 0; ch < c; ++ch)
            protos[k + size_t(ch)] = uint8_t(c == 1 ? level : level + noise(g, kTint));
    }
    return protos;
}

// Balanced labels (class counts differ by at most one) in a seeded random order.
std::vector<uint8_t> makeLabels(int64_t count, int32_t classes, SplitMix64& g) {
    std::vector<uint8_t> labels(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i)
        labels[size_t(i)] = uint8_t(i % classes);
    for (int64_t i = count - 1; i > 0; --i) {
        const uint64_t j = g.next() % uint64_t(i + 1); // Fisher-Yates
        std::swap(labels[size_t(i)], labels[size_t(j)]);
    }
    return labels;
}

// Each sample: its prototype's cells plus cell noise, drawn at full size, moved by dy, dx in
// {-1, 0, 1} (edges replicated), plus pixel noise, clamped to 0..255.
void makeSamples(const std::vector<uint8_t>& protos, const std::vector<uint8_t>& labels,
                 const Grid& grid, int32_t h, int32_t w, int32_t c, SplitMix64& g,
                 std::vector<uint8_t>& images) {
    const size_t image = size_t(h) * size_t(w) * size_t(c);
    images.resize(image * labels.size());
    std::vector<int32_t> cells(grid.size(c));
    for (size_t i = 0; i < labels.size(); ++i) {
        const uint8_t* p = protos.data() + size_t(labels[i]) * grid.size(c);
        for (size_t k = 0; k < cells.size(); k += size_t(c)) {
            const int32_t shared = noise(g, kCellNoise);
            for (int32_t ch = 0; ch < c; ++ch)
                cells[k + size_t(ch)] =
                    p[k + size_t(ch)] + shared + (c == 1 ? 0 : noise(g, kTintNoise));
        }
        uint8_t* out = images.data() + i * image;
        const int32_t dy = int32_t(g.below(3)) - 1, dx = int32_t(g.below(3)) - 1;
        for (int32_t y = 0; y < h; ++y) {
            const int32_t cy = std::clamp(y - dy, 0, h - 1) * grid.cellsY / h;
            for (int32_t x = 0; x < w; ++x) {
                const int32_t cx = std::clamp(x - dx, 0, w - 1) * grid.cellsX / w;
                const int32_t* cell =
                    cells.data() + (size_t(cy) * size_t(grid.cellsX) + size_t(cx)) * size_t(c);
                for (int32_t ch = 0; ch < c; ++ch) {
                    const int32_t v = cell[ch] + noise(g, kPixelNoise);
                    out[(size_t(y) * size_t(w) + size_t(x)) * size_t(c) + size_t(ch)] =
                        uint8_t(std::clamp(v, 0, 255));
                }
            }
        }
    }
}

} // namespace

Dataset dataset_generate_synthetic(int32_t height, int32_t width, int32_t channels, int32_t classes,
                                   int64_t trainCount, int64_t testCount, uint64_t seed) {
    if (height < 1 || width < 1 || channels < 1 || classes < 2 || classes > 256 || trainCount < 0 ||
        testCount < 0)
        throw InputError(
            "synthetic dataset: need height, width, channels >= 1, classes in 2..256 and "
            "non-negative counts; got " +
            std::to_string(height) + " x " + std::to_string(width) + " x " +
            std::to_string(channels) + ", " + std::to_string(classes) + " classes, " +
            std::to_string(trainCount) + " train, " + std::to_string(testCount) + " test");
    Dataset d;
    d.name = "synthetic";
    d.height = height;
    d.width = width;
    d.channels = channels;
    d.classes = classes;
    const Grid grid(height, width);
    const std::vector<uint8_t> protos = makePrototypes(grid, channels, classes, seed);
    SplitMix64 train(streamSeed(seed, Stream::Train));
    d.trainLabels = makeLabels(trainCount, classes, train);
    makeSamples(protos, d.trainLabels, grid, height, width, channels, train, d.trainImages);
    SplitMix64 test(streamSeed(seed, Stream::Test));
    d.testLabels = makeLabels(testCount, classes, test);
    makeSamples(protos, d.testLabels, grid, height, width, channels, test, d.testImages);
    return d;
}

} // namespace bitbench
