// TensorOverview: flags against thresholds, click hit testing, drawn frames.
#include "bitbench_widgets/tensor_overview.h"

#include <QSignalSpy>
#include <QTest>

using namespace bitbench::widgets;

namespace {

TensorCell cell(double saturation, double underflow) {
    return TensorCell{-1.0, 1.0, {1, 4, 9, 16, 9, 4, 1}, saturation, underflow};
}

} // namespace

class TestWidgetsOverview : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void flagsExactlyCellsOverThresholds() {
        TensorOverview view;
        view.setLayers({"conv1", "conv2", "fc1"});
        QCOMPARE(view.saturationThreshold(), 0.05);
        QCOMPARE(view.underflowThreshold(), 0.50);
        view.setCell(0, 0, cell(0.05, 0.50));  // exactly at both thresholds: not over
        view.setCell(0, 1, cell(0.051, 0.0));  // saturation
        view.setCell(1, 2, cell(0.0, 0.93));   // underflow (typical of 8-bit gradients)
        view.setCell(2, 3, cell(0.2, 0.7));    // both
        view.setCell(2, 0, cell(0.01, 0.1));   // fine
        for (int l = 0; l < 3; ++l)
            for (int c = 0; c < 4; ++c) {
                TensorFlag expected = TensorFlag::None;
                if (l == 0 && c == 1)
                    expected = TensorFlag::Saturation;
                else if (l == 1 && c == 2)
                    expected = TensorFlag::Underflow;
                else if (l == 2 && c == 3)
                    expected = TensorFlag::Both;
                QCOMPARE(view.flag(l, c), expected);
            }
        QVERIFY(!view.hasCell(1, 0));
        view.setThresholds(0.0, 0.9);
        QCOMPARE(view.flag(0, 0), TensorFlag::Saturation);
        QCOMPARE(view.flag(1, 2), TensorFlag::Underflow);
        QCOMPARE(view.flag(2, 3), TensorFlag::Saturation);
        QCOMPARE(view.flag(1, 0), TensorFlag::None); // no data is never flagged
        view.clearCells();
        QCOMPARE(view.flag(0, 1), TensorFlag::None);
    }

    void clickEmitsLayerAndClass() {
        TensorOverview view;
        view.setLayers({"conv1", "conv2", "fc1", "fc2"});
        view.resize(600, 400);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
        QSignalSpy spy(&view, &TensorOverview::cellClicked);
        QTest::mouseClick(&view, Qt::LeftButton, Qt::NoModifier, view.cellRect(2, 1).center());
        QCOMPARE(spy.count(), 1);
        QCOMPARE(spy.at(0).at(0).toInt(), 2);
        QCOMPARE(spy.at(0).at(1).toInt(), 1);
        QTest::mouseClick(&view, Qt::LeftButton, Qt::NoModifier, view.cellRect(3, 3).center());
        QCOMPARE(spy.last().at(0).toInt(), 3);
        QCOMPARE(spy.last().at(1).toInt(), 3);
        // The layer labels and the class header are not cells.
        QTest::mouseClick(&view, Qt::LeftButton, Qt::NoModifier, QPoint(3, view.cellRect(1, 0).center().y()));
        QTest::mouseClick(&view, Qt::LeftButton, Qt::NoModifier, QPoint(view.cellRect(0, 2).center().x(), 2));
        QCOMPARE(spy.count(), 2);
    }

    void framesShowTheFlags() {
        TensorOverview view;
        view.setLayers({"conv1", "conv2"});
        view.resize(520, 200);
        view.setCell(0, 0, cell(0.3, 0.0));
        view.setCell(0, 1, cell(0.0, 0.8));
        view.setCell(1, 0, cell(0.0, 0.0));
        const QImage image = view.grab().toImage();
        auto frameColour = [&](int l, int c) {
            const QRect r = view.cellRect(l, c);
            return QColor(image.pixel(r.left() + 1, r.center().y()));
        };
        QCOMPARE(frameColour(0, 0), QColor(0xC0, 0x39, 0x2B));
        QCOMPARE(frameColour(0, 1), QColor(0xE6, 0x8A, 0x00));
        const QColor plain = frameColour(1, 0);
        QVERIFY(plain != QColor(0xC0, 0x39, 0x2B) && plain != QColor(0xE6, 0x8A, 0x00));
    }
};

QTEST_MAIN(TestWidgetsOverview)
#include "test_widgets_overview.moc"
