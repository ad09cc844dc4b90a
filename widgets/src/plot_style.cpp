// Shared QCustomPlot styling.
#include "bitbench_widgets/plot_style.h"

#include "bitbench_widgets/qcp.h"

namespace bitbench::widgets {

void plot_style_apply(QCustomPlot* plot) {
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom | QCP::iSelectPlottables);
    QFont f = plot->font();
    f.setPointSize(9);
    plot->xAxis->setLabelFont(f);
    plot->yAxis->setLabelFont(f);
    plot->xAxis->grid()->setSubGridVisible(false);
    plot->yAxis->grid()->setSubGridVisible(false);
    plot->setAntialiasedElements(QCP::aePlottables);
}

} // namespace bitbench::widgets
