// The quantizer-family registry: one row per family, and the checked entry points that dispatch through it.
#include "quant/quant_impl.h"

namespace bitbench {

namespace {

constexpr uint8_t cls(QuantClass c) { return uint8_t(1u << uint8_t(c)); }
constexpr uint8_t kAll = cls(QuantClass::W) | cls(QuantClass::A) | cls(QuantClass::G) | cls(QuantClass::E) |
                         cls(QuantClass::EGrad);
constexpr uint8_t kErrors = cls(QuantClass::E) | cls(QuantClass::EGrad);
// Families that draw nothing name no stream.
constexpr RandomPurpose kNoDraws = RandomPurpose(0);

using namespace quant;

// clang-format off
const std::array<QuantFamilyTraits, kQuantFamilyCount> kFamilies = {{
    // family, name, bits, codes, stochastic allowed/required, groups, purpose, cost, classes, functions
    {QuantFamily::Float, "float", 0, 0, false, false, false, false, kNoDraws, QuantCost::Float, kAll,
     float_observe, float_apply, float_backward, nullptr},
    {QuantFamily::Wage, "wage", 1, 16, true, false, false, true, kNoDraws, QuantCost::Multiply, kAll,
     wage_observe, wage_apply, wage_backward, wage_apply_codes},
    {QuantFamily::Pow2, "pow2", 2, 16, true, true, false, true, RandomPurpose::QuantNoise, QuantCost::Multiply, kAll,
     pow2_observe, pow2_apply, pow2_backward, pow2_apply_codes},
    {QuantFamily::Affine, "affine", 1, 16, true, true, false, true, RandomPurpose::QuantNoise, QuantCost::Multiply,
     kAll, affine_observe, affine_apply, affine_backward, affine_apply_codes},
    {QuantFamily::Sign, "sign", 1, 1, true, true, false, false, RandomPurpose::StochasticSign, QuantCost::AddSubtract,
     uint8_t(cls(QuantClass::W) | cls(QuantClass::A)), sign_observe, sign_apply, sign_backward, sign_apply_codes},
    {QuantFamily::Ternary, "ternary", 2, 2, true, false, false, true, kNoDraws, QuantCost::AddSubtract,
     cls(QuantClass::W), ternary_observe, ternary_apply, ternary_backward, ternary_apply_codes},
    {QuantFamily::TernaryLearned, "ttq", 2, 2, true, false, false, true, kNoDraws, QuantCost::AddSubtract,
     cls(QuantClass::W), ttq_observe, ttq_apply, ttq_backward, ttq_apply_codes},
    {QuantFamily::Dorefa, "dorefa", 1, 16, true, true, false, true, RandomPurpose::QuantNoise, QuantCost::Multiply,
     uint8_t(cls(QuantClass::W) | cls(QuantClass::A) | kErrors), dorefa_observe, dorefa_apply, dorefa_backward,
     dorefa_apply_codes},
    {QuantFamily::Terngrad, "terngrad", 2, 2, true, true, true, true, RandomPurpose::TernGrad, QuantCost::AddSubtract,
     cls(QuantClass::G), terngrad_observe, terngrad_apply, terngrad_backward, terngrad_apply_codes},
}};
// clang-format on

std::string describe(const Quantizer& q) { return "quantizer " + q.text(); }

void check_view(const Quantizer& q, const TensorView& x) {
    if (!x.data || x.rows <= 0 || x.cols <= 0)
        throw InputError(describe(q) + ": the tensor view is empty (" + std::to_string(x.rows) + " x " +
                         std::to_string(x.cols) + ")");
    const bool grouped = x.axis != GroupAxis::None;
    if (grouped != (q.granularity != Granularity::Tensor))
        throw InputError(describe(q) + ": granularity " +
                         (q.granularity == Granularity::Tensor ? std::string("tensor needs a view without group axis")
                                                               : std::string("channel/sample needs a view with a "
                                                                             "group axis (rows or columns)")));
}

void check_draws(const Quantizer& q, const QuantDraws& d) {
    if (q.rounding == Rounding::Stochastic && !d.rng)
        throw InputError(describe(q) + ": stochastic rounding needs a random stream (QuantDraws::rng)");
}

void check_plan(const Quantizer& q, const TensorView& x, const QuantPlan& plan) {
    if (plan.family != q.family || plan.axis != x.axis || int64_t(plan.groups.size()) != x.groups())
        throw InputError(describe(q) + ": the plan was observed for another quantizer or view");
}

} // namespace

const char* quant_class_name(QuantClass c) {
    static const char* kNames[kQuantClassCount] = {"W", "A", "G", "E", "E_grad"};
    return kNames[uint8_t(c)];
}

double quant_default_param(QuantFamily f) {
    switch (f) {
    case QuantFamily::Ternary: return 0.7;
    case QuantFamily::TernaryLearned: return 0.05;
    case QuantFamily::Affine: return 0.9;
    default: return 0.0;
    }
}

const QuantFamilyTraits& quant_family(QuantFamily f) { return kFamilies[size_t(f)]; }
const std::array<QuantFamilyTraits, kQuantFamilyCount>& quant_families() { return kFamilies; }

void quant_observe(const Quantizer& q, QuantClass c, const TensorView& x, const QuantObserveArgs& args,
                   QuantPlan& plan) {
    const QuantFamilyTraits& t = quant_family(q.family);
    if (!t.serves(c))
        throw InputError(describe(q) + ": family " + t.name + " does not serve class " + quant_class_name(c));
    check_view(q, x);
    if (q.range == RangeSource::Running && !args.running)
        throw InputError(describe(q) + ": a running range needs its state (QuantObserveArgs::running)");
    t.observe(q, c, x, args, plan);
}

void quant_apply(const Quantizer& q, const TensorView& x, const QuantPlan& plan,
                 const QuantDraws& draws, float* out, QuantClamps* clamped) {
    check_view(q, x);
    check_plan(q, x, plan);
    check_draws(q, draws);
    if (clamped) *clamped = {};
    quant_family(q.family).apply(q, x, plan, draws, out, clamped);
}

void quant_backward(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const float* dq, float* dx,
                    QuantParamGrads* grads) {
    check_view(q, x);
    check_plan(q, x, plan);
    quant_family(q.family).backward(q, x, plan, dq, dx, grads);
}

void quant_apply_codes(const Quantizer& q, const TensorView& x, const QuantPlan& plan, const QuantDraws& draws,
                       int32_t* codes) {
    const QuantFamilyTraits& t = quant_family(q.family);
    if (!t.applyCodes) throw InputError(describe(q) + ": family " + t.name + " has no integer codes");
    check_view(q, x);
    check_plan(q, x, plan);
    check_draws(q, draws);
    t.applyCodes(q, x, plan, draws, codes);
}

} // namespace bitbench
