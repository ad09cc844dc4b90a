// Maps typed core errors to messages and exit codes for every subcommand.
#include "cli_common.h"

#include "bitbench/error.h"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

namespace bitbench::cli {

int cli_run_guarded(const std::function<int()>& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        // The GUI's --autotrain reports through the same two functions.
        std::fprintf(stderr, "bitbench-cli: %s\n", error_line(e).c_str());
        return error_exit_code(e);
    }
}

std::string cli_option_empty(const CLI::App& app) {
    for (const CLI::Option* opt : app.get_options()) {
        if (opt->get_type_size_max() == 0 || opt->count() == 0) continue; // flags, absent options
        for (const std::string& v : opt->results())
            if (v.empty()) return opt->get_name(false, true);
    }
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        if (!sub->parsed()) continue;
        if (std::string name = cli_option_empty(*sub); !name.empty()) return name;
    }
    return {};
}

std::string cli_option_empty(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--") break;
        if (a.size() > 3 && a.compare(0, 2, "--") == 0 && a.back() == '=' &&
            a.find('=') == a.size() - 1)
            return a.substr(0, a.size() - 1);
    }
    return {};
}

namespace {

// stdio keeps no errno for a write that failed inside printf; this stream's writer does.
std::FILE* g_stdoutOriginal = nullptr; // still behind std::cout (CLI11's help and version)
int g_stdoutErrno = 0;

ssize_t stdoutWrite(void*, const char* buf, size_t size) {
    size_t done = 0;
    while (done < size) {
        const ssize_t n = ::write(STDOUT_FILENO, buf + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            if (!g_stdoutErrno) g_stdoutErrno = errno;
            return done ? ssize_t(done) : -1;
        }
        done += size_t(n);
    }
    return ssize_t(size);
}

// errno of a flush that failed now, else of an earlier failed write, else 0 when all is well.
int streamFailure(std::FILE* f, int earlier) {
    if (!f) return 0;
    errno = 0;
    if (std::fflush(f) != 0) return errno ? errno : (earlier ? earlier : EIO);
    return std::ferror(f) ? (earlier ? earlier : EIO) : 0;
}

} // namespace

void cli_stdout_track() {
    cookie_io_functions_t io{};
    io.write = stdoutWrite;
    std::FILE* f = fopencookie(nullptr, "w", io);
    if (!f) return;
    std::setvbuf(f, nullptr, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ);
    std::fflush(stdout);
    g_stdoutOriginal = stdout;
    stdout = f; // glibc's stdout is a plain variable, meant to be reassignable
}

int cli_finish_stdout(int code) {
    int err = streamFailure(stdout, g_stdoutErrno);
    if (!err && g_stdoutOriginal) err = streamFailure(g_stdoutOriginal, 0);
    if (!err) return code;
    std::fprintf(stderr, "bitbench-cli: cannot write standard output: %s\n", std::strerror(err));
    return code == kExitOk ? int(kExitStore) : code;
}

} // namespace bitbench::cli
