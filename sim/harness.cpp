// axforge LUT harness: drives the combinational DUT (ports a, b, p) through
// every input pair, or through pairs read from a file, and writes the raw
// output bits as little-endian uint32.
//   sim A_WIDTH B_WIDTH exhaustive OUT.bin
//   sim A_WIDTH B_WIDTH pairs IN.bin OUT.bin      (IN: uint32 a, uint32 b, ...)
//   sim A_WIDTH B_WIDTH activity IN.bin OUT.saif  (built with -DAXF_SAIF: toggle counts)
// Built with -DAXF_CLOCKED, each pair is applied, then one rising clock edge
// registers the product (rst held low), so registered designs work as well.
// Built with the bit-sliced model (bitslice.py; its header axf_slice.h,
// included first by the unity build, defines AXF_BITSLICE), the top has one
// 64-bit port per operand and product bit, bit j of each word being lane j:
// one eval() computes 64 pairs.
#include "Vdut.h"
#include "verilated.h"
#ifdef AXF_SAIF
#include "verilated_saif_c.h"
#endif
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

static int fail(const char* msg) { std::fprintf(stderr, "harness: %s\n", msg); return 2; }

static uint64_t now = 0;

template <typename T>
static inline void apply(Vdut& top, uint32_t a, uint32_t b, T* trace) {
#ifdef AXF_BITSLICE
    (void)top; (void)a; (void)b; (void)trace;
#else
    top.a = a;
    top.b = b;
#ifdef AXF_CLOCKED
    top.rst = 0;
    top.clk = 0;
    top.eval();
    if constexpr (!std::is_same_v<T, int>) { if (trace) trace->dump(now++); }
    top.clk = 1;
#endif
    top.eval();
    if constexpr (!std::is_same_v<T, int>) { if (trace) trace->dump(now++); }
#endif
}

static inline uint32_t output(const Vdut& top) {
#ifdef AXF_BITSLICE
    (void)top;
    return 0;
#else
    return (uint32_t)top.p;
#endif
}

#ifdef AXF_BITSLICE
// An 8x8 bit matrix in a word (byte r, bit c) -> its transpose (byte c, bit r).
static inline uint64_t transpose8(uint64_t x) {
    uint64_t t = (x ^ (x >> 7)) & 0x00aa00aa00aa00aaULL;
    x ^= t ^ (t << 7);
    t = (x ^ (x >> 14)) & 0x0000cccc0000ccccULL;
    x ^= t ^ (t << 14);
    t = (x ^ (x >> 28)) & 0x00000000f0f0f0f0ULL;
    return x ^ t ^ (t << 28);
}

// Lane j of the product words wp -> out[j], for the first n <= 64 lanes:
// 8 product bits x 8 lanes at a time, one 8x8 transpose each.
static inline void unslice(const uint64_t* wp, uint32_t* out, size_t n, uint64_t omask) {
    constexpr int bits = AXF_OUT_BITS < 32 ? AXF_OUT_BITS : 32;
    uint32_t v[64] = {};
    for (int g = 0; g < bits; g += 8) {
        for (int c = 0; c < 8; c++) {
            uint64_t x = 0;
            for (int r = 0; r < 8 && g + r < bits; r++) x |= ((wp[g + r] >> (8 * c)) & 0xff) << (8 * r);
            x = transpose8(x);
            for (int l = 0; l < 8; l++) v[8 * c + l] |= (uint32_t)((x >> (8 * l)) & 0xff) << g;
        }
    }
    for (size_t j = 0; j < n; j++) out[j] = (uint32_t)(v[j] & omask);
}
#endif

static bool read_pairs(const char* path, std::vector<uint32_t>& in) {
    FILE* f = std::fopen(path, "rb");
    if (!f) return false;
    uint32_t buf[2];
    while (std::fread(buf, sizeof(uint32_t), 2, f) == 2) { in.push_back(buf[0]); in.push_back(buf[1]); }
    std::fclose(f);
    return true;
}

int main(int argc, char** argv) {
    if (argc < 5) return fail("usage: sim A_WIDTH B_WIDTH exhaustive OUT | pairs IN OUT");
    const int aw = std::atoi(argv[1]), bw = std::atoi(argv[2]);
    const uint64_t omask = (aw + bw) >= 32 ? 0xffffffffULL : ((1ULL << (aw + bw)) - 1);
    VerilatedContext ctx;
#ifdef AXF_SAIF
    ctx.traceEverOn(true);
    using Trace = VerilatedSaifC;
#else
    using Trace = int;
#endif
    Vdut top{&ctx};
    Trace* none = nullptr;
    std::vector<uint32_t> out;
    auto t0 = std::chrono::steady_clock::now();
    if (std::strcmp(argv[3], "exhaustive") == 0) {
        if (aw + bw > 24) return fail("exhaustive sweep limited to a_width + b_width <= 24");
        const uint64_t na = 1ULL << aw, nb = 1ULL << bw;
        out.resize(na * nb);
#ifdef AXF_BITSLICE
        // Index q = a << bw | b; lane j of a 64-pair block is q = k + j, so index
        // bits 0..5 follow fixed patterns and the higher bits are constant.
        static const uint64_t pattern[6] = {0xaaaaaaaaaaaaaaaaULL, 0xccccccccccccccccULL, 0xf0f0f0f0f0f0f0f0ULL,
                                            0xff00ff00ff00ff00ULL, 0xffff0000ffff0000ULL, 0xffffffff00000000ULL};
        uint64_t wa[32], wb[32], wp[64];
        const size_t n = out.size();
        for (size_t k = 0; k < n; k += 64) {
            for (int i = 0; i < aw + bw; i++) {
                const uint64_t w = i < 6 ? pattern[i] : ((k >> i) & 1 ? ~0ULL : 0ULL);
                if (i < bw) wb[i] = w; else wa[i - bw] = w;
            }
            axf_set_words(top, wa, wb);
            top.eval();
            axf_get_words(top, wp);
            unslice(wp, &out[k], n - k < 64 ? n - k : 64, omask);
        }
#else
        size_t k = 0;
        for (uint64_t a = 0; a < na; a++) {
            for (uint64_t b = 0; b < nb; b++) {
                apply(top, (uint32_t)a, (uint32_t)b, none);
                out[k++] = output(top) & omask;
            }
        }
#endif
    } else if (std::strcmp(argv[3], "pairs") == 0 && argc >= 6) {
        std::vector<uint32_t> in;
        if (!read_pairs(argv[4], in)) return fail("cannot open input pairs");
        out.resize(in.size() / 2);
#ifdef AXF_BITSLICE
        uint64_t wa[32], wb[32], wp[64];
        for (size_t k = 0; k < out.size(); k += 64) {
            const size_t m = out.size() - k < 64 ? out.size() - k : 64;
            for (int i = 0; i < aw; i++) wa[i] = 0;
            for (int i = 0; i < bw; i++) wb[i] = 0;
            for (size_t j = 0; j < m; j++) {
                const uint32_t a = in[2 * (k + j)], b = in[2 * (k + j) + 1];
                for (int i = 0; i < aw; i++) wa[i] |= (uint64_t)((a >> i) & 1) << j;
                for (int i = 0; i < bw; i++) wb[i] |= (uint64_t)((b >> i) & 1) << j;
            }
            axf_set_words(top, wa, wb);
            top.eval();
            axf_get_words(top, wp);
            unslice(wp, &out[k], m, omask);
        }
#else
        for (size_t i = 0; i < out.size(); i++) {
            apply(top, in[2 * i], in[2 * i + 1], none);
            out[i] = output(top) & omask;
        }
#endif
        argv[4] = argv[5];
#ifdef AXF_SAIF
    } else if (std::strcmp(argv[3], "activity") == 0 && argc >= 6) {
        std::vector<uint32_t> in;
        if (!read_pairs(argv[4], in)) return fail("cannot open input pairs");
        if (in.size() < 2) return fail("activity needs at least one operand pair");
        apply(top, in[0], in[1], none);  // settle on the first vector before tracing
        {   // SAIF counts a signal that starts at 1 as a toggle: a one-dump baseline records those
            std::string base = std::string(argv[5]) + ".base";
            Trace b;
            top.trace(&b, 99);
            b.open(base.c_str());
            b.dump(now);
            b.close();
        }
        Trace saif;
        top.trace(&saif, 99);
        saif.open(argv[5]);
        saif.dump(now++);
        for (size_t i = 2; i < in.size(); i += 2) apply(top, in[i], in[i + 1], &saif);
        saif.close();
        auto t1 = std::chrono::steady_clock::now();
        std::printf("SWEEP_NS %.0f %zu\n", std::chrono::duration<double, std::nano>(t1 - t0).count(),
                    in.size() / 2);
        top.final();
        return 0;
#endif
    } else {
        return fail("mode must be exhaustive, pairs or activity");
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
