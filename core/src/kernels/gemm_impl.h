// Private pieces of the int8 GEMM: packed operand layouts, packers, and the per-ISA block kernels.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace bitbench::gemm_detail {

// Both forms are reduced to one product of packed operands, C[i][j] (+)= sum_k Ap[i][k] * Bp[j][k],
// with the reduction dimension zero-padded to a multiple of 4 (one "group": the 4 bytes a
// vpdpbusd or vpmaddubsw+vpmaddwd lane sums).
//   Packed A ("tiles"): rows in tiles of mr rows; a tile is kGroups blocks of mr x 4 bytes,
//     [group][row][4], so a kernel broadcasts one row's 4 bytes from consecutive addresses.
//   Packed B ("panels"): columns in panels of 16; a panel is kGroups blocks of 16 x 4 bytes,
//     [group][column][4]: one 64-byte vector per group.
// Rows past M and columns past N are padding whose results are never stored.
constexpr int kPanelCols = 16;
constexpr int kGroup = 4;

inline int64_t groups_of(int64_t k) { return (k + kGroup - 1) / kGroup; }
inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// Which packed operand holds the unsigned bytes of the u8 x s8 instructions.
enum class Operands {
    AUnsigned,  // A codes in [0, 255] (non-negative, or shifted by +128), B signed
    BUnsigned,  // B codes in [0, 255], A signed
    BothSigned, // both in [-127, 127]: the kernel multiplies |a| by sign(a) * b (AVX2 only)
};

// One call of a block kernel: every tile of a packed A block times every panel of a packed B
// block, each tile row accumulated over all kGroups.
struct BlockArgs {
    const int8_t* a = nullptr; // packed A: ceil(rows / mr) tiles, aTileStride bytes apart
    int64_t aTileStride = 0;   // >= kGroups * mr * 4 (larger when the block is part of a longer pack)
    int64_t rows = 0;          // valid rows (the last tile may be partial)
    const int8_t* b = nullptr; // packed B: ceil(cols / 16) panels, bPanelStride bytes apart
    int64_t bPanelStride = 0;  // >= kGroups * 64
    int64_t cols = 0;          // valid columns
    int64_t kGroups = 0;
    int32_t* c = nullptr; // C[0][0] of this block
    int64_t ldc = 0;
    bool loadC = false;   // add to C instead of overwriting it
    Operands operands = Operands::AUnsigned;
    // Offset corrections (subtracted), or null: the shifted operand's +128 adds 128 * (sum of
    // the other operand) to every sum. colCorr has one entry per column, rowCorr per row.
    const int32_t* colCorr = nullptr;
    const int32_t* rowCorr = nullptr;
    // Unpacked A (kernels with rawA only): a is row-major with rows lda bytes apart and at least
    // kGroups * 4 bytes per row; aTileStride is then kRows * lda.
    int64_t lda = 0;
    // Scattered C (kernels with scatter only): element (i, j) at c + rowOff[i] + colOff[j], where
    // each 16-column panel's offsets are consecutive; loadC must be set (the sums are added).
    const int64_t* rowOff = nullptr;
    const int64_t* colOff = nullptr;
};

// A kernel family for one instruction set.
struct KernelSet {
    int mr;                 // rows per A tile
    bool needsUnsignedSide; // true: BothSigned is not supported, one operand must be shifted
    void (*block)(const BlockArgs& args);
    bool rawA = false;      // can read an unshifted A unpacked (BlockArgs::lda)
    bool scatter = false;   // can add C at offsets (BlockArgs::rowOff, colOff)
};

#if defined(__x86_64__)
const KernelSet& kernels_avx2();
const KernelSet& kernels_avx512vnni();
#endif

// --- packers (gemm_pack.cpp) -----------------------------------------------------------------
// shift: XOR 0x80 each stored byte (a code x in [-127, 127] becomes the u8 value x + 128).

// Rows [0, rows) of a row-major K-contiguous matrix (nt form) into tiles of mr rows
// (mr a multiple of 4).
void pack_tiles_rows(const int8_t* src, int64_t ld, int64_t rows, int64_t k, int mr, bool shift,
                     int8_t* dst);
// B panels are A tiles of 16 rows: the nt form's B packs with mr = kPanelCols.
// Columns [0, width) over rows [0, r) of a row-major matrix (tn form) into blocks of `block`
// columns (mr for A tiles, 16 for B panels; a multiple of 4 up to 16), interleaving 4
// consecutive rows per group.
// Block bi starts at dst + bi * blockStride (>= groups_of(r) * block * 4).
void pack_cols(const int8_t* src, int64_t ld, int64_t width, int64_t r, int block, bool shift,
               int8_t* dst, int64_t blockStride);

// 128 * sum over k of each row (nt), for the correction of the other operand's shift; modulo
// 2^32 like the kernels' int32 lanes.
void sums_rows(const int8_t* src, int64_t ld, int64_t rows, int64_t k, int32_t* out);
// 128 * sum over rows of each column (tn).
void sums_cols(const int8_t* src, int64_t ld, int64_t width, int64_t r, int32_t* out);

struct ScratchSlot;

// A reusable scratch buffer: the thread's own one, or a private one when that is already in use
// (a thread waiting inside tbb::parallel_for may run another task that calls a GEMM).
class Scratch {
public:
    explicit Scratch(int slot);
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    // Pointer to at least `bytes` bytes, 64-byte aligned; contents unspecified.
    void* get(size_t bytes);

private:
    ScratchSlot* m_slot = nullptr;
    std::vector<unsigned char> m_own;
    bool m_owned = false;
};

// Scratch slots, one buffer each per thread (the kSlotFloat* ones for the float32 products).
enum ScratchUse { kSlotPackA = 0, kSlotPackB = 1, kSlotTaskA = 2, kSlotTaskB = 3, kSlotSums = 4,
                   kSlotPartial = 5, kSlotFloatA = 6, kSlotFloatB = 7, kSlotFloatTaskB = 8,
                   kSlotCount = 9 };

} // namespace bitbench::gemm_detail
