// Translation unit that keeps bitbench_store a real library until its sources land.
namespace bitbench {
int store_placeholder_anchor() { return 0; }
} // namespace bitbench
