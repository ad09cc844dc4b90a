// Status names of runs and sweep trials as stored: one table per enum serves both directions.
#include "store/store_impl.h"

#include "bitbench/error.h"

#include <utility>

namespace bitbench {

namespace {

// The strings are what the database holds: never rename one.
constexpr std::pair<RunStatus, const char*> kRunStatusNames[] = {
    {RunStatus::Running, "running"},   {RunStatus::Finished, "finished"},
    {RunStatus::Failed, "failed"},     {RunStatus::Interrupted, "interrupted"},
    {RunStatus::Diverged, "diverged"},
};

constexpr std::pair<TrialStatus, const char*> kTrialStatusNames[] = {
    {TrialStatus::Pending, "pending"},   {TrialStatus::Running, "running"},
    {TrialStatus::Finished, "finished"}, {TrialStatus::Failed, "failed"},
    {TrialStatus::Diverged, "diverged"},
};

// The name of `value` in `table`, or the first row's name for a value outside the enum.
template <typename Enum, size_t N>
const char* nameOf(const std::pair<Enum, const char*> (&table)[N], Enum value) {
    for (const auto& [e, name] : table)
        if (e == value) return name;
    return table[0].second;
}

template <typename Enum, size_t N>
const std::pair<Enum, const char*>* rowNamed(const std::pair<Enum, const char*> (&table)[N],
                                             const std::string& name) {
    for (const auto& row : table)
        if (name == row.second) return &row;
    return nullptr;
}

} // namespace

const char* run_status_name(RunStatus s) {
    return nameOf(kRunStatusNames, s);
}

RunStatus store_run_status_parse(const std::string& s, const std::string& path) {
    if (const auto* row = rowNamed(kRunStatusNames, s)) return row->first;
    throw StoreError(error_message_file(path, "unknown run status '" + s + "'"));
}

const char* store_trial_status_name(TrialStatus s) {
    return nameOf(kTrialStatusNames, s);
}

TrialStatus store_trial_status_parse(const std::string& s) {
    if (const auto* row = rowNamed(kTrialStatusNames, s)) return row->first;
    return TrialStatus::Pending;
}

TensorClass store_tensor_class_parse(const std::string& s) {
    for (int i = 0; i < 4; ++i)
        if (s == kTensorClassNames[i]) return TensorClass(i);
    return TensorClass::W;
}

} // namespace bitbench
