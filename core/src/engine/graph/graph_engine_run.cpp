// The graph executor's training step and evaluation: forward through the ops in order, the loss,
// backward in reverse order (gradients of a branch point summed), then one solver step per
// parameter. core/doc/executors.md gives the order of the quantizers.
#include "engine/graph/graph_engine.h"

#include "bitbench/error.h"
#include "bitbench/loss.h"
#include "engine/graph/graph_kernels.h"
#include "engine/wage_common.h"

#include <algorithm>
#include <cmath>

namespace bitbench::graph_exec {

TensorView GraphEngine::weightView(const Node& n, const float* data, const Quantizer& q) {
    return {data, n.op->out, n.op->fanIn(), q.granularity == Granularity::Tensor ? GroupAxis::None : GroupAxis::Rows};
}

TensorView GraphEngine::viewOf(const float* data, int32_t n, const TensorShape& s, Granularity g) const {
    switch (g) {
    case Granularity::Sample: return {data, n, s.size(), GroupAxis::Rows};
    case Granularity::Channel: return {data, int64_t(n) * s.h * s.w, s.c, GroupAxis::Cols};
    default: return {data, n, s.size(), GroupAxis::None};
    }
}

const float* GraphEngine::inputOf(const Node& node, size_t which) const {
    const int32_t i = node.op->in[which];
    return i < 0 ? m_input.data() : m_nodes[size_t(i)].y.data();
}

std::vector<float>& GraphEngine::gradOf(int32_t opIndex) { return m_nodes[size_t(opIndex)].dy; }

void GraphEngine::quantizeError(const Quantizer& q, uint32_t tensor, int64_t step, int32_t n, const TensorShape& s,
                                std::vector<float>& e, QuantPlan& plan) {
    if (isFloat(q)) return;
    const TensorView v = viewOf(e.data(), n, s, q.granularity);
    quant_observe(q, QuantClass::E, v, {}, plan);
    quant_apply(q, v, plan, {&m_rng, uint64_t(step), tensor}, e.data(), &plan.clamped);
    // WAGE's Q_E leaves out its group's 2^p (the WAGE solver's Q_G normalizes the gradient
    // anyway). Any other solver needs the error's magnitude: multiply it back, exactly (a power of
    // two in double, one rounding), and keep the plan's scale in step for the integer products.
    // (graph-float, the executor of runs stored before, did not.)
    if (q.family == QuantFamily::Wage && m_e.optimizer.kind != SolverKind::Wage && !m_legacy) {
        std::vector<double> f(plan.groups.size());
        for (size_t g = 0; g < f.size(); ++g) f[g] = std::ldexp(1.0, plan.groups[g].exponent);
        const int64_t cols = v.cols, count = v.size();
        float* x = e.data();
        if (v.axis == GroupAxis::None)
            for (int64_t i = 0; i < count; ++i) x[i] = float(double(x[i]) * f[0]);
        else
            for (int64_t i = 0; i < count; ++i)
                x[i] = float(double(x[i]) * f[size_t(v.axis == GroupAxis::Rows ? i / cols : i % cols)]);
        for (QuantGroup& G : plan.groups) G.scale = float(std::ldexp(double(G.scale), G.exponent));
    }
}

std::pair<const float*, const float*> GraphEngine::rangeBnParams(Node& node) {
    const int32_t bits = node.op->paramBits;
    if (!bits) return {node.gamma->value.data(), node.beta->value.data()};
    // Banner et al.: gamma and beta each quantized per tensor, min/max, nearest.
    std::vector<double> g(node.gamma->value.begin(), node.gamma->value.end()),
        b(node.beta->value.begin(), node.beta->value.end());
    ref::quantize_min_max(g, bits);
    ref::quantize_min_max(b, bits);
    node.gammaQ.assign(g.begin(), g.end());
    node.betaQ.assign(b.begin(), b.end());
    return {node.gammaQ.data(), node.betaQ.data()};
}

void GraphEngine::forward(const uint8_t* images, int32_t n, bool training, int64_t step) {
    const int64_t pixels = int64_t(n) * m_graph.input.size();
    for (int64_t i = 0; i < pixels; ++i) m_input[size_t(i)] = m_inputTable[images[i]];
    const uint64_t drawStep = training ? uint64_t(step) : kEvalStep;
    for (Node& node : m_nodes) {
        const OpDesc& op = *node.op;
        const float* x = inputOf(node, 0);
        float* y = node.y.data();
        const int64_t count = int64_t(n) * op.outShape.size();
        const int64_t rows = int64_t(n) * op.outShape.h * op.outShape.w;
        switch (op.kind) {
        case OpKind::Conv:
        case OpKind::Fc: productForward(node, n, x); break;
        case OpKind::MaxPool:
            if (m_reference) ref::maxpool_forward(op.inShape, n, x, y, node.argmax.data());
            else maxpool_forward_fast(op.inShape, n, x, y, node.argmax.data());
            break;
        case OpKind::AvgPool: ref::avgpool_forward(op.inShape, n, x, y); break;
        case OpKind::Relu:
            if (m_reference) ref::relu_forward(count, x, y);
            else relu_forward_fast(count, x, y);
            break;
        case OpKind::Add: ref::add_forward(count, x, inputOf(node, 1), y); break;
        case OpKind::Flatten: std::copy(x, x + count, y); break;
        case OpKind::BatchNorm:
            if (training)
                ref::batchnorm_forward_train(rows, op.outShape.c, x, node.gamma->value.data(), node.beta->value.data(),
                                             op.eps, op.momentum, y, node.bn, node.runMean, node.runVar);
            else
                ref::batchnorm_forward_eval(rows, op.outShape.c, x, node.gamma->value.data(), node.beta->value.data(),
                                            op.eps, node.runMean, node.runVar, y);
            break;
        case OpKind::RangeBatchNorm: {
            const auto [gamma, beta] = rangeBnParams(node);
            if (op.fixedPoint) {
                const double sx = double(m_nodes[size_t(node.codeSource)].planA.groups.at(0).scale);
                if (training)
                    ref::rangebn_forward_fixed_train(rows, op.outShape.c, op.chunks, x, sx, gamma, beta, op.eps,
                                                     op.momentum, y, node.bn, node.runMean, node.runVar,
                                                     op.paramBits);
                else
                    ref::rangebn_forward_fixed_eval(rows, op.outShape.c, x, sx, gamma, beta, node.runMean,
                                                    node.runVar, y, op.paramBits);
            } else if (training)
                ref::rangebn_forward_train(rows, op.outShape.c, op.chunks, x, gamma, beta, op.eps, op.momentum, y,
                                           node.bn, node.runMean, node.runVar, op.paramBits);
            else
                ref::rangebn_forward_eval(rows, op.outShape.c, x, gamma, beta, node.runMean, node.runVar, y,
                                          op.paramBits);
            break;
        }
        case OpKind::Quantize: {
            if (isFloat(node.qA)) {
                std::copy(x, x + count, y);
                break;
            }
            const TensorView v = viewOf(x, n, op.outShape, node.qA.granularity);
            QuantObserveArgs args;
            args.training = training;
            args.running = &node.runA;
            quant_observe(node.qA, QuantClass::A, v, args, node.planA);
            quant_apply(node.qA, v, node.planA,
                        {&m_rng, drawStep, kQuantATensor + uint32_t(node.index)}, y,
                        &node.planA.clamped);
            break;
        }
        }
    }
}

void GraphEngine::score(const uint8_t* labels, int32_t n, BatchResult& out, float* dlogits) const {
    const Node& last = m_nodes.back();
    const int32_t C = m_graph.classes();
    out = {};
    for (int32_t s = 0; s < n; ++s)
        if (wage_argmax(last.y.data() + int64_t(s) * C, C) != labels[s]) ++out.errors;
    // WAGE minimises the summed loss; sgd and adam the batch mean (PyTorch's losses), and the
    // squared hinge the mean over batch and classes (BinaryConnect's code).
    double scale = 1;
    if (m_e.optimizer.kind != SolverKind::Wage)
        scale = m_e.loss == LossKind::SquaredHinge ? 1.0 / (double(n) * C) : 1.0 / double(n);
    out.loss = loss_forward_backward(m_e.loss, last.y.data(), labels, n, C, scale, dlogits);
}

void GraphEngine::backward(const uint8_t* labels, int32_t n, int64_t step, BatchResult& out) {
    // An op read by one op gets its gradient written whole by that op; a branch point's is summed.
    for (Node& node : m_nodes)
        if (node.consumers > 1)
            std::fill(node.dy.begin(), node.dy.begin() + int64_t(n) * node.op->outShape.size(), 0.0f);
    Node& last = m_nodes.back();
    score(labels, n, out, last.dy.data());
    // The loss gradient is quantized by the E quantizer of the block it ends (WAGE: Q_E before
    // the logits' clip mask).
    {
        const Quantizer qE = last.op->kind == OpKind::Quantize ? last.qErr
                             : last.op->hasWeights()            ? last.qE
                                                                : Quantizer{};
        if (last.gradCopy) { // E_grad differs from E: the weight gradient's copy, quantized apart
            std::copy(last.dy.begin(), last.dy.begin() + int64_t(n) * last.op->outShape.size(), last.dyGrad.begin());
            quantizeError(last.qErrGrad, kQuantEGradTensor + uint32_t(last.index), step, n, last.op->outShape,
                          last.dyGrad, last.planEGrad);
        }
        quantizeError(qE, kQuantETensor + uint32_t(last.index), step, n, last.op->outShape, last.dy, last.planE);
    }
    for (int64_t i = int64_t(m_nodes.size()) - 1; i >= 0; --i) {
        Node& node = m_nodes[size_t(i)];
        const OpDesc& op = *node.op;
        const int32_t src = op.in[0];
        const int64_t inCount = int64_t(n) * op.inShape.size();
        const int64_t count = int64_t(n) * op.outShape.size();
        const int64_t rows = int64_t(n) * op.outShape.h * op.outShape.w;
        const float* x = inputOf(node, 0);
        const float* dy = node.dy.data();
        // The input's gradient: written directly when this op is its only reader, else summed.
        const bool wantDx = src >= 0;
        const bool shared = wantDx && m_nodes[size_t(src)].consumers > 1;
        if (m_scratch.size() < size_t(inCount)) m_scratch.resize(size_t(inCount));
        float* dx = !wantDx ? nullptr : shared ? m_scratch.data() : gradOf(src).data();
        switch (op.kind) {
        case OpKind::Conv:
        case OpKind::Fc: productBackward(node, n, x, dx); break;
        case OpKind::MaxPool:
            if (!dx) break;
            for (const bool copy : {false, true}) {
                if (copy && !node.gradCopy) break;
                const float* d = copy ? node.dyGrad.data() : dy;
                float* t = copy ? m_nodes[size_t(src)].dyGrad.data() : dx;
                if (m_reference) ref::maxpool_backward(op.inShape, n, d, node.argmax.data(), t);
                else maxpool_backward_fast(op.inShape, n, d, node.argmax.data(), t);
            }
            break;
        case OpKind::AvgPool:
            if (dx) ref::avgpool_backward(op.inShape, n, dy, dx);
            break;
        case OpKind::Relu:
            if (!dx) break;
            for (const bool copy : {false, true}) {
                if (copy && !node.gradCopy) break;
                const float* d = copy ? node.dyGrad.data() : dy;
                float* t = copy ? m_nodes[size_t(src)].dyGrad.data() : dx;
                if (m_reference) ref::relu_backward(count, x, d, t);
                else relu_backward_fast(count, x, d, t);
            }
            break;
        case OpKind::Flatten:
            if (dx) std::copy(dy, dy + count, dx);
            if (dx && node.gradCopy)
                std::copy(node.dyGrad.begin(), node.dyGrad.begin() + count, m_nodes[size_t(src)].dyGrad.begin());
            break;
        case OpKind::Add: {
            for (size_t k = 0; k < 2; ++k) {
                const int32_t in = op.in[k];
                if (in < 0) continue;
                auto& g = gradOf(in);
                if (m_nodes[size_t(in)].consumers > 1)
                    for (int64_t j = 0; j < count; ++j) g[size_t(j)] += dy[j];
                else
                    std::copy(dy, dy + count, g.begin());
            }
            continue; // both inputs done
        }
        case OpKind::BatchNorm:
            ref::batchnorm_backward(rows, op.outShape.c, x, node.gamma->value.data(), dy, node.bn, dx,
                                    node.gamma->grad.data(), node.beta->grad.data());
            break;
        case OpKind::RangeBatchNorm:
            // The gamma the forward used (quantized there when param_bits; straight-through).
            ref::rangebn_backward(rows, op.outShape.c, op.chunks, x,
                                  op.paramBits ? node.gammaQ.data() : node.gamma->value.data(), dy, node.bn, dx,
                                  node.gamma->grad.data(), node.beta->grad.data());
            break;
        case OpKind::Quantize: {
            if (!dx) break;
            if (isFloat(node.qA)) std::copy(dy, dy + count, dx);
            else quant_backward(node.qA, viewOf(x, n, op.outShape, node.qA.granularity), node.planA, dy, dx);
            if (node.splitE) {
                // The E_grad copy: of the loss gradient's copy through the clip mask (last op), or
                // of the masked gradient before Q_E.
                std::vector<float>& eg = m_nodes[size_t(src)].dyGrad;
                if (!node.last) std::copy(dx, dx + count, eg.begin());
                else if (isFloat(node.qA)) std::copy(node.dyGrad.begin(), node.dyGrad.begin() + count, eg.begin());
                else quant_backward(node.qA, viewOf(x, n, op.outShape, node.qA.granularity), node.planA,
                                    node.dyGrad.data(), eg.data());
                if (!node.last)
                    quantizeError(node.qErrGrad, kQuantEGradTensor + uint32_t(node.index), step, n, op.outShape, eg,
                                  node.planEGrad);
            }
            if (!node.last && !isFloat(node.qErr)) {
                // WAGE's order: the clip mask, then Q_E, then (in the ops below) relu and pooling.
                std::vector<float>& e = shared ? m_scratch : gradOf(src);
                quantizeError(node.qErr, kQuantETensor + uint32_t(node.index), step, n, op.outShape, e, node.planE);
            }
            break;
        }
        }
        if (shared) {
            auto& g = gradOf(src);
            for (int64_t j = 0; j < inCount; ++j) g[size_t(j)] += dx[j];
        }
    }
}

void GraphEngine::update(int64_t step, double lr) {
    for (Node& node : m_nodes) {
        const OpDesc& op = *node.op;
        if (op.hasWeights()) {
            Param& w = *node.w;
            // Straight-through: the gradient of the forward weights is the latent weights' one,
            // except for families whose backward says otherwise (TTQ, DoReFa).
            // The plan of the forward weights (refreshForwardWeights) still fits: w is unchanged.
            QuantParamGrads scales;
            if (!isFloat(node.qW) && node.qW.family != QuantFamily::Wage)
                quant_backward(node.qW, weightView(node, w.value.data(), node.qW), node.planW, w.grad.data(),
                               w.grad.data(), node.wp ? &scales : nullptr);
            double rate = lr;
            if (m_e.optimizer.kind == SolverKind::Wage) {
                // A float G: plain SGD at lr_float, scaled by the schedule (lr / lr(0)).
                if (isFloat(node.qG)) rate = m_e.lrFloat * lr / m_e.lr.front().lr;
            } else if (!isFloat(node.qG)) {
                const TensorView v = weightView(node, w.grad.data(), node.qG);
                QuantPlan& plan = node.planG;
                quant_observe(node.qG, QuantClass::G, v, {}, plan);
                quant_apply(node.qG, v, plan, {&m_rng, uint64_t(step), w.tensor}, w.grad.data(),
                            &plan.clamped);
            }
            w.solver->update(w.value.data(), w.grad.data(), int64_t(w.value.size()), rate * node.lrScale, {step});
            if (m_e.optimizer.latentClip > 0 && !isFloat(node.qW)) { // BinaryConnect: W stays in [-H, H]
                const float h = float(m_e.optimizer.latentClip);
                for (float& v : w.value) v = std::clamp(v, -h, h);
            }
            if (node.b) node.b->solver->update(node.b->value.data(), node.b->grad.data(),
                                               int64_t(node.b->value.size()), rate, {step});
            if (node.wp) { // TTQ: dL/dWp and dL/dWn from the family's backward, then their solvers
                for (size_t g = 0; g < node.wp->grad.size(); ++g) {
                    node.wp->grad[g] = float(scales.pos[g]);
                    node.wn->grad[g] = float(scales.neg[g]);
                }
                for (Param* p : {node.wp, node.wn})
                    p->solver->update(p->value.data(), p->grad.data(), int64_t(p->value.size()), rate, {step});
            }
            refreshForwardWeights(node);
        } else if (node.gamma) {
            for (Param* p : {node.gamma, node.beta})
                p->solver->update(p->value.data(), p->grad.data(), int64_t(p->value.size()), lr, {step});
        }
    }
}

void GraphEngine::trainStep(const uint8_t* images, const uint8_t* labels, int32_t n, int64_t step, double lr,
                            BatchResult& out) {
    forward(images, n, true, step);
    backward(labels, n, step, out);
    update(step, lr);
}

void GraphEngine::evaluate(const uint8_t* images, const uint8_t* labels, int32_t n, BatchResult& out) {
    forward(images, n, false, 0);
    score(labels, n, out, nullptr);
}

} // namespace bitbench::graph_exec
