// Typed errors the core throws: each carries a message a user can act on.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace bitbench {

// Base of every error bitbench reports to a user.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The user's input (a pattern, an option, an experiment file) is malformed. CLI exit code 2.
class InputError : public Error {
public:
    using Error::Error;
};

// A data file is missing, truncated or not of the expected format. CLI exit code 3.
class DataError : public Error {
public:
    using Error::Error;
};

// The run database cannot be opened, is not ours, is too new, or a write failed. CLI exit code 4.
class StoreError : public Error {
public:
    using Error::Error;
};

// An output file or standard output cannot be written (disk full, no permission, read-only file
// system). CLI exit code 4.
class OutputError : public Error {
public:
    using Error::Error;
};

// Formats "what: detail" with the path quoted, so every message names the file it is about.
std::string error_message_file(const std::string& path, const std::string& detail);

// How a command line (bitbench-cli, bitbench --autotrain) reports a failure: the documented exit
// code (2 InputError, 3 DataError, 4 StoreError and OutputError, 1 anything else) and the one
// line that follows "program: " on stderr ("data error: ...", "database error: ...").
int error_exit_code(const std::exception& e);
std::string error_line(const std::exception& e);

} // namespace bitbench
