// The data a run reads: file fingerprints (cached by path, size and modification time), stored
// with the run and checked again before the run resumes or replays.
#include "store/store_impl.h"

#include "bitbench/dataset.h"
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "data/data_file.h"

#include <nlohmann/json.hpp>
#include <xxhash.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>

namespace bitbench {

namespace fs = std::filesystem;

namespace {

// A file modified this recently may change again within the same timestamp tick, so its hash is
// not cached (as git treats "racily clean" index entries).
constexpr int64_t kSettledNs = 2'000'000'000;

struct FileTimes {
    uint64_t size = 0;
    int64_t mtimeNs = 0;
    bool operator==(const FileTimes&) const = default;
};

FileTimes timesOf(int fd, const std::string& path) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw DataError(error_message_file(path, std::string("cannot read its status (") +
                                                     std::strerror(errno) + ")"));
    return {uint64_t(st.st_size), int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::string hashFile(int fd, const std::string& path) {
    std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state(XXH3_createState(),
                                                                          XXH3_freeState);
    if (!state) throw std::bad_alloc();
    XXH3_64bits_reset(state.get());
    std::vector<uint8_t> buf(size_t(1) << 20);
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            throw DataError(error_message_file(path, std::string("cannot read (") +
                                                         std::strerror(errno) + ")"));
        if (n == 0) break;
        XXH3_64bits_update(state.get(), buf.data(), size_t(n));
    }
    return hash_hex(XXH3_64bits_digest(state.get()));
}

std::string describe(const DataFileFingerprint& f) {
    return std::to_string(f.size) + " bytes, XXH3 " + f.hash;
}

} // namespace

std::string data_fingerprint_to_json(const std::vector<DataFileFingerprint>& files) {
    nlohmann::json j = nlohmann::json::array();
    for (const DataFileFingerprint& f : files)
        j.push_back({{"file", f.file}, {"size", f.size}, {"hash", f.hash}});
    return j.dump();
}

std::vector<DataFileFingerprint> data_fingerprint_from_json(const std::string& json) {
    std::vector<DataFileFingerprint> out;
    try {
        const nlohmann::json j = nlohmann::json::parse(json);
        if (!j.is_array()) throw std::invalid_argument("expected a list");
        for (const nlohmann::json& f : j) {
            if (!f.is_object() || !f.at("file").is_string() || !f.at("size").is_number_unsigned() ||
                !f.at("hash").is_string())
                throw std::invalid_argument("expected {file, size, hash} entries");
            out.push_back({f["file"].get<std::string>(), f["size"].get<uint64_t>(),
                           f["hash"].get<std::string>()});
        }
    } catch (const std::exception& e) {
        throw StoreError("unusable stored data fingerprint: " + std::string(e.what()));
    }
    return out;
}

std::vector<DataFileFingerprint> RunStore::filesFingerprint(const std::vector<std::string>& files) {
    SqliteDb& db = m_impl->db;
    std::vector<DataFileFingerprint> out;
    for (const std::string& file : files) {
        std::error_code ec;
        const std::string key = fs::absolute(file, ec).lexically_normal().string();
        const int fd = data_file_open(file);
        struct Close {
            int fd;
            ~Close() { ::close(fd); }
        } guard{fd};
        const FileTimes before = timesOf(fd, file);
        DataFileFingerprint f{fs::path(file).filename().string(), before.size, {}};
        {
            SqliteQuery q = db.query(
                "SELECT hash FROM file_fingerprints WHERE path = ? AND size = ? AND mtime_ns = ?");
            q.bind(1, key).bind(2, int64_t(before.size)).bind(3, before.mtimeNs);
            if (q.step()) f.hash = q.colText(0);
        }
        if (f.hash.empty()) {
            f.hash = hashFile(fd, file);
            ++m_impl->filesHashed;
            const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
            const bool settled = timesOf(fd, file) == before && now - before.mtimeNs > kSettledNs;
            if (settled && !readOnly()) {
                try {
                    SqliteWriteTxn txn(db);
                    db.query("INSERT OR REPLACE INTO file_fingerprints (path, size, mtime_ns, "
                             "hash) VALUES (?, ?, ?, ?)")
                        .bind(1, key)
                        .bind(2, int64_t(before.size))
                        .bind(3, before.mtimeNs)
                        .bind(4, f.hash)
                        .run();
                    txn.commit();
                } catch (const StoreError&) {
                    // Only a cache: the next run hashes the file again.
                }
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

int64_t RunStore::filesHashed() const {
    return m_impl->filesHashed;
}

RunInfo run_info_of(const Experiment& e, const Dataset& data, RunStore& store) {
    RunInfo info = run_info_of(e);
    if (!data.name.empty()) info.dataset = data.name;
    info.dataDir = data.dir;
    info.dataFingerprint = data_fingerprint_to_json(store.filesFingerprint(data.files));
    return info;
}

Dataset run_data_load(RunStore& store, const RunRecord& r, const Experiment& e,
                      const std::string& dataDir, RunDataCheck* check) {
    const std::string dir = !dataDir.empty() ? dataDir : r.info.dataDir;
    if (r.info.dataFingerprint.empty()) {
        if (check) *check = RunDataCheck::NotRecorded;
        return dataset_for_experiment(e, dir);
    }
    const std::string run = "run " + std::to_string(r.id);
    const std::vector<DataFileFingerprint> stored =
        data_fingerprint_from_json(r.info.dataFingerprint);
    if (!stored.empty() && dir.empty())
        throw DataError(
            run +
            " has a data fingerprint but no data folder recorded; give the folder of its data");
    // Checked before loading, so a changed file is named as such rather than failing to parse.
    for (const DataFileFingerprint& f : stored) {
        const std::string path = (fs::path(dir) / f.file).string();
        DataFileFingerprint now;
        try {
            now = store.filesFingerprint({path}).front();
        } catch (const DataError& err) {
            throw DataError(std::string(err.what()) + "; " + run + " was trained on this file (" +
                            describe(f) + ")");
        }
        if (now.size != f.size || now.hash != f.hash)
            throw DataError(error_message_file(
                path, "differs from the file " + run + " was trained on (now " + describe(now) +
                          ", then " + describe(f) + "); resume and replay need the same data"));
    }
    Dataset data = dataset_for_experiment(e, dir);
    // The loader must have read exactly those files (a plain file added next to a stored .gz wins).
    std::vector<std::string> read;
    for (const std::string& file : data.files)
        read.push_back(fs::path(file).filename().string());
    std::vector<std::string> want;
    for (const DataFileFingerprint& f : stored)
        want.push_back(f.file);
    if (read != want) {
        std::string list;
        for (const std::string& name : read)
            list += (list.empty() ? "" : ", ") + name;
        throw DataError(
            error_message_file(dir, "holds other data files than " + run + " was trained on (" +
                                        (list.empty() ? std::string("none") : list) + ")"));
    }
    if (check) *check = RunDataCheck::Matched;
    return data;
}

Dataset run_data_attach(RunStore& store, int64_t runId, const Experiment& e,
                        const std::string& dataDir, RunDataCheck* check) {
    const RunRecord r = store.runGet(runId);
    if (!r.info.dataFingerprint.empty()) return run_data_load(store, r, e, dataDir, check);
    Dataset data = dataset_for_experiment(e, dataDir);
    // A checkpoint stored without a fingerprint came from data nobody recorded: that stays unknown.
    if (r.checkpoints > 0) {
        if (check) *check = RunDataCheck::NotRecorded;
        return data;
    }
    store.runSetData(runId, run_info_of(e, data, store));
    if (check) *check = RunDataCheck::Matched;
    return data;
}

} // namespace bitbench
