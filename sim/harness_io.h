// Shared pieces of axforge's Verilator harnesses (chip_harness.cpp, npu_harness.cpp): moving
// payload words in and out of ports of any width, reading a workload file, and opening a SAIF
// trace whose baseline is recorded first.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>
#ifdef AXF_SAIF
#include "verilated_saif_c.h"
#endif

// A port from uint32 words (low word first): an integral port of up to 64 bits, or a wide one.
template <typename T> static void put(T& port, const uint32_t* w) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = w[0];
        if constexpr (sizeof(T) > 4) v |= (uint64_t)w[1] << 32;
        port = (T)v;
    } else {
        for (size_t i = 0; i < sizeof(port) / 4; i++) port[i] = w[i];
    }
}

// n uint32 words (low word first) of a port.
template <typename T> static void get(const T& port, uint32_t* w, size_t n) {
    if constexpr (std::is_integral_v<T>) {
        uint64_t v = (uint64_t)port;
        w[0] = (uint32_t)v;
        if (n > 1) w[1] = (uint32_t)(v >> 32);
    } else {
        for (size_t i = 0; i < n; i++) w[i] = port[i];
    }
}

// Every uint32 word of a file; false when it cannot be opened.
static bool read_words(const char* path, std::vector<uint32_t>& words) {
    FILE* f = std::fopen(path, "rb");
    if (!f) return false;
    uint32_t word;
    while (std::fread(&word, 4, 1, f) == 1) words.push_back(word);
    std::fclose(f);
    return true;
}

#ifdef AXF_SAIF
// A SAIF trace of `top` into `path`, dumped at time 0. SAIF counts a signal that starts at 1 as
// one toggle: a baseline trace with a single dump (PATH.base) records exactly those, and the
// reader subtracts it.
template <typename M> static VerilatedSaifC* open_saif(M& top, const char* path) {
    std::string base = std::string(path) + ".base";
    VerilatedSaifC* b = new VerilatedSaifC;
    top.trace(b, 99);
    b->open(base.c_str());
    b->dump(0);
    b->close();
    delete b;
    VerilatedSaifC* saif = new VerilatedSaifC;
    top.trace(saif, 99);
    saif->open(path);
    saif->dump(0);          // the trace starts here: time 0 records initial values, not toggles
    return saif;
}
#endif
