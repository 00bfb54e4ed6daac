package cache

import (
	"net/http"
	"slices"
	"testing"
)

// FuzzCacheControl: parsing never panics, second counts are absent (-1) or
// in range, and a no-store directive in front is always seen.
func FuzzCacheControl(f *testing.F) {
	for _, s := range []string{"max-age=60", `private="Set-Cookie", max-age=5`, "s-maxage=99999999999999", `no-cache="a,b"`, `"`, "max-age=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := parseCacheControl([]string{s})
		for _, v := range []int64{d.maxAge, d.sMaxAge, d.staleIfError} {
			if v < -1 || v > maxDeltaSeconds {
				t.Fatalf("%q: seconds %d out of range", s, v)
			}
		}
		if !parseCacheControl([]string{"no-store", s}).noStore {
			t.Fatalf("%q hid a no-store on another line", s)
		}
		names, ok := parseVary([]string{s})
		if ok && (!slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names)) {
			t.Fatalf("%q: vary names %q not sorted and distinct", s, names)
		}
		for _, n := range names {
			if n != http.CanonicalHeaderKey(n) {
				t.Fatalf("%q: vary name %q not canonical", s, n)
			}
		}
	})
}
