// Replay: play a stored run's curves back over time with a scrubber, or re-run it and show live
// whether every epoch's weights hash matches the stored one.
#pragma once

#include <QVector>
#include <QWidget>

#include <atomic>
#include <memory>

class QComboBox;
class QLabel;
class QPushButton;
class QSlider;
class QSpinBox;
class QTableWidget;
class QThread;
class QTimer;

namespace bitbench {

namespace widgets {
class CurvePlot;
}

class RunsDatabase;

class ReplayView : public QWidget {
    Q_OBJECT
public:
    enum class Verdict { None, Running, Match, Mismatch, Failed, Cancelled };

    explicit ReplayView(RunsDatabase* db, QWidget* parent = nullptr);
    ~ReplayView() override;

    // Loads the run's stored curves and shows them whole (position at the end).
    bool setRun(qint64 id, QString* error = nullptr);
    qint64 run() const { return m_runId; }

    // Playback position in steps done (0 .. lastStep()).
    void setPosition(qint64 step);
    qint64 position() const { return m_position; }
    qint64 lastStep() const { return m_lastStep; }
    void play();
    void pause();
    bool playing() const;
    // Seconds the whole run takes to play.
    void setPlaySeconds(double s);

    // Re-runs the stored experiment on a worker thread (threads 0 = all cores) and compares the
    // first `epochs` epochs (0 = all stored). Results arrive in the table as each epoch ends.
    bool verify(int epochs = 0, int threads = 0, QString* error = nullptr);
    void cancelVerify();
    Verdict verdict() const { return m_verdict; }
    int firstMismatchEpoch() const { return m_firstMismatch; } // 1-based, 0 when none
    QTableWidget* verifyTable() const { return m_table; }
    QLabel* verdictLabel() const { return m_verdictLabel; }
    widgets::CurvePlot* plot() const { return m_plot; }

Q_SIGNALS:
    void verifyFinished(int verdict);

private:
    struct Curve {
        QVector<double> x, y; // x = steps done
    };
    void render();
    void onEpochChecked(int epoch, quint64 storedHash, quint64 hash, double storedErr, double err);
    void onVerifyEnded(const QString& error, bool cancelled, int checked, int wanted);
    void setVerdict(Verdict v, const QString& text);

    RunsDatabase* m_db;
    qint64 m_runId = 0;
    qint64 m_lastStep = 0;
    qint64 m_position = 0;
    double m_playSeconds = 15;
    Curve m_batchErr, m_trainErr, m_testErr;
    widgets::CurvePlot* m_plot;
    int m_batchSeries, m_trainSeries, m_testSeries;
    QLabel* m_title;
    QSlider* m_scrub;
    QPushButton* m_play;
    QComboBox* m_speed;
    QLabel* m_where;
    QTimer* m_timer;
    QSpinBox* m_epochs;
    QPushButton* m_verify;
    QPushButton* m_cancel;
    QLabel* m_verdictLabel;
    QTableWidget* m_table;
    Verdict m_verdict = Verdict::None;
    int m_firstMismatch = 0;
    QThread* m_thread = nullptr;
    std::shared_ptr<std::atomic<bool>> m_cancelFlag;
};

} // namespace bitbench
