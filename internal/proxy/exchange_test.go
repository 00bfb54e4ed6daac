package proxy

import (
	"testing"
	"time"
)

func TestGRPCTimeout(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{
		"1S": time.Second, "100m": 100 * time.Millisecond, "5M": 5 * time.Minute, "2H": 2 * time.Hour,
		"30u": 30 * time.Microsecond, "7n": 7, "99999999S": 99999999 * time.Second,
		"": -1, "S": -1, "1": -1, "1x": -1, "-1S": -1, "123456789S": -1, "1.5S": -1,
	} {
		got, ok := grpcTimeout(v)
		if want < 0 && ok || want >= 0 && (!ok || got != want) {
			t.Errorf("grpcTimeout(%q) = %v, %v; want %v", v, got, ok, want)
		}
	}
}
