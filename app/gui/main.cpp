// bitbench: the GUI executable; all logic lives in bitbench_app.
#include "main_window.h"

#include "bitbench/error.h"
#include "bitbench/experiment.h"
#include "bitbench/quant_spec.h"
#include "bitbench/version.h"

#include "experiment_panel.h"

#include "bitbench_widgets/bitwidth_editor.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QRegularExpression>

#include <cstdio>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("bitbench"));
    QApplication::setOrganizationName(QStringLiteral("bitbench"));
    QApplication::setApplicationVersion(QLatin1String(bitbench::kVersion));
    // The installed theme icon when there is one, else the SVG built into the program; the desktop
    // file name lets Wayland shells match the window to its menu entry.
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("bitbench"), QIcon(QStringLiteral(":/bitbench.svg"))));
    QGuiApplication::setDesktopFileName(QStringLiteral("bitbench"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Workbench for integer low-precision training"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption experiment({QStringLiteral("e"), QStringLiteral("experiment")},
                                        QStringLiteral("Experiment file to open."), QStringLiteral("file"));
    const QCommandLineOption bits(QStringLiteral("bits"), QStringLiteral("W-A-G-E pattern, e.g. 2-8-8-8."),
                                  QStringLiteral("pattern"));
    const QCommandLineOption model(QStringLiteral("model"), QStringLiteral("Built-in model, e.g. lenet5-bn."),
                                   QStringLiteral("name"));
    const QCommandLineOption method(QStringLiteral("method"),
                                    QStringLiteral("Method preset (its quantizers, optimizer, loss, schedule)."),
                                    QStringLiteral("name"));
    const QCommandLineOption db(QStringLiteral("db"), QStringLiteral("Run database file."), QStringLiteral("file"));
    const QCommandLineOption dataDir(QStringLiteral("data-dir"), QStringLiteral("Dataset folder."),
                                     QStringLiteral("dir"));
    const QCommandLineOption epochs(QStringLiteral("epochs"), QStringLiteral("Number of epochs."), QStringLiteral("n"));
    const QCommandLineOption threads(QStringLiteral("threads"), QStringLiteral("Worker threads (0 = all cores)."),
                                     QStringLiteral("n"));
    const QCommandLineOption trainLimit(QStringLiteral("train-limit"),
                                        QStringLiteral("Use only the first N training images."), QStringLiteral("n"));
    const QCommandLineOption testLimit(QStringLiteral("test-limit"),
                                       QStringLiteral("Evaluate on only the first N test images."), QStringLiteral("n"));
    const QCommandLineOption autotrain(QStringLiteral("autotrain"), QStringLiteral("Start training at once."));
    const QCommandLineOption quitAfter(QStringLiteral("quit-after-steps"),
                                       QStringLiteral("With --autotrain: stop after N steps (checkpointed) and quit."),
                                       QStringLiteral("n"));
    const QCommandLineOption quitWhenDone(QStringLiteral("quit-when-done"),
                                          QStringLiteral("With --autotrain: quit once the run has ended."));
    const QCommandLineOption shots(QStringLiteral("screenshot-dir"),
                                   QStringLiteral("Save PNGs of the main views here (with --autotrain: at the end) and quit."),
                                   QStringLiteral("dir"));
    const QCommandLineOption perf(QStringLiteral("perf-log"),
                                  QStringLiteral("With --autotrain: print frames/s and images/s as JSON at the end."));
    const QCommandLineOption inspect(QStringLiteral("inspect"),
                                     QStringLiteral("Tensor shown in the inspector, e.g. 1:E (layer index:class)."),
                                     QStringLiteral("layer:class"));
    const QCommandLineOption size(QStringLiteral("size"), QStringLiteral("Window size, e.g. 1600x1000."),
                                  QStringLiteral("WxH"));
    parser.addOptions({experiment, bits, model, method, db, dataDir, epochs, threads, trainLimit, testLimit, autotrain, quitAfter,
                       quitWhenDone, shots, perf, inspect, size});
    // parse() rather than process(): a usage error exits with 2 and one line, like bitbench-cli.
    if (!parser.parse(QCoreApplication::arguments())) {
        std::fprintf(stderr, "bitbench: %s (see bitbench --help)\n", parser.errorText().toUtf8().constData());
        return 2;
    }
    if (parser.isSet(QStringLiteral("version"))) parser.showVersion();
    if (parser.isSet(QStringLiteral("help"))) parser.showHelp(0);

    auto number = [&](const QCommandLineOption& o, qint64 lo) -> qint64 {
        bool ok = false;
        const qint64 v = parser.value(o).toLongLong(&ok);
        if (!ok || v < lo) {
            std::fprintf(stderr, "bitbench: --%s expects a whole number >= %lld, got \"%s\"\n",
                         o.names().constLast().toUtf8().constData(), (long long)lo,
                         parser.value(o).toUtf8().constData());
            std::exit(2);
        }
        return v;
    };

    for (const QCommandLineOption* o : {&experiment, &bits, &model, &method, &db, &dataDir, &shots, &inspect, &size})
        if (parser.isSet(*o) && parser.value(*o).isEmpty()) {
            std::fprintf(stderr, "bitbench: --%s needs a value, got an empty one (leave the option out for its default)\n",
                         o->names().constLast().toUtf8().constData());
            return 2;
        }
    if (parser.isSet(autotrain)) {
        // Refused before any window opens, with bitbench-cli's line and exit code.
        try {
            if (parser.isSet(experiment)) (void)bitbench::experiment_load(parser.value(experiment).toStdString());
            // A pattern naming families ("ternary-affine8-f-f") is the editor's to check.
            static const QRegularExpression family(QStringLiteral("[a-eg-z]"));
            if (parser.isSet(bits) && !parser.value(bits).toLower().contains(family))
                (void)bitbench::quant_spec_parse(parser.value(bits).toStdString());
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bitbench: %s\n", bitbench::error_line(e).c_str());
            return bitbench::error_exit_code(e);
        }
    }

    bitbench::MainWindow window;
    window.restoreSession();
    auto* panel = window.experimentPanel();
    if (parser.isSet(experiment) && !panel->loadExperimentFile(parser.value(experiment)))
        std::fprintf(stderr, "bitbench: cannot open the experiment %s (details in the window)\n",
                     parser.value(experiment).toUtf8().constData());
    if (parser.isSet(model) && !panel->setModel(parser.value(model))) {
        std::fprintf(stderr, "bitbench: --model: no built-in model \"%s\"\n", parser.value(model).toUtf8().constData());
        return 2;
    }
    if (parser.isSet(method) && !panel->setMethod(parser.value(method))) {
        std::fprintf(stderr, "bitbench: --method: cannot use \"%s\" (details in the window)\n",
                     parser.value(method).toUtf8().constData());
        return 2;
    }
    if (parser.isSet(bits)) window.bitwidthEditor()->setPattern(parser.value(bits));
    if (parser.isSet(db)) panel->setDatabasePath(parser.value(db));
    if (parser.isSet(dataDir)) panel->setDataDir(parser.value(dataDir));
    if (parser.isSet(epochs)) panel->setEpochs(int(number(epochs, 1)));
    if (parser.isSet(threads)) panel->setThreads(int(number(threads, 0)));
    if (parser.isSet(trainLimit)) panel->setTrainLimit(number(trainLimit, 1));
    if (parser.isSet(testLimit)) panel->setTestLimit(number(testLimit, 1));
    if (parser.isSet(size)) {
        const QStringList wh = parser.value(size).split(QLatin1Char('x'));
        if (wh.size() == 2) window.resize(wh[0].toInt(), wh[1].toInt());
    }

    bitbench::WindowAutomation a;
    a.autotrain = parser.isSet(autotrain);
    a.quitAfterSteps = parser.isSet(quitAfter) ? number(quitAfter, 1) : 0;
    a.quitWhenDone = parser.isSet(quitWhenDone);
    a.screenshotDir = parser.value(shots);
    a.perfLog = parser.isSet(perf);
    a.confirmClose = !a.autotrain;
    if (parser.isSet(inspect)) {
        const QStringList lc = parser.value(inspect).split(QLatin1Char(':'));
        const QString classes = QStringLiteral("WAGE");
        if (lc.size() == 2) {
            a.inspectLayer = lc[0].toInt();
            a.inspectClass = int(classes.indexOf(lc[1].toUpper()));
        }
    }
    window.show();
    window.setAutomation(a);
    return app.exec();
}
