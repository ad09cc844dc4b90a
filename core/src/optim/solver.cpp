// Solver base: the size check, the step count, state records, and the factory.
#include "bitbench/optim.h"

#include "bitbench/error.h"
#include "optim/solver_impl.h"

#include <cstring>
#include <string>

namespace bitbench {

namespace {

constexpr uint8_t kMagic[4] = {'B', 'B', 'S', 'V'};
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 32;

void putLe(std::vector<uint8_t>& b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
uint64_t getLe(const uint8_t* p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}

std::string kindText(uint8_t k) {
    return k <= uint8_t(SolverKind::Adam) ? solver_kind_name(SolverKind(k)) : "unknown kind " + std::to_string(k);
}

} // namespace

const char* solver_kind_name(SolverKind k) {
    switch (k) {
    case SolverKind::Wage: return "wage";
    case SolverKind::Sgd: return "sgd";
    case SolverKind::Adam: return "adam";
    }
    return "?";
}

void Solver::update(float* param, const float* grad, int64_t n, double lr, SolverStep at) {
    if (n != m_n)
        throw InputError(std::string(solver_kind_name(m_kind)) + " solver: update of " + std::to_string(n) +
                         " values, the solver was made for " + std::to_string(m_n));
    step(param, grad, lr, at);
    ++m_t;
}

int32_t Solver::stateArrayCount(uint8_t flags) const {
    if (flags != 0)
        throw DataError(std::string("solver state: flags ") + std::to_string(flags) + " mean nothing to the " +
                        solver_kind_name(m_kind) + " solver");
    return 0;
}

void Solver::stateSave(std::vector<uint8_t>& out) const {
    const auto arrays = stateArrays();
    const uint64_t payload = uint64_t(arrays.size()) * uint64_t(m_n) * 4;
    out.insert(out.end(), kMagic, kMagic + 4);
    putLe(out, kVersion, 2);
    putLe(out, uint8_t(m_kind), 1);
    putLe(out, stateFlags(), 1);
    putLe(out, uint64_t(m_n), 8);
    putLe(out, uint64_t(m_t), 8);
    putLe(out, payload, 8);
    out.reserve(out.size() + payload);
    for (const auto* a : arrays)
        for (float x : *a) {
            uint32_t u;
            std::memcpy(&u, &x, 4);
            putLe(out, u, 4);
        }
}

size_t Solver::stateLoad(const std::vector<uint8_t>& blob, size_t offset) {
    if (offset > blob.size() || blob.size() - offset < kHeaderBytes)
        throw DataError("solver state: truncated header (" + std::to_string(kHeaderBytes) + " bytes needed, " +
                        std::to_string(offset > blob.size() ? 0 : blob.size() - offset) + " left)");
    const uint8_t* h = blob.data() + offset;
    if (std::memcmp(h, kMagic, 4) != 0) throw DataError("solver state: not a solver state record (no \"BBSV\" magic)");
    const auto version = uint16_t(getLe(h + 4, 2));
    if (version != kVersion)
        throw DataError("solver state: record version " + std::to_string(version) + ", this build reads version " +
                        std::to_string(kVersion));
    const uint8_t kind = h[6], flags = h[7];
    if (kind != uint8_t(m_kind))
        throw DataError("solver state: saved by the " + kindText(kind) + " solver, this tensor uses the " +
                        solver_kind_name(m_kind) + " solver");
    const uint64_t n = getLe(h + 8, 8), t = getLe(h + 16, 8), payload = getLe(h + 24, 8);
    if (n != uint64_t(m_n))
        throw DataError("solver state: holds " + std::to_string(n) + " elements, this tensor has " + std::to_string(m_n));
    if (t > uint64_t(INT64_MAX)) throw DataError("solver state: step count " + std::to_string(t) + " out of range");
    if (payload > blob.size() - offset - kHeaderBytes)
        throw DataError("solver state: truncated payload (" + std::to_string(payload) + " bytes announced, " +
                        std::to_string(blob.size() - offset - kHeaderBytes) + " left)");
    const uint64_t expected = uint64_t(stateArrayCount(flags)) * n * 4;
    if (payload != expected)
        throw DataError("solver state: payload of " + std::to_string(payload) + " bytes, the " +
                        solver_kind_name(m_kind) + " solver with " + std::to_string(n) + " elements needs " +
                        std::to_string(expected));
    // Every check passed: only now does the solver change.
    const uint8_t* p = h + kHeaderBytes;
    for (auto* a : stateArraysFor(flags)) {
        a->resize(size_t(n));
        for (auto& x : *a) {
            const auto u = uint32_t(getLe(p, 4));
            std::memcpy(&x, &u, 4);
            p += 4;
        }
    }
    m_t = int64_t(t);
    return offset + kHeaderBytes + size_t(payload);
}

std::unique_ptr<Solver> solver_create(const OptimizerConfig& c, int64_t n, const SolverTensor& tensor) {
    if (n < 0) throw InputError("solver: negative tensor size " + std::to_string(n));
    switch (c.kind) {
    case SolverKind::Sgd: return solver_create_sgd(c, n);
    case SolverKind::Adam: return solver_create_adam(c, n);
    case SolverKind::Wage: return solver_create_wage(n, tensor);
    }
    throw InputError("solver: unknown kind");
}

} // namespace bitbench
