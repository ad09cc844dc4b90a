// Fixed-point primitives of WAGE in integer arithmetic: rounding shifts, Shift(max), clipping.
#pragma once

#include <cstdint>
#include <cstdlib>

namespace bitbench {

// round(x / 2^s) with ties to even, for s >= 0; x << -s for s < 0 (exact).
// requires: for s < 0, x << -s fits in int64.
inline int64_t fx_shift_rne(int64_t x, int32_t s) {
    if (s <= 0) return x * (int64_t(1) << -s);
    if (s >= 63) return 0;
    const int64_t q = x >> s; // floor
    const int64_t r = x - q * (int64_t(1) << s); // in [0, 2^s)
    const int64_t half = int64_t(1) << (s - 1);
    if (r > half || (r == half && (q & 1))) return q + 1;
    return q;
}

// Largest code of a k-bit WAGE quantizer: C(x, k) keeps |x| <= 1 - 2^(1-k), i.e. codes within
// +-(2^(k-1) - 1) on the 2^(1-k) grid.
inline int64_t fx_max_code(int32_t bits) { return (int64_t(1) << (bits - 1)) - 1; }

inline int64_t fx_clip(int64_t x, int64_t bound) { return x > bound ? bound : (x < -bound ? -bound : x); }

// WAGE's Shift(m) = 2^round(log2 m) for an integer m > 0, returned as the exponent.
// For m in [2^n, 2^(n+1)): round(log2 m) = n + 1 iff m >= 2^n * sqrt(2) iff m^2 >= 2^(2n+1).
// Exact, no floating point. requires m > 0.
__extension__ using fx_u128 = unsigned __int128;
inline int32_t fx_shift_exponent(uint64_t m) {
    const int32_t n = 63 - __builtin_clzll(m);
    const fx_u128 sq = fx_u128(m) * m;
    const fx_u128 bound = fx_u128(1) << (2 * n + 1);
    return sq >= bound ? n + 1 : n;
}

// round(x * num / den) with ties to even, for den > 0 (exact rational rounding).
inline int64_t fx_div_rne(int64_t num, int64_t den) {
    int64_t q = num / den, r = num % den;
    if (r < 0) {
        r += den;
        q -= 1;
    }
    const int64_t twice = 2 * r;
    if (twice > den || (twice == den && (q & 1))) return q + 1;
    return q;
}

// A real multiplier as a fixed-point one (gemmlowp's form): m * 2^-shift with |m| in
// [2^30, 2^31) (m = 0 for a zero multiplier), m the multiplier's 31-bit mantissa rounded to
// nearest, ties to even. requires: mult finite.
struct FxMultiplier {
    int32_t m = 0;
    int32_t shift = 0;
};
FxMultiplier fx_multiplier(double mult);

// round(x * f.m / 2^(f.shift - frac)) with ties to even, saturated to int32: x times the multiplier
// on a grid of 2^-frac. Exact in 128 bits before the rounding.
int32_t fx_multiply_rne_wide(int64_t x, FxMultiplier f, int32_t frac);
inline int32_t fx_multiply_rne(int64_t x, FxMultiplier f, int32_t frac) {
    const int32_t s = f.shift - frac;
    // |x| < 2^32 and |m| < 2^31: the product fits int64; a shift in 1..62 rounds in int64.
    if (x > -(int64_t(1) << 32) && x < (int64_t(1) << 32) && s >= 1 && s <= 62) {
        const int64_t v = fx_shift_rne(x * int64_t(f.m), s);
        return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : int32_t(v);
    }
    return fx_multiply_rne_wide(x, f, frac);
}

// round(v) to nearest, ties to even, for |v| < 2^51: adding and subtracting 1.5 * 2^52 in the
// default rounding mode, what std::nearbyint gives there, without a library call (and so the
// loops around it vectorize). Larger values come back rounded to a multiple of a power of two.
inline double fx_rne_small(double v) {
    constexpr double magic = 6755399441055744.0;
    return (v + magic) - magic;
}

// Saturates to int32.
inline int32_t fx_sat32(int64_t x) {
    return x > INT32_MAX ? INT32_MAX : x < INT32_MIN ? INT32_MIN : int32_t(x);
}

} // namespace bitbench
