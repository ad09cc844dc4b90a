// Tables of stored runs for papers and spreadsheets: a summary per run and per-epoch curves,
// rendered as CSV (RFC 4180), Markdown pipe tables or LaTeX booktabs. Shared by CLI and GUI.
#pragma once

#include "bitbench/store.h"

#include <cstdint>
#include <string>
#include <vector>

namespace bitbench {

struct ExportColumn {
    std::string key;   // machine name, used as the CSV header
    std::string title; // human name, used in Markdown and LaTeX
    bool numeric = false;
};

// Cells are already formatted; an empty cell means "no value".
struct ExportTable {
    std::vector<ExportColumn> columns;
    std::vector<std::vector<std::string>> rows;
};

enum class ExportFormat : uint8_t { Csv, Markdown, Latex };

// "csv", "md" (or "markdown"), "latex" (or "tex"). throws InputError naming the choices.
ExportFormat export_format_parse(const std::string& name);

// One row per run, in the order given: run id, name, bits, model, epochs, final and best test
// error (percent, 2 decimals), mean training images/s over epochs, and the energy of one training
// step from the cost model (default 45 nm table; empty when the stored config cannot be read).
// throws StoreError for a missing run.
ExportTable export_summary_table(RunStore& store, const std::vector<int64_t>& runIds);

// The method of a run ("method" in the experiment as given), or "" when it names none.
std::string export_run_method(const RunRecord& r);

// WAGE's comparison table for runs of method presets (a sweep such as sweep-wage-table.json): one
// row per run with its method, data, model, bits, epochs, best test error (percent), the figure
// WAGE's table gives for that method and data (method_paper_test_error; empty where it has none)
// and the cost model's energy per training step and per inference (45 nm, default table).
// throws StoreError for a missing run.
ExportTable export_method_table(RunStore& store, const std::vector<int64_t>& runIds);

// Per-epoch values in long form (run, epoch, step, key, value), one row per stored value, runs
// in the order given, then by epoch and key. Epochs are numbered from 1, as everything printed
// (the stored epoch plus 1); step is the stored one, the global steps done when the epoch ended.
// Values are fractions / seconds / images per second.
ExportTable export_curves_table(RunStore& store, const std::vector<int64_t>& runIds);

// Runs attached to a sweep's trials, ascending. throws StoreError for a missing sweep.
std::vector<int64_t> export_sweep_runs(RunStore& store, int64_t sweepId);

std::string export_csv(const ExportTable& t);      // CRLF line ends, quoted where needed
std::string export_markdown(const ExportTable& t); // LF line ends, Markdown specials escaped
std::string export_latex(const ExportTable& t);    // tabular with \toprule, \midrule, \bottomrule
std::string export_render(const ExportTable& t, ExportFormat format);

} // namespace bitbench
