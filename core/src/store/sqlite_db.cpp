// sqlite3 wrappers: error translation, statement cache, BEGIN IMMEDIATE with retry.
#include "store/sqlite_db.h"

#include "bitbench/error.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

namespace bitbench {

namespace {

// Each BEGIN IMMEDIATE already waits busy_timeout (set by the store, 10 s); a writer that holds
// the lock for a whole minute is stuck, not busy.
constexpr int kBeginAttempts = 6;

std::string detailFor(sqlite3* db, int rc) {
    const int primary = rc & 0xff;
    const int sysErrno = db ? sqlite3_system_errno(db) : 0;
    // SQLite reports ENOSPC as SQLITE_FULL, but EFBIG (file size limit) and EDQUOT only as a
    // failed write, and its saved errno is not reliable by the time we ask.
    const bool full = primary == SQLITE_FULL;
    const bool writeFailed = rc == SQLITE_IOERR_WRITE ||
                             (primary == SQLITE_IOERR &&
                              (sysErrno == ENOSPC || sysErrno == EFBIG || sysErrno == EDQUOT));
    if (full || writeFailed)
        return std::string(full ? "" : "a write failed, most likely because there is ") +
               "no space left for the database (disk full, quota or file size limit reached); "
               "the last batch was rolled back and everything stored before it is intact. "
               "Free some space and try again";
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return msg + " (another process kept the database locked for too long; "
                     "try again when it is done)";
    case SQLITE_READONLY:
        return msg + " (the file or its folder is not writable)";
    case SQLITE_NOTADB:
        return "not a bitbench run database (not an SQLite file)";
    case SQLITE_CORRUPT:
        return msg + " (the file is damaged; restore it from a backup)";
    case SQLITE_CANTOPEN:
        return msg + " (check that the folder exists and is readable and writable)";
    case SQLITE_IOERR:
        return msg + (sysErrno ? std::string(" (") + std::strerror(sysErrno) + ")" : std::string());
    default:
        return msg;
    }
}

} // namespace

void sqlite_throw(sqlite3* db, int rc, const std::string& path, const std::string& what) {
    throw StoreError(error_message_file(path, what + ": " + detailFor(db, rc)));
}

// ---- SqliteQuery ----

SqliteQuery::SqliteQuery(sqlite3_stmt* stmt, sqlite3* db, const std::string* path)
    : m_stmt(stmt), m_db(db), m_path(path) {}

SqliteQuery::SqliteQuery(SqliteQuery&& o) noexcept
    : m_stmt(o.m_stmt), m_db(o.m_db), m_path(o.m_path) {
    o.m_stmt = nullptr;
}

SqliteQuery::~SqliteQuery() {
    if (m_stmt) {
        sqlite3_reset(m_stmt);
        sqlite3_clear_bindings(m_stmt);
    }
}

SqliteQuery& SqliteQuery::bind(int i, int64_t v) {
    if (int rc = sqlite3_bind_int64(m_stmt, i, v); rc != SQLITE_OK)
        sqlite_throw(m_db, rc, *m_path, "binding a value");
    return *this;
}

SqliteQuery& SqliteQuery::bind(int i, double v) {
    if (std::isnan(v)) return bindNull(i);
    if (int rc = sqlite3_bind_double(m_stmt, i, v); rc != SQLITE_OK)
        sqlite_throw(m_db, rc, *m_path, "binding a value");
    return *this;
}

SqliteQuery& SqliteQuery::bind(int i, const std::string& v) {
    if (int rc = sqlite3_bind_text(m_stmt, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
        rc != SQLITE_OK)
        sqlite_throw(m_db, rc, *m_path, "binding a value");
    return *this;
}

SqliteQuery& SqliteQuery::bindBlob(int i, std::span<const uint8_t> v) {
    // A zero-length blob must stay a blob, not NULL: pass a non-null pointer.
    static const uint8_t kEmpty = 0;
    if (int rc = sqlite3_bind_blob64(m_stmt, i, v.empty() ? &kEmpty : v.data(), v.size(),
                                     SQLITE_TRANSIENT);
        rc != SQLITE_OK)
        sqlite_throw(m_db, rc, *m_path, "binding a value");
    return *this;
}

SqliteQuery& SqliteQuery::bindNull(int i) {
    if (int rc = sqlite3_bind_null(m_stmt, i); rc != SQLITE_OK)
        sqlite_throw(m_db, rc, *m_path, "binding a value");
    return *this;
}

SqliteQuery& SqliteQuery::bindValue(int i, const sqlite3_value* v) {
    if (int rc = sqlite3_bind_value(m_stmt, i, v); rc != SQLITE_OK)
        sqlite_throw(m_db, rc, *m_path, "binding a value");
    return *this;
}

bool SqliteQuery::step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite_throw(m_db, rc, *m_path, "executing a statement");
}

void SqliteQuery::run() {
    while (step()) {
    }
}

bool SqliteQuery::isNull(int c) const {
    return sqlite3_column_type(m_stmt, c) == SQLITE_NULL;
}

int64_t SqliteQuery::colInt(int c) const {
    return sqlite3_column_int64(m_stmt, c);
}

double SqliteQuery::colDouble(int c) const {
    if (isNull(c)) return std::numeric_limits<double>::quiet_NaN();
    return sqlite3_column_double(m_stmt, c);
}

std::string SqliteQuery::colText(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, c));
    return p ? std::string(p, size_t(sqlite3_column_bytes(m_stmt, c))) : std::string();
}

std::vector<uint8_t> SqliteQuery::colBlob(int c) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(m_stmt, c));
    const int n = sqlite3_column_bytes(m_stmt, c);
    return p ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>();
}

const sqlite3_value* SqliteQuery::colValue(int c) const {
    return sqlite3_column_value(m_stmt, c);
}

int SqliteQuery::colCount() const {
    return sqlite3_column_count(m_stmt);
}

std::string SqliteQuery::colName(int c) const {
    const char* n = sqlite3_column_name(m_stmt, c);
    return n ? n : "";
}

// ---- SqliteDb ----

SqliteDb::SqliteDb(const std::string& path, const std::string& uri, int flags)
    : m_path(std::make_unique<std::string>(path)) {
    const int rc = sqlite3_open_v2(uri.c_str(), &m_db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string detail = detailFor(m_db, rc);
        sqlite3_close_v2(m_db);
        m_db = nullptr;
        throw StoreError(error_message_file(path, "cannot open the database: " + detail));
    }
    sqlite3_extended_result_codes(m_db, 1);
}

SqliteDb::SqliteDb(SqliteDb&& o) noexcept
    : m_db(o.m_db), m_path(std::move(o.m_path)), m_cache(std::move(o.m_cache)) {
    o.m_db = nullptr;
}

SqliteDb& SqliteDb::operator=(SqliteDb&& o) noexcept {
    if (this != &o) {
        m_cache.clear();
        if (m_db) sqlite3_close_v2(m_db);
        m_db = o.m_db;
        m_path = std::move(o.m_path);
        m_cache = std::move(o.m_cache);
        o.m_db = nullptr;
    }
    return *this;
}

SqliteDb::~SqliteDb() {
    m_cache.clear(); // statements first, or close_v2 defers the close
    if (m_db) sqlite3_close_v2(m_db);
}

void SqliteDb::fail(int rc, const std::string& what) const {
    sqlite_throw(m_db, rc, *m_path, what);
}

void SqliteDb::exec(const char* sql, const char* what) {
    char* err = nullptr;
    const int rc = sqlite3_exec(m_db, sql, nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) fail(rc, what);
}

SqliteQuery SqliteDb::query(const char* sql) {
    auto it = m_cache.find(sql);
    if (it == m_cache.end()) {
        sqlite3_stmt* s = nullptr;
        const int rc = sqlite3_prepare_v3(m_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
        if (rc != SQLITE_OK) fail(rc, "preparing a statement");
        it = m_cache.emplace(sql, std::unique_ptr<sqlite3_stmt, StmtDeleter>(s)).first;
    }
    sqlite3_reset(it->second.get());
    sqlite3_clear_bindings(it->second.get());
    return SqliteQuery(it->second.get(), m_db, m_path.get());
}

int64_t SqliteDb::scalarInt(const char* sql) {
    SqliteQuery q = query(sql);
    return q.step() ? q.colInt(0) : 0;
}

// ---- SqliteWriteTxn ----

SqliteWriteTxn::SqliteWriteTxn(SqliteDb& db) : m_db(db) {
    for (int attempt = 1;; ++attempt) {
        const int rc = sqlite3_exec(db.handle(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
        if (rc == SQLITE_OK) break;
        if ((rc & 0xff) != SQLITE_BUSY || attempt == kBeginAttempts)
            db.fail(rc, "starting a write transaction");
        std::this_thread::yield();
    }
    m_open = true;
}

SqliteWriteTxn::~SqliteWriteTxn() {
    if (m_open) sqlite3_exec(m_db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteWriteTxn::commit() {
    const int rc = sqlite3_exec(m_db.handle(), "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        // A failed COMMIT (disk full) may leave the transaction open; the destructor rolls back.
        m_open = !sqlite3_get_autocommit(m_db.handle());
        m_db.fail(rc, "committing");
    }
    m_open = false;
}

} // namespace bitbench
