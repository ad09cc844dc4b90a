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

// Prototypes are coarse blocks (about 4 x 4 cells) of dark or bright levels: low spatial
// frequency, so a one-pixel shift keeps most of a class's look and a conv net can learn it.
std::vector<uint8_t> makePrototypes(int32_t h, int32_t w, int32_t c, int32_t classes, uint64_t seed) {
    SplitMix64 g(streamSeed(seed, Stream::Prototypes));
    const int32_t cellsY = std::min(h, 4), cellsX = std::min(w, 4);
    const size_t image = size_t(h) * size_t(w) * size_t(c);
    std::vector<uint8_t> protos(image * size_t(classes));
    std::vector<uint8_t> cells(size_t(cellsY) * size_t(cellsX) * size_t(c));
    for (int32_t k = 0; k < classes; ++k) {
        for (uint8_t& v : cells) v = g.below(2) ? uint8_t(160 + g.below(64)) : uint8_t(g.below(64));
        uint8_t* p = protos.data() + size_t(k) * image;
        for (int32_t y = 0; y < h; ++y)
            for (int32_t x = 0; x < w; ++x)
                for (int32_t ch = 0; ch < c; ++ch) {
                    const int32_t cy = y * cellsY / h, cx = x * cellsX / w;
                    p[(size_t(y) * w + x) * c + ch] = cells[(size_t(cy) * cellsX + cx) * c + ch];
                }
    }
    return protos;
}

// Balanced labels (class counts differ by at most one) in a seeded random order.
std::vector<uint8_t> makeLabels(int64_t count, int32_t classes, SplitMix64& g) {
    std::vector<uint8_t> labels(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) labels[size_t(i)] = uint8_t(i % classes);
    for (int64_t i = count - 1; i > 0; --i) {
        const uint64_t j = g.next() % uint64_t(i + 1); // Fisher-Yates
        std::swap(labels[size_t(i)], labels[size_t(j)]);
    }
    return labels;
}

// Each sample: its prototype moved by dy, dx in {-1, 0, 1} (edges replicated), plus uniform
// noise in [-kNoise, kNoise], clamped to 0..255.
constexpr int32_t kNoise = 72;

void makeSamples(const std::vector<uint8_t>& protos, const std::vector<uint8_t>& labels, int32_t h,
                 int32_t w, int32_t c, SplitMix64& g, std::vector<uint8_t>& images) {
    const size_t image = size_t(h) * size_t(w) * size_t(c);
    images.resize(image * labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
        const uint8_t* p = protos.data() + size_t(labels[i]) * image;
        uint8_t* out = images.data() + i * image;
        const int32_t dy = int32_t(g.below(3)) - 1, dx = int32_t(g.below(3)) - 1;
        for (int32_t y = 0; y < h; ++y) {
            const int32_t sy = std::clamp(y - dy, 0, h - 1);
            for (int32_t x = 0; x < w; ++x) {
                const int32_t sx = std::clamp(x - dx, 0, w - 1);
                for (int32_t ch = 0; ch < c; ++ch) {
                    const int32_t noise = int32_t(g.below(2 * kNoise + 1)) - kNoise;
                    const int32_t v = p[(size_t(sy) * w + sx) * c + ch] + noise;
                    out[(size_t(y) * w + x) * c + ch] = uint8_t(std::clamp(v, 0, 255));
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
        throw InputError("synthetic dataset: need height, width, channels >= 1, classes in 2..256 and "
                         "non-negative counts; got " + std::to_string(height) + " x " +
                         std::to_string(width) + " x " + std::to_string(channels) + ", " +
                         std::to_string(classes) + " classes, " + std::to_string(trainCount) +
                         " train, " + std::to_string(testCount) + " test");
    Dataset d;
    d.name = "synthetic";
    d.height = height;
    d.width = width;
    d.channels = channels;
    d.classes = classes;
    const std::vector<uint8_t> protos = makePrototypes(height, width, channels, classes, seed);
    SplitMix64 train(streamSeed(seed, Stream::Train));
    d.trainLabels = makeLabels(trainCount, classes, train);
    makeSamples(protos, d.trainLabels, height, width, channels, train, d.trainImages);
    SplitMix64 test(streamSeed(seed, Stream::Test));
    d.testLabels = makeLabels(testCount, classes, test);
    makeSamples(protos, d.testLabels, height, width, channels, test, d.testImages);
    return d;
}

} // namespace bitbench
