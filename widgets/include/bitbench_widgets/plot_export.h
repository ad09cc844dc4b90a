// Export of any QCustomPlot to PNG, SVG or PDF for papers and reports.
#pragma once

#include <QString>

class QCustomPlot;

namespace bitbench::widgets {

// Writes the plot to `path`; the format follows the extension (.png, .svg, .pdf, any case).
// The plot is laid out at widthPx x heightPx scaled by 96/dpi, so fonts keep their point size on
// paper: a 9 pt label is 9 pt in a 300 dpi PNG and in the PDF/SVG, whose page is
// widthPx/dpi x heightPx/dpi inches. A PNG has exactly widthPx x heightPx pixels and records dpi.
// requires: widthPx, heightPx > 0, dpi > 0. Returns false with *error naming the file and the
// problem (unknown extension, cannot write) otherwise. The plot on screen is unchanged.
bool plot_export(QCustomPlot* plot, const QString& path, int widthPx, int heightPx,
                 double dpi = 96.0, QString* error = nullptr);

} // namespace bitbench::widgets
