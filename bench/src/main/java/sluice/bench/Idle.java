package sluice.bench;

/** What a path's processes use with no request at all, measured after its load rows (so after JIT warm-up). */
record Idle(String path, CpuUse cpu) {}
