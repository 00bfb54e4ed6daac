package config

import (
	"strings"
	"testing"
)

func TestTracingProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"ratio above 1", "tracing:\n  otlp_endpoint: http://127.0.0.1:4318\n  sample_ratio: 1.5\n",
			`t.yml:3: tracing.sample_ratio: must be in 0..1, got 1.5`},
		{"negative ratio", "tracing:\n  sample_ratio: -0.1\n",
			`t.yml:2: tracing.sample_ratio: must be in 0..1, got -0.1`},
		{"endpoint not http", "tracing:\n  otlp_endpoint: grpc://127.0.0.1:4317\n",
			`t.yml:2: tracing.otlp_endpoint: url "grpc://127.0.0.1:4317" must start with http:// or https://, such as "http://127.0.0.1:4318"`},
		{"endpoint without scheme", "tracing:\n  otlp_endpoint: 127.0.0.1:4318\n",
			`t.yml:2: tracing.otlp_endpoint: invalid url "127.0.0.1:4318": first path segment in URL cannot contain colon`},
		{"endpoint without host", "tracing:\n  otlp_endpoint: http:///v1/traces\n",
			`t.yml:2: tracing.otlp_endpoint: url "http:///v1/traces" has no host, want "http://host:port"`},
		{"endpoint with query", "tracing:\n  otlp_endpoint: http://c:4318/?x=1\n",
			`t.yml:2: tracing.otlp_endpoint: url "http://c:4318/?x=1" must not have a query or fragment`},
		{"unknown key", "tracing:\n  sample_rate: 0.5\n",
			`t.yml:2: tracing.sample_rate: unknown key "sample_rate" (did you mean "sample_ratio"?)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tc.in), "t.yml")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestTracingDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte("tracing: {}\n"), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.Tracing
	if tr == nil || tr.OTLPEndpoint != DefaultOTLPEndpoint || tr.ServiceName != "rgate" || tr.Ratio() != 1 {
		t.Fatalf("defaults: %+v", tr)
	}
	cfg, err = Parse([]byte("tracing:\n  otlp_endpoint: https://otel.example.com/custom\n  sample_ratio: 0\n  service_name: edge\n"), "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	if tr := cfg.Tracing; tr.Ratio() != 0 || tr.ServiceName != "edge" || !strings.HasSuffix(tr.OTLPEndpoint, "/custom") {
		t.Fatalf("explicit values: %+v", tr)
	}
	cfg, err = Parse([]byte("routes: []\n"), "t.yml")
	if err != nil || cfg.Tracing != nil {
		t.Fatalf("absent tracing: %+v, %v", cfg.Tracing, err)
	}
}
