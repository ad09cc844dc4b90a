// The main window constructs and shows offscreen.
#include "main_window.h"

#include <QTest>

class TestGuiSmoke : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void windowShows() {
        bitbench::MainWindow w;
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(w.windowTitle().startsWith(QStringLiteral("bitbench")));
    }
};

QTEST_MAIN(TestGuiSmoke)
#include "test_gui_smoke.moc"
