// The house plot style: readable defaults shared by every QCustomPlot view.
#pragma once

#include <QColor>

class QCustomPlot;

namespace bitbench::widgets {

// Fonts sized for reading at a glance and in exported figures, light solid grid, legend with a
// translucent background, zoom and pan on both axes (no selection: clicks are for the crosshair).
void plot_style_apply(QCustomPlot* plot);

// Shows the legend in a row above the axis rect, entries side by side, so it never hides data.
void plot_style_legend_above(QCustomPlot* plot);

// Colour-blind-safe series colours (Okabe-Ito order, black last); cycles past the end.
QColor plot_style_colour(int index);

} // namespace bitbench::widgets
