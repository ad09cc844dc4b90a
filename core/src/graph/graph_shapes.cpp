// Shape inference and the structural checks of an op graph (names, inputs, attributes, sizes).
#include "bitbench/graph.h"

#include "bitbench/error.h"
#include "graph/graph_impl.h"

#include <cmath>
#include <cstdint>
#include <map>

namespace bitbench {

namespace {

class ShapeChecker {
public:
    explicit ShapeChecker(Graph& g) : m_g(g) {}

    void run() {
        if (m_g.ops.empty()) fail("the graph has no ops");
        const TensorShape& in = m_g.input;
        if (in.h < 1 || in.w < 1 || in.c < 1)
            fail("input " + shape_text(in) + ": every size must be at least 1");
        if (in.size() > INT32_MAX)
            fail("input " + shape_text(in) + " has " + std::to_string(in.size()) +
                 " values per sample, more than 2^31-1");
        std::map<std::string, int32_t> index;
        std::vector<bool> read(m_g.ops.size(), false);
        for (size_t i = 0; i < m_g.ops.size(); ++i) {
            OpDesc& op = m_g.ops[i];
            if (op.name.empty()) fail("ops[" + std::to_string(i) + "] has no name");
            if (op.name == kGraphInputName)
                failOp(op, "\"input\" names the network input and cannot name an op");
            if (index.count(op.name))
                failOp(op, "the name is taken by ops[" + std::to_string(index[op.name]) + "]");
            const size_t needed = op.kind == OpKind::Add ? 2 : 1;
            if (op.inputs.size() != needed)
                failOp(op, std::string(op_kind_name(op.kind)) + " needs exactly " +
                               std::to_string(needed) + " input" + (needed == 1 ? "" : "s") +
                               ", got " + std::to_string(op.inputs.size()));
            op.in.clear();
            std::vector<TensorShape> shapes;
            for (const auto& name : op.inputs) {
                if (name == kGraphInputName) {
                    op.in.push_back(-1);
                    shapes.push_back(m_g.input);
                    continue;
                }
                const auto it = index.find(name);
                if (it == index.end())
                    failInput(op, name,
                              m_g.find(name) >= 0
                                  ? "defined after it; an op may only read ops before it"
                                  : "no op of that name");
                op.in.push_back(it->second);
                shapes.push_back(m_g.ops[size_t(it->second)].outShape);
                read[size_t(it->second)] = true;
            }
            op.inShape = shapes[0];
            op.outShape = outShape(op, shapes);
            if (op.outShape.size() > INT32_MAX)
                failOp(op, "output " + shape_text(op.outShape) + " has " +
                               std::to_string(op.outShape.size()) +
                               " values per sample, more than 2^31-1");
            index.emplace(op.name, int32_t(i));
        }
        for (size_t i = 0; i + 1 < m_g.ops.size(); ++i)
            if (!read[i])
                failOp(m_g.ops[i], "no op reads its output; only the last op ('" +
                                       m_g.ops.back().name + "', the logits) may be unread");
    }

private:
    [[noreturn]] void fail(const std::string& why) const {
        throw InputError("model '" + m_g.name + "': " + why);
    }
    [[noreturn]] void failOp(const OpDesc& op, const std::string& why) const {
        fail("op '" + op.name + "': " + why);
    }
    [[noreturn]] void failInput(const OpDesc& op, const std::string& input,
                                const std::string& why) const {
        fail("op '" + op.name + "' input '" + input + "': " + why);
    }

    TensorShape outShape(const OpDesc& op, const std::vector<TensorShape>& in) const {
        const TensorShape& s = in[0];
        switch (op.kind) {
        case OpKind::Conv: {
            if (op.out < 1) failOp(op, "out must be at least 1, got " + std::to_string(op.out));
            if (op.kernel < 1)
                failOp(op, "kernel must be at least 1, got " + std::to_string(op.kernel));
            if (op.stride != 1 && op.stride != 2)
                failOp(op, "stride must be 1 or 2, got " + std::to_string(op.stride));
            if (op.kernel > s.h || op.kernel > s.w)
                failInput(op, op.inputs[0],
                          shape_text(s) + " is smaller than its " + std::to_string(op.kernel) +
                              "x" + std::to_string(op.kernel) + " kernel");
            const auto size = [&](int32_t n) {
                return op.same ? (n + op.stride - 1) / op.stride : (n - op.kernel) / op.stride + 1;
            };
            return {size(s.h), size(s.w), op.out};
        }
        case OpKind::Fc:
            if (op.out < 1) failOp(op, "out must be at least 1, got " + std::to_string(op.out));
            return {1, 1, op.out};
        case OpKind::MaxPool:
            if (s.h < 2 || s.w < 2)
                failInput(op, op.inputs[0],
                          shape_text(s) + " is smaller than the 2x2 pooling window");
            return {s.h / 2, s.w / 2, s.c};
        case OpKind::AvgPool:
            return {1, 1, s.c};
        case OpKind::Flatten:
            return {1, 1, int32_t(s.size())};
        case OpKind::Add:
            if (in[1] != s)
                failInput(op, op.inputs[1],
                          "shape " + shape_text(in[1]) + " differs from '" + op.inputs[0] + "' " +
                              shape_text(s));
            return s;
        case OpKind::RangeBatchNorm:
            if (op.chunks < 1)
                failOp(op, "chunks must be at least 1, got " + std::to_string(op.chunks));
            [[fallthrough]];
        case OpKind::BatchNorm:
            if (!(op.momentum >= 0 && op.momentum <= 1)) failOp(op, "momentum must be in 0..1");
            if (!(op.eps > 0) || !std::isfinite(op.eps))
                failOp(op, "eps must be a finite number above 0");
            return s;
        case OpKind::Relu:
        case OpKind::Quantize:
            return s;
        }
        failOp(op, "unknown op kind");
    }

    Graph& m_g;
};

} // namespace

void graph_infer_shapes(Graph& g) {
    ShapeChecker(g).run();
}

} // namespace bitbench
