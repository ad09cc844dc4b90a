// Inputs for test_wage_kernels: int32 tensors with extremes and rounding ties, codes, quantizer variants, direct weights.
#pragma once

#include "kernels/wage_kernels.h"

#include <QTest>

#include <climits>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace wage_kernels_test {

using namespace bitbench::wage_kernels;

// "" when equal, else where the first difference is (for the failure message).
template <typename T> std::string mismatch(const std::vector<T>& got, const std::vector<T>& want) {
    if (got.size() != want.size()) return "sizes differ";
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i])
            return "at " + std::to_string(i) + ": " + std::to_string(int64_t(got[i])) + " != " +
                   std::to_string(int64_t(want[i]));
    return {};
}

#define SAME(got, want)                                                                                           \
    do {                                                                                                          \
        const std::string why = mismatch(got, want);                                                              \
        QVERIFY2(why.empty(), why.c_str());                                                                       \
    } while (false)

// Sizes around the vector widths (4, 8, 16, 32, 64 lanes) and their remainders.
inline const int64_t kLengths[] = {0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1000};

// int32 values: random over the full range mixed with extremes, ties of the rounding shifts
// (k * 2^s + 2^(s-1)) and small values; or all zero.
inline std::vector<int32_t> int32Data(size_t n, uint32_t seed, bool zero = false) {
    std::vector<int32_t> v(n, 0);
    if (zero) return v;
    std::mt19937 rng(seed);
    for (auto& x : v) {
        const uint32_t r = rng();
        switch (r % 8) {
        case 0: x = INT32_MIN + int32_t(rng() % 3); break;
        case 1: x = INT32_MAX - int32_t(rng() % 3); break;
        case 2: x = int32_t(rng() % 2001) - 1000; break;
        case 3: {
            const int s = int(rng() % 20) + 1;
            x = (int32_t(rng() % 401) - 200) * (1 << s) + (1 << (s - 1)) * ((rng() & 1) ? 1 : -1);
            break;
        }
        case 4: x = 0; break;
        default: x = int32_t(rng());
        }
    }
    return v;
}

inline std::vector<int8_t> codes(size_t n, uint32_t seed, int lo, int hi) {
    std::mt19937 rng(seed);
    std::vector<int8_t> v(n);
    for (auto& x : v) {
        const uint32_t r = rng() % 8;
        x = int8_t(r == 0 ? hi : r == 1 ? lo : lo + int(rng() % uint32_t(hi - lo + 1)));
    }
    return v;
}

inline std::vector<Requant> requants() {
    std::vector<Requant> r;
    for (auto [s, b] : {std::pair{0, 127}, {1, 127}, {2, 1}, {3, 0}, {5, 127}, {13, 127}, {20, 7}, {30, 127},
                        {31, 127}, {-1, 127}, {-3, 127}, {-7, 3}, {-20, 127}})
        r.emplace_back(s, b);
    return r;
}

inline std::vector<ErrorCode> errorCodeVariants() {
    std::vector<ErrorCode> r;
    int i = 0;
    for (const Requant& q : requants())
        for (int32_t clip : {0, 100, INT32_MAX}) {
            ++i;
            r.push_back({q, clip, i % 7 == 0, (i & 1) != 0, (i & 2) != 0});
        }
    return r;
}

// Weights W[c][ky][kx] (5 x 5) in the direct kernel's 7 tap groups, as Kernels documents them.
inline std::vector<int8_t> packDirect(const std::vector<int8_t>& w, int64_t N) {
    std::vector<int8_t> wp(size_t(kDirectGroups * N * 4), 0);
    for (int64_t c = 0; c < N; ++c) {
        const int8_t* t = w.data() + c * 25;
        for (int64_t j = 0; j < 4; ++j) {
            for (int64_t g = 0; g < 5; ++g) wp[size_t((g * N + c) * 4 + j)] = t[g * 5 + j];
            wp[size_t((5 * N + c) * 4 + j)] = t[j * 5 + 4];
        }
        wp[size_t((6 * N + c) * 4)] = t[24];
    }
    return wp;
}

} // namespace wage_kernels_test
