// plot_export: PNG pixel size and resolution, SVG well-formed, PDF written, bad input reported.
#include "bitbench_widgets/plot_export.h"
#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <QFile>
#include <QImage>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

#include <cmath>

using namespace bitbench::widgets;

namespace {

void fillPlot(QCustomPlot& plot) {
    plot_style_apply(&plot);
    QCPGraph* g = plot.addGraph();
    g->setName(QStringLiteral("test error"));
    QVector<double> x, y;
    for (int i = 0; i < 300; ++i) {
        x.push_back(i);
        y.push_back(0.02 + 0.5 * std::exp(-i / 40.0));
    }
    g->setData(x, y);
    plot.xAxis->setLabel(QStringLiteral("epoch"));
    plot.yAxis->setLabel(QStringLiteral("test error"));
    plot.legend->setVisible(true);
    plot.rescaleAxes();
}

int darkPixels(const QImage& image) {
    int n = 0;
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x)
            n += qGray(image.pixel(x, y)) < 128;
    return n;
}

} // namespace

class TestWidgetsExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void pngHasRequestedSize() {
        QTemporaryDir dir;
        QCustomPlot plot;
        plot.resize(400, 300);
        fillPlot(plot);
        const QString path = dir.filePath(QStringLiteral("curve.png"));
        QString error;
        QVERIFY2(plot_export(&plot, path, 800, 500, 96, &error), qPrintable(error));
        QImage image(path);
        QCOMPARE(image.size(), QSize(800, 500));
        QVERIFY(darkPixels(image) > 500); // axes, labels and the curve were drawn

        const QString hi = dir.filePath(QStringLiteral("curve300.PNG"));
        QVERIFY2(plot_export(&plot, hi, 1500, 900, 300, &error), qPrintable(error));
        QImage big(hi);
        QCOMPARE(big.size(), QSize(1500, 900));
        QVERIFY(std::abs(big.dotsPerMeterX() - 300 / 0.0254) < 2);
        // At 300 dpi the same figure is the 480 x 288 layout scaled up: thicker strokes and
        // larger glyphs, so clearly more dark pixels than the 96 dpi layout of similar size.
        const QString flat = dir.filePath(QStringLiteral("flat.png"));
        QVERIFY(plot_export(&plot, flat, 1500, 900, 96, &error));
        QVERIFY(darkPixels(big) > 2 * darkPixels(QImage(flat)));
        // The on-screen widget keeps its size.
        QCOMPARE(plot.size(), QSize(400, 300));
    }

    void svgIsWellFormed() {
        QTemporaryDir dir;
        QCustomPlot plot;
        fillPlot(plot);
        const QString path = dir.filePath(QStringLiteral("curve.svg"));
        QString error;
        QVERIFY2(plot_export(&plot, path, 600, 400, 96, &error), qPrintable(error));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QXmlStreamReader xml(&file);
        QString root;
        int paths = 0, texts = 0;
        while (!xml.atEnd()) {
            if (xml.readNext() == QXmlStreamReader::StartElement) {
                if (root.isEmpty())
                    root = xml.name().toString();
                paths += xml.name() == QLatin1String("path") || xml.name() == QLatin1String("polyline");
                texts += xml.name() == QLatin1String("text");
            }
        }
        QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
        QCOMPARE(root, QStringLiteral("svg"));
        QVERIFY(paths > 0);
        QVERIFY(texts > 0); // labels stay text, editable in a figure editor
    }

    void pdfIsWritten() {
        QTemporaryDir dir;
        QCustomPlot plot;
        fillPlot(plot);
        const QString path = dir.filePath(QStringLiteral("curve.pdf"));
        QString error;
        QVERIFY2(plot_export(&plot, path, 1050, 700, 300, &error), qPrintable(error));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray bytes = file.readAll();
        QVERIFY(bytes.startsWith("%PDF-"));
        QVERIFY(bytes.size() > 1000);
        // 1050 px at 300 dpi is 3.5 in = 252 pt wide.
        const QRegularExpressionMatch box =
            QRegularExpression(QStringLiteral("/MediaBox \\[0 0 ([0-9.]+) ([0-9.]+)\\]"))
                .match(QString::fromLatin1(bytes));
        QVERIFY(box.hasMatch());
        QCOMPARE(box.captured(1).toDouble(), 252.0);
        QCOMPARE(box.captured(2).toDouble(), 168.0);
    }

    void badInputIsReported() {
        QTemporaryDir dir;
        QCustomPlot plot;
        fillPlot(plot);
        QString error;
        QVERIFY(!plot_export(&plot, dir.filePath(QStringLiteral("curve.bmpx")), 100, 100, 96, &error));
        QVERIFY2(error.contains(QStringLiteral(".png")) && error.contains(QStringLiteral("bmpx")),
                 qPrintable(error));
        QVERIFY(!plot_export(&plot, dir.filePath(QStringLiteral("a.png")), 0, 100, 96, &error));
        QVERIFY(error.contains(QStringLiteral("positive")));
        QVERIFY(!plot_export(&plot, dir.filePath(QStringLiteral("missing/dir/a.png")), 100, 100, 96,
                             &error));
        QVERIFY(error.contains(QStringLiteral("missing/dir/a.png")));
    }
};

QTEST_MAIN(TestWidgetsExport)
#include "test_widgets_export.moc"
