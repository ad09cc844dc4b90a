// widgets_gallery: every bitbench widget filled with realistic WAGE data, for looking at them.
#include "bitbench_widgets/bitwidth_editor.h"
#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/histogram_view.h"
#include "bitbench_widgets/plot_export.h"
#include "bitbench_widgets/qcp.h"
#include "bitbench_widgets/tensor_overview.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QGridLayout>
#include <QGroupBox>
#include <QSplitter>
#include <QTimer>
#include <QVBoxLayout>

#include <cmath>
#include <cstdio>
#include <random>

using namespace bitbench::widgets;

namespace {

const QStringList kLayers = {QStringLiteral("conv1"), QStringLiteral("conv2"),
                             QStringLiteral("fc1"), QStringLiteral("fc2")};

// How one tensor's values are distributed and quantized, in the spirit of a WAGE LeNet-5 run.
struct TensorModel {
    enum Shape { Normal, Relu, Spiky } shape;
    double mean, spread; // of the underlying normal (Spiky: most values tiny, a few large)
    double step, clipLo, clipHi;
};

struct Quantized {
    HistogramData values, error;
    QuantStats stats;
};

HistogramData histogram(const std::vector<double>& v, double lo, double hi, int bins) {
    HistogramData h{lo, hi, QVector<double>(bins, 0.0)};
    const double w = (hi - lo) / bins;
    for (double x : v) {
        const int i = std::clamp(int((x - lo) / w), 0, bins - 1);
        h.counts[i] += 1.0;
    }
    return h;
}

// Samples the tensor, applies Q(C(x)) with round-half-even and measures what the core reports.
Quantized simulate(const TensorModel& m, unsigned seed, int n = 200000) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(m.mean, m.spread);
    std::vector<double> x(n), err(n);
    for (double& v : x) {
        v = normal(rng);
        if (m.shape == TensorModel::Relu)
            v = std::max(0.0, v);
        else if (m.shape == TensorModel::Spiky)
            v = v * v * v * 40.0; // heavy tails: most updates far below one step
    }
    double sat = 0, under = 0, nonzero = 0, sig = 0, noise = 0, maxAbs = 0, lo = 1e300, hi = -1e300;
    for (int i = 0; i < n; ++i) {
        const double c = std::clamp(x[i], m.clipLo, m.clipHi);
        const double q = std::nearbyint(c / m.step) * m.step;
        err[i] = q - x[i];
        sat += (x[i] < m.clipLo || x[i] > m.clipHi);
        if (x[i] != 0.0) {
            ++nonzero;
            under += (q == 0.0);
        }
        sig += x[i] * x[i];
        noise += err[i] * err[i];
        maxAbs = std::max(maxAbs, std::abs(x[i]));
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    Quantized out;
    out.values = histogram(x, lo, hi, 120);
    double eLo = 1e300, eHi = -1e300;
    for (double e : err) {
        eLo = std::min(eLo, e);
        eHi = std::max(eHi, e);
    }
    out.error = histogram(err, eLo, eHi, 80);
    out.stats.saturation = sat / n;
    out.stats.underflow = nonzero > 0 ? under / nonzero : 0.0;
    out.stats.sqnrDb = noise > 0 ? 10.0 * std::log10(sig / noise) : NAN;
    out.stats.maxAbs = maxAbs;
    return out;
}

// WAGE quantizers for class c of layer l with the LeNet-5 alphas 2, 16, 16, 8 (forward weights
// shown divided by alpha: ternary levels -0.5/alpha, 0, 0.5/alpha).
TensorModel modelFor(int layer, int cls) {
    const double alpha[] = {2, 16, 16, 8};
    const double s8 = 1.0 / 128;
    switch (cls) {
    case 0: {
        const double a = alpha[layer];
        return {TensorModel::Normal, 0.0, 0.17 / a + 0.04 / a * layer, 0.5 / a, -0.5 / a, 0.5 / a};
    }
    case 1:
        return {TensorModel::Relu, 0.15 - 0.05 * layer, 0.3 + 0.04 * layer, s8, 0.0, 1 - s8};
    case 2:
        return {TensorModel::Spiky, 0.0, 0.035 + 0.01 * layer, s8, -1 + s8, 1 - s8};
    default:
        return {TensorModel::Normal, 0.0, 0.22 + 0.17 * layer, s8, -1 + s8, 1 - s8};
    }
}

QString cellTitle(int layer, int cls) {
    static const char* names[] = {"weights / alpha (2 bits)", "activations (8 bits)",
                                  "updates (8 bits)", "errors (8 bits)"};
    return QStringLiteral("%1 %2: %3").arg(kLayers[layer], tensor_class_name(cls),
                                            QLatin1String(names[cls]));
}

void showTensor(HistogramView* view, int layer, int cls) {
    const TensorModel m = modelFor(layer, cls);
    const Quantized q = simulate(m, 1000u + 10u * layer + cls);
    view->setTitle(cellTitle(layer, cls));
    view->setValues(q.values, {m.step, m.clipLo, m.clipHi, 0.0});
    view->setError(q.error);
    view->setStats(q.stats);
    // The statistics over a run: saturation falls as the scale settles, SQNR rises.
    view->clearStatsHistory();
    QVector<double> steps;
    QVector<QuantStats> history;
    for (int i = 0; i <= 200; ++i) {
        const double t = i / 200.0;
        QuantStats s = q.stats;
        s.saturation = q.stats.saturation * (1.0 + 2.5 * std::exp(-6 * t)) +
                       0.002 * std::sin(i * 0.9);
        s.underflow = std::clamp(q.stats.underflow * (0.9 + 0.1 * t + 0.03 * std::cos(i * 0.7)),
                                 0.0, 1.0);
        s.sqnrDb = q.stats.sqnrDb - 6.0 * std::exp(-5 * t) + 0.3 * std::sin(i * 0.5);
        steps.push_back(i * 500.0);
        history.push_back(s);
    }
    view->appendStats(steps, history);
}

// A decaying loss with per-step noise, streamed in batches as the trainer would.
void fillCurves(CurvePlot* loss, CurvePlot* error) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(0.0, 1.0);
    const int lossId = loss->addSeries(QStringLiteral("train loss (SSE)"));
    const int trainId = error->addSeries(QStringLiteral("train error"));
    const int testId = error->addSeries(QStringLiteral("test error"));
    constexpr int kSteps = 100000, kBatch = 2000, kStepsPerEpoch = 468;
    for (int start = 0; start < kSteps; start += kBatch) {
        QVector<double> x, l, e;
        for (int s = start; s < start + kBatch; ++s) {
            const double t = s / double(kSteps);
            const double base = 0.9 + 60.0 * std::exp(-s / 900.0) + 6.0 * std::exp(-t * 4.0);
            x.push_back(s);
            l.push_back(base * std::exp(0.35 * noise(rng)));
            // Error of one batch of 128: a whole number of mistakes, often none late in training.
            const double errRate = 0.004 + 0.5 * std::exp(-s / 700.0) + 0.02 * std::exp(-t * 5.0);
            std::binomial_distribution<int> mistakes(128, std::min(errRate, 1.0));
            e.push_back(100.0 * mistakes(rng) / 128.0);
        }
        loss->appendPoints(lossId, x, l);
        error->appendPoints(trainId, x, e);
    }
    QVector<double> ex, ey;
    for (int epoch = 1; epoch * kStepsPerEpoch < kSteps; ++epoch) {
        ex.push_back(epoch * kStepsPerEpoch);
        // The authors' log: 2.65 % after epoch 1, 1.62 % after 2, 0.76 % after 5, then ~0.5 %.
        ey.push_back(0.45 + 2.2 * std::exp(-(epoch - 1) / 1.6) + 0.05 * noise(rng));
    }
    error->appendPoints(testId, ex, ey);
    error->setSeriesSmoothed(testId, false);
    loss->setYLabel(QStringLiteral("loss"));
    error->setYLabel(QStringLiteral("error (%)"));
    loss->setSmoothing(0.95);
    loss->setLogScale(true);
    error->setSmoothing(0.98);
    error->setLogScale(true);
    loss->flush();
    error->flush();
}

void fillOverview(TensorOverview* overview) {
    overview->setLayers(kLayers);
    for (int l = 0; l < kLayers.size(); ++l)
        for (int c = 0; c < kClassCount; ++c) {
            const Quantized q = simulate(modelFor(l, c), 1000u + 10u * l + c, 40000);
            overview->setCell(l, c, {q.values.lo, q.values.hi, q.values.counts, q.stats.saturation,
                                     q.stats.underflow});
        }
}

QGroupBox* boxed(const QString& title, QWidget* inner) {
    auto* box = new QGroupBox(title);
    auto* layout = new QVBoxLayout(box);
    layout->setContentsMargins(6, 6, 6, 6);
    layout->addWidget(inner);
    return box;
}

} // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("widgets_gallery"));
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Shows every bitbench widget with synthetic WAGE data."));
    parser.addHelpOption();
    const QCommandLineOption shot(QStringLiteral("screenshot"),
                                  QStringLiteral("Save the window to <png> and quit."),
                                  QStringLiteral("png"));
    const QCommandLineOption exportDir(
        QStringLiteral("export-dir"),
        QStringLiteral("Write the plots with plot_export (PNG 300 dpi, SVG, PDF) to <dir> and quit."),
        QStringLiteral("dir"));
    const QCommandLineOption size(QStringLiteral("size"),
                                  QStringLiteral("Window size WxH (default 1600x1000)."),
                                  QStringLiteral("WxH"), QStringLiteral("1600x1000"));
    const QCommandLineOption parts(QStringLiteral("parts"),
                                   QStringLiteral("With --screenshot, also save each widget as "
                                                  "<png stem>-<widget>.png."));
    parser.addOptions({shot, exportDir, size, parts});
    parser.process(app);

    QWidget window;
    window.setWindowTitle(QStringLiteral("bitbench widgets gallery"));

    auto* editor = new BitwidthEditor;
    editor->setLayers(kLayers);
    editor->setPattern(QStringLiteral("2-8-8-8"));
    editor->setCellBits(0, 0, 8); // first layer weights in 8 bits, a common exception
    editor->setCellBits(3, 3, kFloatBits);
    // LeNet-5: 4.27 M MACs per image forward, about 3x for a training step, batch 128.
    editor->setCostText(QStringLiteral(
        "Per training step (batch 128, 1.64 G MACs): energy 0.38 mJ at int8 (0.2 pJ MUL + "
        "0.03 pJ ADD) vs 7.5 mJ in fp32, 20x less; MAC area 318 um^2 vs 11,884 um^2 (45 nm)."));

    auto* overview = new TensorOverview;
    fillOverview(overview);

    auto* lossPlot = new CurvePlot;
    auto* errorPlot = new CurvePlot;
    fillCurves(lossPlot, errorPlot);

    auto* weights = new HistogramView;
    showTensor(weights, 0, 0);
    auto* inspector = new HistogramView;
    inspector->setLogCounts(true); // relu puts half the activations in the zero bin
    showTensor(inspector, 1, 1);
    QObject::connect(overview, &TensorOverview::cellClicked, inspector,
                     [inspector](int layer, int cls) { showTensor(inspector, layer, cls); });

    auto* left = new QVBoxLayout;
    left->addWidget(boxed(QStringLiteral("Bitwidths (W-A-G-E)"), editor), 0);
    left->addWidget(boxed(QStringLiteral("Tensors: click a cell to inspect"), overview), 1);
    auto* curves = new QHBoxLayout;
    curves->addWidget(boxed(QStringLiteral("Loss"), lossPlot));
    curves->addWidget(boxed(QStringLiteral("Error"), errorPlot));
    auto* hists = new QHBoxLayout;
    hists->addWidget(boxed(QStringLiteral("Weights"), weights));
    hists->addWidget(boxed(QStringLiteral("Inspector"), inspector));
    auto* right = new QVBoxLayout;
    right->addLayout(curves, 2);
    right->addLayout(hists, 3);
    auto* grid = new QHBoxLayout(&window);
    grid->addLayout(left, 4);
    grid->addLayout(right, 9);

    const QStringList wh = parser.value(size).split(QLatin1Char('x'));
    window.resize(wh.value(0).toInt() > 0 ? wh.value(0).toInt() : 1600,
                  wh.value(1).toInt() > 0 ? wh.value(1).toInt() : 1000);
    window.show();

    if (parser.isSet(exportDir)) {
        QDir dir(parser.value(exportDir));
        dir.mkpath(QStringLiteral("."));
        const struct {
            const char* name;
            QCustomPlot* plot;
        } plots[] = {{"loss", lossPlot->plot()},
                     {"error", errorPlot->plot()},
                     {"weights_values", weights->valuePlot()},
                     {"weights_error", weights->errorPlot()},
                     {"weights_stats", weights->statsPlot()}};
        int failures = 0;
        for (const auto& p : plots)
            for (const char* ext : {"png", "svg", "pdf"}) {
                QString error;
                const QString path = dir.filePath(QStringLiteral("%1.%2").arg(p.name, ext));
                if (!plot_export(p.plot, path, 1050, 700, 300, &error)) {
                    std::fprintf(stderr, "%s\n", qPrintable(error));
                    ++failures;
                }
            }
        if (!parser.isSet(shot))
            return failures == 0 ? 0 : 1;
    }
    if (parser.isSet(shot)) {
        // Let the queued replots and the layout settle before grabbing.
        const QList<QPair<QString, QWidget*>> widgets = {
            {QStringLiteral("editor"), editor},     {QStringLiteral("overview"), overview},
            {QStringLiteral("loss"), lossPlot},     {QStringLiteral("error"), errorPlot},
            {QStringLiteral("weights"), weights}, {QStringLiteral("inspector"), inspector}};
        const bool eachPart = parser.isSet(parts);
        QTimer::singleShot(400, &window, [&window, widgets, eachPart, path = parser.value(shot)] {
            bool ok = window.grab().save(path);
            const QString stem = path.endsWith(QLatin1String(".png"), Qt::CaseInsensitive)
                                     ? path.chopped(4)
                                     : path;
            for (const auto& [name, widget] : widgets)
                if (eachPart)
                    ok = widget->grab().save(stem + QLatin1Char('-') + name + ".png") && ok;
            if (!ok)
                std::fprintf(stderr, "Cannot write '%s'\n", qPrintable(path));
            QApplication::exit(ok ? 0 : 1);
        });
    }
    return app.exec();
}
