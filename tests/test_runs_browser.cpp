// Runs browser: the model filters and sorts, follows a database being written, renames and
// deletes, and refuses bad databases without touching them.
#include "runs_browser.h"
#include "runs_database.h"
#include "runs_model.h"
#include "runs_window.h"
#include "compare_view.h"
#include "pareto_view.h"
#include "replay_view.h"
#include "sweep_panel.h"

#include "test_runs_fixture.h"

#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/qcp.h"

#include <QComboBox>
#include <QCryptographicHash>
#include <QFile>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include <unistd.h>

using namespace bitbench;

namespace {

RunRow row(qint64 id, const char* name, const char* bits, const char* model, const char* status,
           double best, double ips) {
    RunRow r;
    r.id = id;
    r.name = QString::fromLatin1(name);
    r.bits = QString::fromLatin1(bits);
    r.model = QString::fromLatin1(model);
    r.status = QString::fromLatin1(status);
    r.bestTestError = best;
    r.finalTestError = best;
    r.imagesPerSecond = ips;
    return r;
}

QList<qint64> columnIds(const QAbstractItemModel& m) {
    QList<qint64> ids;
    for (int r = 0; r < m.rowCount(); ++r)
        ids << m.index(r, 0).data(RunsTableModel::kRunIdRole).toLongLong();
    return ids;
}

QByteArray fileHash(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

} // namespace

class TestRunsBrowser : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void filtersAndSorts();
    void updatesInPlace();
    void liveDatabase();
    void refusesBadDatabases();
    void readOnlyDatabase();
    void compareDiffAndPareto();
    void replayMatches();
    void showsDataIdentity();
    void screenshots();
};

void TestRunsBrowser::filtersAndSorts() {
    RunsTableModel model;
    model.setRows({row(1, "alpha", "2-8-8-8", "lenet5", "finished", 0.0062, 9000),
                   row(2, "beta", "2-8-f-8", "lenet5", "running", qQNaN(), qQNaN()),
                   row(3, "gamma", "2-8-8-8", "vgg7", "finished", 0.0681, 800),
                   row(10, "delta", "8-8-8-8", "lenet5", "failed", 0.9, 12000)});
    RunsFilterModel f;
    f.setSourceModel(&model);

    // Numbers sort as numbers (10 after 3), unknown values last.
    f.sort(RunsTableModel::Id, Qt::AscendingOrder);
    QCOMPARE(columnIds(f), (QList<qint64>{1, 2, 3, 10}));
    f.sort(RunsTableModel::BestError, Qt::AscendingOrder);
    QCOMPARE(columnIds(f), (QList<qint64>{1, 3, 10, 2}));
    f.sort(RunsTableModel::ImagesPerS, Qt::DescendingOrder);
    QCOMPARE(columnIds(f).mid(1), (QList<qint64>{10, 1, 3}));
    f.sort(RunsTableModel::Name, Qt::AscendingOrder);
    QCOMPARE(columnIds(f), (QList<qint64>{1, 2, 10, 3}));

    f.sort(RunsTableModel::Id, Qt::AscendingOrder);
    f.setText(QStringLiteral("ALP"));
    QCOMPARE(columnIds(f), (QList<qint64>{1}));
    f.setText(QStringLiteral("f-8")); // matches the bits column
    QCOMPARE(columnIds(f), (QList<qint64>{2}));
    f.setText({});
    f.setStatus(QStringLiteral("finished"));
    QCOMPARE(columnIds(f), (QList<qint64>{1, 3}));
    f.setModelName(QStringLiteral("lenet5"));
    QCOMPARE(columnIds(f), (QList<qint64>{1}));
    f.setStatus({});
    f.setBits(QStringLiteral("8-8-8-8"));
    QCOMPARE(columnIds(f), (QList<qint64>{10}));
    f.setBits({});
    f.setModelName({});
    QCOMPARE(f.rowCount(), 4);
    QCOMPARE(f.index(0, RunsTableModel::BestError).data().toString(), QStringLiteral("0.62 %"));
    QVERIFY(f.index(1, RunsTableModel::BestError).data().toString().isEmpty());
}

void TestRunsBrowser::updatesInPlace() {
    RunsTableModel model;
    model.setRows({row(1, "a", "2-8-8-8", "m", "running", qQNaN(), qQNaN()),
                   row(2, "b", "2-8-8-8", "m", "running", 0.5, 1)});
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    model.setRows({row(2, "b", "2-8-8-8", "m", "finished", 0.4, 1),
                   row(3, "c", "2-8-8-8", "m", "running", qQNaN(), qQNaN())});
    QCOMPARE(reset.count(), 0); // selections survive a poll
    QCOMPARE(removed.count(), 1);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.rowById(2)->status, QStringLiteral("finished"));
    QVERIFY(!model.rowById(1));
}

void TestRunsBrowser::liveDatabase() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.db"));
    const int64_t first = test::trainTinyRun(db.toStdString(), test::tinyExperimentJson("2-8-8-8"));
    RunsWindow w;
    w.database()->setPollInterval(50);
    QVERIFY(w.openDatabase(db, false));
    RunsBrowser* b = w.browser();
    QCOMPARE(b->filterModel()->rowCount(), 1);
    const RunRow* r = b->tableModel()->rowById(first);
    QVERIFY(r);
    QCOMPARE(r->status, QStringLiteral("finished"));
    QCOMPARE(r->epochs, 2);
    QVERIFY(std::isfinite(r->bestTestError) && r->bestTestError <= r->finalTestError);
    QVERIFY(r->imagesPerSecond > 0);
    QVERIFY(r->trainStepEnergyPj > 0); // priced by the cost model
    QVERIFY(!b->view()->model()->index(0, RunsTableModel::Energy).data().toString().isEmpty());

    // Another writer adds a run: the poll picks it up without any action here.
    const int64_t second =
        test::trainTinyRun(db.toStdString(), test::tinyExperimentJson("2-8-f-8"));
    QTRY_COMPARE(b->filterModel()->rowCount(), 2);
    QTRY_VERIFY(b->bitsFilter()->findData(QStringLiteral("2-8-f-8")) >= 0);
    b->bitsFilter()->setCurrentIndex(b->bitsFilter()->findData(QStringLiteral("2-8-f-8")));
    QCOMPARE(b->filterModel()->rowCount(), 1);
    b->bitsFilter()->setCurrentIndex(0);

    // A poll with nothing new changes nothing (no model reset, no row churn).
    QSignalSpy changed(w.database(), &RunsDatabase::rowsChanged);
    const qint64 polls = w.database()->pollCount();
    QTRY_VERIFY(w.database()->pollCount() >= polls + 3);
    QCOMPARE(changed.count(), 0);

    b->selectRuns({second});
    QCOMPARE(b->selectedRuns(), (QList<qint64>{second}));
    QVERIFY(b->renameSelected(QStringLiteral("renamed run"), false));
    QCOMPARE(b->tableModel()->rowById(second)->name, QStringLiteral("renamed run"));
    QVERIFY(b->deleteSelected(false));
    QCOMPARE(b->filterModel()->rowCount(), 1);
    QVERIFY(!RunStore::open(db.toStdString(), StoreAccess::ReadOnly).runExists(second));

    if (const QByteArray shots = qgetenv("BITBENCH_RUNS_SCREENSHOTS"); !shots.isEmpty())
        QVERIFY(
            !w.saveScreenshots(QString::fromLocal8Bit(shots) + QStringLiteral("/live")).isEmpty());
}

void TestRunsBrowser::refusesBadDatabases() {
    QTemporaryDir dir;
    RunsDatabase db;
    QString why;
    QVERIFY(!db.open(dir.filePath(QStringLiteral("missing.db")), &why));
    QVERIFY(why.contains(QStringLiteral("no run database")));
    QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("missing.db")))); // browsing creates nothing

    const QString text = dir.filePath(QStringLiteral("notes.db"));
    {
        QFile f(text);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("these are my notes, not a database\n");
    }
    const QByteArray before = fileHash(text);
    QVERIFY(!db.open(text, &why));
    QVERIFY2(why.contains(QStringLiteral("notes.db")), qPrintable(why));
    QCOMPARE(fileHash(text), before);

    // A bitbench database with a corrupted page in the middle.
    const QString corrupt = dir.filePath(QStringLiteral("corrupt.db"));
    test::trainTinyRun(corrupt.toStdString(), test::tinyExperimentJson("2-8-8-8", 1));
    {
        QFile f(corrupt);
        QVERIFY(f.open(QIODevice::ReadWrite));
        QByteArray all = f.readAll();
        QVERIFY(all.size() > 8192);
        for (int i = 4096; i < all.size(); ++i)
            all[i] = char(0xA5);
        f.seek(0);
        f.write(all);
    }
    RunsWindow w;
    bool opened = w.openDatabase(corrupt, false);
    if (opened) {
        // The header survived, so it opened: reading the damaged pages must report, not crash.
        QSignalSpy errors(w.database(), &RunsDatabase::errorOccurred);
        w.database()->refresh();
        QVERIFY(errors.count() >= 1 || w.database()->rows().empty());
    } else {
        QVERIFY(!w.browser()->banner()->text().isEmpty());
    }
}

void TestRunsBrowser::readOnlyDatabase() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.db"));
    const int64_t id = test::trainTinyRun(db.toStdString(), test::tinyExperimentJson("2-8-8-8", 1));
    QFile::setPermissions(db,
                          QFileDevice::ReadOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
    QFile::setPermissions(dir.path(), QFileDevice::ReadOwner | QFileDevice::ExeOwner);
    RunsWindow w;
    const bool opened = w.openDatabase(db, false);
    QFile::setPermissions(dir.path(),
                          QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
    if (::geteuid() == 0)
        QSKIP("running as root: file permissions do not make the database read-only");
    QVERIFY(opened);
    QVERIFY(w.database()->readOnly());
    QVERIFY(w.browser()->banner()->text().contains(QStringLiteral("read-only")));
    w.browser()->selectRuns({id});
    QVERIFY(!w.browser()->deleteSelected(false));
    QCOMPARE(w.browser()->filterModel()->rowCount(), 1);
}

void TestRunsBrowser::compareDiffAndPareto() {
    QTemporaryDir dir;
    const std::string db = dir.filePath(QStringLiteral("runs.db")).toStdString();
    const int64_t a = test::trainTinyRun(db, test::tinyExperimentJson("2-8-8-8"));
    const int64_t b = test::trainTinyRun(db, test::tinyExperimentJson("2-8-8-4"));
    const int64_t c = test::trainTinyRun(db, test::tinyExperimentJson("2-8-8-8", 2, 7));
    RunsWindow w;
    QVERIFY(w.openDatabase(QString::fromStdString(db), false));

    CompareView* cv = w.compare();
    QSignalSpy loaded(cv, &CompareView::loaded);
    w.showCompare({a, b, c});
    QTRY_VERIFY(!cv->loading());
    QCOMPARE(cv->plot()->seriesCount(), 3);
    QCOMPARE(cv->plot()->seriesName(1), QStringLiteral("2-8-8-4")); // unique pattern: no run id
    QCOMPARE(cv->plot()->seriesName(2), QStringLiteral("#%1 2-8-8-8").arg(c)); // shared with run a
    QCOMPARE(cv->plot()->pointCount(0), 2); // two epochs of test error, at epochs 1 and 2
    QCOMPARE(cv->plot()->rawGraph(0)->data()->at(0)->key, 1.0);
    QCOMPARE(cv->plot()->rawGraph(0)->data()->at(1)->key, 2.0);
    // Only what differs: bits (a vs b) and seed (c); nothing that all three share.
    QTableWidget* d = cv->diffTable();
    QStringList keys;
    for (int r = 0; r < d->rowCount(); ++r)
        keys << d->item(r, 0)->text();
    QCOMPARE(keys, (QStringList{QStringLiteral("bits"), QStringLiteral("seed")}));
    QCOMPARE(d->item(0, 2)->text(), QStringLiteral("\"2-8-8-4\""));
    QCOMPARE(d->item(1, 3)->text(), QStringLiteral("7"));

    // Step-aligned batch loss of many points arrives thinned and in step order.
    cv->setAlign(CompareView::Align::Step);
    cv->setMetric(QStringLiteral("loss"));
    QTRY_VERIFY(!cv->loading());
    QCOMPARE(cv->plot()->pointCount(0), 16); // 256 / 32 = 8 steps x 2 epochs

    ParetoView* pv = w.pareto();
    pv->rebuild();
    QCOMPARE(pv->pointRuns().size(), 3);
    QVERIFY(!pv->frontRuns().isEmpty());
    QSignalSpy activated(pv, &ParetoView::runActivated);
    pv->resize(800, 600);
    pv->show();
    pv->rebuild();
    const qint64 first = pv->frontRuns().front();
    const qsizetype at = pv->pointRuns().indexOf(first);
    QVERIFY(at >= 0);
    const QPointF v = pv->pointValue(at);
    const QPoint px(qRound(pv->plot()->xAxis->coordToPixel(v.x())),
                    qRound(pv->plot()->yAxis->coordToPixel(v.y())));
    QCOMPARE(pv->runAt(px), first);
    QTest::mouseClick(pv->plot(), Qt::LeftButton, {}, px);
    QCOMPARE(activated.count(), 1);
    QCOMPARE(activated.front().front().toLongLong(), first);
    QCOMPARE(w.compare()->runs(), (QList<qint64>{first})); // the click opened the run
    if (const QByteArray shots = qgetenv("BITBENCH_RUNS_SCREENSHOTS"); !shots.isEmpty())
        QVERIFY(!w.saveScreenshots(QString::fromLocal8Bit(shots) + QStringLiteral("/compare"))
                     .isEmpty());
}

void TestRunsBrowser::replayMatches() {
    QTemporaryDir dir;
    const std::string db = dir.filePath(QStringLiteral("runs.db")).toStdString();
    const int64_t id = test::trainTinyRun(db, test::tinyExperimentJson("2-8-8-8"));
    RunsWindow w;
    QVERIFY(w.openDatabase(QString::fromStdString(db), false));
    w.showReplay(id);
    ReplayView* rv = w.replay();
    QCOMPARE(rv->run(), id);
    QCOMPARE(rv->lastStep(), 16);
    rv->setPosition(8);
    QCOMPARE(rv->plot()->pointCount(2), 1); // test error of the first epoch only
    rv->setPosition(16);
    QCOMPARE(rv->plot()->pointCount(2), 2);
    QSignalSpy done(rv, &ReplayView::verifyFinished);
    QVERIFY(rv->verify(0, 1));
    QVERIFY(done.wait(30000));
    QCOMPARE(rv->verdict(), ReplayView::Verdict::Match);
    QCOMPARE(rv->verifyTable()->rowCount(), 2);

    // A stored hash that differs from what training produces shows the first mismatch.
    {
        RunStore store = RunStore::open(db);
        const RunRecord r = store.runGet(id);
        const int64_t forged = store.runCreate(r.info);
        RunWriter wr(db, forged);
        for (EpochMetrics e : store.epochsGet(id)) {
            if (e.epoch == 1) e.weightsHash ^= 1;
            wr.onEpoch(e);
        }
        wr.finish(RunStatus::Finished, "{}");
        w.database()->refresh();
        w.showReplay(forged);
    }
    QVERIFY(rv->verify(0, 1));
    QVERIFY(done.wait(30000));
    QCOMPARE(rv->verdict(), ReplayView::Verdict::Mismatch);
    QCOMPARE(rv->firstMismatchEpoch(), 2);
}

// Pictures of every view over a database of real runs, for looking at them:
//   BITBENCH_RUNS_SCREENSHOT_DB=runs.db BITBENCH_RUNS_SCREENSHOTS=DIR test_runs_browser screenshots
// The dataset column names the data the run read (not only its kind); its tooltip gives the
// folder and whether the files are fingerprinted.
void TestRunsBrowser::showsDataIdentity() {
    QTemporaryDir dir;
    const std::string p = dir.filePath("runs.db").toStdString();
    {
        RunStore store = RunStore::open(p);
        RunInfo info{"fashion", "{}", "{}", "h1", 1, "2-8-8-8", "lenet5", "fashion-mnist", "", ""};
        info.dataDir = "/data/fashion-mnist";
        info.dataFingerprint =
            data_fingerprint_to_json({{"train-images-idx3-ubyte", 47040016, "0123456789abcdef"},
                                      {"train-labels-idx1-ubyte", 60008, "0123456789abcdee"}});
        store.runCreate(info);
        store.runCreate(RunInfo{"old", "{}", "{}", "h2", 1, "2-8-8-8", "lenet5", "mnist", "", ""});
    }
    RunsDatabase db;
    QVERIFY(db.open(QString::fromStdString(p)));
    QCOMPARE(db.rows().size(), size_t(2));
    const RunRow& fashion = db.rows()[0].id == 1 ? db.rows()[0] : db.rows()[1];
    QCOMPARE(fashion.dataset, QStringLiteral("fashion-mnist"));
    QCOMPARE(fashion.dataDir, QStringLiteral("/data/fashion-mnist"));
    QCOMPARE(fashion.dataFiles, 2);
    RunsTableModel model;
    model.setRows(db.rows());
    for (int r = 0; r < model.rowCount(); ++r) {
        const QModelIndex i = model.index(r, RunsTableModel::Dataset);
        const QString tip = i.data(Qt::ToolTipRole).toString();
        if (i.data(RunsTableModel::kRunIdRole).toLongLong() == 1) {
            QCOMPARE(i.data().toString(), QStringLiteral("fashion-mnist"));
            QVERIFY2(tip.contains(QStringLiteral("/data/fashion-mnist")) &&
                         tip.contains(QStringLiteral("2 file")),
                     qPrintable(tip));
        } else {
            QVERIFY2(tip.contains(QStringLiteral("without a data fingerprint")), qPrintable(tip));
        }
    }
}

void TestRunsBrowser::screenshots() {
    const QString db = qEnvironmentVariable("BITBENCH_RUNS_SCREENSHOT_DB");
    const QString out = qEnvironmentVariable("BITBENCH_RUNS_SCREENSHOTS");
    if (db.isEmpty() || out.isEmpty())
        QSKIP("set BITBENCH_RUNS_SCREENSHOT_DB and BITBENCH_RUNS_SCREENSHOTS to take pictures");
    RunsWindow w;
    w.resize(1400, 860);
    w.show();
    QVERIFY(w.openDatabase(db, false));
    QList<qint64> ids;
    for (const RunRow& r : w.database()->rows())
        ids << r.id;
    w.browser()->selectRuns(ids.mid(0, 2));
    w.showCompare(ids);
    QTRY_VERIFY(!w.compare()->loading());
    if (!ids.isEmpty()) w.showReplay(ids.front());
    w.replay()->setPosition(w.replay()->lastStep() * 2 / 3);
    w.sweeps()->showSweep(0);
    QTest::qWait(100);
    QVERIFY(!w.saveScreenshots(out).isEmpty());
    w.compare()->exportPaperFigure(out + QStringLiteral("/compare-paper"));
    w.pareto()->exportPaperFigure(out + QStringLiteral("/pareto-paper"));
}

QTEST_MAIN(TestRunsBrowser)
#include "test_runs_browser.moc"
