// plot_export: renders a QCustomPlot off screen into PNG, SVG or PDF.
#include "bitbench_widgets/plot_export.h"

#include "bitbench_widgets/qcp.h"

#include <QFileInfo>
#include <QImage>
#include <QImageWriter>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <QSvgGenerator>

#include <cmath>

namespace bitbench::widgets {

namespace {

// Qt's own logical resolution: fonts in points map to pixels as on a standard screen.
constexpr double kScreenDpi = 96.0;

bool fail(QString* error, const QString& message) {
    if (error)
        *error = message;
    return false;
}

// Vector files with more points than this keep QCustomPlot's adaptive sampling (size stays small).
constexpr int kVectorPointLimit = 50000;

// Adaptive sampling reduces a curve to min/max per logical pixel: right on screen, but scaled up
// by dpi/96 it shows as steps. Exports draw every point of opaque curves where that is
// affordable; translucent ones (raw data behind a smoothed curve) keep the sampling, because
// 100k overlapping translucent segments add up to a solid band that hides the smoothed curve.
class FullResolution {
public:
    FullResolution(QCustomPlot* plot, bool raster) {
        for (int i = 0; i < plot->plottableCount(); ++i) {
            auto* graph = qobject_cast<QCPGraph*>(plot->plottable(i));
            if (graph && graph->adaptiveSampling() && graph->pen().color().alpha() == 255 &&
                (raster || graph->dataCount() <= kVectorPointLimit)) {
                graph->setAdaptiveSampling(false);
                m_graphs.push_back(graph);
            }
        }
    }
    ~FullResolution() {
        for (QCPGraph* graph : m_graphs)
            graph->setAdaptiveSampling(true);
    }
    FullResolution(const FullResolution&) = delete;
    FullResolution& operator=(const FullResolution&) = delete;

private:
    QVector<QCPGraph*> m_graphs;
};

// Draws the plot laid out at `logical` size into an active painter whose device is `logical`
// scaled by `scale`.
void render(QCustomPlot* plot, QCPPainter* painter, QSizeF logical, double scale) {
    painter->scale(scale, scale);
    plot->toPainter(painter, int(std::lround(logical.width())), int(std::lround(logical.height())));
}

} // namespace

bool plot_export(QCustomPlot* plot, const QString& path, int widthPx, int heightPx, double dpi,
                 QString* error) {
    if (!plot)
        return fail(error, QStringLiteral("Cannot export '%1': no plot given").arg(path));
    if (widthPx <= 0 || heightPx <= 0 || !(dpi > 0.0))
        return fail(error, QStringLiteral("Cannot export '%1': size %2 x %3 px at %4 dpi; expected "
                                          "positive width, height and dpi")
                               .arg(path)
                               .arg(widthPx)
                               .arg(heightPx)
                               .arg(dpi));
    const QString ext = QFileInfo(path).suffix().toLower();
    const double scale = dpi / kScreenDpi;
    const QSizeF logical(widthPx / scale, heightPx / scale);
    // Vector formats have no pixels: the figure is the logical layout on a page of the
    // physical size, at the screen resolution so point sizes stay consistent.
    const FullResolution fullResolution(plot, ext == QLatin1String("png"));
    if (ext == QLatin1String("png")) {
        QImage image(widthPx, heightPx, QImage::Format_ARGB32_Premultiplied);
        image.fill(Qt::white);
        {
            QCPPainter painter(&image);
            if (!painter.isActive())
                return fail(error, QStringLiteral("Cannot export '%1': cannot paint an image of "
                                                  "%2 x %3 px")
                                       .arg(path)
                                       .arg(widthPx)
                                       .arg(heightPx));
            painter.setRenderHint(QPainter::TextAntialiasing);
            render(plot, &painter, logical, scale);
        }
        const int dpm = int(std::lround(dpi / 0.0254));
        image.setDotsPerMeterX(dpm);
        image.setDotsPerMeterY(dpm);
        QImageWriter writer(path, "png");
        if (!writer.write(image))
            return fail(error, QStringLiteral("Cannot write '%1': %2").arg(path, writer.errorString()));
    } else if (ext == QLatin1String("svg")) {
        QSvgGenerator svg;
        svg.setFileName(path);
        svg.setResolution(int(kScreenDpi));
        svg.setSize(logical.toSize());
        svg.setViewBox(QRectF(QPointF(0, 0), logical));
        svg.setTitle(plot->windowTitle());
        svg.setDescription(QStringLiteral("bitbench plot"));
        QCPPainter painter;
        if (!painter.begin(&svg))
            return fail(error, QStringLiteral("Cannot write '%1': the SVG file could not be "
                                              "opened for writing")
                                   .arg(path));
        painter.setMode(QCPPainter::pmVectorized);
        render(plot, &painter, logical, 1.0);
        painter.end();
    } else if (ext == QLatin1String("pdf")) {
        QPdfWriter pdf(path);
        pdf.setResolution(int(kScreenDpi));
        pdf.setCreator(QStringLiteral("bitbench"));
        const QPageSize page(QSizeF(widthPx / dpi, heightPx / dpi), QPageSize::Inch,
                             QString(), QPageSize::ExactMatch);
        pdf.setPageLayout(QPageLayout(page, QPageLayout::Portrait, QMarginsF(0, 0, 0, 0)));
        QCPPainter painter;
        if (!painter.begin(&pdf))
            return fail(error, QStringLiteral("Cannot write '%1': the PDF file could not be "
                                              "opened for writing")
                                   .arg(path));
        painter.setMode(QCPPainter::pmVectorized);
        // The page is widthPx/dpi inches at 96 dpi: the logical size.
        render(plot, &painter, logical, 1.0);
        painter.end();
    } else {
        return fail(error, QStringLiteral("Cannot export '%1': unknown extension '%2'; use .png, "
                                          ".svg or .pdf")
                               .arg(path, ext));
    }
    // toPainter() laid the plot out at the export size; restore the on-screen layout.
    plot->replot(QCustomPlot::rpQueuedReplot);
    if (!QFileInfo(path).exists() || QFileInfo(path).size() == 0)
        return fail(error, QStringLiteral("Cannot write '%1': nothing was written").arg(path));
    return true;
}

} // namespace bitbench::widgets
