// Safe output files: refusing databases, temporary file plus rename, errno in words.
#include "bitbench/atomic_file.h"

#include "bitbench/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <utility>

namespace bitbench {

namespace fs = std::filesystem;

namespace {

constexpr char kSqliteHeader[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                    'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};

using FileKey = std::pair<uint64_t, uint64_t>; // device, inode

std::mutex g_openMutex;
std::map<FileKey, int>& openFiles() {
    static std::map<FileKey, int> files;
    return files;
}

bool fileKey(const std::string& path, FileKey* key) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return false;
    *key = {uint64_t(st.st_dev), uint64_t(st.st_ino)};
    return true;
}

bool markedOpen(const FileKey& key) {
    std::lock_guard<std::mutex> lock(g_openMutex);
    return openFiles().count(key) > 0;
}

// The database a companion file belongs to: "x.db" for "x.db-wal", "x.db-shm", "x.db-journal".
std::string companionBase(const std::string& path) {
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
        const size_t n = std::strlen(suffix);
        if (path.size() > n && path.compare(path.size() - n, n, suffix) == 0)
            return path.substr(0, path.size() - n);
    }
    return {};
}

[[noreturn]] void refuse(const std::string& path, const std::string& why) {
    throw InputError(error_message_file(
        path, why + "; it was left untouched (choose another output file)"));
}

[[noreturn]] void failOutput(const std::string& path, const std::string& what, int err) {
    throw OutputError(error_message_file(path, what + ": " + file_errno_words(err)));
}

std::string tempPathFor(const std::string& target) {
    static std::atomic<uint64_t> counter{0};
    const fs::path t(target);
    const uint64_t salt =
        uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^
        (counter.fetch_add(1) << 40);
    char tag[64];
    std::snprintf(tag, sizeof tag, ".tmp-%ld-%016llx", long(::getpid()),
                  static_cast<unsigned long long>(salt));
    // The extension stays last: writers that choose a format by extension still see it.
    const std::string name = "." + t.stem().string() + tag + t.extension().string();
    return (t.parent_path() / name).string();
}

void syncFolder(const std::string& dir) {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd); // best effort: the data itself was synced before the rename
    ::close(fd);
}

void writeAll(int fd, std::string_view data, const std::string& path) {
    size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            failOutput(path, "cannot write", err);
        }
        done += size_t(n);
    }
}

} // namespace

FileOpenMark::FileOpenMark(const std::string& path) {
    FileKey key;
    if (!fileKey(path, &key)) return;
    m_dev = key.first;
    m_ino = key.second;
    m_active = true;
    std::lock_guard<std::mutex> lock(g_openMutex);
    ++openFiles()[key];
}

FileOpenMark::~FileOpenMark() {
    if (!m_active) return;
    std::lock_guard<std::mutex> lock(g_openMutex);
    auto it = openFiles().find({m_dev, m_ino});
    if (it != openFiles().end() && --it->second == 0) openFiles().erase(it);
}

FileOpenMark::FileOpenMark(FileOpenMark&& o) noexcept
    : m_dev(o.m_dev), m_ino(o.m_ino), m_active(std::exchange(o.m_active, false)) {}

FileOpenMark& FileOpenMark::operator=(FileOpenMark&& o) noexcept {
    if (this != &o) {
        FileOpenMark old(std::move(*this));
        m_dev = o.m_dev;
        m_ino = o.m_ino;
        m_active = std::exchange(o.m_active, false);
    }
    return *this;
}

bool file_is_sqlite(const std::string& path) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    char head[16];
    size_t got = 0;
    while (got < sizeof head) {
        const ssize_t n = ::read(fd, head + got, sizeof head - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += size_t(n);
    }
    ::close(fd);
    return got == sizeof head && std::memcmp(head, kSqliteHeader, sizeof head) == 0;
}

bool file_same(const std::string& a, const std::string& b) {
    FileKey ka, kb;
    return fileKey(a, &ka) && fileKey(b, &kb) && ka == kb;
}

void file_output_check(const std::string& path, const std::string& dbPath) {
    FileKey key;
    if (!fileKey(path, &key)) return; // nothing there to lose
    std::error_code ec;
    if (fs::is_directory(path, ec)) refuse(path, "is a folder, not a file");
    // Same-file checks come first and never open the file (see FileOpenMark).
    if (markedOpen(key)) refuse(path, "is a run database this program has open");
    if (!dbPath.empty()) {
        for (const char* suffix : {"", "-wal", "-shm", "-journal"})
            if (file_same(path, dbPath + suffix))
                refuse(path, *suffix ? "belongs to the run database '" + dbPath + "'"
                                     : std::string("is the run database being read"));
    }
    if (const std::string base = file_database_companion(path); !base.empty())
        refuse(path, "belongs to the SQLite database '" + base + "'");
    if (file_is_sqlite(path)) refuse(path, "is an SQLite database");
}

std::string file_database_companion(const std::string& path) {
    const std::string base = companionBase(path);
    FileKey key;
    if (base.empty() || !fileKey(base, &key)) return {};
    // An open database is known without opening it again (see FileOpenMark).
    return markedOpen(key) || file_is_sqlite(base) ? base : std::string();
}

std::string file_errno_words(int err) {
    switch (err) {
    case EROFS:
        return "read-only file system";
    case EACCES:
    case EPERM:
        return "no write permission";
    case ENOSPC:
        return "no space left on the device";
    default:
        return std::strerror(err);
    }
}

void file_replace(const std::string& path, const std::function<void(const std::string&)>& write) {
    std::error_code ec;
    std::string target = path;
    // Replace what a symlink points to, not the link itself.
    if (fs::is_symlink(path, ec)) {
        const fs::path resolved = fs::canonical(path, ec);
        if (!ec) target = resolved.string();
    }
    struct stat st{};
    const bool exists = ::stat(target.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        throw OutputError(error_message_file(path, "is a folder, not a file"));
    if (exists && !S_ISREG(st.st_mode)) { // a device or a pipe cannot be replaced, only written
        write(target);
        return;
    }

    std::string tmp;
    for (int attempt = 0;; ++attempt) {
        tmp = tempPathFor(target);
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            if (exists) ::fchmod(fd, st.st_mode & 07777);
            ::close(fd);
            break;
        }
        if (errno != EEXIST || attempt == 10) {
            const int err = errno;
            if (err == ENOENT || err == ENOTDIR)
                throw OutputError(error_message_file(path, "cannot write: the folder '" +
                                                               fs::path(target).parent_path().string() +
                                                               "' does not exist"));
            failOutput(path, "cannot write in its folder", err);
        }
    }
    struct Cleanup {
        std::string path;
        ~Cleanup() {
            if (!path.empty()) ::unlink(path.c_str());
        }
    } cleanup{tmp};

    write(tmp);
    const int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
        const int err = errno;
        if (fd >= 0) ::close(fd);
        failOutput(path, "cannot write", err);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), target.c_str()) != 0) failOutput(path, "cannot replace", errno);
    cleanup.path.clear();
    syncFolder(fs::path(target).parent_path().string());
}

void file_write_atomic(const std::string& path, std::string_view data) {
    file_replace(path, [&](const std::string& tmp) {
        // O_TRUNC without O_CREAT: the temporary file exists; a device target is written as is.
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0) failOutput(path, "cannot write", errno);
        writeAll(fd, data, path);
        if (::close(fd) != 0) failOutput(path, "cannot write", errno);
    });
}

} // namespace bitbench
