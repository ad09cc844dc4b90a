// Export from the runs views: figures are valid SVG / PDF / PNG of the asked size, tables
// round-trip through CSV and render as Markdown and LaTeX booktabs.
#include "export_files.h"
#include "runs_model.h"

#include "bitbench_widgets/plot_style.h"
#include "bitbench_widgets/qcp.h"

#include <QFile>
#include <QImage>
#include <QImageReader>
#include <QTemporaryDir>
#include <QTest>
#include <QXmlStreamReader>

using namespace bitbench;

namespace {

// RFC 4180: quoted fields may hold commas, quotes (doubled) and line breaks.
std::vector<std::vector<QString>> parseCsv(const QByteArray& text) {
    std::vector<std::vector<QString>> rows(1);
    QString field;
    bool quoted = false, any = false;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
                field += QLatin1Char('"'), ++i;
            else if (c == '"')
                quoted = false;
            else
                field += QLatin1Char(c);
        } else if (c == '"') {
            quoted = any = true;
        } else if (c == ',') {
            rows.back().push_back(field), field.clear();
        } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            rows.back().push_back(field), field.clear();
            rows.emplace_back();
            ++i;
        } else {
            field += QLatin1Char(c);
        }
    }
    if (!field.isEmpty() || !rows.back().empty()) rows.back().push_back(field);
    if (rows.back().empty()) rows.pop_back();
    Q_UNUSED(any);
    return rows;
}

QByteArray readAll(const QString& path) {
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

RunsTableModel* sampleModel(QObject* parent) {
    auto* m = new RunsTableModel(parent);
    RunRow a;
    a.id = 1;
    a.name = QStringLiteral("lenet, \"the\" baseline");
    a.bits = QStringLiteral("2-8-8-8");
    a.model = QStringLiteral("lenet5");
    a.status = QStringLiteral("finished");
    a.epochs = 300;
    a.bestTestError = 0.0043;
    a.finalTestError = 0.0048;
    a.imagesPerSecond = 27950;
    a.trainStepEnergyPj = 2.5e9;
    RunRow b = a;
    b.id = 2;
    b.name = QStringLiteral("100%_of_it & more");
    b.bits = QStringLiteral("2-8-f-8");
    b.bestTestError = qQNaN();
    m->setRows({a, b});
    return m;
}

} // namespace

class TestRunsExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void figureFiles();
    void csvRoundTrip();
    void markdownAndLatex();
    void unknownExtension();
    void neverOverADatabase();
};

void TestRunsExport::figureFiles() {
    QCustomPlot plot;
    widgets::plot_style_apply(&plot);
    auto* g = plot.addGraph();
    g->setName(QStringLiteral("#1 2-8-8-8"));
    g->setData({1, 2, 3, 4}, {2.65, 1.62, 0.9, 0.76});
    plot.xAxis->setLabel(QStringLiteral("epoch"));
    plot.yAxis->setLabel(QStringLiteral("test error (%)"));
    plot.rescaleAxes();
    QTemporaryDir dir;
    QString error;
    const QStringList files =
        export_paper_figure(&plot, dir.filePath(QStringLiteral("figure")), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(files.size(), 3);

    const QByteArray svg = readAll(dir.filePath(QStringLiteral("figure.svg")));
    QXmlStreamReader xml(svg);
    QString root;
    int elements = 0;
    while (!xml.atEnd()) {
        if (xml.readNext() == QXmlStreamReader::StartElement) {
            if (root.isEmpty()) root = xml.name().toString();
            ++elements;
        }
    }
    QVERIFY2(!xml.hasError(), qPrintable(xml.errorString()));
    QCOMPARE(root, QStringLiteral("svg"));
    QVERIFY(elements > 10);

    QImageReader png(dir.filePath(QStringLiteral("figure.png")));
    QCOMPARE(png.format(), QByteArray("png"));
    const FigureSize s;
    QCOMPARE(png.size(), QSize(s.widthPx, s.heightPx));
    const QImage img = png.read();
    QVERIFY(qAbs(img.dotsPerMeterX() - qRound(s.dpi / 0.0254)) <= 1);

    const QByteArray pdf = readAll(dir.filePath(QStringLiteral("figure.pdf")));
    QVERIFY(pdf.startsWith("%PDF-"));
    QVERIFY(pdf.trimmed().endsWith("%%EOF"));
}

void TestRunsExport::csvRoundTrip() {
    RunsTableModel* m = sampleModel(this);
    RunsFilterModel f;
    f.setSourceModel(m);
    f.sort(RunsTableModel::Id, Qt::AscendingOrder);
    const ExportTable t = export_table_from_model(&f);
    QCOMPARE(int(t.columns.size()), int(RunsTableModel::ColumnCount));
    QCOMPARE(t.columns[RunsTableModel::Id].key, std::string("run"));
    QCOMPARE(t.columns[RunsTableModel::BestError].key, std::string("best_test_err"));
    QVERIFY(t.columns[RunsTableModel::Epochs].numeric);
    QVERIFY(!t.columns[RunsTableModel::Name].numeric);

    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("runs.csv"));
    QString error;
    QVERIFY2(export_table_write(t, path, &error), qPrintable(error));
    const auto rows = parseCsv(readAll(path));
    QCOMPARE(rows.size(), size_t(3));
    for (size_t r = 1; r < rows.size(); ++r) {
        QCOMPARE(rows[r].size(), t.columns.size());
        for (size_t c = 0; c < rows[r].size(); ++c)
            QCOMPARE(rows[r][c], f.index(int(r - 1), int(c)).data().toString());
    }
    QCOMPARE(rows[1][RunsTableModel::Name], QStringLiteral("lenet, \"the\" baseline"));
    QCOMPARE(rows[1][RunsTableModel::BestError], QStringLiteral("0.43 %"));
    QVERIFY(rows[2][RunsTableModel::BestError].isEmpty());
}

void TestRunsExport::markdownAndLatex() {
    RunsTableModel* m = sampleModel(this);
    const ExportTable t = export_table_from_model(m);
    QTemporaryDir dir;
    QVERIFY(export_table_write(t, dir.filePath(QStringLiteral("runs.md"))));
    const QList<QByteArray> md = readAll(dir.filePath(QStringLiteral("runs.md"))).split('\n');
    QVERIFY(md[0].startsWith("| Run |"));
    QVERIFY(md[1].startsWith("|"));
    QVERIFY(md[1].contains("---:")); // numbers right-aligned
    QCOMPARE(md[0].count('|'), md[2].count('|') - md[2].count("\\|"));

    QVERIFY(export_table_write(t, dir.filePath(QStringLiteral("runs.tex"))));
    const QByteArray tex = readAll(dir.filePath(QStringLiteral("runs.tex")));
    for (const char* k :
         {"\\begin{tabular}", "\\toprule", "\\midrule", "\\bottomrule", "\\end{tabular}"})
        QVERIFY2(tex.contains(k), k);
    QVERIFY(tex.contains("100\\%\\_of\\_it \\& more"));
}

void TestRunsExport::unknownExtension() {
    QTemporaryDir dir;
    QString error;
    QVERIFY(!export_table_write(ExportTable{}, dir.filePath(QStringLiteral("runs.xlsx")), &error));
    QVERIFY(error.contains(QStringLiteral("runs.xlsx")));
    QVERIFY(!export_table_write(ExportTable{},
                                dir.filePath(QStringLiteral("no/such/folder/runs.csv")), &error));
    QVERIFY(error.contains(QStringLiteral("cannot write")));
}

// A table or figure exported over a SQLite file (a run database, ours or not) is refused and the
// file left as it was; the figure's PNG is not written either.
void TestRunsExport::neverOverADatabase() {
    QTemporaryDir dir;
    const QString db = dir.filePath(QStringLiteral("runs.csv"));
    QByteArray header("SQLite format 3");
    header.append('\0');
    header.append(QByteArray(4080, 'x'));
    {
        QFile f(db);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(header);
    }
    ExportTable t;
    t.columns = {ExportColumn{"id", "id", true}};
    t.rows = {{"1"}};
    QString error;
    QVERIFY(!export_table_write(t, db, &error));
    QVERIFY2(error.contains(QStringLiteral("runs.csv")) && error.contains(QStringLiteral("database")),
             qPrintable(error));
    QCOMPARE(readAll(db), header);

    QCustomPlot plot;
    plot.addGraph()->setData({1, 2}, {1, 2});
    const QString png = dir.filePath(QStringLiteral("figure.png"));
    QFile::copy(db, png);
    error.clear();
    export_paper_figure(&plot, dir.filePath(QStringLiteral("figure")), &error);
    QVERIFY2(error.contains(QStringLiteral("figure.png")), qPrintable(error));
    QCOMPARE(readAll(png), header);
}

QTEST_MAIN(TestRunsExport)
#include "test_runs_export.moc"
