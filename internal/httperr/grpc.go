package httperr

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/rgate/rgate/internal/reqinfo"
)

// gRPC status codes (google.golang.org/grpc/codes) that the gateway's own
// answers use.
const (
	grpcInternal          = 13
	grpcUnavailable       = 14
	grpcDeadlineExceeded  = 4
	grpcResourceExhausted = 8
	grpcUnimplemented     = 12
	grpcInvalidArgument   = 3
	grpcPermissionDenied  = 7
	grpcUnauthenticated   = 16
)

// IsGRPC reports whether r is a gRPC call (its content type is
// application/grpc, or application/grpc+proto and the like): the gateway
// then answers its own refusals in gRPC's form.
func IsGRPC(r *http.Request) bool {
	ct := r.Header["Content-Type"]
	return len(ct) > 0 && r.ProtoMajor == 2 && strings.HasPrefix(ct[0], "application/grpc") &&
		(len(ct[0]) == len("application/grpc") || ct[0][len("application/grpc")] == '+' || ct[0][len("application/grpc")] == ';')
}

// grpcCode is the gRPC status for a gateway answer of HTTP status s.
func grpcCode(s int) int {
	switch s {
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return grpcUnavailable
	case http.StatusGatewayTimeout:
		return grpcDeadlineExceeded
	case http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
		return grpcResourceExhausted
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return grpcUnimplemented
	case http.StatusBadRequest:
		return grpcInvalidArgument
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	}
	return grpcInternal
}

// writeGRPC answers a gRPC call in gRPC's "trailers-only" form: HTTP 200
// with grpc-status and grpc-message in the head and no body, which gRPC
// clients read as the call's status. The request's record keeps the
// HTTP-equivalent status, so /stats and the access log count it as the
// refusal it is.
func writeGRPC(w http.ResponseWriter, status int, msg string) {
	writeGRPCCode(w, status, grpcCode(status), msg)
}

// NoRoute answers a gRPC call that matches no route: UNIMPLEMENTED,
// recorded as status (the default response's). It reports false, writing
// nothing, when r is not a gRPC call: the default response is its answer.
func NoRoute(w http.ResponseWriter, r *http.Request, status int) bool {
	if !IsGRPC(r) {
		return false
	}
	writeGRPCCode(w, status, grpcUnimplemented, "no route for this method")
	return true
}

func writeGRPCCode(w http.ResponseWriter, status, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(code))
	h.Set("Grpc-Message", msg)
	w.WriteHeader(http.StatusOK)
	reqinfo.From(w).Status = status
}
