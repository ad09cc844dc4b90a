// Export of stored runs: golden CSV/Markdown/LaTeX files for the summary and curves tables,
// an RFC 4180 round trip, and the errors for bad formats and missing runs.
// Set BITBENCH_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.
#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/store.h"
#include "bitbench/store_export.h"
#include "test_store_synthetic.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace bitbench;
using namespace bitbench::test;

namespace {

const QString kGoldenDir = QStringLiteral(BITBENCH_SOURCE_DIR "/tests/golden/export/");

// Three runs chosen to exercise every escape: commas, quotes, line breaks, pipes, backslashes,
// the LaTeX specials, a missing test error, and a run without any epoch.
std::vector<int64_t> populate(const std::string& path) {
    RunStore store = RunStore::open(path);
    struct Spec {
        const char* name;
        const char* bits;
        const char* model;
        int epochs;
    };
    const Spec specs[] = {
        {"baseline 2-8-8-8", "2-8-8-8", "lenet5", 3},
        {"quote \"x\", comma", "28f8", "mlp|wide", 2},
        {"50% & $5 #1 _a {b} ~c ^d \\ <end>\r\nline two", "28C8", "vgg7", 0},
    };
    std::vector<int64_t> ids;
    for (const Spec& s : specs) {
        const int64_t id = store.runCreate(RunInfo{s.name, "{}", "{}", std::string("cfg-") + s.bits,
                                                   1, s.bits, s.model, "mnist", "", ""});
        RunWriter w(path, id);
        for (int e = 0; e < s.epochs; ++e) {
            EpochMetrics m = syntheticEpoch(e, 469 * (e + 1));
            m.testError = 0.0125 + 0.01 * double((e * 2 + int(id)) % 3); // best is not the last
            if (id == 2 && e == 1) m.testError = NAN;                    // not evaluated
            w.onEpoch(m);
        }
        w.finish(RunStatus::Finished, "{}");
        ids.push_back(id);
    }
    return ids;
}

QByteArray golden(const QString& name, const std::string& produced) {
    const QByteArray bytes = QByteArray::fromStdString(produced);
    QFile f(kGoldenDir + name);
    if (qEnvironmentVariableIntValue("BITBENCH_UPDATE_GOLDEN")) {
        if (f.open(QIODevice::WriteOnly)) f.write(bytes);
        return bytes;
    }
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("<missing golden file>");
}

// A strict RFC 4180 reader, independent of the writer, for the round trip.
std::vector<std::vector<std::string>> parseCsv(const std::string& s, bool* ok) {
    std::vector<std::vector<std::string>> rows(1);
    std::string field;
    bool quoted = false, wasQuoted = false;
    *ok = true;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quoted) {
            if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            if (!field.empty() || wasQuoted) *ok = false;
            quoted = wasQuoted = true;
        } else if (c == ',') {
            rows.back().push_back(field);
            field.clear();
            wasQuoted = false;
        } else if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') {
            rows.back().push_back(field);
            field.clear();
            wasQuoted = false;
            rows.emplace_back();
            ++i;
        } else if (c == '\r' || c == '\n') {
            *ok = false; // bare line break outside quotes
        } else {
            field += c;
        }
    }
    if (!rows.back().empty() || !field.empty()) *ok = false; // last line must end with CRLF
    rows.pop_back();
    return rows;
}

} // namespace

class TestStoreExport : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    std::string m_db;
    std::vector<int64_t> m_ids;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_db = m_dir.filePath("runs.db").toStdString();
        m_ids = populate(m_db);
    }

    void goldenFiles_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<bool>("curves");
        QTest::addColumn<int>("format");
        QTest::newRow("summary csv") << "summary.csv" << false << int(ExportFormat::Csv);
        QTest::newRow("summary md") << "summary.md" << false << int(ExportFormat::Markdown);
        QTest::newRow("summary latex") << "summary.tex" << false << int(ExportFormat::Latex);
        QTest::newRow("curves csv") << "curves.csv" << true << int(ExportFormat::Csv);
        QTest::newRow("curves md") << "curves.md" << true << int(ExportFormat::Markdown);
        QTest::newRow("curves latex") << "curves.tex" << true << int(ExportFormat::Latex);
    }

    void goldenFiles() {
        QFETCH(QString, file);
        QFETCH(bool, curves);
        QFETCH(int, format);
        RunStore store = RunStore::open(m_db, StoreAccess::ReadOnly);
        const ExportTable t =
            curves ? export_curves_table(store, m_ids) : export_summary_table(store, m_ids);
        const std::string out = export_render(t, ExportFormat(format));
        QCOMPARE(QByteArray::fromStdString(out), golden(file, out));
    }

    void summaryValues() {
        RunStore store = RunStore::open(m_db, StoreAccess::ReadOnly);
        const ExportTable t = export_summary_table(store, {m_ids[1]});
        QCOMPARE(t.rows.size(), size_t(1));
        QCOMPARE(t.columns[5].key, std::string("final_test_error_pct"));
        // Run 2: epoch 0 has 0.0125 + 0.01 * (2 % 3), epoch 1 was not evaluated.
        QCOMPARE(t.rows[0][5], std::string("3.25"));
        QCOMPARE(t.rows[0][6], std::string("3.25"));
        QCOMPARE(t.rows[0][8], std::string()); // energy: not computed yet
    }

    // Epochs are printed from 1 everywhere (train, runs show, replay): the stored epoch 0 of run 1
    // (steps done 469) is row "1, 469", its last epoch (stored 2, step 1407) "3, 1407".
    void curvesNumberEpochsFromOne() {
        RunStore store = RunStore::open(m_db, StoreAccess::ReadOnly);
        const ExportTable t = export_curves_table(store, {m_ids[0]});
        QCOMPARE(t.columns[1].key, std::string("epoch"));
        QCOMPARE(t.columns[2].key, std::string("step"));
        QCOMPARE(t.rows.size(), size_t(3 * 6));
        QCOMPARE(t.rows.front()[1], std::string("1"));
        QCOMPARE(t.rows.front()[2], std::string("469"));
        QCOMPARE(t.rows.back()[1], std::string("3"));
        QCOMPARE(t.rows.back()[2], std::string("1407"));
        for (const auto& row : t.rows) QVERIFY(row[1] != "0");
    }

    void csvRoundTrip() {
        RunStore store = RunStore::open(m_db, StoreAccess::ReadOnly);
        for (bool curves : {false, true}) {
            const ExportTable t =
                curves ? export_curves_table(store, m_ids) : export_summary_table(store, m_ids);
            bool ok = false;
            const auto rows = parseCsv(export_csv(t), &ok);
            QVERIFY(ok);
            QCOMPARE(rows.size(), t.rows.size() + 1);
            for (size_t c = 0; c < t.columns.size(); ++c)
                QCOMPARE(rows[0][c], t.columns[c].key);
            for (size_t r = 0; r < t.rows.size(); ++r)
                QCOMPARE(rows[r + 1], t.rows[r]);
        }
    }

    // WAGE's comparison table: the method from the experiment as given, the paper's figure where
    // it has one for that method and data, and the cost model's energies.
    void methodTable() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        RunStore store = RunStore::open(p);
        std::vector<int64_t> ids;
        for (const char* dataset : {"mnist", "fashion-mnist"}) {
            const nlohmann::json given = {{"method", "bc"}, {"model", "lenet5-bn"}, {"dataset", "mnist"}};
            const Experiment e = experiment_from_json(given);
            const int64_t id = store.runCreate(RunInfo{"bc", given.dump(), e.stored().dump(), e.configHash(), 1,
                                                       e.bits.base.dashed(), "lenet5-bn", dataset, "", ""});
            RunWriter w(p, id);
            for (int k = 0; k < 2; ++k) {
                EpochMetrics m = syntheticEpoch(k, 600 * (k + 1));
                m.testError = k ? 0.02 : 0.0125;
                w.onEpoch(m);
            }
            w.finish(RunStatus::Finished, "{}");
            ids.push_back(id);
        }
        const ExportTable t = export_method_table(store, ids);
        QCOMPARE(t.columns[7].key, std::string("paper_test_error_pct"));
        const std::vector<std::string> first(t.rows[0].begin(), t.rows[0].begin() + 8);
        QCOMPARE(first, (std::vector<std::string>{std::to_string(ids[0]), "bc", "mnist", "lenet5-bn", "1-f-f-f", "2",
                                                  "1.25", "1.29"}));
        QCOMPARE(t.rows[1][2], std::string("fashion-mnist"));
        QCOMPARE(t.rows[1][7], std::string()); // the paper has no Fashion-MNIST column
        QVERIFY(!t.rows[0][8].empty());
        QVERIFY(!t.rows[0][9].empty());
        QVERIFY(t.rows[0][8] != t.rows[0][9]);
        QCOMPARE(export_run_method(store.runGet(ids[0])), std::string("bc"));
        QVERIFY(export_latex(t).find("Paper (\\%)") != std::string::npos);
    }

    void sweepSelectsItsRuns() {
        QTemporaryDir dir;
        const std::string p = dir.filePath("runs.db").toStdString();
        const auto ids = populate(p);
        RunStore store = RunStore::open(p);
        const int64_t sweep = store.sweepCreate("s", "{}");
        store.sweepTrialPut(sweep, "b", ids[2], TrialStatus::Finished);
        store.sweepTrialPut(sweep, "a", ids[0], TrialStatus::Finished);
        store.sweepTrialPut(sweep, "c", 0, TrialStatus::Pending);
        QCOMPARE(export_sweep_runs(store, sweep), std::vector<int64_t>({ids[0], ids[2]}));
        QVERIFY_THROWS_EXCEPTION(StoreError, export_sweep_runs(store, sweep + 1));
    }

    void errors() {
        QCOMPARE(export_format_parse("md"), ExportFormat::Markdown);
        QCOMPARE(export_format_parse("tex"), ExportFormat::Latex);
        try {
            export_format_parse("xlsx");
            QFAIL("no exception");
        } catch (const InputError& e) {
            QVERIFY(std::string(e.what()).find("expected csv, md or latex") != std::string::npos);
        }
        RunStore store = RunStore::open(m_db, StoreAccess::ReadOnly);
        QVERIFY_THROWS_EXCEPTION(StoreError, export_summary_table(store, {m_ids[0], 4242}));
        QVERIFY_THROWS_EXCEPTION(StoreError, export_curves_table(store, {4242}));
    }
};

QTEST_APPLESS_MAIN(TestStoreExport)
#include "test_store_export.moc"
