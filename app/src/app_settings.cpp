// Cost-table settings: one key per table entry, defaults from the core's CostTable.
#include "app_settings.h"

namespace bitbench {

namespace {

struct CostField {
    const char* key;
    double CostTable::* field;
};

constexpr CostField kCostFields[] = {
    {"cost/int8MulPj", &CostTable::int8MulPj},   {"cost/int8AddPj", &CostTable::int8AddPj},
    {"cost/fp16MulPj", &CostTable::fp16MulPj},   {"cost/fp16AddPj", &CostTable::fp16AddPj},
    {"cost/fp32MulPj", &CostTable::fp32MulPj},   {"cost/fp32AddPj", &CostTable::fp32AddPj},
    {"cost/int8MulUm2", &CostTable::int8MulUm2}, {"cost/int8AddUm2", &CostTable::int8AddUm2},
    {"cost/fp16MulUm2", &CostTable::fp16MulUm2}, {"cost/fp16AddUm2", &CostTable::fp16AddUm2},
    {"cost/fp32MulUm2", &CostTable::fp32MulUm2}, {"cost/fp32AddUm2", &CostTable::fp32AddUm2},
};

} // namespace

CostTable settings_cost_table() {
    CostTable t;
    QSettings s;
    for (const auto& f : kCostFields) {
        bool ok = false;
        const double v = s.value(QLatin1String(f.key)).toDouble(&ok);
        if (ok && v >= 0) t.*(f.field) = v;
    }
    return t;
}

void settings_set_cost_table(const CostTable& t) {
    QSettings s;
    for (const auto& f : kCostFields) s.setValue(QLatin1String(f.key), t.*(f.field));
}

} // namespace bitbench
