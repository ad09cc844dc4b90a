// Process identity for crash detection: host name, pid, and a boot-and-start-time token.
#include "store/store_process.h"

#include <csignal>
#include <cerrno>
#include <fstream>
#include <sstream>

#include <sys/types.h>
#include <unistd.h>

namespace bitbench {

namespace {

std::string readFirstLine(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

bool pidExists(int64_t pid) {
    if (pid <= 0) return false;
    return ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

} // namespace

std::string store_host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

int64_t store_pid() {
    return int64_t(::getpid());
}

std::string store_process_token(int64_t pid) {
    if (!pidExists(pid)) return {};
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so the
    // fields are counted from the last ')'. starttime is field 22, the 20th after the ')'.
    const std::string stat = readFirstLine("/proc/" + std::to_string(pid) + "/stat");
    const std::string boot = readFirstLine("/proc/sys/kernel/random/boot_id");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || boot.empty()) return std::to_string(pid);
    std::istringstream fields(stat.substr(close + 1));
    std::string f;
    for (int i = 0; i < 20 && (fields >> f); ++i) {
    }
    if (f.empty()) return std::to_string(pid);
    return boot + ":" + f;
}

bool store_process_alive(int64_t pid, const std::string& token) {
    const std::string now = store_process_token(pid);
    if (now.empty()) return false;
    // A killed writer whose parent has not reaped it yet is a zombie: kill(pid, 0) still
    // succeeds, but it will never write again.
    const std::string stat = readFirstLine("/proc/" + std::to_string(pid) + "/stat");
    const size_t close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z') return false;
    return token.empty() || now == token;
}

} // namespace bitbench
