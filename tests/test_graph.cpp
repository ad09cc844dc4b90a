// Op graphs: the layer-list expansion, shapes and parameter counts worked out by hand, every
// error message, and JSON round trips of every built-in.
#include "bitbench/error.h"
#include "bitbench/graph.h"
#include "bitbench/model.h"

#include <nlohmann/json.hpp>

#include <QTest>

#include <string>

using namespace bitbench;
using nlohmann::json;

namespace {

std::string shapeText(const TensorShape& s) {
    return std::to_string(s.h) + "x" + std::to_string(s.w) + "x" + std::to_string(s.c);
}

// "name kind HxWxC" per op, joined by "; ".
std::string describe(const Graph& g) {
    std::string s;
    for (const auto& op : g.ops)
        s += (s.empty() ? "" : "; ") + op.name + " " + op_kind_name(op.kind) + " " +
             shapeText(op.outShape);
    return s;
}

Graph builtin(const std::string& name) {
    return graph_from_json(model_builtin_json(name));
}

const OpDesc& op(const Graph& g, const std::string& name) {
    const int32_t i = g.find(name);
    if (i < 0) throw std::runtime_error("no op " + name);
    return g.ops[size_t(i)];
}

// The message graph_from_json throws for `text`, or "" when it accepts it.
std::string errorOf(const std::string& text) {
    try {
        graph_from_json(json::parse(text));
    } catch (const InputError& e) {
        return e.what();
    }
    return "";
}

// A model object in op form with the given input size and ops.
std::string opModel(const std::string& input, const std::string& ops) {
    return R"({"name": "m", "input": {"height": )" + input + R"(}, "ops": [)" + ops + "]}";
}

} // namespace

class TestGraph : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void expandsLayerLists_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("ops");
        QTest::addColumn<qint64>("weights");
        // LeNet-5: 28 -> conv5 VALID 24 -> pool 12 -> conv5 VALID 8 -> pool 4; 4*4*64 = 1024 inputs
        // to fc1. Weights 5*5*1*32 + 5*5*32*64 + 1024*512 + 512*10 (ALGORITHMS.md §1.3).
        QTest::newRow("lenet5")
            << "lenet5"
            << "input.quant quantize 28x28x1; conv1 conv 24x24x32; conv1.pool maxpool 12x12x32; "
               "conv1.relu relu 12x12x32; conv1.quant quantize 12x12x32; conv2 conv 8x8x64; "
               "conv2.pool maxpool 4x4x64; conv2.relu relu 4x4x64; conv2.quant quantize 4x4x64; "
               "fc1 fc 1x1x512; fc1.relu relu 1x1x512; fc1.quant quantize 1x1x512; "
               "fc2 fc 1x1x10; fc2.quant quantize 1x1x10"
            << qint64(800 + 51200 + 524288 + 5120);
        // VGG-7: SAME 3x3 convs, pools after conv2, conv4, conv6: 32 -> 16 -> 8 -> 4; 4*4*512 =
        // 8192.
        QTest::newRow("vgg7")
            << "vgg7"
            << "input.quant quantize 32x32x3; conv1 conv 32x32x128; conv1.relu relu 32x32x128; "
               "conv1.quant quantize 32x32x128; conv2 conv 32x32x128; conv2.pool maxpool "
               "16x16x128; "
               "conv2.relu relu 16x16x128; conv2.quant quantize 16x16x128; conv3 conv 16x16x256; "
               "conv3.relu relu 16x16x256; conv3.quant quantize 16x16x256; conv4 conv 16x16x256; "
               "conv4.pool maxpool 8x8x256; conv4.relu relu 8x8x256; conv4.quant quantize 8x8x256; "
               "conv5 conv 8x8x512; conv5.relu relu 8x8x512; conv5.quant quantize 8x8x512; "
               "conv6 conv 8x8x512; conv6.pool maxpool 4x4x512; conv6.relu relu 4x4x512; "
               "conv6.quant quantize 4x4x512; fc1 fc 1x1x1024; fc1.relu relu 1x1x1024; "
               "fc1.quant quantize 1x1x1024; fc2 fc 1x1x10"
            << qint64(3 * 9 * 128 + 128 * 9 * 128 + 128 * 9 * 256 + 256 * 9 * 256 + 256 * 9 * 512 +
                      512 * 9 * 512 + 8192 * 1024 + 1024 * 10);
        QTest::newRow("mlp")
            << "mlp"
            << "input.quant quantize 28x28x1; fc1 fc 1x1x256; fc1.relu relu 1x1x256; "
               "fc1.quant quantize 1x1x256; fc2 fc 1x1x10; fc2.quant quantize 1x1x10"
            << qint64(784 * 256 + 256 * 10);
    }
    void expandsLayerLists() {
        QFETCH(QString, name);
        QFETCH(QString, ops);
        QFETCH(qint64, weights);
        const ModelDesc m = model_from_json(model_builtin_json(name.toStdString()));
        const Graph g = graph_from_model(m);
        QCOMPARE(QString::fromStdString(describe(g)), ops);
        QCOMPARE(g.parameterCount(), weights);
        QCOMPARE(g.parameterCount(), m.parameterCount());
        QCOMPARE(g.classes(), 10);
        QCOMPARE(g.input, (TensorShape{m.inH, m.inW, m.inC}));
        QCOMPARE(g.transform, m.transform);
        // A chain: each op reads the one before it, the first the network input.
        QCOMPARE(g.ops[0].inputs, std::vector<std::string>{"input"});
        QCOMPARE(g.ops[0].in, std::vector<int32_t>{-1});
        for (size_t i = 1; i < g.ops.size(); ++i) {
            QCOMPARE(g.ops[i].inputs, std::vector<std::string>{g.ops[i - 1].name});
            QCOMPARE(g.ops[i].in, std::vector<int32_t>{int32_t(i - 1)});
            QCOMPARE(g.ops[i].inShape, g.ops[i - 1].outShape);
        }
        for (const auto& l : m.layers) {
            const OpDesc& p = op(g, l.name);
            QCOMPARE(p.weightCount(), l.weightCount());
            QCOMPARE(p.fanIn(), l.fanIn());
            QCOMPARE(p.same, l.same);
            QCOMPARE(p.stride, 1);
            QVERIFY(!p.bias);
        }
        // graph_from_json on the layer form is the same expansion.
        QVERIFY(graph_from_json(model_builtin_json(name.toStdString())) == g);
    }

    void lenet5BnByHand() {
        const Graph g = builtin("lenet5-bn");
        QCOMPARE(
            QString::fromStdString(describe(g)),
            QString(
                "input.quant quantize 28x28x1; conv1 conv 24x24x32; conv1.bn batchnorm 24x24x32; "
                "conv1.pool maxpool 12x12x32; conv1.relu relu 12x12x32; conv1.quant quantize "
                "12x12x32; "
                "conv2 conv 8x8x64; conv2.bn batchnorm 8x8x64; conv2.pool maxpool 4x4x64; "
                "conv2.relu relu 4x4x64; conv2.quant quantize 4x4x64; fc1 fc 1x1x512; "
                "fc1.bn batchnorm 1x1x512; fc1.relu relu 1x1x512; fc1.quant quantize 1x1x512; fc2 "
                "fc 1x1x10"));
        // LeNet-5's 581,408 weights, gamma and beta for 32 + 64 + 512 channels, fc2's 10 biases.
        QCOMPARE(g.parameterCount(), qint64(581408 + 2 * (32 + 64 + 512) + 10));
        QCOMPARE(op(g, "fc1").fanIn(), qint64(4 * 4 * 64));
        QCOMPARE(op(g, "conv1.bn").momentum, 0.1);
        QCOMPARE(op(g, "conv1.bn").eps, 1e-5);
        QVERIFY(op(g, "fc2").bias);
        QVERIFY(!op(g, "conv1").bias);
        QCOMPARE(g.classes(), 10);
    }

    void resnet8ByHand() {
        const Graph g = builtin("resnet8");
        QCOMPARE(
            QString::fromStdString(describe(g)),
            QString(
                "input.quant quantize 28x28x1; stem conv 28x28x16; stem.bn batchnorm 28x28x16; "
                "stem.relu relu 28x28x16; stem.quant quantize 28x28x16; "
                "s1.conv1 conv 28x28x16; s1.bn1 batchnorm 28x28x16; s1.relu1 relu 28x28x16; "
                "s1.quant1 quantize 28x28x16; s1.conv2 conv 28x28x16; s1.bn2 batchnorm 28x28x16; "
                "s1.add add 28x28x16; s1.relu relu 28x28x16; s1.quant quantize 28x28x16; "
                "s2.conv1 conv 14x14x32; s2.bn1 batchnorm 14x14x32; s2.relu1 relu 14x14x32; "
                "s2.quant1 quantize 14x14x32; s2.conv2 conv 14x14x32; s2.bn2 batchnorm 14x14x32; "
                "s2.short conv 14x14x32; s2.short.bn batchnorm 14x14x32; s2.add add 14x14x32; "
                "s2.relu relu 14x14x32; s2.quant quantize 14x14x32; "
                "s3.conv1 conv 7x7x64; s3.bn1 batchnorm 7x7x64; s3.relu1 relu 7x7x64; "
                "s3.quant1 quantize 7x7x64; s3.conv2 conv 7x7x64; s3.bn2 batchnorm 7x7x64; "
                "s3.short conv 7x7x64; s3.short.bn batchnorm 7x7x64; s3.add add 7x7x64; "
                "s3.relu relu 7x7x64; pool avgpool 1x1x64; pool.quant quantize 1x1x64; fc fc "
                "1x1x10"));
        const int64_t weights =
            9 * 1 * 16                            // stem
            + 9 * 16 * 16 + 9 * 16 * 16           // stage 1
            + 9 * 16 * 32 + 9 * 32 * 32 + 16 * 32 // stage 2 and its 1x1 shortcut
            + 9 * 32 * 64 + 9 * 64 * 64 + 32 * 64 // stage 3 and its 1x1 shortcut
            + 64 * 10;
        const int64_t bn = 2 * (16 + 16 + 16 + 32 + 32 + 32 + 64 + 64 + 64);
        QCOMPARE(weights, qint64(77072));
        QCOMPARE(g.parameterCount(), weights + bn + 10);
        // The shortcuts read the block's quantized input; the adds read two ops each.
        QCOMPARE(op(g, "s1.add").inputs, (std::vector<std::string>{"s1.bn2", "stem.quant"}));
        QCOMPARE(op(g, "s1.add").in,
                 (std::vector<int32_t>{g.find("s1.bn2"), g.find("stem.quant")}));
        QCOMPARE(op(g, "s2.short").inputs, std::vector<std::string>{"s1.quant"});
        QCOMPARE(op(g, "s2.short").inShape, (TensorShape{28, 28, 16}));
        QCOMPARE(op(g, "s3.short").inputs, std::vector<std::string>{"s2.quant"});
        QCOMPARE(op(g, "s2.conv1").inputs, std::vector<std::string>{"s1.quant"});
        QCOMPARE(op(g, "s3.conv1").stride, 2);
        QCOMPARE(op(g, "fc").fanIn(), qint64(64));
        // TensorFlow SAME at stride 2 on 28: 13*2 + 3 - 28 = 1 padding row, at the bottom.
        QCOMPARE(conv_pad_before(op(g, "s2.conv1"), 28), 0);
        QCOMPARE(conv_pad_before(op(g, "s1.conv1"), 28), 1);
    }

    void convAndPoolShapes_data() {
        QTest::addColumn<int>("h");
        QTest::addColumn<int>("w");
        QTest::addColumn<int>("kernel");
        QTest::addColumn<int>("stride");
        QTest::addColumn<QString>("padding");
        QTest::addColumn<int>("outH");
        QTest::addColumn<int>("outW");
        QTest::addColumn<int>("padTop");
        // SAME: ceil(in / s); pad = max((out-1)*s + k - in, 0), top floor(pad/2). VALID: (in-k)/s
        // + 1.
        QTest::newRow("7 SAME 3/2") << 7 << 7 << 3 << 2 << "same" << 4 << 4 << 1;   // pad 2
        QTest::newRow("7 VALID 3/2") << 7 << 7 << 3 << 2 << "valid" << 3 << 3 << 0; // (7-3)/2+1
        QTest::newRow("8 SAME 3/2")
            << 8 << 8 << 3 << 2 << "same" << 4 << 4 << 0; // pad 1, at the bottom
        QTest::newRow("8 VALID 3/2") << 8 << 8 << 3 << 2 << "valid" << 3 << 3 << 0; // (8-3)/2+1
        QTest::newRow("7 VALID 1/2") << 7 << 7 << 1 << 2 << "valid" << 4 << 4 << 0; // rows 0,2,4,6
        QTest::newRow("7 SAME 1/2") << 7 << 7 << 1 << 2 << "same" << 4 << 4 << 0;   // pad 0
        QTest::newRow("5 VALID 5/2") << 5 << 5 << 5 << 2 << "valid" << 1 << 1 << 0;
        QTest::newRow("5 SAME 5/2") << 5 << 5 << 5 << 2 << "same" << 3 << 3 << 2; // pad 2*2+5-5 = 4
        QTest::newRow("6 SAME 5/1") << 6 << 6 << 5 << 1 << "same" << 6 << 6 << 2; // pad 4
        QTest::newRow("7 SAME 4/1 even")
            << 7 << 7 << 4 << 1 << "same" << 7 << 7 << 1; // pad 3: 1 + 2
        QTest::newRow("1 SAME 1/2") << 1 << 1 << 1 << 2 << "same" << 1 << 1 << 0;
        QTest::newRow("7x9 SAME 3/2") << 7 << 9 << 3 << 2 << "same" << 4 << 5 << 1;
        QTest::newRow("9x7 VALID 3/1") << 9 << 7 << 3 << 1 << "valid" << 7 << 5 << 0;
    }
    void convAndPoolShapes() {
        QFETCH(int, h);
        QFETCH(int, w);
        QFETCH(int, kernel);
        QFETCH(int, stride);
        QFETCH(QString, padding);
        QFETCH(int, outH);
        QFETCH(int, outW);
        QFETCH(int, padTop);
        const Graph g = graph_from_json(json::parse(
            opModel(std::to_string(h) + R"(, "width": )" + std::to_string(w) + R"(, "channels": 3)",
                    R"({"name": "c", "op": "conv", "out": 5, "kernel": )" + std::to_string(kernel) +
                        R"(, "stride": )" + std::to_string(stride) + R"(, "padding": ")" +
                        padding.toStdString() + R"("}, {"name": "f", "op": "fc", "out": 2})")));
        QCOMPARE(g.ops[0].outShape, (TensorShape{outH, outW, 5}));
        QCOMPARE(g.ops[0].weightCount(), qint64(kernel * kernel * 3 * 5));
        QCOMPARE(g.ops[1].fanIn(), qint64(outH * outW * 5));
        QCOMPARE(conv_pad_before(g.ops[0], h), padTop);
    }

    void otherOpShapes() {
        const Graph g = graph_from_json(json::parse(opModel(R"(7, "width": 5, "channels": 3)", R"(
            {"name": "p", "op": "maxpool"},
            {"name": "bn", "op": "rangebn", "chunks": 4, "momentum": 0.25, "eps": 0.001},
            {"name": "f", "op": "flatten"},
            {"name": "c", "op": "conv", "out": 4, "kernel": 1, "bias": true},
            {"name": "a", "op": "add", "inputs": ["c", "c"]},
            {"name": "g", "op": "avgpool"},
            {"name": "r", "op": "relu"},
            {"name": "q", "op": "quantize"},
            {"name": "fc", "op": "fc", "out": 3, "bias": true})")));
        QCOMPARE(
            QString::fromStdString(describe(g)),
            QString(
                "p maxpool 3x2x3; bn rangebn 3x2x3; f flatten 1x1x18; c conv 1x1x4; a add 1x1x4; "
                "g avgpool 1x1x4; r relu 1x1x4; q quantize 1x1x4; fc fc 1x1x3"));
        QCOMPARE(op(g, "bn").chunks, 4);
        QCOMPARE(op(g, "bn").momentum, 0.25);
        QCOMPARE(op(g, "bn").eps, 0.001);
        // rangebn 2*3, conv 18*4 + 4, fc 4*3 + 3.
        QCOMPARE(g.parameterCount(), qint64(6 + 76 + 15));
        QCOMPARE(g.find("input"), -1);
        QCOMPARE(g.find("a"), 4);
        QCOMPARE(g.find("nope"), -1);
    }

    void defaults() {
        const Graph g = graph_from_json(json::parse(opModel(R"(4, "width": 4, "channels": 1)", R"(
            {"name": "c", "op": "conv", "out": 2, "kernel": 3},
            {"name": "bn", "op": "batchnorm"},
            {"name": "rbn", "op": "rangebn"},
            {"name": "fc", "op": "fc", "out": 2})")));
        const OpDesc& c = op(g, "c");
        QCOMPARE(c.inputs, std::vector<std::string>{"input"});
        QCOMPARE(c.stride, 1);
        QVERIFY(!c.same);
        QVERIFY(!c.bias);
        QCOMPARE(c.outShape, (TensorShape{2, 2, 2}));
        QCOMPARE(op(g, "bn").inputs, std::vector<std::string>{"c"});
        QCOMPARE(op(g, "bn").momentum, 0.1);
        QCOMPARE(op(g, "bn").eps, 1e-5);
        QCOMPARE(op(g, "rbn").momentum, 0.9); // Banner et al.'s running = 0.1 old + 0.9 new
        QCOMPARE(op(g, "rbn").chunks, 16);
        QCOMPARE(g.transform, InputTransform::Unit);
    }

    void opKindNames() {
        QCOMPARE(std::string(op_kind_name(OpKind::Conv)), std::string("conv"));
        QCOMPARE(std::string(op_kind_name(OpKind::Fc)), std::string("fc"));
        QCOMPARE(std::string(op_kind_name(OpKind::MaxPool)), std::string("maxpool"));
        QCOMPARE(std::string(op_kind_name(OpKind::AvgPool)), std::string("avgpool"));
        QCOMPARE(std::string(op_kind_name(OpKind::Relu)), std::string("relu"));
        QCOMPARE(std::string(op_kind_name(OpKind::BatchNorm)), std::string("batchnorm"));
        QCOMPARE(std::string(op_kind_name(OpKind::RangeBatchNorm)), std::string("rangebn"));
        QCOMPARE(std::string(op_kind_name(OpKind::Add)), std::string("add"));
        QCOMPARE(std::string(op_kind_name(OpKind::Flatten)), std::string("flatten"));
        QCOMPARE(std::string(op_kind_name(OpKind::Quantize)), std::string("quantize"));
    }

    void builtinNames() {
        QCOMPARE(model_builtin_names(), (std::vector<std::string>{"lenet5", "vgg7", "mlp"}));
        QCOMPARE(graph_builtin_names(), (std::vector<std::string>{"lenet5-bn", "resnet8", "lenet5-bnn"}));
        try {
            model_builtin_json("resnet9");
            QFAIL("resnet9 was accepted");
        } catch (const InputError& e) {
            QCOMPARE(std::string(e.what()),
                     std::string("unknown model 'resnet9'; built-in models are lenet5, vgg7, "
                                 "mlp, lenet5-bn, resnet8, lenet5-bnn (or give a model object with "
                                 "\"input\" and \"layers\")"));
        }
        // The layer-list reader (today's engines) refuses op graphs by name.
        for (const auto& name : graph_builtin_names()) {
            try {
                model_from_json(model_builtin_json(name));
                QFAIL("an op graph was read as a layer list");
            } catch (const InputError& e) {
                QVERIFY2(std::string(e.what()).starts_with("model '" + name +
                                                           "' is an op graph (\"ops\"); "),
                         e.what());
            }
        }
    }

    void roundTrips_data() {
        QTest::addColumn<QString>("text");
        for (const auto& n : model_builtin_names())
            QTest::newRow(n.c_str()) << QString::fromStdString(model_builtin_json(n).dump());
        for (const auto& n : graph_builtin_names())
            QTest::newRow(n.c_str()) << QString::fromStdString(model_builtin_json(n).dump());
        QTest::newRow("every kind") << QString::fromStdString(
            opModel(R"(9, "width": 8, "channels": 2, "transform": "symmetric")", R"(
            {"name": "c", "op": "conv", "out": 3, "kernel": 2, "stride": 2, "padding": "same", "bias": true},
            {"name": "bn", "op": "rangebn", "chunks": 3, "momentum": 0.3, "eps": 0.0001},
            {"name": "bn2", "op": "batchnorm", "momentum": 0.7, "eps": 1e-3},
            {"name": "a", "op": "add", "inputs": ["bn2", "c"]},
            {"name": "p", "op": "maxpool", "inputs": ["a"]},
            {"name": "f", "op": "flatten"}, {"name": "q", "op": "quantize"},
            {"name": "fc", "op": "fc", "out": 3}, {"name": "g", "op": "avgpool"}, {"name": "r", "op": "relu"})"));
    }
    void roundTrips() {
        QFETCH(QString, text);
        const Graph g = graph_from_json(json::parse(text.toStdString()));
        const json j = graph_to_json(g);
        QVERIFY(j.contains("ops") && !j.contains("layers"));
        const Graph back = graph_from_json(j);
        QVERIFY(back == g);
        QVERIFY(graph_to_json(back) == j);
        // Canonical: every key of a conv is written.
        for (const auto& o : j["ops"])
            if (o["op"] == "conv") QCOMPARE(o.size(), size_t(8));
    }

    void errors_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        const std::string in8 = R"(8, "width": 8, "channels": 1)";
        const std::string c =
            R"({"name": "c", "op": "conv", "out": 8, "kernel": 3, "padding": "same"})";
        const auto row = [](const char* name, const std::string& text, const std::string& message) {
            QTest::newRow(name) << QString::fromStdString(text) << QString::fromStdString(message);
        };
        row("bad key",
            opModel(in8,
                    c + R"(, {"name": "d", "op": "conv", "out": 8, "kernel": 3, "strides": 2})"),
            "model.ops[1]: unknown key \"strides\"");
        row("key of another kind", opModel(in8, c + R"(, {"name": "r", "op": "relu", "out": 3})"),
            "model.ops[1]: unknown key \"out\"");
        row("stride 3",
            opModel(in8,
                    c + R"(, {"name": "d", "op": "conv", "out": 8, "kernel": 3, "stride": 3})"),
            "model.ops[1].stride: expected 1 or 2, got 3");
        row("kernel 0", opModel(in8, R"({"name": "d", "op": "conv", "out": 8, "kernel": 0})"),
            "model.ops[0].kernel: expected an integer in 1..15, got 0");
        row("padding",
            opModel(in8,
                    R"({"name": "d", "op": "conv", "out": 8, "kernel": 1, "padding": "full"})"),
            "model.ops[0].padding: expected \"valid\" or \"same\", got \"full\"");
        row("unknown op", opModel(in8, c + R"(, {"name": "p", "op": "pool"})"),
            "model.ops[1].op: unknown op \"pool\"; expected one of conv, fc, maxpool, avgpool, "
            "relu, batchnorm, "
            "rangebn, add, flatten, quantize");
        row("unknown input",
            opModel(in8, c + R"(, {"name": "r", "op": "relu", "inputs": ["nope"]})"),
            "model.ops[1].inputs[0]: no op named 'nope' (an op reads \"input\" or an op before "
            "it)");
        row("input defined later",
            opModel(in8, c + R"(, {"name": "r", "op": "relu", "inputs": ["q"]},
                                                     {"name": "q", "op": "quantize", "inputs": ["c"]})"),
            "model.ops[1].inputs[0]: op 'q' is defined later (ops[2]); an op may only read ops "
            "before it");
        row("reads itself", opModel(in8, c + R"(, {"name": "r", "op": "relu", "inputs": ["r"]})"),
            "model.ops[1].inputs[0]: an op cannot read itself");
        row("input not a name", opModel(in8, c + R"(, {"name": "r", "op": "relu", "inputs": [3]})"),
            "model.ops[1].inputs[0]: expected an op name, got an integer");
        row("duplicate name",
            opModel(in8, c + R"(, {"name": "r", "op": "relu"}, {"name": "c", "op": "relu"})"),
            "model.ops[2].name: duplicate op name 'c' (also ops[0])");
        row("op named input", opModel(in8, R"({"name": "input", "op": "relu"})"),
            "model.ops[0].name: \"input\" names the network input; choose another name");
        row("add with one input",
            opModel(in8, c + R"(, {"name": "a", "op": "add", "inputs": ["c"]})"),
            "model.ops[1].inputs: add needs exactly 2 inputs, got 1");
        row("add without inputs", opModel(in8, c + R"(, {"name": "a", "op": "add"})"),
            "model.ops[1].inputs: missing required key (add needs exactly 2 inputs)");
        row("relu with two inputs",
            opModel(in8, c + R"(, {"name": "r", "op": "relu", "inputs": ["c", "input"]})"),
            "model.ops[1].inputs: relu needs exactly 1 input, got 2");
        row("add shape mismatch", opModel(in8, c + R"(, {"name": "p", "op": "maxpool"},
                                                    {"name": "a", "op": "add", "inputs": ["c", "p"]})"),
            "model 'm': op 'a' input 'p': shape 4x4x8 differs from 'c' 8x8x8");
        row("add channel mismatch",
            opModel(in8, c + R"(, {"name": "a", "op": "add", "inputs": ["c", "input"]})"),
            "model 'm': op 'a' input 'input': shape 8x8x1 differs from 'c' 8x8x8");
        row("kernel too large",
            opModel(R"(6, "width": 6, "channels": 64)", R"({"name": "pool2", "op": "maxpool"},
                                           {"name": "conv3", "op": "conv", "out": 8, "kernel": 5})"),
            "model 'm': op 'conv3' input 'pool2': 3x3x64 is smaller than its 5x5 kernel");
        row("SAME kernel too large",
            opModel(R"(2, "width": 9, "channels": 1)",
                    R"({"name": "c", "op": "conv", "out": 8, "kernel": 3, "padding": "same"})"),
            "model 'm': op 'c' input 'input': 2x9x1 is smaller than its 3x3 kernel");
        row("conv 3x3 after fc",
            opModel(
                in8,
                R"({"name": "f", "op": "fc", "out": 10}, {"name": "c", "op": "conv", "out": 2, "kernel": 3, "padding": "same"})"),
            "model 'm': op 'c' input 'f': 1x1x10 is smaller than its 3x3 kernel");
        row("pool after fc",
            opModel(in8, R"({"name": "f", "op": "fc", "out": 10}, {"name": "p", "op": "maxpool"})"),
            "model 'm': op 'p' input 'f': 1x1x10 is smaller than the 2x2 pooling window");
        row("unread op",
            opModel(
                in8,
                c + R"(, {"name": "r", "op": "relu"}, {"name": "q", "op": "quantize", "inputs": ["c"]})"),
            "model 'm': op 'r': no op reads its output; only the last op ('q', the logits) may be "
            "unread");
        row("momentum", opModel(in8, R"({"name": "b", "op": "batchnorm", "momentum": 1.5})"),
            "model.ops[0].momentum: expected a number in 0..1");
        row("eps", opModel(in8, R"({"name": "b", "op": "rangebn", "eps": 0})"),
            "model.ops[0].eps: expected a number above 0");
        row("chunks", opModel(in8, R"({"name": "b", "op": "rangebn", "chunks": 0})"),
            "model.ops[0].chunks: expected an integer in 1..65536, got 0");
        row("no ops", opModel(in8, ""), "model.ops: at least one op is needed");
        row("both forms",
            R"({"name": "m", "input": {"height": 1, "width": 1, "channels": 1}, "ops": [], "layers": []})",
            "model: give \"layers\" (a layer list) or \"ops\" (an op graph), not both");
        row("neither form", R"({"name": "m", "input": {"height": 1, "width": 1, "channels": 1}})",
            "model: expected \"layers\" (a layer list) or \"ops\" (an op graph)");
        row("output over int32",
            opModel(R"(4096, "width": 4096, "channels": 1)",
                    R"({"name": "c", "op": "conv", "out": 65536, "kernel": 1})"),
            "model 'm': op 'c': output 4096x4096x65536 has 1099511627776 values per sample, more "
            "than 2^31-1");
        row("input over int32",
            opModel(R"(4096, "width": 4096, "channels": 4096)",
                    R"({"name": "f", "op": "fc", "out": 1})"),
            "model 'm': input 4096x4096x4096 has 68719476736 values per sample, more than 2^31-1");
        // The layer form: model.h's reader, then the expansion's name checks.
        const std::string layerIn =
            R"({"name": "m", "input": {"height": 8, "width": 8, "channels": 1}, "layers": [)";
        row("layer type", layerIn + R"({"name": "a", "type": "pool", "out": 2}]})",
            "model.layers[0].type: expected \"conv\" or \"fc\", got \"pool\"");
        row("layer named input", layerIn + R"({"name": "input", "type": "fc", "out": 2}]})",
            "model 'm': op 'input': \"input\" names the network input and cannot name an op");
        row("expanded names collide",
            layerIn +
                R"({"name": "a", "type": "conv", "out": 2, "kernel": 3, "pool": true, "relu": true},
                                                   {"name": "a.pool", "type": "fc", "out": 2}]})",
            "model 'm': op 'a.pool': the name is taken by ops[2]");
    }
    void errors() {
        QFETCH(QString, text);
        QFETCH(QString, message);
        QCOMPARE(QString::fromStdString(errorOf(text.toStdString())), message);
    }

    void codeBuiltGraphsAreChecked() {
        Graph g;
        g.name = "m";
        g.input = {8, 8, 1};
        const auto expectError = [&](const std::string& message) {
            try {
                graph_infer_shapes(g);
                QFAIL("accepted");
            } catch (const InputError& e) {
                QCOMPARE(std::string(e.what()), message);
            }
        };
        expectError("model 'm': the graph has no ops");
        OpDesc c;
        c.name = "c";
        c.kind = OpKind::Conv;
        c.inputs = {"input"};
        c.out = 4;
        c.kernel = 3;
        c.stride = 3;
        g.ops = {c};
        expectError("model 'm': op 'c': stride must be 1 or 2, got 3");
        g.ops[0].stride = 2;
        graph_infer_shapes(g);
        QCOMPARE(g.ops[0].outShape, (TensorShape{3, 3, 4}));
        QCOMPARE(g.ops[0].in, std::vector<int32_t>{-1});
        OpDesc r;
        r.name = "r";
        r.kind = OpKind::Relu;
        r.inputs = {"zz"};
        g.ops.push_back(r);
        expectError("model 'm': op 'r' input 'zz': no op of that name");
        g.ops[1].inputs = {"r"};
        expectError(
            "model 'm': op 'r' input 'r': defined after it; an op may only read ops before it");
        g.ops[1].inputs = {"c", "c"};
        expectError("model 'm': op 'r': relu needs exactly 1 input, got 2");
        g.ops[1].inputs = {"c"};
        g.ops[1].name = "c";
        expectError("model 'm': op 'c': the name is taken by ops[0]");
        g.ops[1].name = "r";
        graph_infer_shapes(g);
        QCOMPARE(g.ops[1].in, std::vector<int32_t>{0});
        QCOMPARE(g.parameterCount(), qint64(9 * 4));
    }
};

QTEST_GUILESS_MAIN(TestGraph)
#include "test_graph.moc"
