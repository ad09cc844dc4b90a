// Typed settings keys with their defaults, declared once; read and written through QSettings.
#pragma once

#include "bitbench/cost_model.h"

#include <QByteArray>
#include <QSettings>
#include <QString>
#include <QVariant>

namespace bitbench {

template <typename T> struct SettingKey {
    const char* name;
    T defaultValue;
};

template <typename T> T settings_get(const SettingKey<T>& key) {
    QSettings s;
    const QVariant v = s.value(QLatin1String(key.name));
    if (!v.isValid() || !v.canConvert<T>()) return key.defaultValue;
    return v.value<T>();
}

template <typename T> void settings_set(const SettingKey<T>& key, const T& value) {
    QSettings s;
    s.setValue(QLatin1String(key.name), QVariant::fromValue(value));
}

namespace settings {
inline const SettingKey<QByteArray> kWindowGeometry{"window/geometry", {}};
inline const SettingKey<QByteArray> kWindowState{"window/state", {}};
inline const SettingKey<QString> kLastExperiment{"experiment/last", {}};
inline const SettingKey<QString> kLastDatabase{"experiment/database", {}};
inline const SettingKey<QString> kLastDataDir{"experiment/dataDir", {}};
inline const SettingKey<int> kThreads{"experiment/threads", 0};
inline const SettingKey<int> kCurveAxis{"curves/axis", 0}; // 0 step, 1 epoch
} // namespace settings

// The cost table lives under "cost/"; missing entries keep the 45 nm defaults.
CostTable settings_cost_table();
void settings_set_cost_table(const CostTable& t);

} // namespace bitbench
