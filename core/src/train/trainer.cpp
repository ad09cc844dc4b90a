// Trainer: epochs of shuffled batches, the lr schedule, test evaluation and observer events.
#include "bitbench/trainer.h"

#include "bitbench/error.h"
#include "engine/wage_common.h"

#include <tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

namespace bitbench {

namespace {
constexpr uint64_t kCheckpointMagic = 0x3150434842424242ull; // "BBBBHCP1"
using Clock = std::chrono::steady_clock;
} // namespace

struct Trainer::Arena {
    explicit Arena(int32_t n) : arena(n) {}
    tbb::task_arena arena;
};

Trainer::Trainer(const Experiment& e, const Dataset& data, int32_t threads, EngineKind engine)
    : m_e(e), m_data(data) {
    const Graph& m = e.graph;
    if (data.height != m.input.h || data.width != m.input.w || data.channels != m.input.c)
        throw InputError("dataset '" + data.name + "' has " + std::to_string(data.height) + "x" +
                         std::to_string(data.width) + "x" + std::to_string(data.channels) + " images but model '" +
                         m.name + "' expects " + std::to_string(m.input.h) + "x" + std::to_string(m.input.w) + "x" +
                         std::to_string(m.input.c));
    // A label the model cannot output is bad data: name the file and the item.
    if (!data.maxLabel.file.empty() && data.maxLabel.label >= m.classes())
        throw DataError(error_message_file(
            data.maxLabel.file, "item " + std::to_string(data.maxLabel.item) + " has label " +
                                    std::to_string(data.maxLabel.label) + ", but model '" + m.name +
                                    "' has " + std::to_string(m.classes()) +
                                    " outputs (labels 0 to " + std::to_string(m.classes() - 1) +
                                    ")"));
    if (data.classes > m.classes())
        throw InputError("dataset '" + data.name + "' has " + std::to_string(data.classes) + " classes but model '" +
                         m.name + "' has " + std::to_string(m.classes()) + " outputs");
    m_trainCount = e.trainLimit ? std::min(e.trainLimit, data.trainCount()) : data.trainCount();
    m_testCount = e.testLimit ? std::min(e.testLimit, data.testCount()) : data.testCount();
    m_stepsPerEpoch = m_trainCount / e.batch;
    if (m_stepsPerEpoch < 1)
        throw InputError("the training set has " + std::to_string(m_trainCount) + " images, fewer than one batch of " +
                         std::to_string(e.batch));
    const int32_t n = threads > 0 ? threads : int32_t(std::max(1u, std::thread::hardware_concurrency()));
    m_arena = std::make_unique<Arena>(n);
    inArena([&] { m_engine = engine_create(m_e, engine); });
    m_batchImages.resize(size_t(e.batch * data.imageSize()));
    m_batchLabels.resize(size_t(e.batch));
    if (e.augment) m_augmented.resize(size_t(data.imageSize()));
}

Trainer::~Trainer() = default;

template <typename F> void Trainer::inArena(F&& f) { m_arena->arena.execute(std::forward<F>(f)); }

void Trainer::shuffle(int32_t epoch) {
    // Fisher-Yates with draws from the Shuffle stream of this epoch: a pure function of (seed, epoch).
    m_order.resize(size_t(m_trainCount));
    for (int64_t i = 0; i < m_trainCount; ++i) m_order[size_t(i)] = uint32_t(i);
    const Random rng(m_e.seed);
    for (int64_t i = m_trainCount - 1; i > 0; --i) {
        const uint32_t j = rng.below(RandomPurpose::Shuffle, uint64_t(epoch), 0, uint64_t(i), uint32_t(i + 1));
        std::swap(m_order[size_t(i)], m_order[j]);
    }
    m_orderEpoch = epoch;
}

bool Trainer::epochPending() const {
    return m_step > 0 && m_step % m_stepsPerEpoch == 0 && int64_t(m_history.size()) < m_step / m_stepsPerEpoch;
}

bool Trainer::finished() const {
    return m_stop.load() || diverged() || (m_step >= totalSteps() && !epochPending());
}

void Trainer::diverge(int64_t step, const std::string& what) {
    m_divergence.step = step;
    m_divergence.epoch = int32_t(step / m_stepsPerEpoch);
    // The rate that scales this model's updates: lr_float where a G class is float.
    bool floatG = !m_e.bits.base.g();
    for (const auto& l : m_engine->layers())
        floatG = floatG || !l.bits.g();
    char rate[64];
    if (floatG)
        std::snprintf(rate, sizeof rate, "a smaller lr_float (now %g)", m_e.lrFloat);
    else
        std::snprintf(rate, sizeof rate, "a smaller lr (now %g)", m_e.lrAt(m_divergence.epoch));
    m_divergence.message = "training diverged at step " + std::to_string(step + 1) + " of " +
                           std::to_string(totalSteps()) + " (epoch " +
                           std::to_string(m_divergence.epoch + 1) + "): " + what + "; try " + rate +
                           (m_e.loss == LossKind::Sse ? " or loss softmax_ce" : "");
}

namespace {
std::string numberText(double v) {
    return std::isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf";
}
} // namespace

bool Trainer::step() {
    if (m_stop.load() || diverged()) return false;
    // An epoch whose evaluation was interrupted (or cut off by a checkpoint) completes first.
    if (epochPending()) {
        completeEpoch();
        return !finished();
    }
    if (m_step >= totalSteps()) return false;
    const int32_t ep = epoch();
    if (m_orderEpoch != ep) shuffle(ep);
    const int64_t inEpoch = m_step % m_stepsPerEpoch;
    const int32_t B = m_e.batch;
    const int64_t isz = m_data.imageSize();
    for (int32_t s = 0; s < B; ++s) {
        const uint32_t idx = m_order[size_t(inEpoch * B + s)];
        std::memcpy(m_batchImages.data() + s * isz, m_data.trainImages.data() + int64_t(idx) * isz, size_t(isz));
        m_batchLabels[size_t(s)] = m_data.trainLabels[idx];
    }
    if (m_e.augment) {
        // Pad 4, random crop, horizontal flip; offsets drawn per (step, sample).
        const Random rng(m_e.seed);
        for (int32_t s = 0; s < B; ++s) {
            const uint32_t w = rng.word(RandomPurpose::Augment, uint64_t(m_step), 0, uint64_t(s));
            const int32_t dy = int32_t((w & 0xFF) % 9), dx = int32_t(((w >> 8) & 0xFF) % 9);
            const bool flip = (w >> 16) & 1;
            uint8_t* img = m_batchImages.data() + s * isz;
            dataset_augment_cifar(img, m_augmented.data(), m_data.height, m_data.width, m_data.channels, 4, dy, dx, flip);
            std::memcpy(img, m_augmented.data(), size_t(isz));
        }
    }
    const double lr = schedule_lr(m_e.lr, m_e.optimizer.warmupEpochs, m_step, m_stepsPerEpoch);
    BatchResult r;
    const auto t0 = Clock::now();
    inArena([&] { m_engine->trainStep(m_batchImages.data(), m_batchLabels.data(), B, m_step, lr, r); });
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    m_epochSeconds += dt;
    const double rate = dt > 0 ? B / dt : 0;
    m_rateEma = m_rateEma == 0 ? rate : 0.9 * m_rateEma + 0.1 * rate;
    // Divergence: a non-finite loss, or non-finite weights (checked every step: one pass over
    // the weights, well under 1% of a step; see core/doc/performance.md).
    {
        const std::string badLayer = m_engine->weightsNonFinite();
        if (!std::isfinite(r.loss) || !badLayer.empty()) {
            std::string what;
            if (!std::isfinite(r.loss)) what = "the batch loss is " + numberText(r.loss);
            if (!badLayer.empty())
                what += (what.empty() ? "" : " and ") + std::string("weights of layer ") +
                        badLayer + " are not finite";
            diverge(m_step, what);
            return false;
        }
    }
    m_epochLoss += r.loss;
    m_epochErrors += r.errors;

    StepMetrics sm;
    sm.step = m_step;
    sm.epoch = ep;
    sm.loss = r.loss;
    sm.error = double(r.errors) / B;
    sm.learningRate = lr;
    sm.imagesPerSecond = m_rateEma;
    for (auto* o : m_observers) o->onStep(sm);

    if (m_e.statsInterval > 0 && m_step % m_e.statsInterval == 0 && !m_observers.empty()) {
        std::vector<TensorStats> stats;
        m_engine->collectStats(m_step, m_e.histogramBins, stats);
        for (auto* o : m_observers) o->onTensorStats(stats);
    }
    ++m_step;
    if (m_step % m_stepsPerEpoch == 0) completeEpoch();
    return !finished();
}

void Trainer::completeEpoch() {
    const int32_t ep = int32_t(m_step / m_stepsPerEpoch) - 1;
    const int32_t B = m_e.batch;
    {
        EpochMetrics em = evaluate();
        if (m_stop.load()) return; // evaluation interrupted: the epoch stays pending
        if (!std::isfinite(em.testLoss)) {
            diverge(m_step - 1, "the test loss after epoch " + std::to_string(ep + 1) + " is " +
                                    numberText(em.testLoss));
            return;
        }
        em.epoch = ep;
        em.trainLoss = m_epochLoss / double(m_stepsPerEpoch);
        em.trainError = double(m_epochErrors) / double(m_stepsPerEpoch * B);
        em.seconds = m_epochSeconds;
        em.imagesPerSecond = m_epochSeconds > 0 ? double(m_stepsPerEpoch * B) / m_epochSeconds : 0;
        m_history.push_back(em);
        m_epochLoss = 0;
        m_epochErrors = 0;
        m_epochSeconds = 0;
        for (auto* o : m_observers) o->onEpoch(em);
    }
}

EpochMetrics Trainer::evaluate() {
    EpochMetrics em;
    em.step = m_step;
    const int32_t B = m_e.batch;
    const int64_t isz = m_data.imageSize();
    int64_t errors = 0;
    double loss = 0;
    for (int64_t start = 0; start < m_testCount; start += B) {
        if (m_stop.load()) break;
        const int32_t n = int32_t(std::min<int64_t>(B, m_testCount - start));
        BatchResult r;
        inArena([&] { m_engine->evaluate(m_data.testImages.data() + start * isz, m_data.testLabels.data() + start, n, r); });
        errors += r.errors;
        loss += r.loss;
    }
    em.testError = m_testCount ? double(errors) / double(m_testCount) : 0;
    em.testLoss = m_testCount ? loss / double(m_testCount) : 0;
    em.weightsHash = m_engine->weightsHash();
    return em;
}

std::vector<uint8_t> Trainer::checkpointSave() const {
    std::vector<uint8_t> b;
    blob_put_u64(b, kCheckpointMagic);
    blob_put_u64(b, uint64_t(m_step));
    blob_put_u64(b, m_history.size());
    for (const auto& h : m_history) {
        const double vals[] = {h.trainLoss, h.trainError, h.testLoss, h.testError, h.seconds, h.imagesPerSecond};
        blob_put_u64(b, uint64_t(h.epoch));
        blob_put_u64(b, uint64_t(h.step));
        blob_put_u64(b, h.weightsHash);
        for (double v : vals) {
            uint64_t u;
            std::memcpy(&u, &v, 8);
            blob_put_u64(b, u);
        }
    }
    // Mid-epoch position: the epoch's running sums continue where they stopped.
    for (double v : {m_epochLoss, double(m_epochErrors), m_epochSeconds}) {
        uint64_t u;
        std::memcpy(&u, &v, 8);
        blob_put_u64(b, u);
    }
    const auto w = m_engine->weightsSave();
    blob_put_u64(b, w.size());
    b.insert(b.end(), w.begin(), w.end());
    return b;
}

void Trainer::checkpointLoad(const std::vector<uint8_t>& b) {
    size_t pos = 0;
    if (blob_get_u64(b, pos) != kCheckpointMagic) throw DataError("not a bitbench checkpoint");
    const auto step = int64_t(blob_get_u64(b, pos));
    if (step < 0 || step > totalSteps()) throw DataError("checkpoint step is outside this experiment's schedule");
    // Epochs before `step` are in the history, except one whose evaluation was cut off.
    const auto count = blob_get_u64(b, pos);
    const auto done = uint64_t(step / m_stepsPerEpoch);
    if (count > done || count + 1 < done)
        throw DataError("checkpoint history holds " + std::to_string(count) + " epochs at step " +
                        std::to_string(step) + ", expected " + std::to_string(done));
    std::vector<EpochMetrics> hist;
    auto getDouble = [&] {
        const uint64_t u = blob_get_u64(b, pos);
        double v;
        std::memcpy(&v, &u, 8);
        return v;
    };
    for (uint64_t i = 0; i < count; ++i) {
        EpochMetrics h;
        if (blob_get_u64(b, pos) != i) throw DataError("checkpoint history is out of order");
        h.epoch = int32_t(i);
        h.step = int64_t(blob_get_u64(b, pos));
        h.weightsHash = blob_get_u64(b, pos);
        h.trainLoss = getDouble();
        h.trainError = getDouble();
        h.testLoss = getDouble();
        h.testError = getDouble();
        h.seconds = getDouble();
        h.imagesPerSecond = getDouble();
        hist.push_back(h);
    }
    const double loss = getDouble(), errors = getDouble(), seconds = getDouble();
    // The epoch's error count so far: a whole number of at most one per image trained.
    if (!(errors >= 0 && errors <= double(m_stepsPerEpoch) * m_e.batch) || std::signbit(errors) ||
        errors != std::floor(errors))
        throw DataError("checkpoint holds an impossible error count");
    const auto size = blob_get_u64(b, pos);
    if (pos + size != b.size()) throw DataError("checkpoint is truncated");
    m_engine->weightsLoad(std::vector<uint8_t>(b.begin() + long(pos), b.end()));
    m_step = step;
    m_history = std::move(hist);
    m_epochLoss = loss;
    m_epochErrors = int64_t(errors);
    m_epochSeconds = seconds;
    m_orderEpoch = -1;
}

} // namespace bitbench
