// The workbench main window: hosts the experiment panel, curves and inspectors.
#pragma once

#include <QMainWindow>

namespace bitbench {

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
};

} // namespace bitbench
