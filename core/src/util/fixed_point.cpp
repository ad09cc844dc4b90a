// Fixed-point multipliers (fixed_point.h).
#include "bitbench/fixed_point.h"

#include <cmath>

namespace bitbench {

FxMultiplier fx_multiplier(double mult) {
    if (mult == 0) return {};
    int e = 0;
    const double f = std::frexp(mult, &e); // mult = f 2^e, |f| in [0.5, 1)
    int64_t m = std::llrint(std::ldexp(f, 31)); // current rounding mode: nearest, ties to even
    if (m == (int64_t(1) << 31) || m == -(int64_t(1) << 31)) {
        m /= 2;
        ++e;
    }
    return {int32_t(m), 31 - e};
}

int32_t fx_multiply_rne_wide(int64_t x, FxMultiplier f, int32_t frac) {
    __extension__ using i128 = __int128;
    const i128 p = i128(x) * f.m;
    const int32_t s = f.shift - frac;
    if (s <= 0) {
        if (s < -40) return p == 0 ? 0 : p > 0 ? INT32_MAX : INT32_MIN;
        const i128 v = p * (i128(1) << -s);
        return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : int32_t(v);
    }
    if (s >= 120) return 0;
    const i128 one = i128(1);
    const i128 q = p >> s; // floor
    const i128 r = p - q * (one << s);
    const i128 half = one << (s - 1);
    i128 v = q;
    if (r > half || (r == half && (q & 1))) v = q + 1;
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : int32_t(v);
}

} // namespace bitbench
