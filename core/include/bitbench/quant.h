// Quantizer families: a registry with one row per family, each run in two phases (observe, apply).
// The formulas, per family, are in core/doc/quant/; ALGORITHMS.md gives the sources.
#pragma once

#include "bitbench/philox.h"
#include "bitbench/quant_spec.h"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bitbench {

// The tensor classes a quantizer serves. EGrad is the copy of E that feeds the weight gradient;
// it is E unless set (Banner et al. give it more bits than the E passed to the previous layer).
enum class QuantClass : uint8_t { W = 0, A = 1, G = 2, E = 3, EGrad = 4 };
inline constexpr int32_t kQuantClassCount = 5;
// "W", "A", "G", "E", "E_grad": the keys of a "quant" object.
const char* quant_class_name(QuantClass c);

enum class QuantFamily : uint8_t { Float, Wage, Pow2, Affine, Sign, Ternary, TernaryLearned, Dorefa, Terngrad };
inline constexpr int32_t kQuantFamilyCount = 9;

enum class Rounding : uint8_t { NearestEven, Stochastic };
// Which elements share a plan entry. The caller maps it onto the rows or columns of its view.
enum class Granularity : uint8_t { Tensor, Channel, Sample };
// Affine ranges: Batch = min/max of the tensor (or group); Running = Banner's activation tracker
// (mean over samples of each sample's min and max, and a running average used in evaluation).
enum class RangeSource : uint8_t { Batch, Running };

// One quantizer: a family and its settings. Fields a family does not use keep their defaults.
enum class ZeroPoint : uint8_t { Min, Integer, Symmetric };

struct Quantizer {
    QuantFamily family = QuantFamily::Float;
    int32_t bits = 0; // 0 for float
    Rounding rounding = Rounding::NearestEven;
    Granularity granularity = Granularity::Tensor;
    RangeSource range = RangeSource::Batch;
    // The family's parameter: ternary threshold factor (0.7), ttq threshold factor (0.05),
    // terngrad clip factor c (0 = s is max|g|), affine running-range weight of the new value (0.9).
    double param = 0;
    // Affine only: Min = Banner's zero point `min` (a float offset); Integer = gemmlowp's zero
    // point, the range widened to contain 0 and the zero point nudged onto the integer grid;
    // Symmetric = the range [-m, m] with m = max|x|, zero point 2^(M-1), codes 1 .. 2^M - 1 (so
    // code - zero is a signed M-bit integer: s8 weights at M = 8, s16 at 16).
    ZeroPoint zeroPoint = ZeroPoint::Min;
    bool integerZero() const { return zeroPoint != ZeroPoint::Min; }

    bool operator==(const Quantizer&) const = default;
    // The short string when one exists ("wage8", "affine8s", "ternary"), else compact JSON.
    std::string text() const;
    // For people (plans, tables): the short string of the family, bits and rounding, then each
    // key that differs from it as key=value ("affine8 range=running zero_point=integer").
    std::string label() const;
};

// The default parameter of a family (0.7, 0.05, 0.9 for affine, 0 otherwise).
double quant_default_param(QuantFamily f);

// A tensor seen as a row-major matrix rows x cols; `axis` says which index numbers the groups:
// None = one group; Rows = one group per row; Cols = one group per column. Activations NHWC as
// [N][HWC] with Rows are per sample; as [NHW][C] with Cols per channel; weights [out][fan-in]
// with Rows per output channel. Element i = r * cols + c (its index in random draws).
enum class GroupAxis : uint8_t { None, Rows, Cols };
struct TensorView {
    const float* data = nullptr;
    int64_t rows = 0, cols = 0;
    GroupAxis axis = GroupAxis::None;

    int64_t size() const { return rows * cols; }
    int64_t groups() const { return axis == GroupAxis::Rows ? rows : axis == GroupAxis::Cols ? cols : 1; }
};

// What observe found for one group. Each family documents which fields it fills; a value it
// outputs is `float(code - zero) * scale + offset` unless its note says otherwise.
struct QuantGroup {
    float scale = 1;       // value of one code step
    int32_t zero = 0;      // integer zero point (affine with integerZero)
    float offset = 0;      // added after scaling (affine's Banner zero point `min`)
    int32_t codeLo = 0, codeHi = 0; // codes are clamped to [codeLo, codeHi]
    float clipLo = 0, clipHi = 0;   // input values outside [clipLo, clipHi] saturate
    int32_t exponent = 0;  // wage E/G: p with Shift(max) = 2^p; pow2: the fractional length f
    double stat = 0;       // the reduction observed: max|x|, mean|x|, max|tanh W|, TernGrad's s
    double threshold = 0;  // ternary, ttq: Delta; terngrad: the clip bound c * std (0 = none)
    float pos = 0, neg = 0; // ternary: alpha, alpha; ttq: Wp, Wn
    bool operator==(const QuantGroup&) const = default;
};

// What one apply clamped: elements whose code (after the stochastic noise, before rounding) lay
// below codeLo or above codeHi and was clamped to that end, of `total` elements. Families that do
// not count it (every one but affine) leave it zero; counting changes no output.
struct QuantClamps {
    int64_t lo = 0, hi = 0, total = 0;
    bool operator==(const QuantClamps&) const = default;
};

struct QuantPlan {
    QuantFamily family = QuantFamily::Float;
    QuantClass cls = QuantClass::W;
    GroupAxis axis = GroupAxis::None;
    std::vector<QuantGroup> groups;
    // The counts of the last apply with this plan, when its caller asked for them (the graph
    // executor does, for every plan it keeps); observe resets them.
    QuantClamps clamped;
};

// Banner's running range of one tensor (checkpointed by the caller). Starts at 0, 0 as in the
// authors' code; each training observe sets r = (1 - param) r + param * batch.
struct QuantRunning {
    float lo = 0, hi = 0;
    bool operator==(const QuantRunning&) const = default;
};

struct QuantObserveArgs {
    bool training = true;            // Running ranges: training uses and updates; evaluation reads
    QuantRunning* running = nullptr; // required when the quantizer's range is Running
    const float* learned = nullptr;  // ttq: Wp, Wn of each group (2 * groups floats); null = 1, 1
};

// Where stochastic rounding draws from: element i uses rng->word(purpose, step, tensor, i).
struct QuantDraws {
    const Random* rng = nullptr;
    uint64_t step = 0;
    uint32_t tensor = 0;
};

// Gradients of a family's trained parameters, per group (ttq: dL/dWp, dL/dWn).
struct QuantParamGrads {
    std::vector<double> pos, neg;
};

// How a cost model prices a product whose operand has this family: a multiplier, an
// adder/subtracter (binary and ternary operands), or a float unit.
enum class QuantCost : uint8_t { Multiply, AddSubtract, Float };

// observe: requires x.size() > 0 rows-major data; ensures plan.groups.size() == x.groups().
using QuantObserveFn = void (*)(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs& args,
                                QuantPlan& plan);
// apply: out has x.size() floats (may be x.data); plan from observe on the same view. clamped may
// be null; a family that counts its clamped codes sets it (QuantClamps).
using QuantApplyFn = void (*)(const Quantizer& q, const TensorView& x, const QuantPlan& plan,
                              const QuantDraws& draws, float* out, QuantClamps* clamped);
// backward: dq = dL/dq, dx = dL/dx (may be dq), both x.size(); grads may be null.
using QuantBackwardFn = void (*)(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const float* dq,
                                 float* dx, QuantParamGrads* grads);
// applyCodes: the integer codes whose values apply gives (see each family's note).
using QuantApplyCodesFn = void (*)(const Quantizer& q, const TensorView& x, const QuantPlan& plan,
                                   const QuantDraws& draws, int32_t* codes);

struct QuantFamilyTraits {
    QuantFamily family;
    const char* name; // the "family" key in JSON
    int32_t minBits, maxBits;
    bool integerCodes;       // applyCodes exists: an integer executor can run it
    bool stochasticAllowed;  // Rounding::Stochastic is accepted
    bool stochasticRequired; // the family is stochastic by definition (terngrad)
    bool groupsAllowed;      // Channel and Sample granularities are accepted
    RandomPurpose purpose;   // the stream its draws use
    QuantCost cost;
    uint8_t classes;         // bit (1 << QuantClass) for each class the family serves
    QuantObserveFn observe;
    QuantApplyFn apply;
    QuantBackwardFn backward;
    QuantApplyCodesFn applyCodes; // null unless integerCodes

    bool serves(QuantClass c) const { return (classes >> uint8_t(c)) & 1u; }
};

const QuantFamilyTraits& quant_family(QuantFamily f);
const std::array<QuantFamilyTraits, kQuantFamilyCount>& quant_families();

// Checked entry points: they validate and dispatch through the registry.
// throws: InputError when the quantizer does not serve `cls`, when the view's axis does not fit
// the granularity (Tensor needs GroupAxis::None, Channel and Sample another axis), when a
// Running range has no QuantRunning, or when stochastic rounding has no random stream.
void quant_observe(const Quantizer& q, QuantClass cls, const TensorView& x, const QuantObserveArgs& args,
                   QuantPlan& plan);
// clamped: when given, reset and filled by the families that count (affine).
void quant_apply(const Quantizer& q, const TensorView& x, const QuantPlan& plan,
                 const QuantDraws& draws, float* out, QuantClamps* clamped = nullptr);
void quant_backward(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const float* dq, float* dx,
                    QuantParamGrads* grads = nullptr);
// throws: InputError also when the family (or its class, wage G) has no integer codes.
void quant_apply_codes(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws& draws,
                       int32_t* codes);

// Parses a quantizer. Short strings: "float" or "f"; "wageK" (K 1..16); "powK" (2..16);
// "affineK" (nearest) and "affineKs" (stochastic), K 1..16; "sign", "signs" (stochastic);
// "ternary"; "ttq"; "dorefaK" (1..16); "terngrad". Object form:
//   {"family": "affine", "bits": 8, "rounding": "nearest"|"stochastic",
//    "granularity": "tensor"|"channel"|"sample", "range": "batch"|"running", "momentum": 0.9,
//    "zero_point": "min"|"integer"}; ternary/ttq take "threshold", terngrad "clip".
// throws: InputError starting with `where` (and the key), listing what is allowed.
Quantizer quantizer_parse(const nlohmann::json& j, const std::string& where);
// The canonical object: every key that applies to the family.
nlohmann::json quantizer_to_json(const Quantizer& q);
// Validates a quantizer built in code the way the parser does. throws: InputError naming `where`.
void quantizer_check(const Quantizer& q, const std::string& where);

// The quantizers of a model: five classes plus per-op overrides of some classes.
struct QuantClassSet {
    std::array<std::optional<Quantizer>, kQuantClassCount> q;
    bool operator==(const QuantClassSet&) const = default;
};
struct QuantConfig {
    QuantClassSet base; // W, A, G, E unset = float; E_grad unset = E
    std::map<std::string, QuantClassSet> ops;

    // The quantizer of class `cls` at op `opName`: the op's override of that class, else the
    // base one; E_grad: the op's E_grad, else the base E_grad if set, else forOp(opName, E).
    Quantizer forOp(const std::string& opName, QuantClass cls) const;
    bool operator==(const QuantConfig&) const = default;
};

// Reads "quant": {"W": ..., "A": ..., "G": ..., "E": ..., "E_grad": ...} (each a quantizer, see
// quantizer_parse) and, if given, "layer_quant": {"conv1": {"W": "float"}}. `where` is the path of
// the object holding them ("experiment"): messages read "experiment.quant.E: ...".
// throws: InputError naming the key: an unknown class, a family that does not serve its class.
QuantConfig quant_config_parse(const nlohmann::json& quant, const nlohmann::json* layerQuant, const std::string& where);
// {"quant": {...}, "layer_quant": {...}} with only the classes that are set; layer_quant omitted if empty.
nlohmann::json quant_config_to_json(const QuantConfig& c);
// Today's bits shorthand: each class k > 0 becomes "wageK", 0 becomes float; per-layer patterns
// become overrides of the four classes under the layer's name (its product op's name).
QuantConfig quant_config_from_bits(const QuantSpec& spec);

} // namespace bitbench
