// `bitbench-cli merge SHARD... --db MAIN`: folds shard databases (one per cluster trial) into the
// main database in one transaction; merging a shard again adds nothing.
#include "cli_common.h"
#include "train_session.h"

#include "bitbench/error.h"
#include "bitbench/store.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>

namespace bitbench::cli {

namespace {

struct MergeOptions {
    std::vector<std::string> shards;
    std::string db;
    bool allowMissing = false;
    bool json = false;
};

std::string runList(const std::vector<int64_t>& ids) {
    std::string s;
    for (int64_t id : ids)
        s += (s.empty() ? "" : ", ") + std::to_string(id);
    return s;
}

int merge(const MergeOptions& o) {
    std::vector<std::string> present, missing;
    for (const std::string& s : o.shards) {
        std::error_code ec;
        (std::filesystem::exists(s, ec) ? present : missing).push_back(s);
    }
    if (!missing.empty() && !o.allowMissing) {
        std::string list;
        for (const std::string& m : missing)
            list += (list.empty() ? "'" : ", '") + m + "'";
        throw InputError("no shard database at " + list +
                         " (nothing was merged; --allow-missing merges the others)");
    }
    for (const std::string& m : missing)
        std::fprintf(stderr,
                     "bitbench-cli: note: no shard at '%s' (its task wrote nothing); its trial "
                     "stays to be run\n",
                     m.c_str());
    const std::string dbPath = train_db_path(o.db);
    RunStore store = RunStore::open(dbPath, StoreAccess::Existing);
    if (store.readOnly())
        throw StoreError("cannot merge into '" + dbPath + "': " + store.readOnlyReason());
    const std::vector<ShardMergeResult> results = store.shardsMerge(present);
    nlohmann::json out = nlohmann::json::array();
    for (const ShardMergeResult& r : results) {
        if (r.runIds.empty())
            std::printf("%s: no runs\n", r.shard.c_str());
        else if (r.added == 0 && r.updated == 0)
            std::printf("%s: merged before, nothing added (run %s)\n", r.shard.c_str(),
                        runList(r.runIds).c_str());
        else
            std::printf("%s: %d run(s) added, %d updated, %d unchanged (run %s)\n", r.shard.c_str(),
                        r.added, r.updated, r.unchanged, runList(r.runIds).c_str());
        out.push_back({{"shard", r.shard},
                       {"added", r.added},
                       {"updated", r.updated},
                       {"unchanged", r.unchanged},
                       {"run_ids", r.runIds}});
    }
    std::printf("merged %zu shard(s) into %s\n", results.size(), dbPath.c_str());
    if (o.json)
        std::printf("%s\n",
                    nlohmann::json({{"database", dbPath}, {"shards", out}, {"missing", missing}})
                        .dump()
                        .c_str());
    return kExitOk;
}

} // namespace

Command cli_add_merge(CLI::App& app) {
    auto o = std::make_shared<MergeOptions>();
    auto* sub = app.add_subcommand(
        "merge", "Fold shard databases (written by sweep-trial) into the run database, atomically; "
                 "merging again adds nothing");
    sub->add_option("shards", o->shards, "Shard databases")->required();
    sub->add_option("--db", o->db,
                    "Run database to merge into (default: runs.db in the data directory)");
    sub->add_flag(
        "--allow-missing", o->allowMissing,
        "Merge the shards that exist and name the missing ones (their trials stay to be run)");
    sub->add_flag("--json", o->json,
                  "Print one JSON object with each shard's outcome as the last stdout line");
    return {sub, [o] { return merge(*o); }};
}

} // namespace bitbench::cli
