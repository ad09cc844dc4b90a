// Data files: regular files only, so a FIFO or a folder is named as such instead of hanging or
// looking missing.
#include "data/data_file.h"

#include "bitbench/error.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bitbench {

namespace {

const char* typeName(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
    return "not a plain file";
}

[[noreturn]] void notRegular(const std::string& path, const char* type) {
    throw DataError(error_message_file(path, std::string("not a regular file (") + type +
                                                 "); expected a data file"));
}

} // namespace

int data_file_open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) throw DataError(error_message_file(path, "missing"));
        throw DataError(
            error_message_file(path, std::string("cannot open (") + std::strerror(err) + ")"));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw DataError(error_message_file(path, std::string("cannot read its status (") +
                                                     std::strerror(err) + ")"));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        notRegular(path, typeName(st.st_mode));
    }
    // Reads of a regular file never block anyway; clear the flag so nothing below sees EAGAIN.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

bool data_file_exists(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    if (!S_ISREG(st.st_mode)) notRegular(path.string(), typeName(st.st_mode));
    return true;
}

} // namespace bitbench
