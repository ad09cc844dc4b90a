// Shared QCustomPlot styling.
#include "bitbench_widgets/plot_style.h"

#include "bitbench_widgets/qcp.h"

namespace bitbench::widgets {

namespace {

void styleAxis(QCPAxis* axis, const QFont& tickFont, const QFont& labelFont) {
    const QPen axisPen(QColor(90, 90, 90), 1);
    axis->setBasePen(axisPen);
    axis->setTickPen(axisPen);
    axis->setSubTickPen(QPen(QColor(140, 140, 140), 1));
    axis->setTickLabelFont(tickFont);
    axis->setTickLabelColor(QColor(40, 40, 40));
    axis->setLabelFont(labelFont);
    axis->setLabelColor(QColor(20, 20, 20));
    axis->setTickLengthIn(0);
    axis->setTickLengthOut(4);
    axis->setSubTickLengthIn(0);
    axis->setSubTickLengthOut(2);
    axis->setPadding(4);
    axis->grid()->setPen(QPen(QColor(225, 225, 225), 1, Qt::SolidLine));
    axis->grid()->setZeroLinePen(QPen(QColor(170, 170, 170), 1, Qt::SolidLine));
    axis->grid()->setSubGridVisible(false);
}

} // namespace

void plot_style_apply(QCustomPlot* plot) {
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->setBackground(Qt::white);
    QFont tickFont = plot->font();
    tickFont.setPointSizeF(9);
    QFont labelFont = plot->font();
    labelFont.setPointSizeF(10);
    for (QCPAxisRect* rect : plot->axisRects()) {
        for (QCPAxis* axis : rect->axes())
            styleAxis(axis, tickFont, labelFont);
        rect->setRangeDrag(Qt::Horizontal | Qt::Vertical);
        rect->setRangeZoom(Qt::Horizontal | Qt::Vertical);
    }
    plot->legend->setFont(tickFont);
    plot->legend->setBrush(QColor(255, 255, 255, 215));
    plot->legend->setBorderPen(QPen(QColor(190, 190, 190), 1));
    plot->legend->setIconSize(18, 10);
    plot->legend->setRowSpacing(0);
    plot->setAntialiasedElements(QCP::aePlottables | QCP::aeItems);
    plot->setNotAntialiasedElements(QCP::aeGrid | QCP::aeAxes);
    // Panning 100k-point curves stays fluid without antialiasing; the final frame is smooth again.
    plot->setNoAntialiasingOnDrag(true);
}

void plot_style_legend_above(QCustomPlot* plot) {
    QCPLegend* legend = plot->legend;
    if (legend->layout() == plot->plotLayout())
        return;
    if (legend->layout())
        legend->layout()->take(legend);
    plot->plotLayout()->insertRow(0);
    plot->plotLayout()->addElement(0, 0, legend);
    plot->plotLayout()->setRowStretchFactor(0, 0.001);
    plot->plotLayout()->setRowSpacing(0);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    legend->setWrap(6);
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    legend->setMargins(QMargins(4, 2, 4, 0));
    legend->setColumnSpacing(12);
    legend->setVisible(true);
}

QColor plot_style_colour(int index) {
    static const QColor colours[] = {QColor(0x00, 0x72, 0xB2), QColor(0xD5, 0x5E, 0x00),
                                     QColor(0x00, 0x9E, 0x73), QColor(0xE6, 0x9F, 0x00),
                                     QColor(0xCC, 0x79, 0xA7), QColor(0x56, 0xB4, 0xE9),
                                     QColor(0x33, 0x33, 0x33)};
    const int n = int(std::size(colours));
    return colours[((index % n) + n) % n];
}

} // namespace bitbench::widgets
