// Metrics mailbox: a burst of trainer events from another thread costs one queued signal.
#include "metrics_mailbox.h"

#include <QSignalSpy>
#include <QTest>

#include <thread>

using namespace bitbench;

class TestAppMailbox : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void burstCoalescesIntoOneSignal() {
        MetricsMailbox box;
        QSignalSpy spy(&box, &MetricsMailbox::dataReady);
        // The trainer thread: many steps, some statistics and an epoch end, with no drain between.
        std::thread trainer([&] {
            for (int i = 0; i < 1000; ++i) {
                StepMetrics m;
                m.step = i;
                m.loss = 1.0 / (i + 1);
                box.onStep(m);
                if (i % 100 == 0) box.onTensorStats(std::vector<TensorStats>(3));
            }
            EpochMetrics e;
            e.step = 1000;
            box.onEpoch(e);
        });
        trainer.join();
        QCOMPARE(spy.count(), 1);
        QCOMPARE(box.signalCount(), int64_t(1));
        MetricsBatch b = box.take();
        QCOMPARE(int(b.steps.size()), 1000);
        QCOMPARE(b.steps.front().step, int64_t(0));
        QCOMPARE(b.steps.back().step, int64_t(999));
        QCOMPARE(int(b.stats.size()), 10);
        QCOMPARE(int(b.epochs.size()), 1);
        QVERIFY(box.take().empty());

        // Taking re-arms the signal: the next event after a drain notifies again, once.
        std::thread more([&] {
            for (int i = 0; i < 50; ++i) box.onStep(StepMetrics{});
        });
        more.join();
        QCOMPARE(spy.count(), 2);
        QCOMPARE(int(box.take().steps.size()), 50);
    }

    void queuedAcrossThreadsWithoutPayload() {
        // A receiver in this thread gets the signal queued (delivered by the event loop), and
        // reads the data through take(), never through the signal.
        MetricsMailbox box;
        int received = 0;
        size_t taken = 0;
        connect(&box, &MetricsMailbox::dataReady, this, [&] {
            ++received;
            taken += box.take().steps.size();
        }, Qt::QueuedConnection);
        std::thread trainer([&] {
            for (int i = 0; i < 200; ++i) box.onStep(StepMetrics{});
        });
        trainer.join();
        QCOMPARE(received, 0); // nothing runs until the event loop does
        QTRY_COMPARE(taken, size_t(200));
        QCOMPARE(received, 1);
    }
};

QTEST_MAIN(TestAppMailbox)
#include "test_app_mailbox.moc"
