// Run database schema: the migration list, the ownership/version checks, and the migrator.
#pragma once

#include "store/sqlite_db.h"

#include <cstdint>
#include <span>

namespace bitbench {

// PRAGMA application_id of every bitbench run database ("BbRn"): how we tell our files from
// other SQLite files.
inline constexpr int32_t kStoreApplicationId = 0x4262526e;

// Migration to `version` from version - 1; `sql` may hold several statements.
struct StoreMigration {
    int32_t version;
    const char* sql;
};

// This program's migrations, ascending and contiguous from 1.
std::span<const StoreMigration> store_schema_migrations();
int32_t store_schema_latest();

// Reads application_id and user_version and decides whether we may use the file.
// ensures: returns the file's schema version, 0 for a fresh (empty) database.
// throws: StoreError when the file is SQLite but not ours, or newer than `latest`.
int32_t store_schema_check(SqliteDb& db, int32_t latest);

// Applies every step newer than the file's user_version in one write transaction, then sets
// user_version and application_id. A failing step rolls back everything, leaving the file as it
// was. Safe against another process migrating at the same time (the version is re-read under
// the write lock).
// requires: db writable, and store_schema_check passed.
void store_schema_migrate(SqliteDb& db, std::span<const StoreMigration> steps);

// Makes the file use incremental auto-vacuum, so space freed by deleted checkpoints and runs can
// be returned to the file system (PRAGMA incremental_vacuum). A new file gets it from
// store_schema_vacuum_prepare before its first page is written; an older file needs one VACUUM,
// which rewrites it in one transaction (atomic through the WAL, so a crash or a full disk leaves
// the file as it was). Returns false when that VACUUM failed (the file then stays as it was and
// the next open tries again).
// requires: db writable, outside any transaction, schema checked.
void store_schema_vacuum_prepare(SqliteDb& db);
bool store_schema_vacuum_convert(SqliteDb& db);

} // namespace bitbench
