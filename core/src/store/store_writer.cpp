// RunWriter: queues trainer events and commits them in batches from its own thread.
#include "store/store_impl.h"

#include "bitbench/error.h"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace bitbench {

namespace {

using Clock = std::chrono::steady_clock;

// How long events may wait before a commit. Long enough that a commit carries ~30 steps at the
// trainer's ~120 steps/s, short enough that a live view reading the database lags by ~1/4 s.
constexpr auto kBatchInterval = std::chrono::milliseconds(250);

// Above this many queued steps the trainer waits for the writer: memory stays bounded if the
// disk stalls, and at normal speed the writer never gets this far behind.
constexpr size_t kMaxQueuedSteps = 100000;

struct Checkpoint {
    int64_t step;
    int32_t epoch;
    std::vector<uint8_t> blob;
};

struct Batch {
    std::vector<StepMetrics> steps;
    std::vector<TensorStats> stats;
    std::vector<EpochMetrics> epochs;
    std::vector<Checkpoint> checkpoints;
    bool empty() const {
        return steps.empty() && stats.empty() && epochs.empty() && checkpoints.empty();
    }
};

} // namespace

struct RunWriter::Impl {
    RunStore store;
    int64_t runId;

    std::mutex mu;
    std::condition_variable wake;     // to the writer thread
    std::condition_variable progress; // to callers waiting for a commit
    Batch pending;
    uint64_t requested = 0; // sync tickets handed out
    uint64_t done = 0;      // tickets whose events are committed (or failed)
    bool urgent = false;
    bool stop = false;
    std::exception_ptr error;
    int64_t commits = 0;
    bool finished = false;
    std::thread thread;

    Impl(RunStore s, int64_t id) : store(std::move(s)), runId(id) {}

    void rethrowLocked() {
        if (error) std::rethrow_exception(error);
        if (stop)
            throw StoreError(error_message_file(
                store.path(), "run " + std::to_string(runId) + ": the writer is already finished"));
    }

    // Hands everything queued so far to the writer now and waits until it is committed.
    void syncLocked(std::unique_lock<std::mutex>& lock) {
        const uint64_t ticket = ++requested;
        urgent = true;
        wake.notify_one();
        progress.wait(lock, [&] { return done >= ticket || error; });
        if (error) std::rethrow_exception(error);
    }

    void commit(Batch& b) {
        SqliteDb& db = store_connection(store);
        const bool durable = !b.checkpoints.empty();
        // A checkpoint is what a resume starts from: make its commit survive power loss too.
        if (durable) db.exec("PRAGMA synchronous = FULL");
        try {
            SqliteWriteTxn txn(db);
            for (const StepMetrics& m : b.steps)
                store_put_step(db, runId, m);
            for (const TensorStats& s : b.stats)
                store_put_tensor_stats(db, runId, s);
            for (const EpochMetrics& e : b.epochs)
                store_put_epoch(db, runId, e);
            for (const Checkpoint& c : b.checkpoints)
                store_put_checkpoint(db, runId, c.step, c.epoch, c.blob);
            txn.commit();
        } catch (...) {
            if (durable) db.exec("PRAGMA synchronous = NORMAL");
            throw;
        }
        if (durable) db.exec("PRAGMA synchronous = NORMAL");
    }

    void loop() {
        std::unique_lock<std::mutex> lock(mu);
        Clock::time_point due = Clock::now() + kBatchInterval;
        for (;;) {
            if (pending.empty()) {
                wake.wait(lock, [&] { return stop || urgent || !pending.empty(); });
                if (!urgent) due = Clock::now() + kBatchInterval; // the batch starts now
            }
            wake.wait_until(lock, due, [&] { return stop || urgent; });
            Batch batch = std::move(pending);
            pending = Batch{};
            const uint64_t ticket = requested;
            urgent = false;
            const bool stopping = stop;
            if (!batch.empty() && !error) {
                lock.unlock();
                std::exception_ptr failed;
                try {
                    commit(batch);
                } catch (...) {
                    failed = std::current_exception();
                }
                lock.lock();
                if (failed)
                    error = failed;
                else
                    ++commits;
            }
            done = ticket;
            progress.notify_all();
            due = Clock::now() + kBatchInterval;
            if (stopping && pending.empty()) return;
        }
    }

    void stopThread() {
        {
            std::lock_guard<std::mutex> lock(mu);
            stop = true;
        }
        wake.notify_one();
        if (thread.joinable()) thread.join();
    }
};

RunWriter::RunWriter(const std::string& dbPath, int64_t runId) {
    RunStore store = RunStore::open(dbPath);
    if (store.readOnly())
        throw StoreError(
            error_message_file(dbPath, "cannot record the run: " + store.readOnlyReason()));
    if (!store.runExists(runId))
        throw StoreError(error_message_file(dbPath, "has no run with id " + std::to_string(runId)));
    {
        SqliteDb& db = store_connection(store);
        SqliteWriteTxn txn(db);
        // Never take a run from a live process (a resume in another process, a sweep worker).
        if (const auto owner = store_run_live_owner(db, runId))
            throw StoreError(error_message_file(dbPath, run_busy_message(runId, *owner)));
        store_put_run_owner(db, runId);
        txn.commit();
    }
    m_impl = std::make_unique<Impl>(std::move(store), runId);
    m_impl->thread = std::thread([impl = m_impl.get()] { impl->loop(); });
}

RunWriter::~RunWriter() {
    if (!m_impl) return;
    m_impl->stopThread();
    if (!m_impl->finished) {
        try {
            m_impl->store.runFinish(m_impl->runId,
                                    m_impl->error ? RunStatus::Failed : RunStatus::Interrupted, {});
        } catch (...) {
            // The next open marks it interrupted anyway once this process is gone.
        }
    }
}

void RunWriter::onStep(const StepMetrics& m) {
    std::unique_lock<std::mutex> lock(m_impl->mu);
    m_impl->rethrowLocked();
    if (m_impl->pending.steps.size() >= kMaxQueuedSteps) m_impl->syncLocked(lock);
    m_impl->pending.steps.push_back(m);
    if (m_impl->pending.steps.size() == 1) m_impl->wake.notify_one();
}

void RunWriter::onTensorStats(const std::vector<TensorStats>& stats) {
    std::lock_guard<std::mutex> lock(m_impl->mu);
    m_impl->rethrowLocked();
    m_impl->pending.stats.insert(m_impl->pending.stats.end(), stats.begin(), stats.end());
    m_impl->wake.notify_one();
}

void RunWriter::onEpoch(const EpochMetrics& m) {
    std::lock_guard<std::mutex> lock(m_impl->mu);
    m_impl->rethrowLocked();
    m_impl->pending.epochs.push_back(m);
    // Commit at once without making the trainer wait: the epoch's results are what a reader
    // looks for first, and what a crash must not lose.
    m_impl->urgent = true;
    m_impl->wake.notify_one();
}

void RunWriter::checkpointPut(int64_t step, int32_t epoch, std::vector<uint8_t> blob) {
    std::unique_lock<std::mutex> lock(m_impl->mu);
    m_impl->rethrowLocked();
    m_impl->pending.checkpoints.push_back({step, epoch, std::move(blob)});
    m_impl->syncLocked(lock);
}

void RunWriter::flush() {
    std::unique_lock<std::mutex> lock(m_impl->mu);
    m_impl->rethrowLocked();
    m_impl->syncLocked(lock);
}

void RunWriter::finish(RunStatus status, const std::string& summaryJson, int64_t statusStep,
                       const std::string& statusMessage) {
    if (m_impl->finished) return;
    flush();
    m_impl->stopThread();
    m_impl->store.runFinish(m_impl->runId, status, summaryJson, statusStep, statusMessage);
    m_impl->finished = true;
}

int64_t RunWriter::runId() const {
    return m_impl->runId;
}

int64_t RunWriter::commitCount() const {
    std::lock_guard<std::mutex> lock(m_impl->mu);
    return m_impl->commits;
}

} // namespace bitbench
