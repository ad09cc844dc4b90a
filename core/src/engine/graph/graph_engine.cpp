// The graph executor's set-up: nodes, parameters and their initialisation, checkpoint blobs,
// hashes, the layer table and tensor statistics. Training and evaluation: graph_engine_run.cpp.
#include "engine/graph/graph_engine.h"

#include "bitbench/error.h"
#include "engine/wage_common.h"
#include "graph/graph_walk.h"

#include <cmath>
#include <cstring>

namespace bitbench {

namespace graph_exec {

namespace {

constexpr uint64_t kBlobMagic = 0x3148505247424242ull; // "BBBGRPH1"

} // namespace

GraphEngine::GraphEngine(const Experiment& e, bool reference, bool integerProducts, bool legacy)
    : m_e(e), m_graph(e.graph), m_quant(e.quantConfig()), m_rng(e.seed) {
    m_batch = e.batch;
    m_reference = reference;
    m_integerProducts = integerProducts && !legacy;
    m_legacy = legacy;
    build();
    initParams();
}

GraphEngine::~GraphEngine() = default;

void GraphEngine::build() {
    const Graph& g = m_graph;
    const int64_t B = m_batch;
    m_nodes.resize(g.ops.size());
    int32_t ordinal = 0;
    const bool wage = m_e.optimizer.kind == SolverKind::Wage;
    for (size_t i = 0; i < g.ops.size(); ++i) {
        Node& n = m_nodes[i];
        const OpDesc& op = g.ops[i];
        n.op = &op;
        n.index = int32_t(i);
        n.y.resize(size_t(B * op.outShape.size()));
        n.dy.resize(n.y.size());
        for (int32_t in : op.in)
            if (in >= 0) ++m_nodes[size_t(in)].consumers;
        const std::string where = "op '" + op.name + "'";
        switch (op.kind) {
        case OpKind::Conv:
        case OpKind::Fc: {
            n.ordinal = ordinal++;
            if (op.kind == OpKind::Conv) n.geom = ref::conv_geometry(op);
            n.qW = m_quant.forOp(op.name, QuantClass::W);
            n.qG = m_quant.forOp(op.name, QuantClass::G);
            n.qE = m_quant.forOp(op.name, QuantClass::E);
            n.qErrGrad = m_quant.forOp(op.name, QuantClass::EGrad);
            n.splitE = n.qErrGrad != n.qE;
            if (wage && !(isFloat(n.qG) || n.qG.family == QuantFamily::Wage))
                throw InputError(where + ": the wage optimizer needs a wage or float G quantizer, not " + n.qG.text());
            if (wage && op.bias) throw InputError(where + ": the wage optimizer trains no biases; use sgd or adam");
            // Only the WAGE solver reads the bits: the latent clip (kW) and Q_G's step (kG).
            SolverTensor wt;
            wt.bitsW = n.qW.family == QuantFamily::Wage ? n.qW.bits : 0;
            wt.bitsG = n.qG.family == QuantFamily::Wage ? n.qG.bits : 0;
            n.w = addParam(op.name + ".w", uint32_t(n.ordinal), op.weightCount(), 0.0f, wt);
            if (op.bias) n.b = addParam(op.name + ".b", kBiasTensor + uint32_t(n.ordinal), op.out, 0.0f, {});
            if (n.qW.family == QuantFamily::TernaryLearned) {
                if (wage) throw InputError(where + ": ttq's learned scales need an sgd or adam optimizer");
                // TTQ's Wp and Wn, per layer (or per output channel), initialised to 1.
                const int64_t groups = n.qW.granularity == Granularity::Channel ? op.out : 1;
                const uint32_t t = kTtqScaleTensor + 2 * uint32_t(n.ordinal);
                n.wp = addParam(op.name + ".wp", t, groups, 1.0f, {});
                n.wn = addParam(op.name + ".wn", t + 1, groups, 1.0f, {});
                n.learned.resize(size_t(2 * groups));
            }
            n.wq.resize(size_t(op.weightCount()));
            if (op.kind == OpKind::Conv && !m_reference) {
                n.col.resize(size_t(B * op.outShape.h * op.outShape.w * op.fanIn()));
                n.dcol.resize(n.col.size());
            }
            if (n.qW.family == QuantFamily::Wage) n.log2Alpha = wage_init(op.fanIn(), n.qW.bits).log2Alpha;
            if (m_e.optimizer.lrGlorot && !isFloat(n.qW)) {
                // BinaryConnect's W_LR_scale; Lasagne's fan-out of a conv is out x kernel area.
                const int64_t fanOut = op.kind == OpKind::Conv ? int64_t(op.out) * op.kernel * op.kernel : op.out;
                n.lrScale = 1.0 / std::sqrt(1.5 / double(op.fanIn() + fanOut));
            }
            break;
        }
        case OpKind::MaxPool:
            n.argmax.resize(n.y.size());
            break;
        case OpKind::BatchNorm:
        case OpKind::RangeBatchNorm: {
            if (wage) throw InputError(where + ": batch norm needs an sgd or adam optimizer (the wage optimizer "
                                               "trains integer weight codes only)");
            const int32_t c = op.outShape.c;
            if (op.kind == OpKind::RangeBatchNorm && B * op.outShape.h * op.outShape.w < 2 * int64_t(op.chunks))
                throw InputError(where + ": range batch norm needs at least " + std::to_string(2 * op.chunks) +
                                 " values per channel in a batch (batch x height x width)");
            n.gamma = addParam(op.name + ".gamma", 0, c, 1.0f, {});
            n.beta = addParam(op.name + ".beta", 0, c, 0.0f, {});
            n.runMean.assign(size_t(c), 0.0);
            n.runVar.assign(size_t(c), 1.0);
            break;
        }
        case OpKind::Quantize:
            n.owner = graph_block_owner(g, op.in[0]);
            {
                // Its own layer_quant entry if it has one, else its owner's classes.
                const std::string& key = graph_quantize_key(g, m_quant, int32_t(i));
                // A quantize op acting in one direction only leaves the other's classes float.
                if (op.quantizesForward()) n.qA = m_quant.forOp(key, QuantClass::A);
                if (op.quantizesBackward()) {
                    n.qErr = m_quant.forOp(key, QuantClass::E);
                    n.qErrGrad = m_quant.forOp(key, QuantClass::EGrad);
                }
                n.splitE = n.qErrGrad != n.qErr;
            }
            if (n.qA.family == QuantFamily::Sign) {
                // sign(relu(x)) is +1 everywhere (sign(0) = +1): BinaryNet's blocks have no relu.
                for (int32_t j = op.in[0]; j >= 0; j = g.ops[size_t(j)].in[0]) {
                    const OpKind k = g.ops[size_t(j)].kind;
                    if (k == OpKind::Relu)
                        throw InputError("op '" + op.name + "': sign activations read relu '" + g.ops[size_t(j)].name +
                                         "', so every one is +1; use a model without relu before them (lenet5-bnn)");
                    if (k != OpKind::MaxPool && k != OpKind::Flatten) break;
                }
            }
            break;
        default:
            break;
        }
    }
    if (!g.ops.empty()) m_nodes.back().last = true;
    planGradCopies();
    for (Node& n : m_nodes) {
        if (n.op->hasWeights()) planProducts(n);
        if (n.op->kind == OpKind::RangeBatchNorm && n.op->fixedPoint) planFixedBn(n);
    }
    m_input.resize(size_t(B * g.input.size()));
    // The first quantize op reading the input is applied per byte value, like the legacy engines'
    // input tables; here the table holds only the transform and the op runs as any other.
    m_inputTable.resize(256);
    for (int x = 0; x < 256; ++x) m_inputTable[size_t(x)] = float(wage_input_value(g.transform, uint8_t(x)));
}

void GraphEngine::planGradCopies() {
    // The E_grad copy of a quantize op travels back to the product it feeds through relu,
    // max-pool and flatten, beside the E copy. `route` says why it cannot ("" when it can) and,
    // with `mark`, sets up the copy buffers along the way.
    auto route = [&](Node& q, bool mark) -> std::string {
        const std::string why = "op '" + q.op->name + "': an E_grad quantizer different from E needs ";
        if (mark && q.last) { // the loss gradient's E_grad copy starts here
            q.gradCopy = true;
            q.dyGrad.resize(q.dy.size());
        }
        int32_t i = q.op->in[0];
        while (true) {
            if (i < 0) return why + "a conv or fc before it; it reads the network input";
            Node& n = m_nodes[size_t(i)];
            if (n.consumers != 1)
                return why + "'" + n.op->name + "' to have one reader (the E and E_grad copies of a branch point are "
                                                "not summed)";
            if (n.op->kind != OpKind::Relu && n.op->kind != OpKind::MaxPool && n.op->kind != OpKind::Flatten &&
                !n.op->hasWeights())
                return why + "the conv or fc before it to be reached through relu, max-pool and flatten only; found " +
                       std::string(op_kind_name(n.op->kind)) + " '" + n.op->name + "'";
            if (mark) {
                n.gradCopy = true;
                n.dyGrad.resize(n.dy.size());
            }
            if (n.op->hasWeights()) return {};
            i = n.op->in[0];
        }
    };
    std::vector<char> served(m_nodes.size(), 0); // products that get an E_grad copy
    std::vector<Node*> indirect;
    for (Node& q : m_nodes) {
        if (!q.splitE) continue;
        // A product's own split counts only when it is the last op (its E quantizes the loss
        // gradient); otherwise the quantize op ending its block applies E.
        if (q.op->hasWeights() && !q.last) continue;
        if (q.op->kind != OpKind::Quantize && !q.op->hasWeights()) continue;
        if (q.op->kind == OpKind::Quantize && q.op->in[0] < 0) continue; // no gradient flows to the input
        if (q.op->hasWeights()) {
            q.gradCopy = true;
            q.dyGrad.resize(q.dy.size());
            served[size_t(q.index)] = 1;
            continue;
        }
        if (!route(q, false).empty()) {
            indirect.push_back(&q);
            continue;
        }
        route(q, true);
        served[size_t(graph_block_owner(m_graph, q.op->in[0]))] = 1;
    }
    // A quantize op further from its product (a batch norm between, as Banner et al.'s point after
    // range BN) applies E only when a nearer one already gives that product its E_grad copy; the
    // weight gradient reads that copy. Otherwise its E_grad would be lost: refused.
    for (Node* q : indirect) {
        if (q->owner >= 0 && served[size_t(q->owner)]) q->splitE = false;
        else throw InputError(route(*q, false));
    }
}

Param* GraphEngine::addParam(std::string name, uint32_t tensor, int64_t size, float value, SolverTensor t) {
    auto p = std::make_unique<Param>();
    p->name = std::move(name);
    p->tensor = tensor;
    p->value.assign(size_t(size), value);
    p->grad.resize(size_t(size));
    t.id = tensor;
    t.seed = m_e.seed;
    p->solver = solver_create(m_e.optimizer, size, t);
    m_params.push_back(std::move(p));
    return m_params.back().get();
}

void GraphEngine::initParams() {
    for (Node& n : m_nodes) {
        if (!n.op->hasWeights()) continue;
        const int64_t K = n.op->fanIn();
        if (m_e.optimizer.kind == SolverKind::Wage) {
            // WAGE's init: U(-L, L), then Q(W, kW) once, rounding the double draw as the integer
            // engine does (core/doc/wage.md). The float products of runs stored before integer
            // products (graph-float) rounded float(w), as the legacy float engine does; the two
            // differ when float(w) lands on a tie (about 2e-8 of the weights).
            const int32_t kW = n.qW.family == QuantFamily::Wage ? n.qW.bits : 0;
            const WageInit init = wage_init(K, kW);
            for (size_t j = 0; j < n.w->value.size(); ++j) {
                const double v = wage_uniform(m_rng, n.w->tensor, uint64_t(j), init.limit);
                if (!kW) {
                    n.w->value[j] = float(v);
                } else if (!m_legacy) {
                    const double s = std::ldexp(1.0, kW - 1);
                    n.w->value[j] = float(std::nearbyint(v * s) / s);
                } else {
                    const float s = std::ldexp(1.0f, kW - 1);
                    n.w->value[j] = std::nearbyint(float(v) * s) / s;
                }
            }
        } else {
            // PyTorch's default for conv and linear layers: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
            // weights and biases (kaiming_uniform with a = sqrt(5)).
            const double bound = 1.0 / std::sqrt(double(K));
            for (size_t j = 0; j < n.w->value.size(); ++j)
                n.w->value[j] = float(wage_uniform(m_rng, n.w->tensor, uint64_t(j), bound));
            if (n.b)
                for (size_t j = 0; j < n.b->value.size(); ++j)
                    n.b->value[j] = float(wage_uniform(m_rng, n.b->tensor, uint64_t(j), bound));
        }
        refreshForwardWeights(n);
    }
}

void GraphEngine::refreshForwardWeights(Node& n) {
    if (isFloat(n.qW)) {
        n.wq = n.w->value;
        return;
    }
    const TensorView v = weightView(n, n.w->value.data(), n.qW);
    QuantObserveArgs args;
    if (n.wp) {
        for (size_t g = 0; g < n.wp->value.size(); ++g) {
            n.learned[2 * g] = n.wp->value[g];
            n.learned[2 * g + 1] = n.wn->value[g];
        }
        args.learned = n.learned.data();
    }
    quant_observe(n.qW, QuantClass::W, v, args, n.planW);
    // A stochastic W draws anew for each step that uses these weights (the solver's update count
    // is that step); graph-float drew step 0, tensor = the weight's, every time.
    const QuantDraws draws = m_legacy ? QuantDraws{&m_rng, 0, n.w->tensor}
                                      : QuantDraws{&m_rng, uint64_t(n.w->solver->stepsTaken()),
                                                   kQuantWTensor + uint32_t(n.ordinal)};
    quant_apply(n.qW, v, n.planW, draws, n.wq.data(), &n.planW.clamped);
    if (n.log2Alpha)
        for (float& x : n.wq) x = std::ldexp(x, -n.log2Alpha);
    if (n.ip.forward || n.ip.inputGrad)
        codes_from_values(n.wq.data(), n.op->out, n.op->fanIn(), n.planW,
                          n.qW.granularity == Granularity::Channel ? 1 : 0, std::ldexp(1.0, -n.log2Alpha), n.ip.w);
}

std::vector<LayerReport> GraphEngine::layers() const {
    std::vector<LayerReport> r;
    for (const Node& n : m_nodes) {
        if (!n.op->hasWeights()) continue;
        LayerReport l;
        l.name = n.op->name;
        const Quantizer qA = m_quant.forOp(n.op->name, QuantClass::A);
        l.bits.bits = {bitsOf(n.qW), bitsOf(qA), bitsOf(n.qG), bitsOf(n.qE)};
        l.fanIn = n.op->fanIn();
        l.weights = n.op->weightCount();
        l.alpha = int32_t(1) << n.log2Alpha;
        // W and A are integer when the forward product is; E when both backward products are (or
        // the one there is). G: the solver's arithmetic.
        const IntProducts& p = n.ip;
        const bool wantDx = n.op->in[0] >= 0;
        const bool eInt = p.weightGrad && (p.inputGrad || !wantDx);
        const std::string eWhy = "dE W: " + p.why[1] + "; dE A: " + p.why[2];
        l.plan[0] = {n.qW.text(), p.forward, "forward: " + p.why[0]};
        l.plan[1] = {qA.text(), p.forward, "forward: " + p.why[0]};
        l.plan[2] = {n.qG.text(), false,
                     m_e.optimizer.kind == SolverKind::Wage ? "the WAGE solver's update in float32 holding its codes"
                                                            : "the solver's float32 master weights"};
        l.plan[3] = {n.qE.text(), eInt, eWhy};
        r.push_back(l);
    }
    return r;
}

const Node* GraphEngine::ownedQuantize(const Node& product, bool forward) const {
    // A: the last forward point of the block (the one the next product reads); E: the first
    // backward point (the error the product's own gradients read). One of each in a WAGE block.
    const Node* found = nullptr;
    for (const Node& m : m_nodes)
        if (m.owner == product.index && (forward ? m.op->quantizesForward() : m.op->quantizesBackward())) {
            found = &m;
            if (!forward) break;
        }
    return found;
}

std::vector<std::array<QuantPlan, kQuantClassCount>> GraphEngine::quantPlans() const {
    // A and E: the quantize op that ends the layer's block (as collectStats reads A); the last
    // layer's E is the one applied to the loss gradient when no quantize op follows it. E_grad:
    // the copy of that E which the weight gradient reads, when it is quantized apart (splitE).
    std::vector<std::array<QuantPlan, kQuantClassCount>> r;
    const size_t e = size_t(QuantClass::E), eg = size_t(QuantClass::EGrad);
    for (const Node& n : m_nodes) {
        if (!n.op->hasWeights()) continue;
        std::array<QuantPlan, kQuantClassCount> p;
        if (!isFloat(n.qW)) p[0] = n.planW;
        if (!isFloat(n.qG)) p[2] = n.planG;
        const Node* qa = ownedQuantize(n, true);
        const Node* qe = ownedQuantize(n, false);
        if (qa && !isFloat(qa->qA)) p[1] = qa->planA;
        const Node* src = qe ? qe : n.last ? &n : nullptr;
        if (src && !isFloat(qe ? qe->qErr : n.qE)) p[e] = src->planE;
        if (src && (qe ? qe->splitE : n.gradCopy) && !isFloat(src->qErrGrad))
            p[eg] = src->planEGrad;
        r.push_back(std::move(p));
    }
    return r;
}

uint64_t GraphEngine::weightsHash() const {
    WeightsHasher h;
    for (const auto& p : m_params) h.add(p->value.data(), p->value.size() * sizeof(float));
    for (const Node& n : m_nodes)
        if (!n.runMean.empty()) {
            h.add(n.runMean.data(), n.runMean.size() * sizeof(double));
            h.add(n.runVar.data(), n.runVar.size() * sizeof(double));
        }
    return h.digest();
}

std::string GraphEngine::weightsNonFinite() const {
    for (const auto& p : m_params)
        for (float x : p->value)
            if (!std::isfinite(x)) return p->name;
    return {};
}

// Blob: magic, parameter count, per parameter (count, float32 values), then per parameter its
// solver state record, then per batch-norm op its running statistics and per quantize op its
// running range (core/doc/executors.md).
std::vector<uint8_t> GraphEngine::weightsSave() const {
    std::vector<uint8_t> b;
    blob_put_u64(b, kBlobMagic);
    blob_put_u64(b, m_params.size());
    for (const auto& p : m_params) {
        blob_put_u64(b, p->value.size());
        const auto* raw = reinterpret_cast<const uint8_t*>(p->value.data());
        b.insert(b.end(), raw, raw + p->value.size() * sizeof(float));
    }
    for (const auto& p : m_params) p->solver->stateSave(b);
    for (const Node& n : m_nodes) {
        if (!n.runMean.empty()) {
            const auto* m = reinterpret_cast<const uint8_t*>(n.runMean.data());
            const auto* v = reinterpret_cast<const uint8_t*>(n.runVar.data());
            b.insert(b.end(), m, m + n.runMean.size() * sizeof(double));
            b.insert(b.end(), v, v + n.runVar.size() * sizeof(double));
        }
        if (n.op->kind == OpKind::Quantize) {
            const auto* r = reinterpret_cast<const uint8_t*>(&n.runA);
            b.insert(b.end(), r, r + sizeof(QuantRunning));
        }
    }
    return b;
}

void GraphEngine::weightsLoad(const std::vector<uint8_t>& b) {
    size_t pos = 0;
    if (blob_get_u64(b, pos) != kBlobMagic) throw DataError("weights blob is not from the graph executor");
    if (blob_get_u64(b, pos) != m_params.size()) throw DataError("weights blob has a different parameter count");
    for (auto& p : m_params) {
        if (blob_get_u64(b, pos) != p->value.size())
            throw DataError("weights blob does not fit parameter '" + p->name + "'");
        const size_t bytes = p->value.size() * sizeof(float);
        if (pos + bytes > b.size()) throw DataError("weights blob is truncated");
        std::memcpy(p->value.data(), b.data() + pos, bytes);
        pos += bytes;
    }
    for (auto& p : m_params) pos = p->solver->stateLoad(b, pos);
    auto take = [&](void* dst, size_t bytes) {
        if (pos + bytes > b.size()) throw DataError("weights blob is truncated");
        std::memcpy(dst, b.data() + pos, bytes);
        pos += bytes;
    };
    for (Node& n : m_nodes) {
        if (!n.runMean.empty()) {
            take(n.runMean.data(), n.runMean.size() * sizeof(double));
            take(n.runVar.data(), n.runVar.size() * sizeof(double));
        }
        if (n.op->kind == OpKind::Quantize) take(&n.runA, sizeof(QuantRunning));
    }
    if (pos != b.size()) throw DataError("weights blob has trailing bytes");
    for (Node& n : m_nodes)
        if (n.op->hasWeights()) refreshForwardWeights(n);
}

void GraphEngine::collectStats(int64_t step, int32_t bins, std::vector<TensorStats>& out) const {
    // Per weight op: W (latent against forward weights) and G (the gradient of the last step);
    // A and E of the quantize op that ends its block.
    for (const Node& n : m_nodes) {
        if (!n.op->hasWeights()) continue;
        StatsBuilder w(bins, -INFINITY, INFINITY, 0);
        for (size_t j = 0; j < n.w->value.size(); ++j)
            w.add(n.w->value[j], std::ldexp(double(n.wq[j]), n.log2Alpha));
        out.push_back(w.finish(step, n.ordinal, n.op->name, TensorClass::W, bitsOf(n.qW)));
        StatsBuilder gsb(bins, -INFINITY, INFINITY, 0);
        for (float x : n.w->grad) gsb.add(x, x);
        out.push_back(gsb.finish(step, n.ordinal, n.op->name, TensorClass::G, bitsOf(n.qG)));
        if (const Node* q = ownedQuantize(n, true)) {
            const float* x = inputOf(*q, 0);
            StatsBuilder a(bins, -INFINITY, INFINITY, 0);
            for (size_t j = 0; j < q->y.size(); ++j) a.add(x[j], q->y[j]);
            out.push_back(a.finish(step, n.ordinal, n.op->name, TensorClass::A, bitsOf(q->qA)));
        }
    }
}

} // namespace graph_exec

std::unique_ptr<Engine> engine_create_graph(const Experiment& e, bool reference, bool legacy) {
    return std::make_unique<graph_exec::GraphEngine>(e, reference, true, legacy);
}

} // namespace bitbench
