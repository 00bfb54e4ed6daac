package accesslog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestTraceID: a traced request's line has trace_id after request_id;
// an untraced one (the other tests) has none.
func TestTraceID(t *testing.T) {
	t.Parallel()
	info, r := sample()
	info.Trace.ID = [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	info.Trace.Parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	line := logOne(t, info, r, start.Add(time.Millisecond))
	want := append([]string{"time", "request_id", "trace_id"}, fieldOrder[2:]...)
	if got := strings.Join(keys(t, line), ","); got != strings.Join(want, ",") {
		t.Errorf("keys = %s\nwant   %s", got, strings.Join(want, ","))
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	if m["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace_id = %v", m["trace_id"])
	}
	info.Trace.ID = [16]byte{}
	if line := logOne(t, info, r, start); bytes.Contains(line, []byte("trace_id")) {
		t.Errorf("untraced line has a trace_id: %s", line)
	}
}
