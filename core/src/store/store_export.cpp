// Export of stored runs: table builders (summary, curves) and the CSV/Markdown/LaTeX renderers.
#include "bitbench/store_export.h"

#include "bitbench/cost_model.h"
#include "bitbench/experiment.h"

#include <nlohmann/json.hpp>

#include "bitbench/error.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

namespace bitbench {

namespace {

std::string fmt(const char* f, double v) {
    if (!std::isfinite(v)) return {};
    char buf[64];
    std::snprintf(buf, sizeof buf, f, v);
    return buf;
}

std::string oneLine(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

// Escapes what would change the table or the text: '|' ends a cell, '<' may start raw HTML,
// '*', '`' and word-edge '_' start emphasis or code. An '_' inside a word (train_loss) is literal.
std::string markdownCell(const std::string& raw) {
    const std::string s = oneLine(raw);
    auto alnum = [&](size_t i) {
        return i < s.size() && std::isalnum(static_cast<unsigned char>(s[i]));
    };
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        const bool special = c == '|' || c == '\\' || c == '<' || c == '>' || c == '*' ||
                             c == '`' || (c == '_' && !(i > 0 && alnum(i - 1) && alnum(i + 1)));
        if (special) out += '\\';
        out += c;
    }
    return out;
}

std::string latexCell(const std::string& s) {
    std::string out;
    for (char c : oneLine(s)) {
        switch (c) {
        case '\\':
            out += "\\textbackslash{}";
            break;
        case '~':
            out += "\\textasciitilde{}";
            break;
        case '^':
            out += "\\textasciicircum{}";
            break;
        // In LaTeX's default font encoding these three print as other glyphs.
        case '|':
            out += "\\textbar{}";
            break;
        case '<':
            out += "\\textless{}";
            break;
        case '>':
            out += "\\textgreater{}";
            break;
        case '&':
        case '%':
        case '$':
        case '#':
        case '_':
        case '{':
        case '}':
            out += '\\';
            out += c;
            break;
        default:
            out += c;
        }
    }
    return out;
}

} // namespace

ExportFormat export_format_parse(const std::string& name) {
    if (name == "csv") return ExportFormat::Csv;
    if (name == "md" || name == "markdown") return ExportFormat::Markdown;
    if (name == "latex" || name == "tex") return ExportFormat::Latex;
    throw InputError("unknown export format '" + name + "' (expected csv, md or latex)");
}

namespace {

// The last and the best test error of a run's epochs (NaN when none has one), and the sum and
// count of their training speeds.
struct EpochsSummary {
    double finalErr = NAN, bestErr = NAN, ipsSum = 0;
    int ipsCount = 0;
};

EpochsSummary epochsSummary(const std::vector<EpochMetrics>& epochs) {
    EpochsSummary m;
    for (const EpochMetrics& e : epochs) {
        if (std::isfinite(e.testError)) {
            m.finalErr = e.testError;
            m.bestErr = std::isfinite(m.bestErr) ? std::min(m.bestErr, e.testError) : e.testError;
        }
        if (std::isfinite(e.imagesPerSecond)) {
            m.ipsSum += e.imagesPerSecond;
            ++m.ipsCount;
        }
    }
    return m;
}

} // namespace

ExportTable export_summary_table(RunStore& store, const std::vector<int64_t>& runIds) {
    ExportTable t;
    t.columns = {{"run", "Run", true},
                 {"name", "Name", false},
                 {"bits", "Bits", false},
                 {"model", "Model", false},
                 {"epochs", "Epochs", true},
                 {"final_test_error_pct", "Final test error (%)", true},
                 {"best_test_error_pct", "Best test error (%)", true},
                 {"images_per_s", "Images/s", true},
                 {"energy_estimate", "Energy per step (45 nm)", true}};
    // Energy of one training step at 45 nm (cost_model.h, default table), from the stored
    // configuration; empty for a run whose configuration cannot be read back.
    auto energy = [](const RunRecord& r) -> std::string {
        try {
            const Experiment e = run_experiment_of(r);
            return cost_format_energy(cost_estimate(e).trainStepEnergyPj);
        } catch (const std::exception&) {
            return {};
        }
    };
    for (int64_t id : runIds) {
        const RunRecord r = store.runGet(id);
        const std::vector<EpochMetrics> epochs = store.epochsGet(id);
        const EpochsSummary m = epochsSummary(epochs);
        t.rows.push_back({std::to_string(r.id), r.info.name, r.info.bitsPattern, r.info.model,
                          std::to_string(epochs.size()), fmt("%.2f", m.finalErr * 100),
                          fmt("%.2f", m.bestErr * 100),
                          m.ipsCount ? fmt("%.0f", m.ipsSum / m.ipsCount) : std::string(), energy(r)});
    }
    return t;
}

std::string export_run_method(const RunRecord& r) {
    try {
        const nlohmann::json j = nlohmann::json::parse(r.info.experimentJson);
        if (j.is_object() && j.contains("method") && j["method"].is_string()) return j["method"].get<std::string>();
    } catch (const nlohmann::json::exception&) {
    }
    return {};
}

ExportTable export_method_table(RunStore& store, const std::vector<int64_t>& runIds) {
    ExportTable t;
    t.columns = {{"run", "Run", true},
                 {"method", "Method", false},
                 {"dataset", "Data", false},
                 {"model", "Model", false},
                 {"bits", "Bits", false},
                 {"epochs", "Epochs", true},
                 {"best_test_error_pct", "Best test error (%)", true},
                 {"paper_test_error_pct", "Paper (%)", true},
                 {"energy_step", "Energy per step (45 nm)", true},
                 {"energy_inference", "Energy per inference (45 nm)", true}};
    for (int64_t id : runIds) {
        const RunRecord r = store.runGet(id);
        const std::vector<EpochMetrics> epochs = store.epochsGet(id);
        const double best = epochsSummary(epochs).bestErr;
        const std::string method = export_run_method(r);
        std::string dataset = r.info.dataset, step, inference;
        try {
            const Experiment e = run_experiment_of(r);
            if (dataset.empty()) dataset = e.datasetKind;
            const CostEstimate c = cost_estimate(e);
            step = cost_format_energy(c.trainStepEnergyPj);
            inference = cost_format_energy(c.inferenceEnergyPj);
        } catch (const std::exception&) { // a configuration this version cannot read: no estimate
        }
        const std::optional<double> paper = method_paper_test_error(method, dataset);
        t.rows.push_back({std::to_string(r.id), method, dataset, r.info.model, r.info.bitsPattern,
                          std::to_string(epochs.size()), fmt("%.2f", best * 100), paper ? fmt("%.2f", *paper) : "",
                          step, inference});
    }
    return t;
}

ExportTable export_curves_table(RunStore& store, const std::vector<int64_t>& runIds) {
    ExportTable t;
    t.columns = {{"run", "Run", true},
                 {"epoch", "Epoch", true},
                 {"step", "Step", true},
                 {"key", "Key", false},
                 {"value", "Value", true}};
    for (int64_t id : runIds) {
        store.runGet(id); // names a missing run
        for (const EpochMetrics& e : store.epochsGet(id)) {
            const double values[] = {e.trainLoss, e.trainError, e.testLoss,
                                     e.testError, e.seconds,    e.imagesPerSecond};
            static_assert(std::size(values) == std::size(kEpochMetricKeys));
            for (size_t k = 0; k < std::size(values); ++k) {
                if (!std::isfinite(values[k])) continue;
                t.rows.push_back({std::to_string(id), std::to_string(e.epoch + 1),
                                  std::to_string(e.step), kEpochMetricKeys[k],
                                  fmt("%.6g", values[k])});
            }
        }
    }
    return t;
}

std::vector<int64_t> export_sweep_runs(RunStore& store, int64_t sweepId) {
    store.sweepGet(sweepId);
    std::set<int64_t> ids;
    for (const SweepTrial& tr : store.sweepTrialsGet(sweepId))
        if (tr.runId > 0) ids.insert(tr.runId);
    return {ids.begin(), ids.end()};
}

std::string export_csv(const ExportTable& t) {
    std::string out;
    for (size_t c = 0; c < t.columns.size(); ++c) {
        if (c) out += ',';
        out += csvField(t.columns[c].key);
    }
    out += "\r\n";
    for (const auto& row : t.rows) {
        for (size_t c = 0; c < row.size(); ++c) {
            if (c) out += ',';
            out += csvField(row[c]);
        }
        out += "\r\n";
    }
    return out;
}

std::string export_markdown(const ExportTable& t) {
    std::string out = "|";
    for (const ExportColumn& c : t.columns) {
        out += ' ';
        out += markdownCell(c.title);
        out += " |";
    }
    out += "\n|";
    for (const ExportColumn& c : t.columns)
        out += c.numeric ? " ---: |" : " --- |";
    out += "\n";
    for (const auto& row : t.rows) {
        out += "|";
        for (const std::string& cell : row) {
            out += ' ';
            out += markdownCell(cell);
            out += " |";
        }
        out += "\n";
    }
    return out;
}

std::string export_latex(const ExportTable& t) {
    std::string spec;
    for (const ExportColumn& c : t.columns)
        spec += c.numeric ? 'r' : 'l';
    std::string out =
        "% requires \\usepackage{booktabs}\n\\begin{tabular}{" + spec + "}\n\\toprule\n";
    auto line = [&](const std::vector<std::string>& cells) {
        for (size_t c = 0; c < cells.size(); ++c) {
            if (c) out += " & ";
            out += latexCell(cells[c]);
        }
        out += " \\\\\n";
    };
    std::vector<std::string> titles;
    for (const ExportColumn& c : t.columns)
        titles.push_back(c.title);
    line(titles);
    out += "\\midrule\n";
    for (const auto& row : t.rows)
        line(row);
    out += "\\bottomrule\n\\end{tabular}\n";
    return out;
}

std::string export_render(const ExportTable& t, ExportFormat format) {
    switch (format) {
    case ExportFormat::Csv:
        return export_csv(t);
    case ExportFormat::Markdown:
        return export_markdown(t);
    case ExportFormat::Latex:
        return export_latex(t);
    }
    return export_csv(t);
}

} // namespace bitbench
