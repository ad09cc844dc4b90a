// Quantizer cells of the bitwidth editor: a family and its bits per (layer, class), the family
// choices a caller offers, and the extended pattern (`ternary-affine8-f-8`) that writes them.
#pragma once

#include <QString>
#include <QVector>

#include <array>
#include <optional>

namespace bitbench::widgets {

// A family a cell may choose. The caller fills these from its registry; without any, the editor
// offers WAGE's own: wage 1..16 and float.
struct QuantFamilyChoice {
    QString name;        // shown, and the family key of CellQuant ("wage", "pow2", "ternary")
    QString token;       // the pattern token's prefix ("wage", "pow", "ternary")
    int minBits = 0;     // 0, 0: no bits (float); minBits == maxBits: fixed bits (sign, ternary)
    int maxBits = 0;
    unsigned classes = 0xF; // bit c set: serves class c (W, A, G, E)
    bool stochasticSuffix = false; // the token may end in 's' (stochastic rounding)
    QString tip;         // tooltip in the family menu

    bool hasBitsChoice() const { return maxBits > minBits; }
    bool serves(int cls) const { return (classes >> cls) & 1u; }
};

// The two families of WAGE patterns.
QString quant_family_wage();  // "wage"
QString quant_family_float(); // "float"
QVector<QuantFamilyChoice> quant_family_choices_wage();

// One cell: family and bits, plus what the editor does not edit but keeps while only the bits
// change (dropped on a family change).
struct CellQuant {
    QString family = quant_family_wage();
    int bits = 8;        // 0 for float
    QString suffix;      // "s": stochastic rounding (part of the token); "*": settings in `options`
    QString options;     // the caller's full settings (e.g. a JSON object); empty = defaults

    bool operator==(const CellQuant&) const = default;
    bool isWage() const { return family == quant_family_wage() && options.isEmpty() && suffix.isEmpty(); }
    bool isFloat() const { return family == quant_family_float(); }
    // The bits of a WAGE pattern field: bits for wage and the others, 0 for float.
    int patternBits() const { return isFloat() ? 0 : bits; }
};

// 0 -> float, k -> wage k.
CellQuant cell_quant_from_bits(int bits);
// True when every cell is wage (default settings) or float: a WAGE pattern describes it.
bool cell_quants_are_wage(const std::array<CellQuant, 4>& cells);

// The cell text: "wage 8", "affine 8", "affine 8 s", "ternary", "float"; "*" marks settings
// beyond family and bits. `families` gives which families have a bits choice.
QString cell_quant_text(const CellQuant& q, const QVector<QuantFamilyChoice>& families);
// The pattern token: "8" (wage), "f" (float), "affine8s", "ternary", "pow4".
QString cell_quant_token(const CellQuant& q, const QVector<QuantFamilyChoice>& families);

// Parses the extended pattern: four dashed tokens, each 1..16 (wage), f (float) or a family
// token "<token>[<bits>][s]" of `families`. A pattern with no field starting with a letter
// (other than a lone f) is a WAGE pattern and is left to bitwidth_parse_pattern (nullopt
// without an error).
// ensures: on failure with an error, *error says which field and what is allowed.
std::optional<std::array<CellQuant, 4>> quant_pattern_parse(const QString& text,
                                                            const QVector<QuantFamilyChoice>& families,
                                                            QString* error = nullptr);
// Dashed tokens, e.g. "ternary-affine8-f-8".
QString quant_pattern_format(const std::array<CellQuant, 4>& cells, const QVector<QuantFamilyChoice>& families);

} // namespace bitbench::widgets
