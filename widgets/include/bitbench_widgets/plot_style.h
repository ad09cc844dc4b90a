// The house plot style: readable defaults shared by every QCustomPlot view.
#pragma once

class QCustomPlot;

namespace bitbench::widgets {

// Applies fonts, grid and interaction defaults (zoom and pan on both axes).
void plot_style_apply(QCustomPlot* plot);

} // namespace bitbench::widgets
