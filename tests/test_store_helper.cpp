// Child process for the store tests: writes runs concurrently, crashes mid-run, fills a
// size-limited disk, or probes a database as an unprivileged user. Exit 0 ok, 4 StoreError, 1
// misuse.
#include "bitbench/error.h"
#include "bitbench/store.h"
#include "test_store_synthetic.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

using namespace bitbench;
using namespace bitbench::test;

namespace {

// Writes `steps` steps: stats every 10, an epoch and a checkpoint every 50.
int64_t writeRun(const std::string& db, const std::string& name, int64_t steps, int stepUs,
                 bool finish) {
    int64_t runId = 0;
    {
        RunStore store = RunStore::open(db);
        runId = store.runCreate(
            RunInfo{name, "{}", "{}", "hash-" + name, 7, "2-8-8-8", "mlp", "synthetic", "", ""},
            0); // keeps every checkpoint
    }
    std::printf("%lld\n", static_cast<long long>(runId));
    std::fflush(stdout);
    RunWriter w(db, runId);
    for (int64_t s = 0; s < steps; ++s) {
        const int32_t epoch = int32_t(s / 50);
        w.onStep(syntheticStep(s, epoch));
        if (s % 10 == 0) w.onTensorStats(syntheticStats(s));
        if (s % 50 == 49) {
            w.onEpoch(syntheticEpoch(epoch, s + 1));
            w.checkpointPut(s + 1, epoch, syntheticBlob(1024, uint8_t(epoch)));
        }
        if (stepUs) std::this_thread::sleep_for(std::chrono::microseconds(stepUs));
    }
    if (finish) {
        w.finish(RunStatus::Finished, "{\"ok\":true}");
    } else {
        w.flush();
        std::fflush(stdout);
        ::_exit(9); // as if killed: no destructor, no finish
    }
    return runId;
}

int fill(const std::string& db, long limitBytes) {
    RunStore store = RunStore::open(db);
    const int64_t runId = store.runCreate(
        RunInfo{"fill", "{}", "{}", "hash-fill", 1, "2888", "mlp", "synthetic", "", ""},
        0); // keeps every checkpoint, so the file grows until the limit
    std::printf("%lld\n", static_cast<long long>(runId));
    std::fflush(stdout);
    RunWriter w(db, runId);
    // The limit makes write() fail with EFBIG past `limitBytes` in any file, like a full disk.
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit lim{rlim_t(limitBytes), rlim_t(limitBytes)};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) return 1;
    for (int i = 0; i < 10000; ++i) {
        w.onStep(syntheticStep(i, 0));
        w.checkpointPut(i, 0, syntheticBlob(32 * 1024, uint8_t(i)));
    }
    return 1; // the limit was never hit
}

int probe(const std::string& db, bool asNobody) {
    if (asNobody && ::geteuid() == 0) {
        // Permission bits do not bind root: probe as an ordinary user instead.
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 1;
    }
    RunStore store = RunStore::open(db);
    std::printf("readonly=%d\nreason=%s\nruns=%zu\n", store.readOnly() ? 1 : 0,
                store.readOnlyReason().c_str(), store.runsList().size());
    try {
        store.runCreate(RunInfo{"probe", "{}", "{}", "h", 1, "2888", "mlp", "synthetic", "", ""});
        std::printf("create=ok\n");
    } catch (const StoreError& e) {
        std::printf("create=error: %s\n", e.what());
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const auto arg = [&](int i) { return i < argc ? std::string(argv[i]) : std::string(); };
    const std::string cmd = arg(1);
    try {
        if (cmd == "write" && argc >= 5) {
            writeRun(arg(2), arg(3), std::atoll(argv[4]), argc > 5 ? std::atoi(argv[5]) : 0, true);
            return 0;
        }
        if (cmd == "crash" && argc >= 5) {
            writeRun(arg(2), arg(3), std::atoll(argv[4]), 0, false);
            return 0;
        }
        if (cmd == "fill" && argc >= 4) return fill(arg(2), std::atol(argv[3]));
        if (cmd == "probe" && argc >= 3) return probe(arg(2), arg(3) == "--as-nobody");
    } catch (const StoreError& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 4;
    }
    std::fprintf(stderr, "usage: test_store_helper write DB NAME STEPS [STEP_US] | crash DB NAME "
                         "STEPS | fill DB LIMIT_BYTES | probe DB [--as-nobody]\n");
    return 1;
}
