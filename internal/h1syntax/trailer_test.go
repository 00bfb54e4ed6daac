package h1syntax

import "testing"

func TestForbiddenInTrailer(t *testing.T) {
	t.Parallel()
	for k, want := range map[string]bool{
		"Content-Length": true, "Content-Type": true, "Content-Encoding": true, "Set-Cookie": true,
		"Transfer-Encoding": true, "Host": true, "Authorization": true, "If-Match": true, "Trailer": true,
		"Location": true, "Retry-After": true,
		"Grpc-Status": false, "Grpc-Message": false, "X-Checksum": false, "Server-Timing": false, "Etag-X": false,
	} {
		if got := ForbiddenInTrailer(k); got != want {
			t.Errorf("ForbiddenInTrailer(%q) = %v, want %v", k, got, want)
		}
	}
}
