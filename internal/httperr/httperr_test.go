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
	if got := Write(rec, ErrNoUpstream, `id"1`); got != 503 {
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
	if got := Write(rec, context.Canceled, "x"); got != 499 || rec.Body.Len() != 0 || rec.Code != 200 {
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
