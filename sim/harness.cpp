// axforge LUT harness: drives the combinational DUT (ports a, b, p) through
// every input pair, or through pairs read from a file, and writes the raw
// output bits as little-endian uint32.
//   sim A_WIDTH B_WIDTH exhaustive OUT.bin
//   sim A_WIDTH B_WIDTH pairs IN.bin OUT.bin      (IN: uint32 a, uint32 b, ...)
#include "Vdut.h"
#include "verilated.h"
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static int fail(const char* msg) { std::fprintf(stderr, "harness: %s\n", msg); return 2; }

int main(int argc, char** argv) {
    if (argc < 5) return fail("usage: sim A_WIDTH B_WIDTH exhaustive OUT | pairs IN OUT");
    const int aw = std::atoi(argv[1]), bw = std::atoi(argv[2]);
    const uint64_t omask = (aw + bw) >= 32 ? 0xffffffffULL : ((1ULL << (aw + bw)) - 1);
    VerilatedContext ctx;
    Vdut top{&ctx};
    std::vector<uint32_t> out;
    auto t0 = std::chrono::steady_clock::now();
    if (std::strcmp(argv[3], "exhaustive") == 0) {
        if (aw + bw > 24) return fail("exhaustive sweep limited to a_width + b_width <= 24");
        const uint64_t na = 1ULL << aw, nb = 1ULL << bw;
        out.resize(na * nb);
        size_t k = 0;
        for (uint64_t a = 0; a < na; a++) {
            top.a = (uint32_t)a;
            for (uint64_t b = 0; b < nb; b++) {
                top.b = (uint32_t)b;
                top.eval();
                out[k++] = (uint32_t)(top.p & omask);
            }
        }
    } else if (std::strcmp(argv[3], "pairs") == 0 && argc >= 6) {
        FILE* f = std::fopen(argv[4], "rb");
        if (!f) return fail("cannot open input pairs");
        std::vector<uint32_t> in;
        uint32_t buf[2];
        while (std::fread(buf, sizeof(uint32_t), 2, f) == 2) { in.push_back(buf[0]); in.push_back(buf[1]); }
        std::fclose(f);
        out.resize(in.size() / 2);
        for (size_t i = 0; i < out.size(); i++) {
            top.a = in[2 * i];
            top.b = in[2 * i + 1];
            top.eval();
            out[i] = (uint32_t)(top.p & omask);
        }
        argv[4] = argv[5];
    } else {
        return fail("mode must be exhaustive or pairs");
    }
    auto t1 = std::chrono::steady_clock::now();
    FILE* o = std::fopen(argv[4], "wb");
    if (!o) return fail("cannot open output");
    if (std::fwrite(out.data(), sizeof(uint32_t), out.size(), o) != out.size()) return fail("short write");
    std::fclose(o);
    std::printf("SWEEP_NS %.0f %zu\n", std::chrono::duration<double, std::nano>(t1 - t0).count(), out.size());
    top.final();
    return 0;
}
