package httperr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"

	"github.com/rgate/rgate/internal/reqinfo"
)

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestStatus(t *testing.T) {
	t.Parallel()
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 200},
		{"bad path", ErrBadPath, 400},
		{"no upstream", ErrNoUpstream, 503},
		{"wrapped no upstream", fmt.Errorf("backend x: %w", ErrNoUpstream), 503},
		{"upstream down", ErrUpstreamDown, 503},
		{"dial refused", dialRefused, 503},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), 503},
		{"dial timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, 503},
		{"read timeout", &net.OpError{Op: "read", Err: timeoutErr{}}, 504},
		{"route timeout", ErrUpstreamTimeout, 504},
		{"deadline", context.DeadlineExceeded, 504},
		{"client gone", context.Canceled, 499},
		{"eof", io.ErrUnexpectedEOF, 502},
		{"malformed", errors.New("malformed HTTP response"), 502},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("%s: Status(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	if got := Write(rec, reqWithID(`id"1`), ErrNoUpstream); got != 503 {
		t.Fatalf("status %d", got)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	if body["request_id"] != `id"1` || body["error"] != "service unavailable" {
		t.Errorf("body = %v", body)
	}
	if rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", rec.Header().Get("Content-Type"))
	}

	rec = httptest.NewRecorder()
	if got := Write(rec, reqWithID("x"), context.Canceled); got != 499 || rec.Body.Len() != 0 || rec.Code != 200 {
		t.Errorf("client-gone wrote something: %d %q", rec.Code, rec.Body.String())
	}
}

func TestStatusPolicies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{ErrBodyTooLarge, 413},
		{&http.MaxBytesError{Limit: 10}, 413},
		{fmt.Errorf("reading body: %w", &http.MaxBytesError{Limit: 10}), 413},
		{ErrRateLimited, 429},
		{ErrCircuitOpen, 503},
	} {
		if got := Status(tc.err); got != tc.want {
			t.Errorf("Status(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func reqWithID(id string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Request-Id", id)
	return r
}

func TestWriteGRPC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err        error
		ct         string
		proto      int
		wantGRPC   string // "" for the JSON form
		wantStatus int    // the HTTP-equivalent status recorded
	}{
		{ErrNoUpstream, "application/grpc", 2, "14", 503},
		{ErrUpstreamTimeout, "application/grpc+proto", 2, "4", 504},
		{ErrRateLimited, "application/grpc", 2, "8", 429},
		{ErrCircuitOpen, "application/grpc;charset=utf-8", 2, "14", 503},
		{ErrNoUpstream, "application/grpc-web", 2, "", 503},
		{ErrNoUpstream, "application/grpc", 1, "", 503}, // gRPC needs HTTP/2
		{ErrNoUpstream, "application/json", 2, "", 503},
	} {
		r := reqWithID("g")
		r.ProtoMajor = tc.proto
		r.Header.Set("Content-Type", tc.ct)
		rec := httptest.NewRecorder()
		w := &reqinfo.Writer{ResponseWriter: rec}
		Write(w, r, tc.err)
		gs := rec.Header().Get("Grpc-Status")
		if gs != tc.wantGRPC || w.Info.Status != tc.wantStatus {
			t.Errorf("%v (%s, HTTP/%d): grpc-status %q recorded %d, want %q %d", tc.err, tc.ct, tc.proto, gs, w.Info.Status, tc.wantGRPC, tc.wantStatus)
		}
		if tc.wantGRPC != "" && (rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "application/grpc" || rec.Header().Get("Grpc-Message") == "") {
			t.Errorf("%v: gRPC form %d %q %v, want 200, no body, application/grpc and a message", tc.err, rec.Code, rec.Body, rec.Header())
		}
	}
}
