// Analysis shared by the runs views and the CLI: Pareto front, config diff, sweep expansion.
#include "bitbench/analysis.h"
#include "bitbench/error.h"

#include <QTemporaryDir>
#include <QTest>

#include <cmath>
#include <fstream>

using namespace bitbench;

class TestRunsAnalysis : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void paretoKnownPoints();
    void paretoEdgeCases();
    void diffOnlyDiffering();
    void sweepGrid();
    void sweepPatternsAndLayers();
    void sweepErrors();
};

void TestRunsAnalysis::paretoKnownPoints() {
    //            0    1    2    3    4    5    6
    const std::vector<double> cost{10, 20, 15, 40, 30, 20, 50};
    const std::vector<double> err{5.0, 3.0, 4.0, 1.0, 3.5, 2.0, 1.0};
    // 0 (10, 5), 2 (15, 4), 5 (20, 2), 3 (40, 1) are not dominated; 1 by 5, 4 by 5, 6 by 3.
    QCOMPARE(analysis_pareto_front(cost, err), (std::vector<size_t>{0, 2, 5, 3}));
}

void TestRunsAnalysis::paretoEdgeCases() {
    QVERIFY(analysis_pareto_front({}, {}).empty());
    QCOMPARE(analysis_pareto_front({1}, {1}), (std::vector<size_t>{0}));
    // Exact duplicates both stay; NaN and infinity are skipped.
    QCOMPARE(analysis_pareto_front({2, 2, NAN, 1}, {1, 1, 0, INFINITY}),
             (std::vector<size_t>{0, 1}));
    // Same cost, different error: only the lower error.
    QCOMPARE(analysis_pareto_front({3, 3}, {2, 1}), (std::vector<size_t>{1}));
    QVERIFY_THROWS_EXCEPTION(InputError, analysis_pareto_front({1, 2}, {1}));
}

void TestRunsAnalysis::diffOnlyDiffering() {
    const auto a = nlohmann::json::parse(
        R"({"bits":"2-8-8-8","batch":128,"lr":[[0,8],[200,1]],"model":{"name":"lenet5"}})");
    const auto b = nlohmann::json::parse(
        R"({"bits":"2-8-8-4","batch":128,"lr":[[0,8],[200,2]],"model":{"name":"lenet5"},"seed":3})");
    const auto rows = analysis_config_diff({a, b});
    QCOMPARE(rows.size(), size_t(3));
    QCOMPARE(rows[0].key, std::string("bits"));
    QCOMPARE(rows[0].values, (std::vector<std::string>{"\"2-8-8-8\"", "\"2-8-8-4\""}));
    QCOMPARE(rows[1].key, std::string("lr[1][1]"));
    QCOMPARE(rows[1].values, (std::vector<std::string>{"1", "2"}));
    QCOMPARE(rows[2].key, std::string("seed"));
    QCOMPARE(rows[2].values, (std::vector<std::string>{"", "3"})); // absent in a
    QVERIFY(analysis_config_diff({a, a, a}).empty());
    QVERIFY(analysis_config_diff({a}).empty());
}

namespace {
nlohmann::json tinyBase() {
    return {{"name", "tiny"},    {"model", "mlp"}, {"dataset", "synthetic"},
            {"bits", "2-8-8-8"}, {"batch", 32},    {"epochs", 1}};
}
} // namespace

void TestRunsAnalysis::sweepGrid() {
    QTemporaryDir dir;
    { std::ofstream(dir.filePath(QStringLiteral("base.json")).toStdString()) << tinyBase().dump(); }
    std::string name;
    const auto trials = sweep_expand({{"name", "g"},
                                      {"base", "base.json"},
                                      {"grid", {{"E", {4, 8}}, {"G", {8, "f"}}}},
                                      {"set", {{"epochs", 3}}}},
                                     dir.path().toStdString(), &name);
    QCOMPARE(name, std::string("g"));
    QCOMPARE(trials.size(), size_t(4));
    QCOMPARE(trials[0].label, std::string("2-8-8-4"));
    QCOMPARE(trials[1].label, std::string("2-8-8-8"));
    QCOMPARE(trials[2].label, std::string("2-8-f-4"));
    QCOMPARE(trials[3].experiment.epochs, 3);
    QCOMPARE(trials[3].experiment.name, std::string("tiny@2-8-f-8"));
    QCOMPARE(trials[0].configHash, trials[0].experiment.configHash());
}

void TestRunsAnalysis::sweepPatternsAndLayers() {
    // Duplicates (same config written two ways) collapse to one trial.
    const auto p =
        sweep_expand({{"base", tinyBase()}, {"patterns", {"2888", "2-8-8-8", "28f8"}}}, {});
    QCOMPARE(p.size(), size_t(2));
    const auto l = sweep_expand(
        {{"base", tinyBase()}, {"layers", {{"fc1", {{"W", {2, 4}}, {"A", {8, 6}}}}}}}, {});
    QCOMPARE(l.size(), size_t(4));
    QCOMPARE(l[0].experiment.bits.forLayer("fc1").dashed(), std::string("2-8-8-8"));
    QCOMPARE(l[3].experiment.bits.forLayer("fc1").dashed(), std::string("4-6-8-8"));
    QCOMPARE(l[3].label, std::string("2-8-8-8 fc1:A6 fc1:W4"));
    QCOMPARE(l[3].experiment.bits.forLayer("fc2").dashed(), std::string("2-8-8-8"));
}

void TestRunsAnalysis::sweepErrors() {
    auto message = [](const nlohmann::json& s) -> std::string {
        try {
            sweep_expand(s, {});
        } catch (const InputError& e) {
            return e.what();
        }
        return {};
    };
    QVERIFY(message({{"base", tinyBase()}}).find("exactly one") != std::string::npos);
    QVERIFY(message({{"base", tinyBase()}, {"grid", {{"X", {2}}}}}).find("unknown class \"X\"") !=
            std::string::npos);
    QVERIFY(message({{"base", tinyBase()}, {"grid", {{"E", {0}}}}}).find("sweep.grid.E") !=
            std::string::npos);
    QVERIFY(message({{"base", tinyBase()}, {"layers", {{"nope", {{"W", {2}}}}}}}).find("nope") !=
            std::string::npos);
    QVERIFY(message({{"base", "missing.json"}, {"patterns", {"2888"}}}).find("missing.json") !=
            std::string::npos);
}

QTEST_MAIN(TestRunsAnalysis)
#include "test_runs_analysis.moc"
