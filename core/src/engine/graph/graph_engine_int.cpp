// The graph executor's conv and fc: which products run on integer codes (decided once, from the
// quantizers and the ops around the product), and the dispatch of each product to the integer
// path (graph_int.h) or the float kernels. core/doc/executors.md, "Integer products".
#include "engine/graph/graph_engine.h"

#include "bitbench/error.h"
#include "engine/graph/graph_kernels.h"
#include "graph/graph_walk.h"

namespace bitbench::graph_exec {

namespace {

bool codePreserving(OpKind k) { return k == OpKind::MaxPool || k == OpKind::Relu || k == OpKind::Flatten; }

std::string granularityName(Granularity g) {
    return g == Granularity::Channel ? "per channel" : g == Granularity::Sample ? "per sample" : "per tensor";
}

} // namespace

void GraphEngine::planProducts(Node& n) {
    const OpDesc& op = *n.op;
    IntProducts& p = n.ip;
    const Graph& g = m_graph;

    // The input: a quantize op's output, through max-pool, relu and flatten (which keep codes).
    std::string whyX;
    const int32_t i = graph_code_source(g, op.in[0]);
    if (i < 0) {
        whyX = "its input is the network input, not integer codes";
    } else if (g.ops[size_t(i)].kind != OpKind::Quantize) {
        whyX = "its input comes from " + std::string(op_kind_name(g.ops[size_t(i)].kind)) + " '" +
               g.ops[size_t(i)].name + "', not from a quantizer";
    } else {
        const Quantizer& q = m_nodes[size_t(i)].qA;
        p.boundX = code_bound(q, QuantClass::A);
        if (!p.boundX) whyX = "its input's quantizer " + q.text() + " has no integer codes with one scale";
        else if (q.granularity == Granularity::Channel) whyX = "A per channel: the scales do not factor out of the sum";
        else p.xSource = i, p.xPerSample = q.granularity == Granularity::Sample;
    }

    std::string whyW;
    p.boundW = code_bound(n.qW, QuantClass::W);
    if (!p.boundW) whyW = "W quantizer " + n.qW.text() + " has no integer codes with one scale";
    else if (n.qW.granularity == Granularity::Sample) whyW = "W per sample has no meaning";
    p.wPerChannel = n.qW.granularity == Granularity::Channel;

    // The output gradient: quantized by the E quantizer of the quantize op ending this block (or
    // of this op when it is the last), then passed back through relu, max-pool and flatten.
    std::string whyE;
    const Quantizer* qe = nullptr;
    const Quantizer* qeg = nullptr; // E_grad: the weight gradient's copy (E unless set apart)
    int32_t j = n.index;
    while (true) {
        const Node& at = m_nodes[size_t(j)];
        if (at.op->kind == OpKind::Quantize) {
            qe = &at.qErr;
            qeg = &at.qErrGrad;
            break;
        }
        if (at.last) {
            if (j == n.index) qe = &n.qE, qeg = &n.qErrGrad;
            else whyE = "the output gradient is not quantized before it reaches this op";
            break;
        }
        int32_t next = -1;
        if (at.consumers == 1)
            for (size_t k = size_t(j) + 1; k < m_nodes.size() && next < 0; ++k)
                for (int32_t in : m_nodes[k].op->in)
                    if (in == j) next = int32_t(k);
        if (next < 0 || (!codePreserving(m_nodes[size_t(next)].op->kind) &&
                         m_nodes[size_t(next)].op->kind != OpKind::Quantize)) {
            whyE = next < 0 ? "its output feeds several ops"
                            : "its output gradient passes " + std::string(op_kind_name(m_nodes[size_t(next)].op->kind)) +
                                  " '" + m_nodes[size_t(next)].op->name + "' after it is quantized";
            break;
        }
        j = next;
    }
    std::string whyEG = whyE;
    if (qe) {
        p.eSource = j;
        p.boundE = code_bound(*qe, QuantClass::E);
        if (!p.boundE) whyE = "E quantizer " + qe->text() + " has no integer codes with one scale";
        else if (qe->granularity == Granularity::Channel) whyE = "E per channel: the scales do not factor out";
        else p.ePerSample = qe->granularity == Granularity::Sample;
        p.boundEG = code_bound(*qeg, QuantClass::EGrad);
        if (!p.boundEG) whyEG = "E_grad quantizer " + qeg->text() + " has no integer codes with one scale";
        else if (qeg->granularity == Granularity::Channel) whyEG = "E_grad per channel: the scales do not factor out";
        else p.egPerSample = qeg->granularity == Granularity::Sample;
    }

    auto width = [](int32_t a, int32_t b) {
        return std::max(a, b) <= 127 ? std::string("int8") : std::string("int16");
    };
    p.forward = whyX.empty() && whyW.empty();
    p.why[0] = p.forward ? width(p.boundX, p.boundW) + " codes, exact sums" : !whyX.empty() ? whyX : whyW;
    const bool wantDx = op.in[0] >= 0;
    p.inputGrad = wantDx && whyE.empty() && whyW.empty() && !p.wPerChannel;
    p.why[1] = !wantDx             ? "no input gradient (the input is the network's)"
               : p.inputGrad       ? width(p.boundE, p.boundW) + " codes, exact sums"
               : !whyE.empty()     ? whyE
               : !whyW.empty()     ? whyW
                                   : "W " + granularityName(n.qW.granularity) + ": the scales do not factor out of dE W";
    p.weightGrad = whyX.empty() && whyEG.empty() && !p.xPerSample && !p.egPerSample;
    p.why[2] = p.weightGrad      ? width(p.boundEG, p.boundX) + " codes, exact sums"
               : !whyEG.empty()  ? whyEG
               : !whyX.empty()   ? whyX
                                 : "A or E_grad per sample: the scales do not factor out of the sum over the batch";
    if (!m_integerProducts) {
        p.forward = p.inputGrad = p.weightGrad = false;
        p.why[0] = p.why[1] = p.why[2] = "integer products turned off";
    }
    p.x.bound = p.boundX;
    p.w.bound = p.boundW;
    p.e.bound = p.boundE;
    p.eg.bound = p.boundEG;
}

void GraphEngine::planFixedBn(Node& n) {
    const OpDesc& op = *n.op;
    const int32_t i = graph_code_source(m_graph, op.in[0]);
    std::string why;
    if (i < 0) {
        why = "its input is the network input";
    } else if (!m_graph.ops[size_t(i)].quantizesForward()) {
        why = "its input comes from " + std::string(op_kind_name(m_graph.ops[size_t(i)].kind)) + " '" +
              m_graph.ops[size_t(i)].name + "', not from a forward quantizer";
    } else {
        const Quantizer& q = m_nodes[size_t(i)].qA;
        if (!code_bound(q, QuantClass::A)) why = "its input's quantizer " + q.text() + " has no integer codes with one scale";
        else if (q.granularity != Granularity::Tensor) why = "its input's quantizer is not per tensor";
    }
    if (!why.empty())
        throw InputError("op '" + op.name + "': rangebn with fixed_point needs integer codes at its input, but " + why +
                         " (use \"quantize_points\": \"banner\" with an affine A with \"zero_point\": \"integer\")");
    n.codeSource = i;
}

IntOperands GraphEngine::operandsOf(const Node& node, int32_t batch) const {
    IntOperands o;
    o.geom = node.op->kind == OpKind::Conv ? &node.geom : nullptr;
    o.n = batch;
    o.K = node.op->fanIn();
    o.out = node.op->out;
    o.reference = m_reference;
    return o;
}

void GraphEngine::productForward(Node& node, int32_t batch, const float* x) {
    const OpDesc& op = *node.op;
    IntProducts& p = node.ip;
    const float* bias = node.b ? node.b->value.data() : nullptr;
    float* y = node.y.data();
    if (p.forward || p.weightGrad) {
        codes_from_values(x, batch, op.inShape.size(), m_nodes[size_t(p.xSource)].planA, p.xPerSample ? 1 : 0, 1.0,
                          p.x);
        p.colsReady = false;
    }
    if (p.forward) {
        int_forward(operandsOf(node, batch), p, bias, y);
        // A float weight gradient reads the float columns.
        if (!p.weightGrad && op.kind == OpKind::Conv && !m_reference) im2col(node.geom, batch, x, node.col.data());
        return;
    }
    if (op.kind == OpKind::Conv) {
        if (m_reference) ref::conv_forward(node.geom, batch, x, node.wq.data(), bias, y);
        else conv_forward_fast(node.geom, batch, x, node.wq.data(), bias, node.col.data(), y);
    } else {
        if (m_reference) ref::fc_forward(batch, op.fanIn(), op.out, x, node.wq.data(), bias, y);
        else fc_forward_fast(batch, op.fanIn(), op.out, x, node.wq.data(), bias, y);
    }
}

void GraphEngine::productBackward(Node& node, int32_t batch, const float* x, float* dx) {
    const OpDesc& op = *node.op;
    IntProducts& p = node.ip;
    const int64_t rows = int64_t(batch) * op.outShape.h * op.outShape.w;
    const float* dy = node.dy.data();
    float* dbias = node.b ? node.b->grad.data() : nullptr;
    // The weight gradient (and the bias's) reads the E_grad copy when it is set apart.
    const float* dyW = node.gradCopy ? node.dyGrad.data() : dy;
    const bool intDx = p.inputGrad && dx, intDw = p.weightGrad;
    const bool floatDx = dx && !intDx, floatDw = !intDw;
    if (intDx || intDw) {
        const int64_t rowsPerSample = int64_t(op.outShape.h) * op.outShape.w;
        const Node& es = m_nodes[size_t(p.eSource)];
        if (intDx || !node.gradCopy)
            codes_from_values(dy, rows, op.out, es.planE, p.ePerSample ? rowsPerSample : 0, 1.0, p.e);
        if (intDw && node.gradCopy)
            codes_from_values(dyW, rows, op.out, es.planEGrad, p.egPerSample ? rowsPerSample : 0, 1.0, p.eg);
        const IntOperands o = operandsOf(node, batch);
        if (intDw) int_weight_grad(o, p, node.gradCopy ? p.eg : p.e, node.w->grad.data());
        if (intDx) int_input_grad(o, p, dx);
        if (!floatDx && !floatDw) {
            bias_gradient(rows, op.out, dyW, dbias);
            return;
        }
    }
    // The float products not done above. The kernels compute dw (and dbias) with dx; a weight
    // gradient the integer path made, or one from another copy of dy, goes to scratch.
    auto floatBackward = [&](const float* d, float* dxTo, float* dwTo, float* dbTo) {
        if (op.kind == OpKind::Conv) {
            if (m_reference) ref::conv_backward(node.geom, batch, x, node.wq.data(), d, dxTo, dwTo, dbTo);
            else conv_backward_fast(node.geom, batch, node.col.data(), node.wq.data(), d, node.dcol.data(), dxTo, dwTo,
                                    dbTo);
        } else {
            if (m_reference) ref::fc_backward(batch, op.fanIn(), op.out, x, node.wq.data(), d, dxTo, dwTo, dbTo);
            else fc_backward_fast(batch, op.fanIn(), op.out, x, node.wq.data(), d, dxTo, dwTo, dbTo);
        }
    };
    if (m_dwScratch.size() < node.w->grad.size()) m_dwScratch.resize(node.w->grad.size());
    float* scratch = m_dwScratch.data();
    if (floatDw && (!floatDx || dyW == dy)) {
        floatBackward(dyW, floatDx ? dx : nullptr, node.w->grad.data(), dbias);
        return;
    }
    if (floatDw) floatBackward(dyW, nullptr, node.w->grad.data(), dbias);
    else bias_gradient(rows, op.out, dyW, dbias);
    if (floatDx) floatBackward(dy, dx, scratch, nullptr);
}

} // namespace bitbench::graph_exec
