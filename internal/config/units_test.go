package config

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr string // substring of the error; "" means success
	}{
		{"seconds", `30s`, 30 * time.Second, ""},
		{"minutes", `1m`, time.Minute, ""},
		{"compound", `1h30m`, 90 * time.Minute, ""},
		{"quoted", `"250ms"`, 250 * time.Millisecond, ""},
		{"zero", `0`, 0, ""},
		{"negative", `-1s`, 0, `line 1: duration "-1s" must not be negative`},
		{"garbage", `soon`, 0, `line 1: invalid duration "soon"`},
		{"missing unit", `30`, 0, `invalid duration "30"`},
		{"list", `[1s]`, 0, `expected a duration such as "30s", got a list`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v struct {
				D Duration `yaml:"d"`
			}
			err := yaml.Unmarshal([]byte("d: "+tc.in), &v)
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == "" && v.D.D() != tc.want {
				t.Errorf("got %v, want %v", v.D.D(), tc.want)
			}
		})
	}
}

func TestSizeUnmarshal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Size
		wantErr string
	}{
		{"plain integer", `1048576`, 1 << 20, ""},
		{"zero", `0`, 0, ""},
		{"bytes", `512B`, 512, ""},
		{"kilobytes", `10KB`, 10_000, ""},
		{"kibibytes lower case", `10kib`, 10 << 10, ""},
		{"megabytes with space", `"5 MB"`, 5_000_000, ""},
		{"mebibytes", `5MiB`, 5 << 20, ""},
		{"gigabytes", `2gb`, 2_000_000_000, ""},
		{"gibibytes", `2GiB`, 2 << 30, ""},
		{"negative", `-1`, 0, `size "-1" must not be negative`},
		{"garbage", `lots`, 0, `invalid size "lots"`},
		{"unit only", `MB`, 0, `invalid size "MB"`},
		{"fraction", `1.5MB`, 0, `unknown unit ".5MB"`},
		{"unknown unit", `1TB`, 0, `unknown unit "TB"`},
		{"overflow after unit", `99999999999GiB`, 0, `size "99999999999GiB" is too large`},
		{"overflow", `99999999999999999999`, 0, `is too large`},
		{"list", `[1]`, 0, `expected a size such as "10MB", got a list`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v struct {
				S Size `yaml:"s"`
			}
			err := yaml.Unmarshal([]byte("s: "+tc.in), &v)
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == "" && v.S != tc.want {
				t.Errorf("got %d, want %d", v.S, tc.want)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0B"}, {1001, "1001B"}, {2000, "2KB"}, {2048, "2KiB"},
		{10 * Megabyte, "10MB"}, {3 * Mebibyte, "3MiB"}, {Gibibyte, "1GiB"}, {7 * Gigabyte, "7GB"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			if got := tc.in.String(); got != tc.want {
				t.Errorf("Size(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
			}
			back, err := ParseSize(tc.want)
			if err != nil || back != tc.in {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.want, back, err, tc.in)
			}
		})
	}
}

func TestDurationMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	in := struct {
		D Duration `yaml:"d"`
		S Size     `yaml:"s"`
	}{Duration(90 * time.Second), 5 * Mebibyte}
	data, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := "d: 1m30s\ns: 5242880\n"; string(data) != want {
		t.Errorf("Marshal = %q, want %q", data, want)
	}
}

// checkErr fails t unless err contains want, or is nil when want is "".
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}
