// Running bitbench-cli (or another program) from a test: exit code, standard output and error.
#pragma once

#include <QByteArray>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QStringList>
#include <QTest>

namespace bitbench::test {

struct CliResult {
    int code = -1; // -1: crashed, or did not finish in time
    QByteArray out, err;
    // The last line of standard output as a JSON object (the --json summary).
    QJsonObject last() const {
        const QList<QByteArray> lines = out.trimmed().split('\n');
        return QJsonDocument::fromJson(lines.last()).object();
    }
};

// Waits for a started process. One that does not finish in time is killed and counts as a
// failure: nothing may hang.
inline CliResult processFinish(QProcess& p, int timeoutMs = 120000) {
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        return {-1, p.readAllStandardOutput(), p.readAllStandardError() + "\n(timed out)"};
    }
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

// Runs a program to its end; `stdoutFile` redirects its standard output, `env` adds KEY=VALUE
// entries to this process's environment.
inline CliResult processRun(const QString& program, const QStringList& args,
                            int timeoutMs = 120000, const QString& stdoutFile = {},
                            const QStringList& env = {}) {
    QProcess p;
    if (!stdoutFile.isEmpty()) p.setStandardOutputFile(stdoutFile);
    if (!env.isEmpty()) {
        QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
        for (const QString& kv : env)
            e.insert(kv.section(QLatin1Char('='), 0, 0), kv.section(QLatin1Char('='), 1));
        p.setProcessEnvironment(e);
    }
    p.start(program, args);
    return processFinish(p, timeoutMs);
}

#ifdef BITBENCH_CLI_PATH
inline CliResult cliRun(const QStringList& args, int timeoutMs = 120000,
                        const QString& stdoutFile = {}) {
    return processRun(QStringLiteral(BITBENCH_CLI_PATH), args, timeoutMs, stdoutFile);
}
#endif

// Writes a whole file (the test fails when it cannot be opened).
inline void fileWrite(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    QVERIFY2(f.open(QIODevice::WriteOnly | QIODevice::Truncate), qPrintable(path));
    f.write(bytes);
}

} // namespace bitbench::test
