// Shared parts of the fuzz targets: what counts as a rejection, and files the parsers read.
#pragma once

#include "bitbench/error.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace bitbench::fuzz {

// Runs one input through `parse`. A bitbench::Error is the documented way to refuse input, so it
// is a normal outcome; any other exception escapes and ends the run as a finding (libFuzzer and
// the replay runner both report an uncaught exception).
template <typename F> void accept_rejections(F&& parse) {
    try {
        parse();
    } catch (const Error&) {
    }
}

// A property that must hold for every accepted input; a violation is a finding.
inline void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz property violated: %s\n", what);
        std::abort();
    }
}

// A private folder for the files a target hands to the parsers, removed at exit.
inline const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        const char* base = std::getenv("TMPDIR");
        std::string pattern = std::string(base && *base ? base : "/tmp") + "/bitbench-fuzz-XXXXXX";
        if (!mkdtemp(pattern.data())) {
            std::perror("mkdtemp");
            std::abort();
        }
        static const std::filesystem::path made(pattern);
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(made, ec);
        });
        return made;
    }();
    return dir;
}

// Writes `size` bytes to `name` in the scratch folder and returns its path.
inline std::string scratch_write(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = (scratch_dir() / name).string();
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    if (!out) {
        std::fprintf(stderr, "cannot write %s\n", path.c_str());
        std::abort();
    }
    return path;
}

inline std::string scratch_write(const std::string& name, const std::string& text) {
    return scratch_write(name, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// Experiments and sweeps name other files. The fuzzer must not wander over the machine (a device
// or a pipe would block it), so an input whose JSON holds a '/' anywhere, in a key or a value,
// is skipped: relative names resolve inside the scratch folder, which holds the files the seeds
// refer to.
inline bool json_names_only_local(const uint8_t* data, size_t size) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(data, data + size);
    } catch (const nlohmann::json::exception&) {
        return true; // the parser under test rejects it without opening anything
    }
    bool local = true;
    std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& v) {
        if (!local) return;
        if (v.is_string()) local = v.get_ref<const std::string&>().find('/') == std::string::npos;
        else if (v.is_object())
            for (const auto& [k, x] : v.items()) {
                if (k.find('/') != std::string::npos) local = false;
                walk(x);
            }
        else if (v.is_array())
            for (const auto& x : v) walk(x);
    };
    walk(j);
    return local;
}

// A small model file (m.json) and an experiment using it (e.json) in the scratch folder, for
// inputs that name files; returns the folder.
inline std::string scratch_with_fixtures() {
    static const std::string dir = [] {
        scratch_write("m.json", R"({"name": "tiny", "input": {"height": 4, "width": 4, "channels": 1},
 "layers": [{"name": "conv1", "type": "conv", "out": 2, "kernel": 3, "padding": "same", "relu": true},
            {"name": "fc1", "type": "fc", "out": 10}]})");
        scratch_write("e.json", R"({"name": "tiny", "model": "m.json", "dataset": "synthetic",
 "bits": "2-8-8-8", "batch": 4, "epochs": 2, "lr": [[0, 8], [1, 1]], "seed": 3})");
        return scratch_dir().string();
    }();
    return dir;
}

} // namespace bitbench::fuzz
