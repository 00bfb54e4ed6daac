// Package stats counts finished requests and their latency, per route, per
// backend and for the whole gateway, and renders them as the /stats JSON.
//
// # Model
//
// A [Series] is the figures of one scope. [Series.Record] takes the final
// status and the elapsed time of one request; it uses atomic adds only (no
// lock, and no allocation once its window slots exist: see Windows), so the
// request path never waits on another request.
// A [Store] holds the global Series and one Series per route and per backend
// name. Callers look a Series up once, when the routing table is compiled, and
// keep the pointer: the same name always returns the same Series, so the
// figures survive config reloads and table swaps.
//
// # Classification
//
// success = status 200..399, and 101 Switching Protocols (a completed
// WebSocket upgrade); error = everything else: > 399, and also any other
// status < 200 or a status outside 100..599 (for example 0, a response that
// was never written). Every Record is exactly one of the two.
//
// # Histogram geometry
//
// Latency goes into a log-linear histogram of nanoseconds with a fixed array
// of atomic uint64 buckets (the same idea as HdrHistogram): values below 256
// ns get one bucket each; above that every power of two [2^h, 2^(h+1)) is
// split into 128 equal sub-buckets of width 2^(h-7). A bucket is therefore at
// most 1/128 of its lower bound wide, and reporting the midpoint of the bucket
// that holds the nearest-rank sample is within 1/256 (0.39%) of that exact
// sample: well inside the 1% the contract asks for. The tracked range is 0 to
// one hour; negative values count as 0 and longer ones as exactly one hour.
// That is 4562 buckets, about 36 KiB per Series, whatever the request count.
//
// # Why not hdrhistogram-go
//
// hdrhistogram-go does no locking of its own, so every RecordValue would need
// a mutex (or a shard of mutexes) shared by all requests of a scope: one lock
// word every core writes on every request, and goroutines parking behind it
// under load. Our buckets are atomic counters, so concurrent Records never
// block each other. BenchmarkRecordParallel against BenchmarkHDRMutexParallel
// (same work: histogram of the same resolution, counts and sum) on the 2-core
// dev box: about 10 ns/op against 23 ns/op (best of 12 runs; medians 19 and
// 31), and 13-14 ns against 15-17 ns single-threaded. The gap should widen
// with more cores; only 2 were available to measure.
//
// # Contention
//
// The per-status counters and the latency sum are touched by every request, so
// they are striped: 16 copies, each on its own cache lines, merged on read.
// Record picks one by hashing the latency's nanoseconds, which is free and
// spreads concurrent requests because they rarely take the same time to the
// nanosecond; a math/rand/v2 pick cost ~4 ns and was slower on 2 cores than no
// striping at all. Histogram buckets are not striped (that would multiply the
// memory); requests of different latency touch different buckets anyway.
//
// # Reading
//
// [Series.Summary] merges the stripes and walks the buckets. It does not stop
// writers, so under load its figures come from a few nanoseconds apart; each
// one is exact for the moment it was read.
//
// # Windows
//
// Every Record also lands in two rings of time slices, so that
// [Series.Window] can summarise only the last d (the /stats?window=D
// document, [Store.WindowSnapshot]) and [Series.Timeline] can chart it:
//
//   - the fine ring: 60 slices of 1s, for windows up to 60s;
//   - the coarse ring: 90 slices of 10s, for windows above 60s, up to 15m.
//
// A window is the current, partial slice and as many before it as d needs,
// rounded up ([WindowSpan]), so a request counts in Window(d) for at least
// WindowSpan(d) minus one slice and at most WindowSpan(d). Slices are
// numbered from a base on a 10s boundary of the wall clock, taken at the
// first Record and from then on measured on the monotonic clock: slices
// start on whole seconds (coarse ones on :00, :10 ...), and a wall clock
// step does not move them.
//
// A slice is held by a slot: counts per status slot, the latency sum and
// max, and a histogram coarser than the cumulative one: latencies in units
// of 1.024 µs, one bucket per unit below 16 units and 16 sub-buckets per
// power of two above, uint32 counters, 459 buckets for 0..1h. A window
// percentile is the midpoint of the bucket that holds the nearest-rank
// sample, capped at the window's max: within 1/32 (3.1%) of that exact
// sample, or within 0.512 µs below 16.4 µs. Counts, average and max are
// exact. A slot counts up to 2^32-1 requests (in 10s: 429M requests/s).
//
// Memory: a slot is 2032 bytes, a 2 KiB allocation, made when a ring
// position first gets a request. A Series that never recorded holds no slot,
// only the rings' 152 pointers (1.2 KiB beside the cumulative figures' 38
// KiB). A Series busy in every second of the last 15 minutes holds 60 + 90
// slots plus one spare per ring: 152 x 2 KiB = 304 KiB (TestWindowMemory
// measures it with runtime.MemStats), and no more however long it runs. A
// Series that goes idle keeps the slots it used (to be reused, never freed).
//
// Slot reuse takes no lock. A ring position is an atomic pointer to its
// slot, and the slot is stamped with the slice it holds. Record loads both
// and, when the stamp is the current slice, adds: a count and the sum (on
// one of two stripes, each on its own cache line, as the Series stripes),
// the bucket, and a load of the max: 3 atomic adds per ring. When a
// position comes round to a new slice, the first writer there publishes a
// zeroed slot stamped with that slice by one CAS of the pointer, then zeroes
// the retired slot (out of every window by then) and keeps it as the ring's
// spare for the next reuse; so in steady state nothing is allocated, and no
// writer ever sees a half-reset slot. Resetting in place (a stamp CAS then
// zeroing the counters, as the breaker's one-word buckets can) would race
// with writers that already see the new stamp: their counts would be
// zeroed. A writer that finds a later stamp stalled a whole ring between
// reading the clock and writing; its sample is out of every window and is
// dropped; one stalled as long between its stamp check and its adds could
// still add one sample to the retired slot. Readers merge the slots whose stamps fall in the window into a
// stack copy; like Summary they do not stop writers.
//
// Cost, on the 2-core dev VM (go test -bench, medians of 5): Record went
// from 16 to 116 ns/op, of which ~70 ns is reading the clock (time.Now is
// slow on that VM); RecordAt, which takes the time the caller already read
// and is the one for the request path, is 48 ns/op. Window(1m) of a busy
// Series takes ~15 µs, Window(15m) ~26 µs (90 slots), Timeline(5m, 10s)
// ~45 µs; none blocks Record.
package stats
