// RunsTableModel and RunsFilterModel: in-place updates, numeric sorting, combined filters.
#include "runs_model.h"

#include "bitbench/cost_model.h"

#include <QLocale>

#include <cmath>
#include <unordered_map>

namespace bitbench {

QString runs_format_percent(double fraction) {
    if (!std::isfinite(fraction)) return {};
    return QStringLiteral("%1 %").arg(100.0 * fraction, 0, 'f', 2);
}

RunsTableModel::RunsTableModel(QObject* parent) : QAbstractTableModel(parent) {}

const RunRow* RunsTableModel::rowById(qint64 id) const {
    for (const RunRow& r : m_rows)
        if (r.id == id) return &r;
    return nullptr;
}

void RunsTableModel::setRows(std::vector<RunRow> rows) {
    std::unordered_map<qint64, size_t> incoming;
    for (size_t i = 0; i < rows.size(); ++i)
        incoming[rows[i].id] = i;
    // Remove rows that are gone (from the back, so indices stay valid).
    for (int i = int(m_rows.size()) - 1; i >= 0; --i) {
        if (incoming.count(m_rows[size_t(i)].id)) continue;
        beginRemoveRows({}, i, i);
        m_rows.erase(m_rows.begin() + i);
        endRemoveRows();
    }
    std::unordered_map<qint64, size_t> present;
    for (size_t i = 0; i < m_rows.size(); ++i)
        present[m_rows[i].id] = i;
    std::vector<RunRow> added;
    for (RunRow& r : rows) {
        const auto it = present.find(r.id);
        if (it == present.end()) {
            added.push_back(std::move(r));
            continue;
        }
        RunRow& old = m_rows[it->second];
        const bool same = old.name == r.name && old.status == r.status && old.epochs == r.epochs &&
                          old.imagesPerSecond == r.imagesPerSecond &&
                          old.finalTestError == r.finalTestError &&
                          old.trainStepEnergyPj == r.trainStepEnergyPj;
        if (same) continue;
        old = std::move(r);
        const int row = int(it->second);
        Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
    }
    if (!added.empty()) {
        beginInsertRows({}, int(m_rows.size()), int(m_rows.size() + added.size()) - 1);
        for (RunRow& r : added)
            m_rows.push_back(std::move(r));
        endInsertRows();
    }
}

int RunsTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_rows.size());
}
int RunsTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RunsTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
    case Id:
        return tr("Run");
    case Name:
        return tr("Name");
    case Bits:
        return tr("Bits");
    case Model:
        return tr("Model");
    case Dataset:
        return tr("Dataset");
    case Status:
        return tr("Status");
    case Epochs:
        return tr("Epochs");
    case BestError:
        return tr("Best test err.");
    case FinalError:
        return tr("Final test err.");
    case ImagesPerS:
        return tr("Images/s");
    case Energy:
        return tr("Energy/step");
    case Started:
        return tr("Started (UTC)");
    default:
        return {};
    }
}

QVariant RunsTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= int(m_rows.size())) return {};
    const RunRow& r = m_rows[size_t(index.row())];
    if (role == kRunIdRole) return r.id;
    if (role == Qt::TextAlignmentRole) {
        const int c = index.column();
        const bool numeric = c == Id || c == Epochs || c == BestError || c == FinalError ||
                             c == ImagesPerS || c == Energy;
        return QVariant::fromValue(numeric ? Qt::AlignRight | Qt::AlignVCenter
                                           : Qt::AlignLeft | Qt::AlignVCenter);
    }
    if (role == Qt::ToolTipRole && index.column() == Status && !r.statusMessage.isEmpty())
        return r.statusMessage;
    if (role == Qt::ToolTipRole && index.column() == Energy)
        return tr("Cost model (45 nm): energy of one training step at the run's batch size; "
                  "inference: %1 per image")
            .arg(std::isfinite(r.inferenceEnergyPj)
                     ? QString::fromStdString(cost_format_energy(r.inferenceEnergyPj))
                     : tr("unknown"));
    if (role == Qt::ToolTipRole && index.column() == Dataset) {
        if (r.dataFiles < 0)
            return tr("%1: stored without a data fingerprint, so resume and replay cannot check "
                      "its data%2")
                .arg(r.dataset,
                     r.dataDir.isEmpty() ? QString() : tr(" (folder %1)").arg(r.dataDir));
        if (r.dataDir.isEmpty()) return tr("%1: generated from the seed").arg(r.dataset);
        return tr("%1 in %2: %n file(s) fingerprinted, checked before resume and replay", nullptr,
                  r.dataFiles)
            .arg(r.dataset, r.dataDir);
    }
    const auto number = [&](double v) -> QVariant {
        return std::isfinite(v) ? QVariant(v) : QVariant(qInf());
    };
    if (role == kSortRole) {
        switch (index.column()) {
        case Id:
            return r.id;
        case Epochs:
            return r.epochs;
        case BestError:
            return number(r.bestTestError);
        case FinalError:
            return number(r.finalTestError);
        case ImagesPerS:
            return number(r.imagesPerSecond);
        case Energy:
            return number(r.trainStepEnergyPj);
        default:
            break;
        }
        role = Qt::DisplayRole;
    }
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
    case Id:
        return r.id;
    case Name:
        return r.name;
    case Bits:
        return r.bits;
    case Model:
        return r.model;
    case Dataset:
        return r.dataset;
    case Status:
        return r.status;
    case Epochs:
        return r.epochs;
    case BestError:
        return runs_format_percent(r.bestTestError);
    case FinalError:
        return runs_format_percent(r.finalTestError);
    case ImagesPerS:
        return std::isfinite(r.imagesPerSecond) ? QLocale().toString(qRound64(r.imagesPerSecond))
                                                : QString();
    case Energy:
        return std::isfinite(r.trainStepEnergyPj)
                   ? QString::fromStdString(cost_format_energy(r.trainStepEnergyPj))
                   : QString();
    case Started:
        return QString(r.startedAt)
            .replace(QLatin1Char('T'), QLatin1Char(' '))
            .remove(QLatin1Char('Z'));
    default:
        return {};
    }
}

RunsFilterModel::RunsFilterModel(QObject* parent) : QSortFilterProxyModel(parent) {
    setSortRole(RunsTableModel::kSortRole);
    setDynamicSortFilter(true);
}

void RunsFilterModel::setText(const QString& text) {
    m_text = text.trimmed();
    invalidateFilter();
}
void RunsFilterModel::setStatus(const QString& status) {
    m_status = status;
    invalidateFilter();
}
void RunsFilterModel::setModelName(const QString& model) {
    m_model = model;
    invalidateFilter();
}
void RunsFilterModel::setBits(const QString& bits) {
    m_bits = bits;
    invalidateFilter();
}

bool RunsFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex&) const {
    const auto* m = qobject_cast<const RunsTableModel*>(sourceModel());
    if (!m || sourceRow >= int(m->rows().size())) return true;
    const RunRow& r = m->rows()[size_t(sourceRow)];
    if (!m_status.isEmpty() && r.status != m_status) return false;
    if (!m_model.isEmpty() && r.model != m_model) return false;
    if (!m_bits.isEmpty() && r.bits != m_bits) return false;
    if (m_text.isEmpty()) return true;
    for (const QString& s :
         {QString::number(r.id), r.name, r.bits, r.model, r.dataset, r.dataDir, r.status})
        if (s.contains(m_text, Qt::CaseInsensitive)) return true;
    return false;
}

bool RunsFilterModel::lessThan(const QModelIndex& left, const QModelIndex& right) const {
    const QVariant a = left.data(sortRole()), b = right.data(sortRole());
    if (a.typeId() == QMetaType::QString || b.typeId() == QMetaType::QString)
        return QString::localeAwareCompare(a.toString(), b.toString()) < 0;
    const double x = a.toDouble(), y = b.toDouble();
    if (x != y) return x < y;
    return left.data(RunsTableModel::kRunIdRole).toLongLong() <
           right.data(RunsTableModel::kRunIdRole).toLongLong();
}

} // namespace bitbench
