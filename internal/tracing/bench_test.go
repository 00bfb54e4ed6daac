package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/reqinfo"
)

// BenchmarkBeginEnd is the tracing work of one request: the decision,
// the trace context sent upstream, and for a sampled one its span, ended
// and exported (to a local sink that discards it).
func BenchmarkBeginEnd(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer sink.Close()
	for _, c := range []struct {
		name  string
		ratio float64
		tp    string
	}{
		{"ratio0_root", 0, ""},
		{"ratio0_unsampled_parent", 0, inDropped},
		{"ratio0_sampled_parent", 0, inSampled},
		{"ratio1_root", 1, ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			ratio := c.ratio
			tr, err := New(config.Tracing{OTLPEndpoint: sink.URL, SampleRatio: &ratio, ServiceName: "rgate"}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = tr.Shutdown(context.Background()) }()
			r := request(c.tp, "")
			info := &reqinfo.Info{ID: "id", Route: "/api", Backend: "api", Upstream: "127.0.0.1:8080", Status: 200}
			b.ReportAllocs()
			for b.Loop() {
				info.Trace = reqinfo.Trace{}
				tr.Begin(r, "/api", &info.Trace).End(info)
			}
		})
	}
}
