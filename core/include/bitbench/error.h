// Typed errors the core throws: each carries a message a user can act on.
#pragma once

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

// Formats "what: detail" with the path quoted, so every message names the file it is about.
std::string error_message_file(const std::string& path, const std::string& detail);

} // namespace bitbench
