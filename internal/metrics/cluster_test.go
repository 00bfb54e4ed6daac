package metrics

import "testing"

func TestClusterLimitCounters(t *testing.T) {
	m := New()
	h := m.ClusterLimit("/pay", "deny")
	h.StoreError()
	h.Fallback()
	h.Fallback()
	m.ClusterLimit("/pay", "deny").Fallback() // the same series
	fams := scrape(t, m)
	if v := value(t, fams, "rgate_ratelimit_store_errors_total", map[string]string{"route": "/pay"}); v != 1 {
		t.Errorf("store errors = %v, want 1", v)
	}
	if v := value(t, fams, "rgate_ratelimit_fallback_total", map[string]string{"route": "/pay", "mode": "deny"}); v != 3 {
		t.Errorf("fallback decisions = %v, want 3", v)
	}
	m.Route("/pay", "b")
	m.Forget()
	if find(scrape(t, m), "rgate_ratelimit_fallback_total", map[string]string{"route": "/pay"}) != nil {
		t.Error("a forgotten route kept its fallback series")
	}
}
