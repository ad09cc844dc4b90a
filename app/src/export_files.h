// Export from the GUI through the same code as `bitbench-cli export`: tables to CSV, Markdown or
// LaTeX (core renderers), plots to PNG, SVG or PDF (widgets' plot_export).
#pragma once

#include "bitbench/store_export.h"

#include <QString>

class QAbstractItemModel;
class QCustomPlot;
class QWidget;

namespace bitbench {

// The table a view shows, as displayed (visible rows in view order, every column). Columns
// whose header names a number type (the model answers Qt::UserRole with a number) are numeric.
ExportTable export_table_from_model(const QAbstractItemModel* model);

// The format a file name asks for: .csv, .md / .markdown, .tex / .latex.
// false when the extension is none of these.
bool export_format_of_path(const QString& path, ExportFormat* format);

// Renders `t` in the format of `path`'s extension and writes it. false with *error naming the
// file and the problem.
bool export_table_write(const ExportTable& t, const QString& path, QString* error = nullptr);

// Size and resolution of an exported figure.
struct FigureSize {
    int widthPx = 1050; // 3.5 in at 300 dpi: one column of a two-column paper
    int heightPx = 750;
    double dpi = 300;
};

// The one-click paper figure: `base`.pdf, `base`.svg and `base`.png at one column width.
// Returns the files written; *error names the first failure.
QStringList export_paper_figure(QCustomPlot* plot, const QString& basePath,
                                QString* error = nullptr);

// Asks for a file name (format by extension) and a size and DPI, then writes the plot.
// Returns the path written, empty when cancelled or failed (failures are shown to the user).
QString export_plot_interactive(QWidget* parent, QCustomPlot* plot, const QString& suggestedName);

// Asks for a file name (.csv, .md, .tex) and writes the table. Returns the path written.
QString export_table_interactive(QWidget* parent, const ExportTable& t,
                                 const QString& suggestedName);

} // namespace bitbench
