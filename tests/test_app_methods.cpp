// Methods and quantizer families in the workbench: a method preset fills the experiment as the
// same JSON in a file would, editing a cell changes the experiment's quantizers, plans become
// inspector marks, and an op-form model trains from the GUI controller into the store.
#include "experiment_panel.h"
#include "inspector_panel.h"
#include "main_window.h"
#include "quant_bridge.h"
#include "training_controller.h"

#include "bitbench_widgets/bitwidth_editor.h"

#include "bitbench/store.h"

#include <QComboBox>
#include <QFile>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace bitbench;
using nlohmann::json;

class TestAppMethods : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir;

    void fakeMnist(MainWindow& w) {
        QFile f(m_dir.filePath(QStringLiteral("train-images-idx3-ubyte")));
        QVERIFY(f.open(QIODevice::WriteOnly));
        w.experimentPanel()->setDataDir(m_dir.path());
        w.experimentPanel()->setDatabasePath(m_dir.filePath(QStringLiteral("runs.db")));
    }

    // The experiment a file would give with the window's own epochs, seed and limits.
    static Experiment fileEquivalent(json j, const Experiment& built) {
        j["name"] = built.name;
        j["epochs"] = built.epochs;
        j["seed"] = built.seed;
        j["train_limit"] = built.trainLimit;
        j["test_limit"] = built.testLimit;
        return experiment_from_json(j);
    }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void wageFileKeepsItsHash() {
        MainWindow w;
        w.restoreSession();
        fakeMnist(w);
        QVERIFY(w.bitsForm());
        const json keys = w.editorQuantKeys();
        QCOMPARE(QString::fromStdString(keys.dump()), QStringLiteral(R"({"bits":"2-8-8-8"})"));
        const auto e = w.experimentPanel()->buildExperiment(keys);
        QVERIFY(e.has_value());
        const Experiment file = experiment_load(w.experimentPanel()->experimentPath().toStdString());
        QCOMPARE(e->configHash(), file.configHash());
        QCOMPARE(w.bitwidthEditor()->cellText(0, 0), QStringLiteral("wage 2"));
    }

    void presetFillsExperiment() {
        MainWindow w;
        w.restoreSession();
        fakeMnist(w);
        auto* panel = w.experimentPanel();
        QVERIFY(panel->setModel(QStringLiteral("lenet5-bn")));
        QVERIFY(panel->setMethod(QStringLiteral("float-sgd")));
        auto* ed = w.bitwidthEditor();
        QCOMPARE(ed->layers(), (QStringList{"conv1", "conv2", "fc1", "fc2"}));
        for (int c = 0; c < 4; ++c) QCOMPARE(ed->cellText(2, c), QStringLiteral("float"));
        QCOMPARE(ed->pattern(), QStringLiteral("f-f-f-f")); // an all-float quant shows as the pattern
        QVERIFY(!w.bitsForm());
        QCOMPARE(panel->lossName(), QStringLiteral("softmax_ce"));
        QCOMPARE(panel->batch(), 128);
        const auto e = panel->buildExperiment(w.editorQuantKeys());
        QVERIFY(e.has_value());
        QVERIFY(e->graphModel);
        QCOMPARE(e->optimizer.kind, SolverKind::Sgd);
        QCOMPARE(e->optimizer.momentum, 0.9);
        QCOMPARE(e->optimizer.weightDecay, 0.0001);
        QCOMPARE(e->lr.front().lr, 0.01);
        QCOMPARE(e->loss, LossKind::SoftmaxCrossEntropy);
        // The JSON a user would write for the same choices resolves to the same configuration.
        const Experiment file = fileEquivalent({{"model", "lenet5-bn"}, {"method", "float-sgd"}}, *e);
        QCOMPARE(e->stored().dump(), file.stored().dump());
        QCOMPARE(e->configHash(), file.configHash());
        // Back to the WAGE preset: bits form again, the shorthand's hash.
        QVERIFY(panel->setModel(QStringLiteral("lenet5")));
        QVERIFY(panel->setMethod(QStringLiteral("wage")));
        QVERIFY(w.bitsForm());
        QCOMPARE(ed->pattern(), QStringLiteral("2-8-8-8"));
        const auto wage = panel->buildExperiment(w.editorQuantKeys());
        QVERIFY(wage.has_value());
        QCOMPARE(wage->configHash(), fileEquivalent({{"model", "lenet5"}, {"method", "wage"}}, *wage).configHash());
    }

    // Banner et al.'s presets from the picker: the experiment is the shipped file's.
    void bannerPresetsMatchTheirFiles() {
        MainWindow w;
        w.restoreSession();
        fakeMnist(w);
        auto* panel = w.experimentPanel();
        auto* combo = panel->findChild<QComboBox*>(QStringLiteral("methodCombo"));
        QVERIFY(combo);
        QVERIFY(panel->setModel(QStringLiteral("lenet5-bn")));
        for (const char* method : {"banner8", "banner8-sim"}) {
            const QString name = QString::fromLatin1(method);
            const int i = combo->findData(name);
            QVERIFY2(i > 0, method);
            combo->setCurrentIndex(i);
            Q_EMIT combo->activated(i); // as a click on the item
            QCOMPARE(panel->method(), name);
            const auto e = panel->buildExperiment(w.editorQuantKeys());
            QVERIFY2(e.has_value(), method);
            QFile f(QStringLiteral(BITBENCH_SOURCE_DIR "/experiments/%1-lenet5bn-mnist.json")
                        .arg(name));
            QVERIFY(f.open(QIODevice::ReadOnly));
            const Experiment file = fileEquivalent(json::parse(f.readAll().toStdString()), *e);
            QCOMPARE(e->stored().dump(), file.stored().dump());
            QCOMPARE(e->configHash(), file.configHash());
            QCOMPARE(panel->lossName(), QStringLiteral("softmax_ce"));
            QCOMPARE(panel->batch(), 128);
            // The grid shows the preset's families; E_grad gets its own column when it is not E.
            auto* ed = w.bitwidthEditor();
            QCOMPARE(ed->cellText(0, 0).left(8), QStringLiteral("affine 8"));
            QCOMPARE(ed->cellText(0, 2), QStringLiteral("float"));
            const QString eGrad = ed->extraColumnText(0);
            QCOMPARE(eGrad.isEmpty(), false);
            QCOMPARE(eGrad.startsWith(
                         QLatin1String(name == QLatin1String("banner8") ? "affine 16" : "float")),
                     true);
        }
        // Back to float-sgd: E_grad is E again, no E_grad column.
        QVERIFY(panel->setMethod(QStringLiteral("float-sgd")));
        QVERIFY(w.bitwidthEditor()->extraColumnText(0).isEmpty());
    }

    void editingCellsChangesQuant() {
        MainWindow w;
        w.restoreSession();
        fakeMnist(w);
        auto* panel = w.experimentPanel();
        QVERIFY(panel->setModel(QStringLiteral("lenet5-bn")));
        QVERIFY(panel->setMethod(QStringLiteral("float-sgd")));
        auto* ed = w.bitwidthEditor();
        widgets::CellQuant ternary;
        ternary.family = QStringLiteral("ternary");
        ternary.bits = 2;
        ed->setCellQuant(0, 0, ternary);
        QVERIFY(ed->isOverridden(0, 0));
        QCOMPARE(ed->cellText(0, 0), QStringLiteral("ternary"));
        auto e = panel->buildExperiment(w.editorQuantKeys());
        QVERIFY(e.has_value());
        QCOMPARE(e->quantConfig().forOp("conv1", QuantClass::W).family, QuantFamily::Ternary);
        QCOMPARE(e->quantConfig().forOp("conv2", QuantClass::W).family, QuantFamily::Float);
        // The extended pattern sets every layer; its tokens are the core's short strings.
        QVERIFY(ed->setPattern(QStringLiteral("ternary-affine8s-f-f")));
        QCOMPARE(ed->cellText(3, 1), QStringLiteral("affine 8 s"));
        e = panel->buildExperiment(w.editorQuantKeys());
        QVERIFY(e.has_value());
        const Quantizer a = e->quantConfig().forOp("fc2", QuantClass::A);
        QCOMPARE(a.family, QuantFamily::Affine);
        QCOMPARE(a.bits, 8);
        QCOMPARE(a.rounding, Rounding::Stochastic);
        QCOMPARE(e->quantConfig().forOp("conv1", QuantClass::W).family, QuantFamily::Ternary); // an override
        // A family's bits edited from the grid keep the family.
        ed->setCellBits(1, 1, 4);
        QCOMPARE(ed->cellText(1, 1), QStringLiteral("affine 4 s"));
        // A WAGE pattern typed again: the bits shorthand.
        QVERIFY(ed->setPattern(QStringLiteral("2-8-8-8")));
        ed->resetOverrides();
        const json keys = w.editorQuantKeys();
        QCOMPARE(QString::fromStdString(keys.dump()), QStringLiteral(R"({"bits":"2-8-8-8"})"));
    }

    void planMarks() {
        QuantPlan t;
        t.family = QuantFamily::Ternary;
        QuantGroup g;
        g.scale = g.pos = g.neg = 0.5f;
        g.codeLo = -1;
        g.codeHi = 1;
        t.groups = {g};
        auto m = quant_bridge_marks(t);
        QCOMPARE(widgets::histogram_quant_levels(m), (QVector<double>{-0.5, 0.0, 0.5}));
        QCOMPARE(m.clipLo, -0.5);
        QCOMPARE(m.clipHi, 0.5);
        // TTQ: -Wn, 0, Wp.
        QuantPlan q = t;
        q.family = QuantFamily::TernaryLearned;
        q.groups[0].pos = 0.75f;
        q.groups[0].neg = 0.25f;
        m = quant_bridge_marks(q);
        QCOMPARE(widgets::histogram_quant_levels(m), (QVector<double>{-0.25, 0.0, 0.75}));
        // DoReFa W, 2 bits: n = 3, codes 2c - 3 in {-3, -1, 1, 3}, values code / 3.
        QuantPlan d;
        d.family = QuantFamily::Dorefa;
        QuantGroup dg;
        dg.scale = 1.0f / 3.0f;
        dg.codeLo = -3;
        dg.codeHi = 3;
        d.groups = {dg};
        const auto levels = widgets::histogram_quant_levels(quant_bridge_marks(d));
        QCOMPARE(levels.size(), 4);
        QVERIFY(qAbs(levels[0] + 1.0) < 1e-6 && qAbs(levels[1] + 1.0 / 3) < 1e-6 && qAbs(levels[3] - 1.0) < 1e-6);
        // Affine 2 bits with a zero point: (code - zero) * scale + offset, codes 0..3.
        QuantPlan a;
        a.family = QuantFamily::Affine;
        QuantGroup ag;
        ag.scale = 0.25f;
        ag.zero = 1;
        ag.codeLo = 0;
        ag.codeHi = 3;
        a.groups = {ag};
        QCOMPARE(widgets::histogram_quant_levels(quant_bridge_marks(a)), (QVector<double>{-0.25, 0.0, 0.25, 0.5}));
        // Two groups: the common range (-0.25..0.5 and -0.5..1), no levels.
        a.groups.push_back(ag);
        a.groups[1].scale = 0.5f;
        m = quant_bridge_marks(a);
        QCOMPARE(m.clipLo, -0.5);
        QCOMPARE(m.clipHi, 1.0);
        QVERIFY(widgets::histogram_quant_levels(m).isEmpty());
        QVERIFY(quant_bridge_marks(QuantPlan{}).clipHi == 0.0);
    }

    // A banner8 run's plans reach the inspector with E_grad apart from E: its table shows each
    // class's scale, zero point, clip range and clamped shares; banner8-sim has no E_grad row.
    void inspectorShowsAffinePlans() {
        for (const char* method : {"banner8", "banner8-sim"}) {
            const bool integer = std::string(method) == "banner8";
            const json j = {{"name", "gui-banner"},
                            {"model", "lenet5-bn"},
                            {"method", method},
                            {"dataset", "synthetic"},
                            {"batch", 32},
                            {"epochs", 1},
                            {"seed", 2},
                            {"stats_interval", 1},
                            {"train_limit", 64},
                            {"test_limit", 32}};
            TrainingRequest r;
            r.experiment = experiment_from_json(j);
            r.dbPath = m_dir.filePath(QStringLiteral("%1.db").arg(method)).toStdString();
            r.threads = 1;
            TrainingController c;
            std::vector<std::array<QuantPlan, kQuantClassCount>> plans;
            connect(&c, &TrainingController::batchReady, this, [&](const MetricsBatch& b) {
                if (!b.plans.empty()) plans = b.plans;
            });
            QSignalSpy finished(&c, &TrainingController::runFinished);
            QVERIFY(c.start(std::move(r)));
            QVERIFY(finished.wait(120000));
            QVERIFY2(finished.first().at(0).toInt() == int(TrainingOutcome::Finished),
                     qPrintable(finished.first().at(1).toString()));
            QCOMPARE(int(plans.size()), 4);
            InspectorPanel inspector;
            inspector.setLayers({"conv1", "conv2", "fc1", "fc2"});
            inspector.setPlans(plans);
            QCOMPARE(inspector.eGradShown(), integer);
            inspector.select(1, int(QuantClass::A));
            const int W = 0, A = 1, G = 2, E = 3, EG = 4;
            const int family = 0, scale = 1, zero = 2, clipLo = 3, clipHi = 4, low = 5, high = 6;
            for (int cls : {W, A, E}) {
                QCOMPARE(inspector.planCell(cls, family), QStringLiteral("affine"));
                QVERIFY(inspector.planCell(cls, scale).toDouble() > 0);
                QVERIFY(inspector.planCell(cls, clipLo).toDouble() <
                        inspector.planCell(cls, clipHi).toDouble());
                QVERIFY(inspector.planCell(cls, low).endsWith(QLatin1String(" %")));
                QVERIFY(inspector.planCell(cls, high).endsWith(QLatin1String(" %")));
            }
            QCOMPARE(inspector.planCell(G, family), QString()); // float
            if (integer) {
                QCOMPARE(inspector.planCell(W, zero), QStringLiteral("128")); // s8 weights
                bool ok = false;
                const int za = inspector.planCell(A, zero).toInt(&ok);
                QVERIFY(ok && za >= 0 && za <= 255); // u8 with an integer zero point
                QCOMPARE(inspector.planCell(EG, family), QStringLiteral("affine"));
                QCOMPARE(inspector.planCell(EG, zero), QStringLiteral("32768"));
                // E_grad has a plan but no statistics: the view says so.
                inspector.select(1, EG);
                QCOMPARE(inspector.selectedClass(), EG);
                QVERIFY(inspector.view()->headerText().contains(QLatin1String("E_grad")));
            } else {
                // Banner's float zero point: the weights' min (after a relu, A's min is 0: "0").
                QVERIFY(inspector.planCell(W, zero).startsWith(QLatin1String("min -")));
                QCOMPARE(inspector.planCell(EG, family), QString());
                inspector.select(1, EG); // hidden: stays on A
                QCOMPARE(inspector.selectedClass(), A);
            }
            // The numbers are the plan's.
            const QuantPlan& pw = plans[1][0];
            QCOMPARE(inspector.planCell(W, scale), QString::number(pw.groups[0].scale, 'g', 4));
            QVERIFY(pw.clamped.total > 0);
        }
    }

    void opFormModelTrainsToStore() {
        QTemporaryDir dir;
        const QString db = dir.filePath(QStringLiteral("runs.db"));
        const json j = {{"name", "gui-bn"}, {"model", "lenet5-bn"}, {"method", "float-sgd"},
                        {"quant", {{"W", "ternary"}}}, {"dataset", "synthetic"}, {"batch", 16},
                        {"epochs", 1}, {"seed", 2}, {"stats_interval", 2}, {"train_limit", 64}, {"test_limit", 32}};
        TrainingRequest r;
        r.experiment = experiment_from_json(j);
        r.dbPath = db.toStdString();
        r.threads = 1;
        TrainingController c;
        int steps = 0;
        std::vector<std::array<QuantPlan, kQuantClassCount>> plans;
        connect(&c, &TrainingController::batchReady, this, [&](const MetricsBatch& b) {
            steps += int(b.steps.size());
            if (!b.plans.empty()) plans = b.plans;
        });
        QSignalSpy finished(&c, &TrainingController::runFinished);
        QVERIFY(c.start(std::move(r)));
        QVERIFY(finished.wait(120000));
        QCOMPARE(finished.first().at(0).toInt(), int(TrainingOutcome::Finished));
        QCOMPARE(steps, 4); // 64 images / 16
        // Plans of the 4 weight layers: ternary W with one group (alpha > 0), float A.
        QCOMPARE(int(plans.size()), 4);
        QCOMPARE(plans[0][0].family, QuantFamily::Ternary);
        QCOMPARE(int(plans[0][0].groups.size()), 1);
        QVERIFY(plans[0][0].groups[0].pos > 0);
        QVERIFY(plans[0][1].groups.empty());
        RunStore store = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
        const auto runs = store.runsList();
        QCOMPARE(int(runs.size()), 1);
        QCOMPARE(runs[0].status, RunStatus::Finished);
        QCOMPARE(runs[0].steps, int64_t(4));
        QCOMPARE(run_experiment_of(store.runGet(runs[0].id)).configHash(), experiment_from_json(j).configHash());
    }
};

QTEST_MAIN(TestAppMethods)
#include "test_app_methods.moc"
