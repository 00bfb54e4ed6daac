// Package proxy forwards a route's requests to its upstreams. It is the
// one place that knows how a request leaves rgate:
//
//   - the Forwarder's attempt loop (forwarder.go, exchange.go): pick an
//     upstream, send, and on a failure that allows it try another one;
//     passive ejection after connect failures, the route timeout, giving
//     up on an upstream that leaves the pool before it answered, and the
//     mapping of the final failure to an httperr error;
//   - the Plan (plan.go): compiled once per route, it describes what of the
//     client's request goes upstream (which header fields are dropped, the
//     forwarding fields, the request id, the route's header rules, the
//     prefix strip, the query) and what of the answer comes back;
//   - the engines that carry one attempt over the wire: the h1 engine on
//     rgate's own HTTP/1.1 client (h1client) for plain-HTTP upstreams and
//     requests with no body or a small buffered one, and the standard
//     engine on net/http's Transport and httputil.ReverseProxy for
//     everything else (TLS upstreams, upgrades, large streamed bodies).
//
// An engine applies the plan and reports how the attempt ended; it never
// decides whether to retry or what the client is told. A new outbound
// header is added to the plan and shows up on every engine.
package proxy
