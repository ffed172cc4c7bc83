// axforge NPU harness: runs a stream of samples through the AXNet NPU (its RTL, or a mapped
// netlist with the same ports) and writes the result beats; with -DAXF_SAIF it also writes
// SAIF toggle counts of the stream (not of reset or configuration).
//   sim WORKLOAD.bin OUT.bin [OUT.saif]
// WORKLOAD (uint32 words): magic 0x4158464E, n_cfg, cfg_words, n_beats, n_samples, res_words,
// last_bit, max_cycles, then n_cfg cfg payloads of cfg_words words each (addr in the low bits,
// data above), then n_beats input beats (one word each: the raw sample code).
// The run: reset (two cycles), every cfg write (valid held until accepted), two idle cycles,
// then (tracing from here) the input beats back to back (valid held high until the last one is
// accepted) with results always ready, until n_samples beats with bit last_bit set (`last`) came
// out.
// OUT (uint32 words): n_result_beats, stream_cycles, traced_cycles, then every result beat's
// payload (res_words words each). stream_cycles counts from the cycle the first input beat is
// accepted to the cycle the last result beat is accepted, both included (axforge.hdl.npu.cycles).
// (Verilator spells the ports' "__" as "___05F": cfg__payload is cfg___05Fpayload.)
#include "Vdut.h"
#include "verilated.h"
#include "harness_io.h"
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

static int fail(const char* msg) { std::fprintf(stderr, "npu harness: %s\n", msg); return 2; }

int main(int argc, char** argv) {
    if (argc < 3) return fail("usage: sim WORKLOAD.bin OUT.bin [OUT.saif]");
    std::vector<uint32_t> wl;
    if (!read_words(argv[1], wl)) return fail("cannot open workload");
    if (wl.size() < 8 || wl[0] != 0x4158464Eu) return fail("bad workload header");
    const uint32_t n_cfg = wl[1], cw = wl[2], n_beats = wl[3], n_samples = wl[4], rw = wl[5], last_bit = wl[6];
    const uint64_t max_cycles = wl[7];
    if (cw < 1 || cw > 8 || rw < 1 || rw > 8 || last_bit >= 32 * rw) return fail("bad workload widths");
    if (wl.size() != 8 + (size_t)n_cfg * cw + n_beats) return fail("workload size does not match its header");
    const uint32_t* cfg = &wl[8];
    const uint32_t* beats = cfg + (size_t)n_cfg * cw;

    VerilatedContext ctx;
    Vdut top{&ctx};
#ifdef AXF_SAIF
    ctx.traceEverOn(true);
    VerilatedSaifC* saif = nullptr;
#endif
    uint64_t now = 0;
    bool tracing = false;
    std::vector<uint32_t> out, res(rw);
    std::vector<uint32_t> zeros(8, 0);
    bool cfg_fire = false, in_fire = false, res_fire = false;
    auto tick = [&]() {
        top.clk = 0;
        top.eval();
#ifdef AXF_SAIF
        if (saif && tracing) saif->dump(now);
#endif
        now++;
        cfg_fire = top.cfg___05Fvalid && top.cfg___05Fready;
        in_fire = top.samples___05Fvalid && top.samples___05Fready;
        res_fire = top.results___05Fvalid && top.results___05Fready;
        if (res_fire) {
            get(top.results___05Fpayload, res.data(), rw);
            out.insert(out.end(), res.begin(), res.end());
        }
        top.clk = 1;
        top.eval();
#ifdef AXF_SAIF
        if (saif && tracing) saif->dump(now);
#endif
        now++;
    };
    top.rst = 1;
    top.cfg___05Fvalid = 0; top.samples___05Fvalid = 0; top.results___05Fready = 1;
    tick(); tick();
    top.rst = 0;
    for (uint32_t i = 0; i < n_cfg; i++) {
        put(top.cfg___05Fpayload, cfg + (size_t)i * cw);
        top.cfg___05Fvalid = 1;
        int guard = 0;
        do {
            if (++guard > 1000) return fail("a configuration write was not accepted");
            tick();
        } while (!cfg_fire);
    }
    top.cfg___05Fvalid = 0;
    put(top.cfg___05Fpayload, zeros.data());
    tick(); tick();
    out.clear();          // nothing comes out before the first sample; drop it if it did
#ifdef AXF_SAIF
    if (argc >= 4) {
        saif = open_saif(top, argv[3]);
        tracing = true;
        now = 0;
    }
#endif
    uint64_t cycle = 0, first = 0, last = 0, lasts = 0;
    size_t sent = 0;
    bool started = false;
    while (lasts < n_samples) {
        if (cycle > max_cycles) return fail("the results did not arrive within max_cycles");
        if (sent < n_beats) {
            put(top.samples___05Fpayload, beats + sent);
            top.samples___05Fvalid = 1;
        } else {
            top.samples___05Fvalid = 0;
        }
        tick();
        if (in_fire) {
            if (!started) { started = true; first = cycle; }
            sent++;
        }
        if (res_fire && (res[last_bit / 32] >> (last_bit % 32) & 1u)) { lasts++; last = cycle; }
        cycle++;
    }
#ifdef AXF_SAIF
    if (saif) { saif->close(); delete saif; }
#endif
    if (sent != n_beats) return fail("the NPU finished before it took every input beat");
    const uint64_t stream = n_samples ? last - first + 1 : 0;
    FILE* o = std::fopen(argv[2], "wb");
    if (!o) return fail("cannot open output");
    uint32_t head[3] = {(uint32_t)(out.size() / rw), (uint32_t)stream, (uint32_t)cycle};
    std::fwrite(head, 4, 3, o);
    std::fwrite(out.data(), 4, out.size(), o);
    std::fclose(o);
    std::printf("CYCLES %llu\n", (unsigned long long)stream);
    top.final();
    return 0;
}
