// Main window: the pattern field and the layer grid stay in sync through the core's parser, bad
// patterns and fields are refused with a reason, the cost estimate follows the bits, settings persist.
#include "app_settings.h"
#include "experiment_panel.h"
#include "curves_panel.h"
#include "inspector_panel.h"
#include "main_window.h"

#include "bitbench_widgets/bitwidth_editor.h"
#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/tensor_overview.h"

#include "bitbench/store.h"

#include <QAction>
#include <QSignalSpy>
#include <QFile>
#include <QLineEdit>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace bitbench;

class TestAppWindow : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir;

    // A folder that passes the panel's MNIST check (the loader is not run here).
    void fakeMnist(MainWindow& w) {
        QFile f(m_dir.filePath(QStringLiteral("train-images-idx3-ubyte")));
        QVERIFY(f.open(QIODevice::WriteOnly));
        w.experimentPanel()->setDataDir(m_dir.path());
        w.experimentPanel()->setDatabasePath(m_dir.filePath(QStringLiteral("runs.db")));
    }

private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        QSettings().clear();
    }

    void presetLoadsLayersAndPattern() {
        MainWindow w;
        w.restoreSession();
        QVERIFY(!w.experimentPanel()->presetPaths().isEmpty());
        QVERIFY(w.experimentPanel()->experimentPath().endsWith(QLatin1String("wage-lenet5-mnist-2888.json")));
        QCOMPARE(w.bitwidthEditor()->layers(), (QStringList{"conv1", "conv2", "fc1", "fc2"}));
        QCOMPARE(w.bitwidthEditor()->pattern(), QStringLiteral("2-8-8-8"));
        fakeMnist(w);
        QVERIFY(w.experimentPanel()->fieldsValid());
        QVERIFY(w.trainAction()->isEnabled());
    }

    void patternAndGridStayInSync() {
        MainWindow w;
        w.restoreSession();
        fakeMnist(w);
        auto* ed = w.bitwidthEditor();
        QLineEdit* field = ed->patternEdit();
        field->selectAll();
        QTest::keyClicks(field, QStringLiteral("28C8"));
        QCOMPARE(ed->pattern(), QStringLiteral("28C8"));
        for (int l = 0; l < 4; ++l) {
            QCOMPARE(ed->cellBits(l, 0), 2);
            QCOMPARE(ed->cellBits(l, 2), 12);
        }
        // A grid edit becomes a per-layer override and reaches the experiment the window builds.
        ed->setCellBits(3, 0, 4);
        QVERIFY(ed->isOverridden(3, 0));
        QCOMPARE(ed->pattern(), QStringLiteral("28C8"));
        const auto e = w.experimentPanel()->buildExperiment(ed->pattern().toStdString(),
                                                            nlohmann::json{{"fc2", "4-8-12-8"}});
        QVERIFY(e.has_value());
        QCOMPARE(e->bits.forLayer("fc2").w(), 4);
        QCOMPARE(e->bits.forLayer("conv1").g(), 12);
        // Every layer carrying the same value folds back into the pattern.
        for (int l = 0; l < 3; ++l) ed->setCellBits(l, 0, 4);
        QCOMPARE(ed->overrideCount(), 0);
        QCOMPARE(ed->config().patternBits[0], 4);
    }

    void badPatternRejectedWithCoreMessage() {
        MainWindow w;
        w.restoreSession();
        fakeMnist(w);
        auto* ed = w.bitwidthEditor();
        QLineEdit* field = ed->patternEdit();
        field->selectAll();
        // Typed key by key; every prefix is either the old pattern or invalid.
        QTest::keyClicks(field, QStringLiteral("2-8-8-8-8"));
        QVERIFY(!ed->errorText().isEmpty());
        // The same words the CLI prints for --bits 2-8-8-8-8.
        QString core;
        try {
            quant_spec_parse("2-8-8-8-8");
        } catch (const std::exception& ex) {
            core = QString::fromUtf8(ex.what());
        }
        QVERIFY(!core.isEmpty());
        QCOMPARE(ed->errorText(), core);
        QCOMPARE(ed->pattern(), QStringLiteral("2-8-8-8")); // the last good pattern stays
        QCOMPARE(ed->cellBits(0, 3), 8);
        QVERIFY(!w.trainAction()->isEnabled());
        QString why;
        QVERIFY(!w.startTraining(&why));
        QVERIFY(!why.isEmpty());
        field->selectAll();
        QTest::keyClicks(field, QStringLiteral("2-8-f-8"));
        QVERIFY(ed->errorText().isEmpty());
        QCOMPARE(ed->cellBits(2, 2), 0);
        QVERIFY(w.trainAction()->isEnabled());
    }

    void costFollowsBits() {
        MainWindow w;
        w.restoreSession();
        auto* ed = w.bitwidthEditor();
        QVERIFY(w.currentCost().has_value());
        const double base = w.currentCost()->trainStepEnergyPj;
        QVERIFY(ed->costText().contains(QLatin1String("J")));
        ed->setPattern(QStringLiteral("8-8-8-8"));
        QVERIFY(w.currentCost()->trainStepEnergyPj > base);
        const QString text8 = ed->costText();
        ed->setPattern(QStringLiteral("2-8-f-f"));
        QVERIFY(w.currentCost()->trainStepEnergyPj > 10 * base); // float products cost fp32
        QVERIFY(ed->costText() != text8);
        // An edited table changes the estimate and persists.
        CostTable t = w.costTable();
        t.fp32MulPj *= 2;
        const double before = w.currentCost()->trainStepEnergyPj;
        w.setCostTable(t);
        QVERIFY(w.currentCost()->trainStepEnergyPj > before);
        QCOMPARE(settings_cost_table().fp32MulPj, t.fp32MulPj);
        w.setCostTable(CostTable{});
    }

    // An op-form model is priced from its graph, with the quantizers the editor shows.
    void costOfOpGraph() {
        MainWindow w;
        w.restoreSession(); // the WAGE preset: 2-8-8-8, batch 128
        QVERIFY(w.experimentPanel()->setModel(QStringLiteral("lenet5-bn")));
        QCOMPARE(w.bitwidthEditor()->pattern(), QStringLiteral("2-8-8-8"));
        QVERIFY2(w.currentCost().has_value(), qPrintable(w.bitwidthEditor()->costText()));
        const CostEstimate c = *w.currentCost();
        QCOMPARE(c.batch, 128);
        QCOMPARE(c.layers.size(), size_t(4));
        // Forward MACs per image, by hand: conv1 24*24 positions * 32 * 25, conv2 8*8 * 64 * 5*5*32,
        // fc1 4*4*64 * 512, fc2 512 * 10.
        const int64_t macs[4] = {460800, 3276800, 524288, 5120};
        const char* names[4] = {"conv1", "conv2", "fc1", "fc2"};
        for (int i = 0; i < 4; ++i) {
            QCOMPARE(c.layers[size_t(i)].name, std::string(names[i]));
            QCOMPARE(c.layers[size_t(i)].macs[0], macs[i]);
        }
        QCOMPARE(c.layers[0].macs[1], int64_t(0)); // no error product for the first layer
        QCOMPARE(c.inferenceMacs, int64_t(4267008));
        QCOMPARE(c.trainMacsPerStep, int64_t(128) * (3 * 4267008 - 460800));
        // conv1 forward: 2-bit W x 8-bit A over 25 terms: multiplier 0.2 * 2*8/64 = 0.05 pJ, adder
        // 2 + 8 + ceil(log2 25) = 15 bits: 0.03 * 15/8 = 0.05625 pJ; 460800 MACs.
        QCOMPARE(c.layers[0].operandBits[0][0], 2);
        QCOMPARE(c.layers[0].operandBits[0][1], 8);
        QCOMPARE(c.layers[0].energyPj[0], 48960.0);
        QVERIFY(w.bitwidthEditor()->costText().contains(QLatin1String("<td>conv2</td>")));

        // The float SGD preset: every product is an fp32 multiply and add (3.7 + 0.9 pJ).
        QString floatPreset;
        for (const QString& p : w.experimentPanel()->presetPaths())
            if (p.endsWith(QLatin1String("float-lenet5bn-mnist-sgd.json"))) floatPreset = p;
        QVERIFY(!floatPreset.isEmpty());
        QVERIFY(w.experimentPanel()->loadExperimentFile(floatPreset));
        QVERIFY2(w.currentCost().has_value(), qPrintable(w.bitwidthEditor()->costText()));
        const CostEstimate f = *w.currentCost();
        QCOMPARE(f.inferenceMacs, int64_t(4267008));
        QCOMPARE(f.layers[1].pricedAs[0], std::string("float"));
        QCOMPARE(f.inferenceEnergyPj, 4267008 * 4.6);
        settings_set(settings::kLastExperiment, QString()); // the next window opens the WAGE preset
    }

    void fieldsValidatedAsTyped() {
        MainWindow w;
        w.restoreSession();
        fakeMnist(w);
        auto* lr = w.experimentPanel()->findChild<QLineEdit*>(QStringLiteral("lrEdit"));
        QVERIFY(lr);
        lr->selectAll();
        QTest::keyClicks(lr, QStringLiteral("0:8, 0:1"));
        QVERIFY(!w.experimentPanel()->fieldsValid());
        QVERIFY(w.experimentPanel()->reasons().join(QLatin1Char('\n')).contains(QLatin1String("increase")));
        QVERIFY(!w.trainAction()->isEnabled());
        lr->selectAll();
        QTest::keyClicks(lr, QStringLiteral("0:8, 2:0.3")); // not a multiple of 2^-16: the core says so
        QVERIFY(w.experimentPanel()->fieldsValid());
        QVERIFY(!w.startTraining());
        QVERIFY(w.experimentPanel()->reasons().join(QLatin1Char('\n')).contains(QLatin1String("2^-16")));
        lr->selectAll();
        QTest::keyClicks(lr, QStringLiteral("0:8, 2:1"));
        auto* seed = w.experimentPanel()->findChild<QLineEdit*>(QStringLiteral("seedEdit"));
        seed->selectAll();
        QTest::keyClicks(seed, QStringLiteral("-3"));
        QVERIFY(!w.experimentPanel()->fieldsValid());
        seed->selectAll();
        QTest::keyClicks(seed, QStringLiteral("42"));
        QVERIFY(w.experimentPanel()->fieldsValid());
        w.experimentPanel()->setDataDir(m_dir.filePath(QStringLiteral("nowhere")));
        QVERIFY(!w.experimentPanel()->fieldsValid());
        QVERIFY(w.experimentPanel()->reasons().join(QLatin1Char('\n')).contains(QLatin1String("does not exist")));
    }

    void closingDuringTrainingStopsAndKeepsCheckpoint() {
        // A synthetic experiment file, long enough to be still training when the window closes.
        const QString path = m_dir.filePath(QStringLiteral("tiny.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"name": "tiny-close", "dataset": "synthetic", "bits": "2-8-8-8", "batch": 16, "epochs": 500,
          "lr": 8, "seed": 5, "stats_interval": 3, "train_limit": 256, "test_limit": 64,
          "model": {"name": "tiny", "input": {"height": 8, "width": 8, "channels": 1},
            "layers": [{"name": "conv1", "type": "conv", "out": 4, "kernel": 3, "pool": true, "relu": true},
                       {"name": "fc1", "type": "fc", "out": 10}]}})");
        f.close();
        const QString db = m_dir.filePath(QStringLiteral("close.db"));
        MainWindow w;
        w.restoreSession();
        QVERIFY(w.experimentPanel()->loadExperimentFile(path));
        QCOMPARE(w.bitwidthEditor()->layers(), (QStringList{"conv1", "fc1"}));
        w.experimentPanel()->setDatabasePath(db);
        WindowAutomation a;
        a.confirmClose = false; // the question box is the only difference, and it is modal
        w.setAutomation(a);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QSignalSpy started(w.controller(), &TrainingController::runStarted);
        QVERIFY(w.startTraining());
        QVERIFY(!w.trainAction()->isEnabled());
        QVERIFY(started.wait(30000));
        QTRY_VERIFY_WITH_TIMEOUT(w.controller()->lastStep() > 10, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(w.inspector()->historySize(0, 1) > 0, 30000);
        QVERIFY(w.overview()->hasCell(1, 3));

        QVERIFY(!w.close()); // refused for now: the run stops first
        QTRY_VERIFY_WITH_TIMEOUT(!w.isVisible(), 30000);
        QVERIFY(!w.controller()->busy());
        RunStore store = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
        const auto runs = store.runsList();
        QCOMPARE(int(runs.size()), 1);
        QCOMPARE(runs[0].status, RunStatus::Interrupted);
        const auto cp = store.checkpointLatest(runs[0].id);
        QVERIFY(cp.has_value());
        QVERIFY(cp->step > 10);

        // A new window resumes it: the stored curve up to the checkpoint comes back first.
        MainWindow w2;
        w2.restoreSession();
        QVERIFY(w2.experimentPanel()->loadExperimentFile(path));
        w2.experimentPanel()->setDatabasePath(db);
        w2.setAutomation(a);
        QSignalSpy started2(w2.controller(), &TrainingController::runStarted);
        QVERIFY(w2.resumeRun(runs[0].id));
        QVERIFY(started2.wait(30000));
        QCOMPARE(started2.first().at(0).toLongLong(), qint64(runs[0].id));
        QVERIFY(w2.curves()->lossPlot()->pointCount(w2.curves()->trainLossSeries()) >= int(cp->step));
        QTRY_VERIFY_WITH_TIMEOUT(w2.controller()->lastStep() > cp->step, 30000);
        w2.stopTraining();
        QTRY_VERIFY_WITH_TIMEOUT(!w2.controller()->busy(), 30000);
        RunStore store2 = RunStore::open(db.toStdString(), StoreAccess::ReadOnly);
        QCOMPARE(int(store2.runsList().size()), 1); // the same run continued, no new one
        QVERIFY(store2.checkpointLatest(runs[0].id)->step > cp->step);
    }

    void settingsPersistAcrossWindows() {
        const QString db = m_dir.filePath(QStringLiteral("other.db"));
        QSize closedSize;
        {
            MainWindow w;
            w.restoreSession();
            w.experimentPanel()->setDatabasePath(db);
            w.resize(900, 700);
            w.show();
            QVERIFY(QTest::qWaitForWindowExposed(&w));
            closedSize = w.size();
            QVERIFY(w.close());
        }
        QVERIFY(!settings_get(settings::kWindowGeometry).isEmpty());
        MainWindow w2;
        w2.restoreSession();
        QCOMPARE(w2.experimentPanel()->databasePath(), db);
        QCOMPARE(w2.size(), closedSize);
    }
};

QTEST_MAIN(TestAppWindow)
#include "test_app_window.moc"
