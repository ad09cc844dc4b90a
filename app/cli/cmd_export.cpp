// `bitbench-cli export (RUN... | --all | --sweep ID) --format csv|md|latex [--curves] [-o FILE]`.
#include "cli_common.h"

#include "bitbench/atomic_file.h"
#include "bitbench/error.h"
#include "bitbench/paths.h"
#include "bitbench/store.h"
#include "bitbench/store_export.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>

namespace bitbench::cli {

namespace {

struct ExportOptions {
    std::string db;
    std::vector<std::string> runs;
    bool all = false;
    std::string sweep;
    std::string format = "csv";
    bool curves = false;
    std::string output;
};

int exportRuns(const ExportOptions& o) {
    const ExportFormat format = export_format_parse(o.format);
    const int modes = int(!o.runs.empty()) + int(o.all) + int(!o.sweep.empty());
    if (modes != 1) throw InputError("export needs exactly one of: run ids, --all, or --sweep ID");
    std::vector<int64_t> ids;
    for (const std::string& r : o.runs)
        ids.push_back(run_id_parse(r));
    int64_t sweepId = 0;
    if (!o.sweep.empty()) {
        try {
            sweepId = run_id_parse(o.sweep);
        } catch (const InputError&) {
            throw InputError("'" + o.sweep + "' is not a sweep id (expected a positive integer)");
        }
    }

    // Checked before the database is opened: reading its header later would drop our locks.
    if (!o.output.empty()) file_output_check(o.output, o.db);
    RunStore store = RunStore::open(o.db, StoreAccess::ReadOnly);
    if (o.all)
        for (const RunRecord& r : store.runsList())
            ids.push_back(r.id);
    if (sweepId) ids = export_sweep_runs(store, sweepId);
    // A sweep of method presets (runs naming a "method") gives the comparison table.
    const bool methods = sweepId && std::any_of(ids.begin(), ids.end(), [&](int64_t id) {
        return !export_run_method(store.runGet(id)).empty();
    });
    const ExportTable t = o.curves   ? export_curves_table(store, ids)
                          : methods ? export_method_table(store, ids)
                                    : export_summary_table(store, ids);
    const std::string text = export_render(t, format);

    if (o.output.empty()) {
        std::fwrite(text.data(), 1, text.size(), stdout);
        return kExitOk;
    }
    file_write_atomic(o.output, text);
    std::fprintf(stderr, "wrote %zu rows to '%s'\n", t.rows.size(), o.output.c_str());
    return kExitOk;
}

} // namespace

Command cli_add_export(CLI::App& app) {
    auto o = std::make_shared<ExportOptions>();
    o->db = paths_default_db();
    auto* sub = app.add_subcommand(
        "export", "Export runs as a table: a summary per run, or per-epoch curves (--curves)");
    sub->add_option("runs", o->runs, "Run ids");
    sub->add_flag("--all", o->all, "Every run in the database");
    sub->add_option("--sweep", o->sweep, "The runs of a sweep");
    sub->add_option("--format", o->format, "csv, md or latex")->capture_default_str();
    sub->add_flag("--curves", o->curves, "Per-epoch values in long form instead of the summary");
    sub->add_option("-o,--output", o->output, "Write to FILE instead of standard output");
    sub->add_option("--db", o->db, "Run database")->capture_default_str();
    return {sub, [o] { return exportRuns(*o); }};
}

} // namespace bitbench::cli
