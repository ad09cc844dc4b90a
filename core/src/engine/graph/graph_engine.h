// The graph executor: trains any op graph (graph.h) with the experiment's quantizer families
// (quant.h) and solvers (optim.h). Tensors are float32 holding the quantized values; conv and fc
// run on their integer codes with exact sums where the quantizers allow (graph_int.h), in float32
// otherwise. A WAGE experiment run here equals the integer engine bit for bit.
// core/doc/executors.md describes it.
#pragma once

#include "bitbench/engine.h"
#include "bitbench/graph.h"
#include "bitbench/optim.h"
#include "bitbench/philox.h"
#include "bitbench/quant.h"
#include "engine/graph/graph_int.h"
#include "engine/reference/ref_ops.h"

#include <memory>
#include <string>
#include <vector>

namespace bitbench::graph_exec {

// Tensor ids of the random draws. Weights keep the legacy engines' ids (the weight-op ordinal),
// so a WAGE experiment draws exactly what the integer engine draws.
constexpr uint32_t kBiasTensor = 0x10000;   // + weight-op ordinal
constexpr uint32_t kQuantATensor = 0x20000; // + op index: stochastic A quantizers
constexpr uint32_t kQuantETensor = 0x30000; // + op index: stochastic E quantizers (and the loss gradient)
constexpr uint32_t kQuantEGradTensor = 0x40000; // + op index: stochastic E_grad quantizers
constexpr uint32_t kTtqScaleTensor = 0x50000;  // + 2 * weight-op ordinal (Wp), + 1 (Wn): no draws
constexpr uint32_t kQuantWTensor = 0x60000;    // + weight-op ordinal: stochastic W quantizers
// Stochastic quantizers in evaluation draw from this step, the same for every test batch.
constexpr uint64_t kEvalStep = 0xFFFFFFFFFFull;

inline bool isFloat(const Quantizer& q) { return q.family == QuantFamily::Float; }
// The bits users see for a class: 0 for float.
inline int32_t bitsOf(const Quantizer& q) { return isFloat(q) ? 0 : q.bits; }

// One trained tensor (conv/fc weights and bias, BN gamma and beta) with its solver.
struct Param {
    std::string name;   // "<op>.w", "<op>.b", "<op>.gamma", "<op>.beta"
    uint32_t tensor = 0; // id of its random draws (init, stochastic rounding)
    std::vector<float> value, grad;
    std::unique_ptr<Solver> solver;
};

// An op at run time: its output and gradient, and what its kind needs.
struct Node {
    const OpDesc* op = nullptr;
    int32_t index = 0;
    int32_t consumers = 0; // ops reading this output (a residual branch point has two)
    int32_t owner = -1;    // the weight op whose block this op ends (quantize ops), -1 = input
    std::vector<float> y, dy;

    // Conv and fc: parameters, forward weights Q_W(w) / alpha, weight-op ordinal.
    int32_t ordinal = -1;
    ref::ConvGeometry geom;
    Param* w = nullptr;
    Param* b = nullptr;
    // ttq W: the learned scales Wp, Wn per group (trained parameters), interleaved for observe.
    Param* wp = nullptr;
    Param* wn = nullptr;
    std::vector<float> learned;
    std::vector<float> wq;
    QuantPlan planW;              // the W quantizer's plan for the current latent weights
    QuantPlan planG;              // the G quantizer's plan of the last update
    std::vector<float> col, dcol; // conv on the fast kernels: im2col columns and their gradient
    int32_t log2Alpha = 0; // WAGE W: forward weights are divided by alpha
    double lrScale = 1;    // the optimizer's lr_scale "glorot" for a quantized W: 1/sqrt(1.5/(fan_in + fan_out))
    Quantizer qW, qG, qE;
    IntProducts ip; // which products run on integer codes, and their buffers

    // Pooling.
    std::vector<uint8_t> argmax;

    // Batch norm.
    Param* gamma = nullptr;
    std::vector<float> gammaQ, betaQ; // range BN with param_bits: gamma and beta as the op uses them
    Param* beta = nullptr;
    std::vector<double> runMean, runVar; // runVar: range BN's running scale
    int32_t codeSource = -1;             // range BN in fixed point: the quantize op of its input codes
    ref::BatchNormCache bn;

    // Quantize: class A forward, class E backward (of the owner's quantizers), and E_grad, the
    // copy of the error that feeds the weight gradient (splitE: it differs from E).
    Quantizer qA, qErr, qErrGrad;
    QuantPlan planA, planE, planEGrad;
    bool splitE = false;
    // On the path from such a quantize op back to its product (relu, max-pool, flatten and the
    // product itself): the E_grad copy of the output gradient, routed as dy is.
    bool gradCopy = false;
    std::vector<float> dyGrad;
    QuantRunning runA;
    bool last = false; // the graph's output: Q_E is applied to the loss gradient instead
};

class GraphEngine final : public Engine {
public:
    // reference: every op on the reference loops (the definition); else conv and fc run on
    // im2col and fixed-block float32 products (graph_kernels.h).
    // integerProducts = false runs every product in float (tests compare the two definitions);
    // legacy = true is what the executor computed before integer products (graph-float: float
    // products, WAGE's init rounding float(w), wage errors not multiplied back for sgd/adam).
    GraphEngine(const Experiment& e, bool reference, bool integerProducts = true, bool legacy = false);
    ~GraphEngine() override;

    const char* kind() const override {
        return m_reference ? "reference" : m_legacy ? "graph-float" : "graph";
    }
    void trainStep(const uint8_t* images, const uint8_t* labels, int32_t n, int64_t step, double lr,
                   BatchResult& out) override;
    void evaluate(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) override;
    void collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const override;
    std::vector<LayerReport> layers() const override;
    std::vector<std::array<QuantPlan, kQuantClassCount>> quantPlans() const override;
    // The quantize op of `product`'s block that gives its A (forward) or E (backward) class.
    const Node* ownedQuantize(const Node& product, bool forward) const;
    uint64_t weightsHash() const override;
    std::vector<uint8_t> weightsSave() const override;
    std::string weightsNonFinite() const override;
    void weightsLoad(const std::vector<uint8_t>& blob) override;

    // For tests: the parameters in order, and the gradients of the last step.
    const std::vector<std::unique_ptr<Param>>& params() const { return m_params; }

private:
    void build();
    // A parameter tensor of `size` values set to `value`, with its solver (t: the WAGE bits).
    Param* addParam(std::string name, uint32_t tensor, int64_t size, float value, SolverTensor t);
    void initParams();
    void refreshForwardWeights(Node& n);
    // A range BN's gamma and beta as it uses them: quantized when its op has param_bits.
    std::pair<const float*, const float*> rangeBnParams(Node& node);
    // Decides which of a conv/fc's products run on integer codes (graph_int.h), and why.
    void planProducts(Node& n);
    // A rangebn with fixed_point: finds the quantize op giving its input codes (or refuses).
    void planFixedBn(Node& n);
    void productForward(Node& n, int32_t batch, const float* x);
    void productBackward(Node& n, int32_t batch, const float* x, float* dx);
    // Marks the path from a quantize op (or the last product) with a split E back to its product.
    void planGradCopies();
    IntOperands operandsOf(const Node& n, int32_t batch) const;
    void forward(const uint8_t* images, int32_t n, bool training, int64_t step);
    void backward(const uint8_t* labels, int32_t n, int64_t step, BatchResult& out);
    void update(int64_t step, double lr);
    void score(const uint8_t* labels, int32_t n, BatchResult& out, float* dlogits) const;
    const float* inputOf(const Node& node, size_t which) const;
    std::vector<float>& gradOf(int32_t opIndex);
    void quantizeError(const Quantizer& q, uint32_t tensor, int64_t step, int32_t n, const TensorShape& s,
                       std::vector<float>& e, QuantPlan& plan);
    TensorView viewOf(const float* data, int32_t n, const TensorShape& s, Granularity g) const;
    // A [out][fan-in] tensor of a conv/fc (weights, gradient) with q's groups (per output channel).
    static TensorView weightView(const Node& n, const float* data, const Quantizer& q);

    Experiment m_e;
    Graph m_graph;
    QuantConfig m_quant;
    Random m_rng;
    std::vector<Node> m_nodes;
    std::vector<std::unique_ptr<Param>> m_params;
    std::vector<float> m_input, m_inputTable;
    std::vector<float> m_scratch, m_dwScratch;
    int32_t m_batch = 0;
    bool m_reference = false;
    bool m_integerProducts = true;
    bool m_legacy = false;
};

} // namespace bitbench::graph_exec
