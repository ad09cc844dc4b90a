// Strict JSON object reading: typed getters that name the key on error and reject unknown keys.
#pragma once

#include "bitbench/error.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace bitbench {

// An integer JSON value checked against lo..hi before it is narrowed; `where` names the key path
// in the message ("experiment.lr[1][0]: expected an integer in 0..100000, got 4294967297").
// nlohmann keeps integers above INT64_MAX as unsigned, so those are compared unsigned, never wrapped.
inline int64_t json_integer(const nlohmann::json& v, const std::string& where, int64_t lo, int64_t hi) {
    const auto range = [&] { return std::to_string(lo) + ".." + std::to_string(hi); };
    if (!v.is_number_integer())
        throw InputError(where + ": expected an integer in " + range() + ", got " +
                         (v.is_number_float() && !std::isfinite(v.get<double>()) ? std::string("a number too large to represent")
                                                                               : v.dump()));
    const bool inRange = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(INT64_MAX) &&
                                                      int64_t(v.get<uint64_t>()) >= lo && int64_t(v.get<uint64_t>()) <= hi
                                                : v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
    if (!inRange) throw InputError(where + ": expected an integer in " + range() + ", got " + v.dump());
    return v.is_number_unsigned() ? int64_t(v.get<uint64_t>()) : v.get<int64_t>();
}

// A finite JSON number; a literal like 1e999 parses to infinity, which is refused here by key.
inline double json_number(const nlohmann::json& v, const std::string& where) {
    if (!v.is_number()) throw InputError(where + ": expected a number, got " + v.dump());
    const double x = v.get<double>();
    if (!std::isfinite(x)) throw InputError(where + ": the number is too large to represent (a finite number is needed)");
    return x;
}

class JsonReader {
public:
    JsonReader(const nlohmann::json& j, std::string path) : m_j(j), m_path(std::move(path)) {
        if (!j.is_object()) throw InputError(m_path + ": expected a JSON object, got " + typeName(j));
    }

    const std::string& path() const { return m_path; }
    bool has(const std::string& key) const { return m_j.contains(key); }

    [[noreturn]] void fail(const std::string& key, const std::string& why) const {
        throw InputError(m_path + "." + key + ": " + why);
    }

    const nlohmann::json& raw(const std::string& key) {
        m_used.insert(key);
        if (!m_j.contains(key)) fail(key, "missing required key");
        return m_j.at(key);
    }
    std::string string(const std::string& key) {
        const auto& v = raw(key);
        if (!v.is_string()) fail(key, "expected a string, got " + typeName(v));
        return v.get<std::string>();
    }
    std::string stringOr(const std::string& key, const std::string& dflt) {
        return has(key) ? string(key) : (m_used.insert(key), dflt);
    }
    int64_t integer(const std::string& key, int64_t lo, int64_t hi) {
        const auto& v = raw(key);
        if (!v.is_number()) fail(key, "expected an integer, got " + typeName(v));
        return json_integer(v, m_path + "." + key, lo, hi);
    }
    int64_t integerOr(const std::string& key, int64_t lo, int64_t hi, int64_t dflt) {
        return has(key) ? integer(key, lo, hi) : (m_used.insert(key), dflt);
    }
    double number(const std::string& key) {
        const auto& v = raw(key);
        if (!v.is_number()) fail(key, "expected a number, got " + typeName(v));
        return json_number(v, m_path + "." + key);
    }
    double numberOr(const std::string& key, double dflt) { return has(key) ? number(key) : (m_used.insert(key), dflt); }
    bool booleanOr(const std::string& key, bool dflt) {
        if (!has(key)) return m_used.insert(key), dflt;
        const auto& v = raw(key);
        if (!v.is_boolean()) fail(key, "expected true or false, got " + typeName(v));
        return v.get<bool>();
    }
    JsonReader object(const std::string& key) { return JsonReader(raw(key), m_path + "." + key); }
    std::vector<nlohmann::json> array(const std::string& key) {
        const auto& v = raw(key);
        if (!v.is_array()) fail(key, "expected an array, got " + typeName(v));
        return std::vector<nlohmann::json>(v.begin(), v.end());
    }

    // Every key must have been read: an unknown key is almost always a typo.
    void finish() const {
        for (const auto& [k, v] : m_j.items())
            if (!m_used.count(k)) throw InputError(m_path + ": unknown key \"" + k + "\"");
    }

    static std::string typeName(const nlohmann::json& v) {
        if (v.is_null()) return "null";
        if (v.is_boolean()) return "a boolean";
        if (v.is_number_integer()) return "an integer";
        if (v.is_number()) return "a number";
        if (v.is_string()) return "a string";
        if (v.is_array()) return "an array";
        return "an object";
    }

private:
    const nlohmann::json& m_j;
    std::string m_path;
    std::set<std::string> m_used;
};

} // namespace bitbench
