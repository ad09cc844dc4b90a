// RunStore: opening (checks, read-only fallback, migration, crash recovery) and its accessors.
#include "store/store_impl.h"
#include "store/store_process.h"
#include "store/store_schema.h"

#include "bitbench/atomic_file.h"
#include "bitbench/error.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <unistd.h>

namespace bitbench {

namespace fs = std::filesystem;

namespace {

constexpr int kBusyTimeoutMs = 10000;

std::string uriFor(const std::string& path, bool immutable) {
    std::string u = "file:";
    for (char c : path) {
        if (c == '%' || c == '?' || c == '#') {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", unsigned(uint8_t(c)));
            u += buf;
        } else {
            u += c;
        }
    }
    return immutable ? u + "?immutable=1" : u;
}

std::string folderOf(const std::string& path) {
    fs::path dir = fs::path(path).parent_path();
    return dir.empty() ? std::string(".") : dir.string();
}

// err: the errno of the failed write-access check on the folder.
std::string folderReason(const std::string& path, int err) {
    const std::string name = fs::path(path).filename().string();
    return "the folder '" + folderOf(path) +
           "' is not writable, and SQLite's write-ahead log needs "
           "to create '" +
           name + "-wal' and '" + name + "-shm' next to the database" +
           (err == EROFS ? " (it is on a " + file_errno_words(err) +
                               "); copy the database to a writable folder"
                         : "; make the folder writable or copy the database to a writable folder");
}

void setPragmas(SqliteDb& db) {
    store_schema_vacuum_prepare(db); // before the first page of a new file is written
    // Switching to WAL needs a moment of exclusive access; another opener may hold it briefly.
    for (int attempt = 1;; ++attempt) {
        try {
            db.exec("PRAGMA journal_mode = WAL", "switching to write-ahead logging");
            break;
        } catch (const StoreError&) {
            if (attempt == 20) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
        }
    }
    db.exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", "configuring the connection");
}

} // namespace

int64_t run_id_parse(const std::string& text) {
    int64_t id = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, id);
    if (text.empty() || ec != std::errc() || ptr != end || id <= 0)
        throw InputError("'" + text +
                         "' is not a run id (expected a positive integer, as shown by "
                         "`bitbench-cli runs list`)");
    return id;
}

SqliteDb& store_connection(RunStore& store) {
    return store.m_impl->db;
}

RunStore RunStore::open(const std::string& path, StoreAccess access) {
    // A database's -wal, -shm or -journal file belongs to it: SQLite would take an empty or
    // absent one for a new database and write into it, under the feet of that database.
    if (const std::string base = file_database_companion(path); !base.empty())
        throw StoreError(error_message_file(
            path, "belongs to the SQLite database '" + base +
                      "' and is no run database of its own; choose another file, it was left "
                      "untouched"));
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    const bool exists = fs::exists(st);
    // A folder, FIFO or device is no database: SQLite would fail with an I/O error at best.
    if (exists && !fs::is_regular_file(st))
        throw StoreError(error_message_file(
            path, std::string("not a regular file (") +
                      (fs::is_directory(st) ? "a directory" : fs::is_fifo(st) ? "a FIFO" : "a special file") +
                      "); a run database is a file, it was left untouched"));
    const std::string dir = folderOf(path);
    if (!exists && access != StoreAccess::ReadWrite) {
        throw StoreError("no run database at '" + path +
                         "' (nothing stored there yet, or the path is mistyped)");
    } else if (!exists) {
        fs::create_directories(dir, ec);
        if (ec)
            throw StoreError(error_message_file(path, "cannot create its folder: " + ec.message()));
        if (::access(dir.c_str(), W_OK) != 0)
            throw StoreError(error_message_file(
                path, "cannot create the database: " + folderReason(path, errno)));
    }

    std::string reason;
    const bool dirWritable = ::access(dir.c_str(), W_OK) == 0;
    const int dirErrno = dirWritable ? 0 : errno;
    if (access == StoreAccess::ReadOnly)
        reason = "opened read-only";
    else if (exists && ::access(path.c_str(), W_OK) != 0)
        reason = "the file is read-only (" + file_errno_words(errno) + ")";
    else if (!dirWritable)
        reason = folderReason(path, dirErrno);
    const bool readOnly = !reason.empty();

    // A WAL database read without a writable folder cannot get its -shm file; if nobody made one,
    // nobody can be writing either (they would need the same folder), so read it as immutable.
    const bool immutable = readOnly && !dirWritable && !fs::exists(path + "-shm", ec);
    // Only a path that was absent may be created: SQLite must not make a file that appeared or
    // vanished since the check.
    const int flags = SQLITE_OPEN_URI |
                      (readOnly ? SQLITE_OPEN_READONLY
                                : SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE));
    auto impl =
        std::make_unique<Impl>(Impl{SqliteDb(path, uriFor(path, immutable), flags), path, reason});
    SqliteDb& db = impl->db;
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);

    const int32_t latest = store_schema_latest();
    int32_t version = 0;
    try {
        // Nothing is written before this check passes. The file is only ever read through
        // SQLite: closing a second descriptor of a database file drops this process's POSIX
        // locks on it, and other processes could then checkpoint away our uncommitted WAL.
        version = store_schema_check(db, latest);
    } catch (const StoreError& e) {
        if ((sqlite3_errcode(db.handle()) & 0xff) == SQLITE_NOTADB)
            throw StoreError(error_message_file(
                path, "is not a bitbench run database (not an SQLite file); choose another file, "
                      "it was left untouched"));
        if (!dirWritable && std::string(e.what()).find("bitbench") == std::string::npos)
            throw StoreError(error_message_file(
                path, "cannot read the database: " + folderReason(path, dirErrno)));
        throw;
    }
    if (readOnly) {
        if (version == 0)
            throw StoreError(error_message_file(path, "is empty and cannot be written (" + reason +
                                                          "): there are no runs to read"));
        if (version < latest)
            throw StoreError(error_message_file(
                path, "uses schema " + std::to_string(version) + ", older than this program's " +
                          std::to_string(latest) + ", and cannot be upgraded (" + reason +
                          "); open it once with write access"));
        return RunStore(std::move(impl));
    }
    setPragmas(db);
    if (version < latest) store_schema_migrate(db, store_schema_migrations());
    // Files from before schema 2 (and new files made by another program's connection) are
    // converted once; a failure (e.g. no room for the copy) leaves them usable as they are.
    store_schema_vacuum_convert(db);
    RunStore store(std::move(impl));
    store.runsMarkInterrupted();
    return store;
}

RunStore::RunStore(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RunStore::RunStore(RunStore&&) noexcept = default;
RunStore& RunStore::operator=(RunStore&&) noexcept = default;
RunStore::~RunStore() = default;

const std::string& RunStore::path() const {
    return m_impl->path;
}
bool RunStore::readOnly() const {
    return !m_impl->readOnlyReason.empty();
}
const std::string& RunStore::readOnlyReason() const {
    return m_impl->readOnlyReason;
}

void store_require_writable(const RunStore::Impl& impl, const char* what) {
    if (!impl.readOnlyReason.empty())
        throw StoreError(error_message_file(impl.path, std::string("cannot ") + what + ": " +
                                                           impl.readOnlyReason));
}

void store_no_such_run(const std::string& path, int64_t runId) {
    throw StoreError(error_message_file(path, "has no run with id " + std::to_string(runId) +
                                                  " (see `bitbench-cli runs list`)"));
}

} // namespace bitbench
