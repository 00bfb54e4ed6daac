package h1server

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Keep net/http's RST-avoidance pause short in tests (it only delays
	// closing connections that leave unread request body).
	rstAvoidanceDelay = 50 * time.Millisecond
	goleak.VerifyTestMain(m)
}
