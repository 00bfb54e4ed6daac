package upstream

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestVerdict: every combination of breaker open, ejected, actively
// unhealthy and warming gives every reason that applies, in the documented
// order (unhealthy, ejected, breaker open, warming), the first one naming
// the state; serving exactly when the upstream is Available and the
// breaker is not open.
func TestVerdict(t *testing.T) {
	const (
		U = StateUnhealthy
		E = StateEjected
		B = StateBreakerOpen
		W = StateWarming
	)
	for _, tc := range []struct {
		breaker, ejected, unhealthy, warming bool
		want                                 []string // states of the reasons, in order
	}{
		{false, false, false, false, nil},
		{false, false, false, true, []string{W}},
		{false, false, true, false, []string{U}},
		{false, false, true, true, []string{U, W}},
		{false, true, false, false, []string{E}},
		{false, true, false, true, []string{E, W}},
		{false, true, true, false, []string{U, E}},
		{false, true, true, true, []string{U, E, W}},
		{true, false, false, false, []string{B}},
		{true, false, false, true, []string{B, W}},
		{true, false, true, false, []string{U, B}},
		{true, false, true, true, []string{U, B, W}},
		{true, true, false, false, []string{E, B}},
		{true, true, false, true, []string{E, B, W}},
		{true, true, true, false, []string{U, E, B}},
		{true, true, true, true, []string{U, E, B, W}},
	} {
		name := strings.Join(tc.want, "+")
		if name == "" {
			name = StateServing
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				u := NewRegistry().Get(Key{Scheme: "http", Host: "10.0.0.1:8080", ContainerID: "abc", Container: "web-1"})
				if !tc.warming {
					u.SetReady()
				}
				if tc.unhealthy {
					u.SetActive(false, "GET /health: 500")
				}
				start := time.Now()
				if tc.ejected {
					u.ReportConnectFailure(Passive{Threshold: 1, EjectFor: time.Minute})
				}
				until := start.Add(time.Minute)
				reasonOf := map[string]string{
					U: "failing health check: GET /health: 500",
					E: "ejected after connect failures (until " + until.Format(time.RFC3339) + ")",
					B: "breaker open",
					W: "port not accepting connections yet",
				}
				wantReasons := []string{}
				for _, s := range tc.want {
					wantReasons = append(wantReasons, reasonOf[s])
				}
				wantState := StateServing
				if len(tc.want) > 0 {
					wantState = tc.want[0]
				}

				v := u.Health().Verdict(tc.breaker)
				if v.State != wantState || !slices.Equal(v.Reasons, wantReasons) || v.Reasons == nil {
					t.Errorf("verdict %q %q, want %q %q", v.State, v.Reasons, wantState, wantReasons)
				}
				if v.EjectedUntil.IsZero() == tc.ejected || (tc.ejected && !v.EjectedUntil.Equal(until)) {
					t.Errorf("EjectedUntil = %v, want %v when ejected, zero otherwise", v.EjectedUntil, until)
				}
				if serving := u.Available() && !tc.breaker; (v.State == StateServing) != serving {
					t.Errorf("state %q, but Available() && !breaker = %v", v.State, serving)
				}
			})
		})
	}
}

// TestVerdictOverTime: an ejection's verdict ends when the ejection does,
// and an unhealthy upstream without a reason says so.
func TestVerdictOverTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := newTestUpstream()
		u.ReportConnectFailure(Passive{Threshold: 1, EjectFor: time.Minute})
		time.Sleep(time.Minute - time.Nanosecond)
		if v := u.Health().Verdict(false); v.State != StateEjected {
			t.Errorf("just before the ejection ends: %+v, want ejected", v)
		}
		time.Sleep(time.Nanosecond)
		if v := u.Health().Verdict(false); v.State != StateServing || len(v.Reasons) != 0 || !v.EjectedUntil.IsZero() {
			t.Errorf("when the ejection ends: %+v, want serving", v)
		}
		u.SetActive(false, "")
		if v := u.Health().Verdict(false); !slices.Equal(v.Reasons, []string{"failing health check: no reason given"}) {
			t.Errorf("unhealthy without a reason: %q", v.Reasons)
		}
	})
}
