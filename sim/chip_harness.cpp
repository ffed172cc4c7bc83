// axforge chip harness: runs a workload through an array bank (RTL or a mapped
// netlist with the same ports) and writes the results; with -DAXF_SAIF it also
// writes SAIF toggle counts of the run.
//   sim WORKLOAD.bin OUT.bin [OUT.saif]
// WORKLOAD (uint32 words): magic 0x41584657, route, tiles, M, act_words, w_words,
// res_words, then per tile: R weight beats (bottom row first) of w_words each
// (R = its own count word before them), then M activation beats of act_words.
// OUT: per tile, M result beats of res_words words. Results are taken with
// ready held high, so the run measures the array at full throughput.
// (Verilator spells the ports' "__" as "___05F": act_in__valid is act_in___05Fvalid.)
#include "Vdut.h"
#include "verilated.h"
#include "harness_io.h"
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

static int fail(const char* msg) { std::fprintf(stderr, "chip harness: %s\n", msg); return 2; }

int main(int argc, char** argv) {
    if (argc < 3) return fail("usage: sim WORKLOAD.bin OUT.bin [OUT.saif]");
    std::vector<uint32_t> wl;
    if (!read_words(argv[1], wl)) return fail("cannot open workload");
    if (wl.size() < 7 || wl[0] != 0x41584657u) return fail("bad workload header");
    const uint32_t route = wl[1], tiles = wl[2], M = wl[3], aw = wl[4], ww = wl[5], rw = wl[6];
    size_t pos = 7;

    VerilatedContext ctx;
    Vdut top{&ctx};
#ifdef AXF_SAIF
    ctx.traceEverOn(true);
    VerilatedSaifC* saif = nullptr;
#endif
    uint64_t now = 0;
    std::vector<uint32_t> out;
    std::vector<uint32_t> zeros(64, 0);
    bool tracing = false;
    auto tick = [&](bool& act_fire, bool& w_fire, bool& route_fire) {
        top.clk = 0;
        top.eval();
#ifdef AXF_SAIF
        if (saif && tracing) saif->dump(now);
#endif
        now++;
        act_fire = top.act_in___05Fvalid && top.act_in___05Fready;
        w_fire = top.w_in___05Fvalid && top.w_in___05Fready;
        route_fire = top.route___05Fvalid && top.route___05Fready;
        if (top.res_out___05Fvalid && top.res_out___05Fready) {
            size_t at = out.size();
            out.resize(at + rw);
            get(top.res_out___05Fpayload, &out[at], rw);
        }
        top.clk = 1;
        top.eval();
#ifdef AXF_SAIF
        if (saif && tracing) saif->dump(now);
#endif
        now++;
    };
    bool af, wf, rf;
    top.rst = 1;
    top.act_in___05Fvalid = 0; top.w_in___05Fvalid = 0; top.route___05Fvalid = 0; top.res_out___05Fready = 1;
    tick(af, wf, rf); tick(af, wf, rf);
    top.rst = 0;
    top.route___05Fpayload = route;
    top.route___05Fvalid = 1;
    do tick(af, wf, rf); while (!rf);
    top.route___05Fvalid = 0;
    tick(af, wf, rf);  // let the ROUTE switch settle before counting toggles
    tick(af, wf, rf);
#ifdef AXF_SAIF
    if (argc >= 4) {
        saif = open_saif(top, argv[3]);
        tracing = true;
        now = 0;
    }
#endif
    for (uint32_t t = 0; t < tiles; t++) {
        if (pos >= wl.size()) return fail("workload ends early");
        uint32_t rows = wl[pos++];
        for (uint32_t r = 0; r < rows; r++) {
            if (pos + ww > wl.size()) return fail("workload ends early (weights)");
            put(top.w_in___05Fpayload, &wl[pos]);
            top.w_in___05Fvalid = 1;
            do tick(af, wf, rf); while (!wf);
            pos += ww;
        }
        put(top.w_in___05Fpayload, zeros.data());
        top.w_in___05Fvalid = 0;
        size_t want = out.size() + (size_t)M * rw;
        for (uint32_t m = 0; m < M; m++) {
            if (pos + aw > wl.size()) return fail("workload ends early (activations)");
            put(top.act_in___05Fpayload, &wl[pos]);
            top.act_in___05Fvalid = 1;
            do tick(af, wf, rf); while (!af);
            pos += aw;
        }
        put(top.act_in___05Fpayload, zeros.data());
        top.act_in___05Fvalid = 0;
        for (int guard = 0; out.size() < want; guard++) {
            if (guard > 100000) return fail("results did not arrive");
            tick(af, wf, rf);
        }
    }
#ifdef AXF_SAIF
    if (saif) { saif->close(); delete saif; }
#endif
    FILE* o = std::fopen(argv[2], "wb");
    if (!o) return fail("cannot open output");
    std::fwrite(out.data(), 4, out.size(), o);
    std::fclose(o);
    std::printf("CYCLES %llu\n", (unsigned long long)(now / 2));  // cycles since tracing started (or total)
    top.final();
    return 0;
}
