// Writing user-chosen output files safely: never over a run database, never half-written.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace bitbench {

// While alive, marks a file as a database this process has open, so file_output_check refuses it
// by device and inode without opening it (closing any descriptor of a database file would drop
// this process's SQLite locks on it). Does nothing when the file does not exist.
class FileOpenMark {
public:
    explicit FileOpenMark(const std::string& path);
    ~FileOpenMark();
    FileOpenMark(FileOpenMark&& o) noexcept;
    FileOpenMark& operator=(FileOpenMark&& o) noexcept;
    FileOpenMark(const FileOpenMark&) = delete;
    FileOpenMark& operator=(const FileOpenMark&) = delete;

private:
    uint64_t m_dev = 0, m_ino = 0;
    bool m_active = false;
};

// True when the file at `path` begins with SQLite's 16-byte header "SQLite format 3\0", whoever
// wrote it. False when it is missing, shorter, unreadable or anything else.
bool file_is_sqlite(const std::string& path);

// True when both paths name one existing file (same device and inode; symlinks are followed).
bool file_same(const std::string& a, const std::string& b);

// The database whose -wal, -shm or -journal file `path` names, whether or not that file exists:
// the path without the suffix when it holds an SQLite database or is a database this process has
// open (FileOpenMark); empty for any other path.
std::string file_database_companion(const std::string& path);

// Refuses an output path that would destroy a database: a file holding an SQLite database, a
// database this process has open (FileOpenMark), the database `dbPath` itself, or the -wal, -shm
// or -journal file of any of these.
// throws: InputError naming the file.
void file_output_check(const std::string& path, const std::string& dbPath = {});

// Words for why a file could not be written, from errno: "read-only file system" for EROFS,
// "no write permission" for EACCES and EPERM, strerror's words otherwise.
std::string file_errno_words(int err);

// Creates `path` or replaces it as a whole: `write` fills a fresh temporary file in the same
// folder (same extension; its path is the argument), which is then synced and renamed over
// `path` (a symlink's target is replaced, an existing file keeps its permissions). A failure
// or an exception from `write` removes the temporary file and leaves `path` as it was.
// Targets that are devices or pipes (/dev/null, /dev/stdout) are written directly.
// throws: OutputError naming the file; whatever `write` throws.
void file_replace(const std::string& path, const std::function<void(const std::string&)>& write);

// file_replace with `data` as the new contents.
void file_write_atomic(const std::string& path, std::string_view data);

} // namespace bitbench
