// Between the core's quantizers and the bitwidth editor's cells: family choices, conversions,
// the experiment keys an editor state stands for, and the inspector's marks from a plan.
#pragma once

#include "bitbench/engine.h"
#include "bitbench/experiment.h"
#include "bitbench/quant.h"

#include "bitbench_widgets/bitwidth_editor.h"
#include "bitbench_widgets/histogram_view.h"

#include <nlohmann/json.hpp>

namespace bitbench {

// One choice per registry row, in registry order, with the classes each family serves.
QVector<widgets::QuantFamilyChoice> quant_bridge_families();

widgets::CellQuant quant_bridge_cell(const Quantizer& q);
// throws: InputError naming `where` when the cell is no valid quantizer of class `cls`.
Quantizer quant_bridge_quantizer(const widgets::CellQuant& c, QuantClass cls, const std::string& where);

// The experiment keys of an editor state. With `bitsForm` and only wage/float cells: "bits" and
// "layer_bits" (a row differing from the pattern is written whole), exactly the WAGE shorthand
// the window always wrote. Otherwise "quant" and "layer_quant" in the core's canonical form,
// with E_grad taken from `source` (the loaded experiment's quantizers, which the grid does not
// show); a float class unset in `source` (or with no source) is left unset.
// throws: InputError when a cell is not a valid quantizer.
nlohmann::json quant_bridge_keys(const widgets::BitwidthConfig& cfg, bool bitsForm, const QuantConfig* source);

// Fills the editor from an experiment: its quantizer families, or its bits shorthand.
// ensures: returns true when the experiment uses the bits shorthand.
bool quant_bridge_load(widgets::BitwidthEditor& editor, const Experiment& e);

// The editor's plan cells from an engine's layer table (rows by layer name).
QVector<std::array<widgets::BitwidthEditor::CellPlan, 4>> quant_bridge_plans(const QStringList& rows,
                                                                               const std::vector<LayerReport>& layers);

// Levels and clip range a plan gives its outputs: one group's exact levels (ternary and TTQ
// -neg, 0, pos; sign -1, +1; DoReFa's odd codes), several groups' common clip range without
// levels. A plan without groups gives no marks (step 0, empty range).
widgets::QuantMarks quant_bridge_marks(const QuantPlan& plan);

} // namespace bitbench
