// Package breaker is the circuit breaker of a backend: when a backend keeps
// failing, the gateway stops sending it traffic for a while and answers 503
// at once, instead of piling more requests onto it.
//
// # State machine
//
// A [Breaker] is in one of three states:
//
//	closed ---(Failures failures among >= MinRequests requests in Window)---> open
//	open ------(OpenFor has passed; at the next request)--------------------> half-open
//	half-open -(a probe succeeds)-------------------------------------------> closed
//	half-open -(a probe fails)----------------------------------------------> open
//
// In detail:
//
//   - closed: every request goes through. Each outcome is counted in a
//     sliding window of length Window. When a failure brings the window to
//     at least Failures failures among at least MinRequests requests, the
//     circuit opens; the reason ("5 failures in 10s (12 requests)") and the
//     time are kept for /health. The check runs on failures only: a success
//     never opens the circuit.
//   - open: every request is refused with 503 and a Retry-After of the
//     time left, until OpenFor has passed.
//   - half-open: the first request after OpenFor turns the circuit
//     half-open. Up to HalfOpenRequests requests (probes) go through at a
//     time; the others get 503 with Retry-After: 1. The first probe to
//     finish decides: a success closes the circuit with an empty window, a
//     failure opens it for another OpenFor.
//
// A failure is a final status >= 500: connect errors and timeouts end as
// 502/503/504 from the gateway, and an upstream's own 5xx counts too. A 499
// (the client went away) or a request that never got an answer (the handler
// panicked) is neither a success nor a failure: it only frees its probe
// slot.
//
// # Tickets
//
// [Breaker.Allow] hands each admitted request a [Ticket] naming the period
// it was admitted in (every transition starts a new one). [Breaker.Done]
// ignores a ticket of an earlier period, so a request admitted while closed
// that is still running when the circuit turns half-open (a long poll, a
// WebSocket) neither closes the circuit nor takes a probe's place, and a
// probe that finishes after another probe decided changes nothing.
//
// # Sliding window
//
// The window is a ring of 10 buckets, each Window/10 wide. A bucket is one
// atomic word holding its epoch stamp with the request and failure counts;
// a bucket left from an older epoch is reset by a CAS of that word when it
// is reused, so counting is lock-free and loses nothing at bucket edges.
// A count is in the window for at least 9/10 of Window and never longer
// than Window.
//
// # Cost
//
// On a closed circuit, Allow is one atomic load, and Done a clock read and
// an atomic add (a failure also sums the ten buckets). Probes and
// transitions use CAS on one state word; a small mutex only orders the
// transitions, which publish the trip reason and times with them. Nothing
// here allocates on the closed path.
//
// # Lifetime
//
// A Breaker belongs to a backend, not to a routing table: the caller keeps
// it (in a registry keyed by backend) and hands the same one to every table
// compiled while the backend's circuit_breaker config is unchanged, so an
// open circuit stays open across reloads and Docker events.
package breaker
