// ReplayView: timed playback of stored curves; verification by re-running on a worker thread.
#include "replay_view.h"

#include "runs_database.h"
#include "training_worker.h"

#include "bitbench/dataset.h"
#include "bitbench/experiment.h"
#include "bitbench/store.h"
#include "bitbench/trainer.h"

#include "bitbench_widgets/curve_plot.h"
#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <nlohmann/json.hpp>

#include <QComboBox>
#include <QElapsedTimer>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>

#include <cmath>

namespace bitbench {

namespace {

QString hex(quint64 v) {
    return QStringLiteral("%1").arg(v, 16, 16, QLatin1Char('0'));
}

// Stops the trainer between steps once the user cancels.
class CancelObserver : public TrainObserver {
public:
    CancelObserver(Trainer& t, std::shared_ptr<std::atomic<bool>> flag)
        : m_t(t), m_flag(std::move(flag)) {}
    void onStep(const StepMetrics&) override {
        if (m_flag->load()) m_t.requestStop();
    }

private:
    Trainer& m_t;
    std::shared_ptr<std::atomic<bool>> m_flag;
};

constexpr int kMaxPlaybackPoints = 4000;

} // namespace

ReplayView::ReplayView(RunsDatabase* db, QWidget* parent)
    : QWidget(parent), m_db(db), m_cancelFlag(std::make_shared<std::atomic<bool>>(false)) {
    m_title = new QLabel(tr("Choose a run in the browser and press Replay."));
    m_title->setTextFormat(Qt::RichText);
    m_plot = new widgets::CurvePlot;
    m_plot->setXLabel(tr("step"));
    m_plot->setYLabel(tr("error (%)"));
    m_batchSeries = m_plot->addSeries(tr("batch error"), widgets::plot_style_colour(0));
    m_trainSeries = m_plot->addSeries(tr("train error"), widgets::plot_style_colour(1));
    m_testSeries = m_plot->addSeries(tr("test error"), widgets::plot_style_colour(2));
    m_plot->setSeriesSmoothed(m_trainSeries, false);
    m_plot->setSeriesSmoothed(m_testSeries, false);
    m_plot->setSmoothing(0.6);

    m_play = new QPushButton(tr("Play"));
    m_scrub = new QSlider(Qt::Horizontal);
    m_speed = new QComboBox;
    for (int s : {5, 15, 60, 300})
        m_speed->addItem(tr("whole run in %1 s").arg(s), s);
    m_speed->setCurrentIndex(1);
    m_where = new QLabel;
    m_where->setMinimumWidth(170);
    auto* playBar = new QHBoxLayout;
    playBar->addWidget(m_play);
    playBar->addWidget(m_scrub, 1);
    playBar->addWidget(m_where);
    playBar->addWidget(m_speed);
    m_timer = new QTimer(this);
    m_timer->setInterval(30);

    m_epochs = new QSpinBox;
    m_epochs->setRange(0, 100000);
    m_epochs->setSpecialValueText(tr("all"));
    m_epochs->setPrefix(tr("epochs: "));
    m_verify = new QPushButton(tr("Re-run and check hashes"));
    m_verify->setToolTip(tr(
        "Trains the stored experiment again from its seed and compares every epoch's weights hash "
        "and test error with the stored ones"));
    m_cancel = new QPushButton(tr("Cancel"));
    m_cancel->setEnabled(false);
    m_verdictLabel = new QLabel;
    m_verdictLabel->setTextFormat(Qt::RichText);
    auto* verifyBar = new QHBoxLayout;
    verifyBar->addWidget(m_verify);
    verifyBar->addWidget(m_epochs);
    verifyBar->addWidget(m_cancel);
    verifyBar->addWidget(m_verdictLabel, 1);
    m_table = new QTableWidget(0, 6);
    m_table->setHorizontalHeaderLabels({tr("Epoch"), tr("Stored hash"), tr("Replayed hash"),
                                        tr("Stored test err."), tr("Replayed test err."),
                                        tr("Result")});
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);

    auto* top = new QWidget;
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->addWidget(m_title);
    topLayout->addWidget(m_plot, 1);
    topLayout->addLayout(playBar);
    auto* bottom = new QWidget;
    auto* bottomLayout = new QVBoxLayout(bottom);
    bottomLayout->setContentsMargins(0, 0, 0, 0);
    bottomLayout->addLayout(verifyBar);
    bottomLayout->addWidget(m_table, 1);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(top);
    split->addWidget(bottom);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(m_play, &QPushButton::clicked, this, [this] { playing() ? pause() : play(); });
    connect(m_scrub, &QSlider::valueChanged, this, [this](int v) {
        if (v != int(m_position)) setPosition(v);
    });
    connect(m_speed, &QComboBox::currentIndexChanged, this,
            [this] { setPlaySeconds(m_speed->currentData().toDouble()); });
    connect(m_timer, &QTimer::timeout, this, [this] {
        const double perTick = double(m_lastStep) * m_timer->interval() / (1000.0 * m_playSeconds);
        const qint64 next = m_position + std::max<qint64>(1, qint64(std::ceil(perTick)));
        setPosition(std::min(next, m_lastStep));
        if (m_position >= m_lastStep) pause();
    });
    connect(m_verify, &QPushButton::clicked, this, [this] {
        QString why;
        if (!verify(m_epochs->value(), 0, &why)) setVerdict(Verdict::Failed, why);
    });
    connect(m_cancel, &QPushButton::clicked, this, &ReplayView::cancelVerify);
    m_play->setEnabled(false);
    m_verify->setEnabled(false);
}

ReplayView::~ReplayView() {
    m_cancelFlag->store(true);
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
    }
}

bool ReplayView::setRun(qint64 id, QString* error) {
    pause();
    RunStore* store = m_db->store();
    try {
        if (!store) throw std::runtime_error("no database is open");
        const RunRecord r = store->runGet(id);
        // Step metrics carry the step's index, epoch metrics the steps done: x is steps done.
        auto read = [&](const char* key, Curve& c, bool thinned) {
            const bool epochKey = !thinned;
            c = {};
            const std::vector<MetricPoint> pts = store->metricsGet(id, key);
            const size_t stride =
                thinned ? std::max<size_t>(1, pts.size() / kMaxPlaybackPoints) : 1;
            for (size_t i = 0; i < pts.size(); i += stride) {
                c.x << double(epochKey ? pts[i].step : pts[i].step + 1);
                c.y << 100.0 * pts[i].value;
            }
        };
        read("error", m_batchErr, true);
        read("train_error", m_trainErr, false);
        read("test_error", m_testErr, false);
        m_runId = id;
        m_lastStep = std::max<qint64>(1, r.steps);
        m_title->setText(tr("<b>Run %1</b> · %2 · <b>%3</b> · %4 on %5 · %6 epochs stored · %7")
                             .arg(id)
                             .arg(QString::fromStdString(r.info.name).toHtmlEscaped(),
                                  QString::fromStdString(r.info.bitsPattern),
                                  QString::fromStdString(r.info.model),
                                  QString::fromStdString(r.info.dataset))
                             .arg(r.epochs)
                             .arg(QLatin1String(run_status_name(r.status))));
        m_epochs->setMaximum(std::max(0, int(r.epochs)));
    } catch (const std::exception& e) {
        if (error) *error = QString::fromUtf8(e.what());
        m_title->setText(
            tr("Cannot load run %1: %2").arg(id).arg(QString::fromUtf8(e.what()).toHtmlEscaped()));
        return false;
    }
    m_table->setRowCount(0);
    setVerdict(Verdict::None, {});
    m_scrub->setRange(0, int(std::min<qint64>(m_lastStep, std::numeric_limits<int>::max())));
    m_play->setEnabled(true);
    m_verify->setEnabled(!m_thread);
    m_position = -1;
    setPosition(m_lastStep);
    return true;
}

void ReplayView::setPosition(qint64 step) {
    step = std::clamp<qint64>(step, 0, m_lastStep);
    if (step == m_position) return;
    m_position = step;
    {
        const QSignalBlocker block(m_scrub);
        m_scrub->setValue(int(step));
    }
    render();
}

void ReplayView::render() {
    // Re-feeding at most a few thousand points is cheaper than bookkeeping for backward scrubs.
    auto feed = [&](int series, const Curve& c) {
        m_plot->clearSeries(series);
        const qsizetype n =
            std::upper_bound(c.x.begin(), c.x.end(), double(m_position)) - c.x.begin();
        m_plot->appendPoints(series, c.x.mid(0, n), c.y.mid(0, n));
    };
    feed(m_batchSeries, m_batchErr);
    feed(m_trainSeries, m_trainErr);
    feed(m_testSeries, m_testErr);
    m_plot->setFollow(false);
    m_plot->flush();
    double yMax = 1;
    for (const Curve* c : {&m_batchErr, &m_trainErr, &m_testErr})
        for (double y : c->y)
            yMax = std::max(yMax, y);
    // The axes hold the whole run, so the curves grow into a fixed frame as they play.
    m_plot->plot()->xAxis->setRange(0, double(m_lastStep));
    if (!m_plot->logScale()) m_plot->plot()->yAxis->setRange(0, std::min(100.0, yMax * 1.05));
    m_plot->plot()->replot();
    double epochs = 0;
    for (double x : m_testErr.x)
        if (x <= double(m_position)) ++epochs;
    m_where->setText(tr("step %1 / %2 · %3 epochs").arg(m_position).arg(m_lastStep).arg(epochs));
}

void ReplayView::play() {
    if (!m_runId) return;
    if (m_position >= m_lastStep) setPosition(0);
    m_timer->start();
    m_play->setText(tr("Pause"));
}

void ReplayView::pause() {
    m_timer->stop();
    m_play->setText(tr("Play"));
}

bool ReplayView::playing() const {
    return m_timer->isActive();
}
void ReplayView::setPlaySeconds(double s) {
    m_playSeconds = std::max(0.5, s);
}

void ReplayView::setVerdict(Verdict v, const QString& text) {
    m_verdict = v;
    const char* colour = v == Verdict::Match                              ? "#1b7a2a"
                         : v == Verdict::Mismatch || v == Verdict::Failed ? "#b01515"
                                                                          : "#333333";
    m_verdictLabel->setText(
        text.isEmpty() ? QString()
                       : QStringLiteral("<span style='color:%1; font-weight:bold'>%2</span>")
                             .arg(QLatin1String(colour), text.toHtmlEscaped()));
}

bool ReplayView::verify(int epochs, int threads, QString* error) {
    auto fail = [&](const QString& m) {
        if (error) *error = m;
        return false;
    };
    if (m_thread) return fail(tr("A replay is already running."));
    if (!m_runId || !m_db->store()) return fail(tr("No run loaded."));
    RunRecord rec;
    std::vector<EpochMetrics> stored;
    Experiment e;
    try {
        rec = m_db->store()->runGet(m_runId);
        stored = m_db->store()->epochsGet(m_runId);
        e = run_experiment_of(rec);
    } catch (const std::exception& ex) {
        return fail(
            tr("Run %1 cannot be replayed: %2").arg(m_runId).arg(QString::fromUtf8(ex.what())));
    }
    if (stored.empty())
        return fail(tr("Run %1 has no finished epoch to compare against.").arg(m_runId));
    const int wanted = epochs > 0 ? std::min<int>(epochs, int(stored.size())) : int(stored.size());
    e.epochs = wanted; // the schedule is per epoch, so a shorter replay computes the same epochs
    m_table->setRowCount(0);
    m_firstMismatch = 0;
    setVerdict(Verdict::Running, tr("Replaying %n epoch(s)…", nullptr, wanted));
    m_cancelFlag = std::make_shared<std::atomic<bool>>(false);
    auto cancel = m_cancelFlag;
    m_thread = QThread::create([this, e, rec, dbPath = m_db->path().toStdString(), stored, wanted,
                                threads, cancel] {
        QString failure;
        int checked = 0;
        try {
            // Its own connection: the browser's belongs to the GUI thread.
            RunStore store = RunStore::open(dbPath, StoreAccess::ReadOnly);
            const Dataset data = run_data_load(store, rec, e, {});
            // The engine that trained the run: another one would round differently.
            Trainer t(e, data, threads, run_engine_of(rec, e));
            CancelObserver stopper(t, cancel);
            t.addObserver(&stopper);
            bool mismatch = false;
            while (checked < wanted && !mismatch && !cancel->load()) {
                t.step();
                while (checked < int(t.history().size()) && checked < wanted) {
                    const EpochMetrics& now = t.history()[size_t(checked)];
                    const EpochMetrics& then = stored[size_t(checked)];
                    mismatch =
                        now.weightsHash != then.weightsHash || now.testError != then.testError;
                    QMetaObject::invokeMethod(
                        this,
                        [this, ep = now.epoch + 1, sh = then.weightsHash, h = now.weightsHash,
                         se = then.testError,
                         te = now.testError] { onEpochChecked(ep, sh, h, se, te); },
                        Qt::QueuedConnection);
                    ++checked;
                    if (mismatch) break;
                }
                if (t.finished()) break;
            }
        } catch (const std::exception& ex) {
            failure = QString::fromUtf8(ex.what());
        }
        const bool cancelled = cancel->load();
        QMetaObject::invokeMethod(
            this,
            [this, failure, cancelled, checked, wanted] {
                onVerifyEnded(failure, cancelled, checked, wanted);
            },
            Qt::QueuedConnection);
    });
    m_verify->setEnabled(false);
    m_cancel->setEnabled(true);
    m_thread->start();
    return true;
}

void ReplayView::cancelVerify() {
    m_cancelFlag->store(true);
}

void ReplayView::onEpochChecked(int epoch, quint64 storedHash, quint64 hash, double storedErr,
                                double err) {
    const bool ok = storedHash == hash && storedErr == err;
    const int row = m_table->rowCount();
    m_table->insertRow(row);
    const QStringList cells = {QString::number(epoch),
                               hex(storedHash),
                               hex(hash),
                               QStringLiteral("%1 %").arg(100 * storedErr, 0, 'f', 2),
                               QStringLiteral("%1 %").arg(100 * err, 0, 'f', 2),
                               ok ? tr("MATCH") : tr("MISMATCH")};
    for (int c = 0; c < cells.size(); ++c) {
        auto* item = new QTableWidgetItem(cells[c]);
        if (c == 5) item->setForeground(ok ? QColor(0x1b, 0x7a, 0x2a) : QColor(0xb0, 0x15, 0x15));
        if (c == 1 || c == 2) item->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
        m_table->setItem(row, c, item);
    }
    m_table->scrollToBottom();
    if (!ok && !m_firstMismatch) m_firstMismatch = epoch;
    if (m_verdict == Verdict::Running)
        setVerdict(Verdict::Running,
                   m_firstMismatch ? tr("MISMATCH at epoch %1").arg(m_firstMismatch)
                                   : tr("MATCH so far: %n epoch(s) identical…", nullptr, row + 1));
}

void ReplayView::onVerifyEnded(const QString& error, bool cancelled, int checked, int wanted) {
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
        m_thread = nullptr;
    }
    m_verify->setEnabled(m_runId != 0);
    m_cancel->setEnabled(false);
    if (!error.isEmpty())
        setVerdict(Verdict::Failed, tr("Replay failed: %1").arg(error));
    else if (m_firstMismatch)
        setVerdict(
            Verdict::Mismatch,
            tr("MISMATCH: first differing epoch is %1 (see the table)").arg(m_firstMismatch));
    else if (cancelled || checked < wanted)
        setVerdict(Verdict::Cancelled,
                   tr("Cancelled after %n matching epoch(s).", nullptr, checked));
    else
        setVerdict(Verdict::Match,
                   tr("MATCH: all %n epoch(s) bit-identical to the stored run.", nullptr, checked));
    Q_EMIT verifyFinished(int(m_verdict));
}

} // namespace bitbench
