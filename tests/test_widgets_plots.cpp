// CurvePlot and HistogramView: streaming, smoothing, scales, follow, quantizer marks, statistics.
#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/histogram_view.h"
#include "bitbench_widgets/qcp.h"

#include <QSignalSpy>
#include <QTest>

#include <cmath>

using namespace bitbench::widgets;

namespace {

// A decaying loss with deterministic wiggle, as a trainer would report it.
double lossAt(int step) { return 2.3 * std::exp(-step / 20000.0) + 0.05 + 0.02 * std::sin(step * 0.37); }

// Direct definition of the debiased EMA: sum_k (1-w) w^(n-k) y_k / (1 - w^n), no recursion.
QVector<double> emaReference(const QVector<double>& y, double w) {
    QVector<double> out;
    for (int n = 1; n <= y.size(); ++n) {
        double num = 0.0;
        for (int k = 1; k <= n; ++k)
            num += (1.0 - w) * std::pow(w, n - k) * y[k - 1];
        out.push_back(num / (1.0 - std::pow(w, n)));
    }
    return out;
}

QVector<double> keysOf(const QCPGraph* g) {
    QVector<double> out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
        out.push_back(it->key);
    return out;
}

QVector<double> valuesOf(const QCPGraph* g) {
    QVector<double> out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
        out.push_back(it->value);
    return out;
}

} // namespace

class TestWidgetsPlots : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void holdsHundredThousandPointsWithOneReplotPerFlush() {
        CurvePlot plot;
        plot.resize(800, 400);
        const int loss = plot.addSeries(QStringLiteral("loss"));
        const int err = plot.addSeries(QStringLiteral("test error"));
        QSignalSpy replots(plot.plot(), &QCustomPlot::afterReplot);
        constexpr int kTotal = 100000, kBatch = 1000;
        for (int start = 0; start < kTotal; start += kBatch) {
            QVector<double> x, y;
            for (int i = start; i < start + kBatch; ++i) {
                x.push_back(i);
                y.push_back(lossAt(i));
            }
            plot.appendPoints(loss, x, y);
            if (start % 10000 == 0)
                plot.appendPoints(err, {double(start)}, {0.1 * lossAt(start)});
        }
        QCOMPARE(replots.count(), 0);
        plot.flush();
        QCOMPARE(replots.count(), 1);
        QCOMPARE(plot.pointCount(loss), kTotal);
        QCOMPARE(plot.pointCount(err), 10);
        QCOMPARE(plot.rawGraph(loss)->data()->at(54321)->value, lossAt(54321));
        // Following: the axes cover all data.
        QCOMPARE(plot.plot()->xAxis->range().lower, 0.0);
        QCOMPARE(plot.plot()->xAxis->range().upper, double(kTotal - 1));
        QVERIFY(plot.plot()->yAxis->range().contains(lossAt(0)));
        QVERIFY(plot.rawGraph(loss)->adaptiveSampling());
    }

    void smoothingKeepsRawData() {
        CurvePlot plot;
        const int id = plot.addSeries(QStringLiteral("loss"));
        QVector<double> x, y;
        for (int i = 0; i < 300; ++i) {
            x.push_back(i);
            y.push_back(lossAt(i * 97));
        }
        plot.appendPoints(id, x.mid(0, 200), y.mid(0, 200));
        plot.setSmoothing(0.9);
        QCOMPARE(valuesOf(plot.rawGraph(id)), y.mid(0, 200));
        QVERIFY(plot.rawGraph(id)->visible());
        QVERIFY(plot.smoothedGraph(id)->visible());
        QVERIFY(plot.rawGraph(id)->pen().color().alpha() < 255); // faint, still drawn
        // Appends after smoothing is on continue the EMA incrementally.
        plot.appendPoints(id, x.mid(200, 60), y.mid(200, 60));
        plot.appendPoints(id, x.mid(260), y.mid(260));
        QCOMPARE(valuesOf(plot.rawGraph(id)), y);
        QCOMPARE(keysOf(plot.smoothedGraph(id)), x);
        const QVector<double> expected = emaReference(y, 0.9);
        const QVector<double> got = valuesOf(plot.smoothedGraph(id));
        QCOMPARE(got.size(), expected.size());
        for (int i = 0; i < got.size(); ++i)
            QVERIFY2(std::abs(got[i] - expected[i]) < 1e-12, qPrintable(QString::number(i)));
        // Smoothing off: raw only, at full strength.
        plot.setSmoothing(0.0);
        QVERIFY(!plot.smoothedGraph(id)->visible());
        QCOMPARE(plot.rawGraph(id)->pen().color().alpha(), 255);
        QCOMPARE(valuesOf(plot.rawGraph(id)), y);
    }

    void smoothingSkipsNonFinite() {
        EmaSmoother ema(0.5);
        QCOMPARE(ema.push(2.0), 2.0);
        QVERIFY(std::isnan(ema.push(std::nan(""))));
        // (0.5*0.5*2 + 0.5*4) / (1 - 0.25) = 2.5 / 0.75
        QCOMPARE(ema.push(4.0), 2.5 / 0.75);
    }

    void sparseSeriesCanStayUnsmoothed() {
        CurvePlot plot;
        const int train = plot.addSeries(QStringLiteral("train error"));
        const int test = plot.addSeries(QStringLiteral("test error"));
        plot.setSmoothing(0.9);
        plot.setSeriesSmoothed(test, false);
        plot.appendPoints(train, {0, 1, 2}, {3, 2, 1});
        plot.appendPoints(test, {0, 2}, {2.5, 0.5});
        QVERIFY(plot.smoothedGraph(train)->visible());
        QVERIFY(!plot.smoothedGraph(test)->visible());
        QCOMPARE(plot.smoothedGraph(test)->dataCount(), 0);
        QCOMPARE(plot.rawGraph(test)->pen().color().alpha(), 255);
        plot.showCrosshairAt(2);
        QVERIFY2(plot.readoutText().contains(QStringLiteral("test error 0.5")), qPrintable(plot.readoutText()));
        plot.setSeriesSmoothed(test, true);
        QCOMPARE(valuesOf(plot.smoothedGraph(test)), emaReference({2.5, 0.5}, 0.9));
    }

    void logRangeHoldsSmoothedDips() {
        // Per-batch error is often exactly 0: its EMA falls below the smallest positive raw value.
        CurvePlot plot;
        const int id = plot.addSeries(QStringLiteral("train error"));
        plot.setSmoothing(0.5);
        plot.setLogScale(true);
        plot.appendPoints(id, {0, 1, 2, 3, 4}, {0.78, 0, 0, 0, 0});
        plot.flush();
        const double dip = valuesOf(plot.smoothedGraph(id)).back();
        QVERIFY(dip > 0.0 && dip < 0.78);
        QVERIFY(plot.plot()->yAxis->range().contains(dip));
        QVERIFY(plot.plot()->yAxis->range().lower > 0.0);
    }

    void outOfOrderBatchIsMerged() {
        CurvePlot plot;
        const int id = plot.addSeries(QStringLiteral("loss"));
        plot.setSmoothing(0.5);
        plot.appendPoints(id, {0, 1, 2, 5, 6}, {1, 1, 1, 5, 5});
        plot.appendPoints(id, {4, 3}, {3, 2});
        QCOMPARE(keysOf(plot.rawGraph(id)), (QVector<double>{0, 1, 2, 3, 4, 5, 6}));
        QCOMPARE(valuesOf(plot.smoothedGraph(id)), emaReference({1, 1, 1, 2, 3, 5, 5}, 0.5));
    }

    void logScaleToggles() {
        CurvePlot plot;
        const int id = plot.addSeries(QStringLiteral("loss"));
        plot.appendPoints(id, {0, 1, 2, 3}, {0.0, 10.0, 1.0, 0.01});
        plot.flush();
        QCOMPARE(plot.plot()->yAxis->scaleType(), QCPAxis::stLinear);
        QVERIFY(plot.plot()->yAxis->range().lower < 0.0); // padded below zero
        plot.setLogScale(true);
        QVERIFY(plot.logScale());
        QCOMPARE(plot.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
        // The zero is left out; the smallest positive value is in view.
        QVERIFY(plot.plot()->yAxis->range().lower > 0.0);
        QVERIFY(plot.plot()->yAxis->range().contains(0.01));
        QVERIFY(plot.plot()->yAxis->range().contains(10.0));
        plot.setLogScale(false);
        QCOMPARE(plot.plot()->yAxis->scaleType(), QCPAxis::stLinear);
        QVERIFY(plot.plot()->yAxis->range().contains(0.0));
    }

    void userZoomStopsFollowing() {
        CurvePlot plot;
        plot.resize(600, 400);
        plot.show();
        QVERIFY(QTest::qWaitForWindowExposed(&plot));
        const int id = plot.addSeries(QStringLiteral("loss"));
        plot.appendPoints(id, {0, 1, 2, 3}, {4, 3, 2, 1});
        plot.flush();
        QSignalSpy followSpy(&plot, &CurvePlot::followChanged);
        const QPointF centre = plot.plot()->axisRect()->center();
        QWheelEvent wheel(centre, plot.plot()->mapToGlobal(centre), QPoint(), QPoint(0, 120),
                          Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
        QCoreApplication::sendEvent(plot.plot(), &wheel);
        QVERIFY(!plot.follow());
        QCOMPARE(followSpy.count(), 1);
        const QCPRange zoomed = plot.plot()->xAxis->range();
        QVERIFY(zoomed.size() < 3.0);
        plot.appendPoints(id, {4, 5}, {0.5, 0.25});
        plot.flush();
        QCOMPARE(plot.plot()->xAxis->range(), zoomed); // the user's view stays
        plot.setFollow(true);
        plot.flush();
        QCOMPARE(plot.plot()->xAxis->range().upper, 5.0);
    }

    void crosshairReadsNearestPoint() {
        CurvePlot plot;
        plot.setXLabel(QStringLiteral("step"));
        const int a = plot.addSeries(QStringLiteral("loss"));
        const int b = plot.addSeries(QStringLiteral("test error"));
        plot.appendPoints(a, {0, 10, 20, 30}, {1.5, 1.25, 1.0, 0.75});
        plot.appendPoints(b, {0, 10, 20, 30}, {0.9, 0.5, 0.25, 0.125});
        plot.flush();
        plot.showCrosshairAt(18.0);
        const QString text = plot.readoutText();
        QVERIFY2(text.contains(QStringLiteral("step 20")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("loss 1")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("test error 0.25")), qPrintable(text));
        plot.showCrosshairAt(14.0);
        QVERIFY(plot.readoutText().contains(QStringLiteral("loss 1.25")));
        plot.hideCrosshair();
        QVERIFY(plot.readoutText().isEmpty());
    }

    void quantLevels_data() {
        QTest::addColumn<double>("step");
        QTest::addColumn<double>("clipLo");
        QTest::addColumn<double>("clipHi");
        QTest::addColumn<double>("origin");
        QTest::addColumn<int>("count");
        QTest::addColumn<double>("first");
        QTest::addColumn<double>("last");
        // WAGE ternary weights with alpha = 2: {-0.5, 0, 0.5} / 2.
        QTest::newRow("ternary") << 0.25 << -0.25 << 0.25 << 0.0 << 3 << -0.25 << 0.25;
        // k = 6: sigma = 2^-5, clip +-(1 - sigma): 63 levels, still marked.
        QTest::newRow("6 bit") << 1.0 / 32 << -31.0 / 32 << 31.0 / 32 << 0.0 << 63 << -31.0 / 32
                               << 31.0 / 32;
        // k = 8: 255 levels, too many to mark.
        QTest::newRow("8 bit") << 1.0 / 128 << -127.0 / 128 << 127.0 / 128 << 0.0 << 0 << 0.0 << 0.0;
        // An asymmetric uniform quantizer: levels from the range minimum.
        QTest::newRow("offset") << 0.1 << -0.3 << 0.4 << -0.3 << 8 << -0.3 << 0.4;
        QTest::newRow("no step") << 0.0 << -1.0 << 1.0 << 0.0 << 0 << 0.0 << 0.0;
        // Bounds between levels: only the levels inside count.
        QTest::newRow("inner") << 0.5 << -0.7 << 1.2 << 0.0 << 4 << -0.5 << 1.0;
    }
    void quantLevels() {
        QFETCH(double, step);
        QFETCH(double, clipLo);
        QFETCH(double, clipHi);
        QFETCH(double, origin);
        QFETCH(int, count);
        QFETCH(double, first);
        QFETCH(double, last);
        const QVector<double> levels = histogram_quant_levels({step, clipLo, clipHi, origin});
        QCOMPARE(levels.size(), count);
        if (count == 0)
            return;
        QVERIFY(std::abs(levels.front() - first) < 1e-12);
        QVERIFY(std::abs(levels.back() - last) < 1e-12);
        for (int i = 1; i < levels.size(); ++i)
            QVERIFY(std::abs(levels[i] - levels[i - 1] - step) < 1e-12);
    }

    void saturatedRanges() {
        using R = QVector<ValueInterval>;
        QCOMPARE(histogram_saturated_ranges(-1.2, 1.2, -1.0, 1.0), (R{{-1.2, -1.0}, {1.0, 1.2}}));
        QCOMPARE(histogram_saturated_ranges(-0.5, 0.5, -1.0, 1.0), R{});
        QCOMPARE(histogram_saturated_ranges(0.0, 2.0, 0.0, 1.0), (R{{1.0, 2.0}}));
        QCOMPARE(histogram_saturated_ranges(2.0, 3.0, -1.0, 1.0), (R{{2.0, 3.0}}));
    }

    void histogramViewMarksQuantizer() {
        HistogramView view;
        // 8-bit activations after relu, clipped at 1 - 2^-7, some mass beyond the clip.
        HistogramData values{0.0, 1.25, QVector<double>(50, 10.0)};
        const QuantMarks act{1.0 / 128, 0.0, 127.0 / 128, 0.0};
        view.setValues(values, act);
        QVERIFY(view.levelTicks().isEmpty()); // 128 levels: not marked
        const ValueInterval v = view.valueView();
        QVERIFY(v.lo < 0.0 && v.hi > 1.25);
        QCOMPARE(view.shadedRanges(), histogram_saturated_ranges(v.lo, v.hi, 0.0, 127.0 / 128));
        QCOMPARE(view.shadedRanges().size(), 2);
        QCOMPARE(view.valuePlot()->xAxis->range().lower, v.lo);
        // Bins are 0.025 wide: centres above 127/128 are drawn as saturated (10 of 50).
        auto* bars = qobject_cast<QCPBars*>(view.valuePlot()->plottable(1));
        QVERIFY(bars);
        QCOMPARE(bars->data()->size(), 10);

        // Ternary weights: three levels, shading only outside +-0.25 within the view.
        const QuantMarks ternary{0.25, -0.25, 0.25, 0.0};
        view.setValues({-0.5, 0.5, QVector<double>(20, 1.0)}, ternary);
        QCOMPARE(view.levelTicks(), (QVector<double>{-0.25, 0.0, 0.25}));
        QCOMPARE(view.shadedRanges().size(), 2);
        QCOMPARE(view.shadedRanges().front().hi, -0.25);
        QCOMPARE(view.shadedRanges().back().lo, 0.25);
        // Items: 2 shades, 2 clip lines, 3 guides and 3 ticks.
        QCOMPARE(view.valuePlot()->itemCount(), 10);
        view.setValues({-0.1, 0.1, QVector<double>(20, 1.0)}, {0.0, 0.0, 0.0, 0.0});
        QVERIFY(view.levelTicks().isEmpty());
        QVERIFY(view.shadedRanges().isEmpty());
        QCOMPARE(view.valuePlot()->itemCount(), 0);
    }

    void histogramViewStats() {
        HistogramView view;
        view.setTitle(QStringLiteral("conv2 A"));
        view.setStats({0.0042, 0.125, 38.24, 0.9375});
        const QString header = view.headerText();
        QVERIFY2(header.contains(QStringLiteral("conv2 A")), qPrintable(header));
        QVERIFY2(header.contains(QStringLiteral("saturation 0.42 %")), qPrintable(header));
        QVERIFY2(header.contains(QStringLiteral("underflow to zero 12.50 %")), qPrintable(header));
        QVERIFY2(header.contains(QStringLiteral("SQNR 38.2 dB")), qPrintable(header));
        QVERIFY2(header.contains(QStringLiteral("max|x| 0.9375")), qPrintable(header));
        view.setStats({0.0, 0.0, std::nan(""), 0.0});
        QVERIFY(view.headerText().contains(QStringLiteral("SQNR n/a")));

        view.appendStats(0, {0.01, 0.2, 30.0, 1.0});
        view.appendStats({100, 200}, {{0.02, 0.3, 31.0, 1.0}, {0.03, 0.4, 32.0, 1.0}});
        QCPGraph* sat = view.statsPlot()->graph(0);
        QCOMPARE(sat->dataCount(), 3);
        QCOMPARE(sat->data()->at(2)->value, 3.0); // percent
        QCOMPARE(view.statsPlot()->graph(2)->data()->at(1)->value, 31.0);
        QCOMPARE(view.statsPlot()->graph(2)->valueAxis(), view.statsPlot()->yAxis2);
        view.clearStatsHistory();
        QCOMPARE(sat->dataCount(), 0);
    }

    void histogramErrorMarksRoundingBounds() {
        HistogramView view;
        view.setValues({-1, 1, QVector<double>(10, 1.0)}, {0.25, -0.75, 0.75, 0.0});
        view.setError({-0.125, 0.125, QVector<double>(8, 5.0)});
        QCOMPARE(view.errorPlot()->itemCount(), 2);
        QVERIFY(view.errorPlot()->xAxis->range().contains(-0.125));
        QVERIFY(view.errorPlot()->xAxis->range().contains(0.125));
        view.setLogCounts(true);
        QCOMPARE(view.errorPlot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
        QVERIFY(view.errorPlot()->yAxis->range().lower > 0.0);
    }
};

QTEST_MAIN(TestWidgetsPlots)
#include "test_widgets_plots.moc"
