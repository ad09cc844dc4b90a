// W-A-G-E bitwidth patterns (`2-8-8-8`, `28f8`): parsing, formatting and the per-layer config struct.
#pragma once

#include "bitbench_widgets/quant_cells.h"

#include <QString>
#include <QStringList>
#include <QVector>

#include <array>
#include <optional>

namespace bitbench::widgets {

// Tensor classes in pattern order: weights, activations, gradients (updates), errors.
enum class TensorClass : int { W = 0, A = 1, G = 2, E = 3 };
inline constexpr int kClassCount = 4;
inline constexpr int kFloatBits = 0; // "not quantized" in every bits field below
inline constexpr int kMinBits = 1;
inline constexpr int kMaxBits = 16;

// Bits per class in W, A, G, E order; kFloatBits for float.
using ClassBits = std::array<int, kClassCount>;

// "W", "A", "G" or "E".
QString tensor_class_name(int cls);

// What BitwidthEditor reports: the pattern and the bits every layer ends up with.
struct BitwidthConfig {
    QString pattern;            // the last valid pattern as the user typed it (trimmed)
    ClassBits patternBits{};    // that pattern parsed
    QStringList layerNames;     // rows of the grid, as given by the caller
    QVector<ClassBits> layerBits; // one entry per layer, overrides applied (a family's bits, 0 = float)
    std::array<CellQuant, kClassCount> patternQuant{}; // the pattern as quantizer cells
    QVector<std::array<CellQuant, kClassCount>> layerQuant; // one entry per layer, overrides applied
};

bool operator==(const BitwidthConfig& a, const BitwidthConfig& b);

// Parses the dashed form (decimal 1..16 or f per class, `2-8-f-8`) or the compact form (one
// character per class: 1-9, A-E for 10-14, f for float; `28C8`).
// ensures: a value has every entry in 1..16 or kFloatBits; on failure *error (if given) says what
// was wrong and what is expected.
std::optional<ClassBits> bitwidth_parse_pattern(const QString& text, QString* error = nullptr);

// The built-in validator: an empty string for a valid pattern, otherwise the message to show.
QString bitwidth_validate_pattern(const QString& text);

// Dashed form, e.g. {2, 8, 0, 8} -> "2-8-f-8".
QString bitwidth_format_dashed(const ClassBits& bits);

// Compact form ("28f8"), or an empty string when a class has 15 or 16 bits (no single character).
QString bitwidth_format_compact(const ClassBits& bits);

} // namespace bitbench::widgets
