// Main window layout and wiring of the workbench views.
#include "main_window.h"

#include "bitbench/version.h"

#include <QLabel>
#include <QStatusBar>

namespace bitbench {

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(QStringLiteral("bitbench %1").arg(QLatin1String(kVersion)));
    auto* label = new QLabel(tr("bitbench workbench"), this);
    label->setAlignment(Qt::AlignCenter);
    setCentralWidget(label);
    statusBar()->showMessage(tr("Ready"));
    resize(1280, 800);
}

} // namespace bitbench
