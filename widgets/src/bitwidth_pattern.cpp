// Parsing and formatting of W-A-G-E bitwidth patterns.
#include "bitbench_widgets/bitwidth_pattern.h"

namespace bitbench::widgets {

namespace {

const char* const kClassNames[kClassCount] = {"W", "A", "G", "E"};

bool fail(QString* error, const QString& message) {
    if (error)
        *error = message;
    return false;
}

// One dashed field: decimal 1..16 or f.
bool parseDashedField(const QString& field, int cls, int* bits, QString* error) {
    const QString f = field.trimmed();
    const QString where = QStringLiteral("%1 (field %2)").arg(tensor_class_name(cls)).arg(cls + 1);
    if (f.isEmpty())
        return fail(error, QStringLiteral("%1 is empty: expected 1..16 or f").arg(where));
    if (f.compare(QLatin1String("f"), Qt::CaseInsensitive) == 0) {
        *bits = kFloatBits;
        return true;
    }
    bool ok = false;
    const int v = f.toInt(&ok, 10);
    if (!ok)
        return fail(error,
                    QStringLiteral("%1: '%2' is not a bitwidth; expected 1..16 or f").arg(where, f));
    if (v < kMinBits || v > kMaxBits)
        return fail(error, QStringLiteral("%1: %2 bits is out of range; expected 1..16 or f")
                               .arg(where)
                               .arg(v));
    *bits = v;
    return true;
}

// One compact character: 1-9, A-E (10-14), f = float. 'F' cannot mean 15: it is float.
bool parseCompactChar(QChar c, int cls, int* bits, QString* error) {
    const QString where = QStringLiteral("%1 (character %2)").arg(tensor_class_name(cls)).arg(cls + 1);
    const char16_t u = c.unicode();
    if (u == u'f' || u == u'F') {
        *bits = kFloatBits;
        return true;
    }
    if (u >= u'1' && u <= u'9') {
        *bits = u - u'0';
        return true;
    }
    if (u >= u'a' && u <= u'e') {
        *bits = 10 + (u - u'a');
        return true;
    }
    if (u >= u'A' && u <= u'E') {
        *bits = 10 + (u - u'A');
        return true;
    }
    if (u == u'0')
        return fail(error, QStringLiteral("%1: 0 bits is out of range; expected 1-9, A-E (10-14) "
                                          "or f; write 15 or 16 bits in the dashed form")
                               .arg(where));
    return fail(error, QStringLiteral("%1: '%2' is not a bitwidth; expected 1-9, A-E (10-14) or f")
                           .arg(where, QString(c)));
}

} // namespace

QString tensor_class_name(int cls) {
    return (cls >= 0 && cls < kClassCount) ? QLatin1String(kClassNames[cls]) : QString();
}

bool operator==(const BitwidthConfig& a, const BitwidthConfig& b) {
    return a.pattern == b.pattern && a.patternBits == b.patternBits &&
           a.layerNames == b.layerNames && a.layerBits == b.layerBits && a.patternQuant == b.patternQuant &&
           a.layerQuant == b.layerQuant;
}

std::optional<ClassBits> bitwidth_parse_pattern(const QString& text, QString* error) {
    const QString t = text.trimmed();
    const QString syntax = QStringLiteral("W-A-G-E such as 2-8-8-8, or compact such as 2888 or 28f8");
    if (t.isEmpty()) {
        fail(error, QStringLiteral("Pattern is empty: expected %1").arg(syntax));
        return std::nullopt;
    }
    ClassBits bits{};
    if (t.contains(QLatin1Char('-'))) {
        const QStringList fields = t.split(QLatin1Char('-'));
        if (fields.size() != kClassCount) {
            fail(error, QStringLiteral("Expected 4 fields W-A-G-E separated by '-', got %1")
                            .arg(fields.size()));
            return std::nullopt;
        }
        for (int c = 0; c < kClassCount; ++c)
            if (!parseDashedField(fields[c], c, &bits[c], error))
                return std::nullopt;
        return bits;
    }
    if (t.size() != kClassCount) {
        fail(error, QStringLiteral("Compact pattern '%1' has %2 characters; expected 4 (one per "
                                   "W, A, G, E) or the dashed form such as 2-8-8-8")
                        .arg(t)
                        .arg(t.size()));
        return std::nullopt;
    }
    for (int c = 0; c < kClassCount; ++c)
        if (!parseCompactChar(t[c], c, &bits[c], error))
            return std::nullopt;
    return bits;
}

QString bitwidth_validate_pattern(const QString& text) {
    QString error;
    return bitwidth_parse_pattern(text, &error) ? QString() : error;
}

QString bitwidth_format_dashed(const ClassBits& bits) {
    QStringList parts;
    for (int b : bits)
        parts << (b == kFloatBits ? QStringLiteral("f") : QString::number(b));
    return parts.join(QLatin1Char('-'));
}

QString bitwidth_format_compact(const ClassBits& bits) {
    QString out;
    for (int b : bits) {
        if (b == kFloatBits)
            out += QLatin1Char('f');
        else if (b >= 1 && b <= 9)
            out += QChar(u'0' + b);
        else if (b >= 10 && b <= 14)
            out += QChar(u'A' + (b - 10));
        else
            return {};
    }
    return out;
}

} // namespace bitbench::widgets
