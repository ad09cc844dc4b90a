// The integer engine's kernel table for an instruction set (the ISA choice is the GEMM's).
#include "kernels/wage_kernels.h"

#include <stdexcept>
#include <string>

namespace bitbench::wage_kernels {

const Kernels& kernels_for(GemmIsa isa) {
    if (int(isa) > int(gemm_isa_detected()))
        throw std::invalid_argument(std::string("this CPU or build has no ") + gemm_isa_name(isa) + " kernels");
#if defined(__x86_64__)
    if (isa == GemmIsa::Avx512Vnni) return kernels_avx512vnni();
    if (isa == GemmIsa::Avx2) return kernels_avx2();
#endif
    return kernels_reference();
}

} // namespace bitbench::wage_kernels
