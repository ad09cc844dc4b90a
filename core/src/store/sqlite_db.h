// Small RAII wrappers over the sqlite3 C API: connection, cached statements, write transactions.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace bitbench {

// Turns an SQLite result code into a StoreError whose message names the database file, says
// what was being done and, for the common failures (disk full, read-only, locked), what to do.
[[noreturn]] void sqlite_throw(sqlite3* db, int rc, const std::string& path,
                               const std::string& what);

// A prepared statement borrowed from a connection's cache. Binding indexes start at 1, column
// indexes at 0. The statement is reset when the query goes out of scope, so no read snapshot
// outlives the query (a lingering snapshot in WAL mode would block checkpoints).
class SqliteQuery {
public:
    SqliteQuery(sqlite3_stmt* stmt, sqlite3* db, const std::string* path);
    SqliteQuery(SqliteQuery&& o) noexcept;
    SqliteQuery(const SqliteQuery&) = delete;
    SqliteQuery& operator=(const SqliteQuery&) = delete;
    ~SqliteQuery();

    SqliteQuery& bind(int i, int64_t v);
    SqliteQuery& bind(int i, int v) { return bind(i, int64_t(v)); }
    SqliteQuery& bind(int i, double v); // NaN is stored as NULL
    SqliteQuery& bind(int i, const std::string& v);
    SqliteQuery& bindBlob(int i, std::span<const uint8_t> v);
    SqliteQuery& bindNull(int i);
    // Binds a copy of a value read by another statement (colValue), of any type.
    SqliteQuery& bindValue(int i, const sqlite3_value* v);

    // Advances; true when a row is available. throws StoreError on failure.
    bool step();
    // Steps to completion (for statements without results).
    void run();

    bool isNull(int c) const;
    int64_t colInt(int c) const;
    double colDouble(int c) const; // NULL reads as NaN
    std::string colText(int c) const;
    std::vector<uint8_t> colBlob(int c) const;
    // The column as SQLite holds it, valid until the next step or reset (for bindValue).
    const sqlite3_value* colValue(int c) const;
    int colCount() const;
    std::string colName(int c) const;

private:
    sqlite3_stmt* m_stmt;
    sqlite3* m_db;
    const std::string* m_path;
};

// One connection. Not thread-safe: use it from one thread at a time.
class SqliteDb {
public:
    // flags: SQLITE_OPEN_* (READONLY or READWRITE|CREATE, optionally URI). throws StoreError.
    SqliteDb(const std::string& path, const std::string& uri, int flags);
    SqliteDb(SqliteDb&&) noexcept;
    SqliteDb& operator=(SqliteDb&&) noexcept;
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;
    ~SqliteDb();

    // Runs one or more statements without results. throws StoreError (message starts with `what`).
    void exec(const char* sql, const char* what = "running a statement");
    // A cached prepared statement for `sql`, reset and with bindings cleared.
    SqliteQuery query(const char* sql);
    // A single integer from a query such as "PRAGMA user_version".
    int64_t scalarInt(const char* sql);

    int64_t lastInsertId() const { return sqlite3_last_insert_rowid(m_db); }
    int64_t changes() const { return sqlite3_changes64(m_db); }
    sqlite3* handle() const { return m_db; }
    const std::string& path() const { return *m_path; }
    [[noreturn]] void fail(int rc, const std::string& what) const;

private:
    struct StmtDeleter {
        void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
    };
    sqlite3* m_db = nullptr;
    std::unique_ptr<std::string> m_path; // heap-held so queries keep a stable pointer across moves
    std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StmtDeleter>> m_cache;
};

// A write transaction started with BEGIN IMMEDIATE, so the write lock is taken up front and a
// busy database makes us wait (busy_timeout) instead of failing half-way. Retries the BEGIN a
// few times on SQLITE_BUSY before giving up with a StoreError. Rolls back unless committed.
class SqliteWriteTxn {
public:
    explicit SqliteWriteTxn(SqliteDb& db);
    SqliteWriteTxn(const SqliteWriteTxn&) = delete;
    SqliteWriteTxn& operator=(const SqliteWriteTxn&) = delete;
    ~SqliteWriteTxn();
    void commit();

private:
    SqliteDb& m_db;
    bool m_open = false;
};

} // namespace bitbench
