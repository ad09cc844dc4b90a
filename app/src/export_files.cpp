// Table and plot export for the runs views: model-to-table conversion, file dialogs, paper figure.
#include "export_files.h"

#include "bitbench/atomic_file.h"
#include "bitbench/error.h"
#include "bitbench_widgets/plot_export.h"
#include "bitbench_widgets/qcp.h"

#include <QAbstractItemModel>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardPaths>

#include <functional>

namespace bitbench {

namespace {

// Writes `path` as a whole through `write` (which fills the temporary file it is given), never
// over a database; false with *error naming `path`.
bool writeReplacing(const QString& path,
                    const std::function<bool(const QString& tmp, QString* why)>& write,
                    QString* error) {
    const std::string target = QFile::encodeName(path).toStdString();
    try {
        file_output_check(target);
        file_replace(target, [&](const std::string& tmp) {
            const QString tmpPath = QFile::decodeName(QByteArray::fromStdString(tmp));
            QString why;
            if (!write(tmpPath, &why)) throw OutputError(why.replace(tmpPath, path).toStdString());
        });
        return true;
    } catch (const Error& e) {
        if (error) *error = QString::fromStdString(e.what());
        return false;
    }
}

bool plotWrite(QCustomPlot* plot, const QString& path, int widthPx, int heightPx, double dpi,
               QString* error) {
    return writeReplacing(
        path,
        [&](const QString& tmp, QString* why) {
            return widgets::plot_export(plot, tmp, widthPx, heightPx, dpi, why);
        },
        error);
}

} // namespace

ExportTable export_table_from_model(const QAbstractItemModel* model) {
    ExportTable t;
    if (!model) return t;
    const int cols = model->columnCount(), rows = model->rowCount();
    for (int c = 0; c < cols; ++c) {
        const QString title = model->headerData(c, Qt::Horizontal, Qt::DisplayRole).toString();
        bool numeric = rows > 0;
        for (int r = 0; r < rows && numeric; ++r) {
            const QVariant v = model->index(r, c).data(Qt::UserRole);
            numeric =
                v.isValid() && (v.typeId() == QMetaType::Double ||
                                v.typeId() == QMetaType::LongLong || v.typeId() == QMetaType::Int);
        }
        // Machine names for the CSV header: lower case, words joined by '_', no punctuation.
        QString key;
        for (const QChar ch : title.toLower()) {
            if (ch.isLetterOrNumber())
                key += ch;
            else if (!key.isEmpty() && !key.endsWith(QLatin1Char('_')))
                key += QLatin1Char('_');
        }
        while (key.endsWith(QLatin1Char('_')))
            key.chop(1);
        t.columns.push_back({key.toStdString(), title.toStdString(), numeric});
    }
    for (int r = 0; r < rows; ++r) {
        std::vector<std::string> row;
        for (int c = 0; c < cols; ++c)
            row.push_back(model->index(r, c).data(Qt::DisplayRole).toString().toStdString());
        t.rows.push_back(std::move(row));
    }
    return t;
}

bool export_format_of_path(const QString& path, ExportFormat* format) {
    const QString ext = QFileInfo(path).suffix().toLower();
    if (ext == QLatin1String("csv"))
        *format = ExportFormat::Csv;
    else if (ext == QLatin1String("md") || ext == QLatin1String("markdown"))
        *format = ExportFormat::Markdown;
    else if (ext == QLatin1String("tex") || ext == QLatin1String("latex"))
        *format = ExportFormat::Latex;
    else
        return false;
    return true;
}

bool export_table_write(const ExportTable& t, const QString& path, QString* error) {
    ExportFormat f;
    if (!export_format_of_path(path, &f)) {
        if (error)
            *error = QObject::tr("'%1': unknown table format (use .csv, .md or .tex)").arg(path);
        return false;
    }
    const std::string text = export_render(t, f);
    return writeReplacing(
        path,
        [&](const QString& tmp, QString* why) {
            QFile out(tmp);
            if (out.open(QIODevice::WriteOnly | QIODevice::Truncate) &&
                out.write(text.data(), qint64(text.size())) == qint64(text.size()) && out.flush())
                return true;
            *why = QObject::tr("'%1': cannot write (%2)").arg(tmp, out.errorString());
            return false;
        },
        error);
}

QStringList export_paper_figure(QCustomPlot* plot, const QString& basePath, QString* error) {
    const FigureSize s;
    QStringList written;
    for (const char* ext : {".pdf", ".svg", ".png"}) {
        const QString path = basePath + QLatin1String(ext);
        QString why;
        if (!plotWrite(plot, path, s.widthPx, s.heightPx, s.dpi, &why)) {
            if (error && error->isEmpty()) *error = why;
            continue;
        }
        written << path;
    }
    return written;
}

namespace {

QString defaultDir() {
    const QString d = QStandardPaths::writableLocation(QStandardPaths::DocumentsLocation);
    return d.isEmpty() ? QDir::homePath() : d;
}

} // namespace

QString export_plot_interactive(QWidget* parent, QCustomPlot* plot, const QString& suggestedName) {
    QDialog d(parent);
    d.setWindowTitle(QObject::tr("Export plot"));
    auto* form = new QFormLayout(&d);
    auto* pathEdit =
        new QLineEdit(QDir(defaultDir()).filePath(suggestedName + QStringLiteral(".pdf")));
    auto* browse = new QPushButton(QObject::tr("Browse…"));
    auto* pathRow = new QHBoxLayout;
    pathRow->addWidget(pathEdit, 1);
    pathRow->addWidget(browse);
    auto* preset = new QComboBox;
    preset->addItem(QObject::tr("One column (3.5 × 2.5 in)"), QSize(1050, 750));
    preset->addItem(QObject::tr("Two columns (7 × 3 in)"), QSize(2100, 900));
    preset->addItem(QObject::tr("Slide (1920 × 1080 px)"), QSize(1920, 1080));
    preset->addItem(QObject::tr("Custom"), QSize());
    auto* width = new QSpinBox;
    auto* height = new QSpinBox;
    for (QSpinBox* s : {width, height}) {
        s->setRange(100, 20000);
        s->setSuffix(QObject::tr(" px"));
    }
    width->setValue(1050);
    height->setValue(750);
    auto* dpi = new QDoubleSpinBox;
    dpi->setRange(36, 1200);
    dpi->setDecimals(0);
    dpi->setValue(300);
    form->addRow(QObject::tr("File (.png, .svg, .pdf)"), pathRow);
    form->addRow(QObject::tr("Size"), preset);
    form->addRow(QObject::tr("Width"), width);
    form->addRow(QObject::tr("Height"), height);
    form->addRow(QObject::tr("Resolution (dpi)"), dpi);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Save | QDialogButtonBox::Cancel);
    form->addRow(buttons);
    QObject::connect(preset, &QComboBox::currentIndexChanged, &d, [=](int i) {
        const QSize s = preset->itemData(i).toSize();
        if (s.isValid()) {
            width->setValue(s.width());
            height->setValue(s.height());
            dpi->setValue(i == 2 ? 96 : 300);
        }
    });
    QObject::connect(browse, &QPushButton::clicked, &d, [&] {
        const QString p =
            QFileDialog::getSaveFileName(&d, QObject::tr("Export plot"), pathEdit->text(),
                                         QObject::tr("PDF (*.pdf);;SVG (*.svg);;PNG (*.png)"));
        if (!p.isEmpty()) pathEdit->setText(p);
    });
    QObject::connect(buttons, &QDialogButtonBox::accepted, &d, &QDialog::accept);
    QObject::connect(buttons, &QDialogButtonBox::rejected, &d, &QDialog::reject);
    if (d.exec() != QDialog::Accepted) return {};
    QString why;
    if (!plotWrite(plot, pathEdit->text(), width->value(), height->value(), dpi->value(), &why)) {
        QMessageBox::warning(parent, QObject::tr("Export failed"), why);
        return {};
    }
    return pathEdit->text();
}

QString export_table_interactive(QWidget* parent, const ExportTable& t,
                                 const QString& suggestedName) {
    QString selected;
    const QString path = QFileDialog::getSaveFileName(
        parent, QObject::tr("Export table"),
        QDir(defaultDir()).filePath(suggestedName + QStringLiteral(".csv")),
        QObject::tr("CSV (*.csv);;Markdown (*.md);;LaTeX booktabs (*.tex)"), &selected);
    if (path.isEmpty()) return {};
    QString target = path;
    ExportFormat f;
    if (!export_format_of_path(target, &f)) // the user typed a bare name: take the chosen filter's
        target += selected.startsWith(QLatin1String("Markdown")) ? QStringLiteral(".md")
                  : selected.startsWith(QLatin1String("LaTeX"))  ? QStringLiteral(".tex")
                                                                 : QStringLiteral(".csv");
    QString why;
    if (!export_table_write(t, target, &why)) {
        QMessageBox::warning(parent, QObject::tr("Export failed"), why);
        return {};
    }
    return target;
}

} // namespace bitbench
