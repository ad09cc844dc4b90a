// Quantizer cells: texts, pattern tokens and the extended pattern's parser.
#include "bitbench_widgets/quant_cells.h"

#include "bitbench_widgets/bitwidth_pattern.h"

#include <QRegularExpression>
#include <QStringList>

namespace bitbench::widgets {

namespace {

const QuantFamilyChoice* findFamily(const QVector<QuantFamilyChoice>& families, const QString& name) {
    for (const auto& f : families)
        if (f.name == name)
            return &f;
    return nullptr;
}

bool fail(QString* error, const QString& message) {
    if (error)
        *error = message;
    return false;
}

// One field of the extended pattern.
bool parseToken(const QString& field, int cls, const QVector<QuantFamilyChoice>& families, CellQuant* out,
                QString* error) {
    const QString t = field.trimmed();
    const QString where = QStringLiteral("%1 (field %2)").arg(tensor_class_name(cls)).arg(cls + 1);
    if (t.compare(QLatin1String("f"), Qt::CaseInsensitive) == 0 || t == quant_family_float()) {
        *out = cell_quant_from_bits(0);
        return true;
    }
    bool isNumber = false;
    const int n = t.toInt(&isNumber, 10);
    if (isNumber) {
        if (n < kMinBits || n > kMaxBits)
            return fail(error, QStringLiteral("%1: %2 bits is out of range; expected 1..16").arg(where).arg(n));
        *out = cell_quant_from_bits(n);
        return true;
    }
    static const QRegularExpression re(QStringLiteral("^([a-z_]+?)(\\d*)(s?)$"));
    const auto m = re.match(t);
    QStringList known;
    for (const auto& f : families)
        if (f.serves(cls))
            known << f.token + (f.hasBitsChoice() ? QStringLiteral("K") : QString());
    const QString allowed = QStringLiteral("1..16, f or %1").arg(known.join(QStringLiteral(", ")));
    if (!m.hasMatch())
        return fail(error, QStringLiteral("%1: '%2' is not a quantizer; expected %3").arg(where, t, allowed));
    // The longest token that fits ("terngrad" before "ternary" does not matter: tokens differ).
    for (const auto& f : families) {
        QString rest = t;
        if (!rest.startsWith(f.token))
            continue;
        rest = rest.mid(f.token.size());
        CellQuant q;
        q.family = f.name;
        if (rest.endsWith(QLatin1Char('s')) && f.stochasticSuffix) {
            q.suffix = QStringLiteral("s");
            rest.chop(1);
        }
        if (f.hasBitsChoice()) {
            bool ok = false;
            q.bits = rest.toInt(&ok, 10);
            if (!ok)
                continue;
            if (q.bits < f.minBits || q.bits > f.maxBits)
                return fail(error, QStringLiteral("%1: %2 takes %3..%4 bits, not %5")
                                       .arg(where, f.name)
                                       .arg(f.minBits)
                                       .arg(f.maxBits)
                                       .arg(q.bits));
        } else {
            if (!rest.isEmpty())
                continue;
            q.bits = f.minBits;
        }
        if (!f.serves(cls))
            return fail(error, QStringLiteral("%1: %2 does not serve class %3").arg(where, f.name, tensor_class_name(cls)));
        *out = q;
        return true;
    }
    return fail(error, QStringLiteral("%1: '%2' is not a quantizer; expected %3").arg(where, t, allowed));
}

} // namespace

QString quant_family_wage() { return QStringLiteral("wage"); }
QString quant_family_float() { return QStringLiteral("float"); }

QVector<QuantFamilyChoice> quant_family_choices_wage() {
    return {{quant_family_wage(), quant_family_wage(), kMinBits, kMaxBits, 0xF, false,
             QStringLiteral("WAGE shift-linear")},
            {quant_family_float(), quant_family_float(), 0, 0, 0xF, false, QStringLiteral("float32")}};
}

CellQuant cell_quant_from_bits(int bits) {
    CellQuant q;
    if (bits == kFloatBits) {
        q.family = quant_family_float();
        q.bits = 0;
    } else {
        q.bits = bits;
    }
    return q;
}

bool cell_quants_are_wage(const std::array<CellQuant, 4>& cells) {
    for (const auto& c : cells)
        if (!c.isWage() && !c.isFloat())
            return false;
    return true;
}

QString cell_quant_text(const CellQuant& q, const QVector<QuantFamilyChoice>& families) {
    const QuantFamilyChoice* f = findFamily(families, q.family);
    QString s = q.family;
    if ((f && f->hasBitsChoice()) || (!f && q.bits > 0 && !q.isFloat()))
        s += QLatin1Char(' ') + QString::number(q.bits);
    if (!q.suffix.isEmpty())
        s += QLatin1Char(' ') + q.suffix;
    return s;
}

QString cell_quant_token(const CellQuant& q, const QVector<QuantFamilyChoice>& families) {
    if (q.isFloat())
        return QStringLiteral("f");
    if (q.isWage())
        return QString::number(q.bits);
    const QuantFamilyChoice* f = findFamily(families, q.family);
    QString s = f ? f->token : q.family;
    if (!f || f->hasBitsChoice())
        s += QString::number(q.bits);
    return s + q.suffix;
}

std::optional<std::array<CellQuant, 4>> quant_pattern_parse(const QString& text,
                                                            const QVector<QuantFamilyChoice>& families,
                                                            QString* error) {
    const QStringList fields = text.trimmed().split(QLatin1Char('-'));
    if (fields.size() != kClassCount)
        return std::nullopt; // not the extended form: the WAGE parser explains
    bool family = false;
    for (const QString& f : fields) {
        // A field starting with a letter other than a lone f names a family.
        const QString t = f.trimmed();
        if (!t.isEmpty() && t[0].isLetter() && t.compare(QLatin1String("f"), Qt::CaseInsensitive) != 0)
            family = true;
    }
    if (!family)
        return std::nullopt;
    std::array<CellQuant, 4> cells;
    for (int c = 0; c < kClassCount; ++c)
        if (!parseToken(fields[c], c, families, &cells[size_t(c)], error))
            return std::nullopt;
    return cells;
}

QString quant_pattern_format(const std::array<CellQuant, 4>& cells, const QVector<QuantFamilyChoice>& families) {
    QStringList parts;
    for (const auto& c : cells)
        parts << cell_quant_token(c, families);
    return parts.join(QLatin1Char('-'));
}

} // namespace bitbench::widgets
