// bitbench: the GUI executable; all logic lives in bitbench_app.
#include "main_window.h"

#include "bitbench/version.h"

#include <QApplication>
#include <QCommandLineParser>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("bitbench"));
    QApplication::setOrganizationName(QStringLiteral("bitbench"));
    QApplication::setApplicationVersion(QLatin1String(bitbench::kVersion));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Workbench for integer low-precision training"));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.process(app);

    bitbench::MainWindow window;
    window.show();
    return app.exec();
}
