package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestTestappContainer checks the harness itself: the testapp image runs on
// the host network and answers on the port it was given. When this fails,
// the environment is broken, not the gateway.
func TestTestappContainer(t *testing.T) {
	t.Parallel()
	c := runContainer(t, "harness", map[string]string{"app_name": uniq(t)})
	client := newClient(t, 5*time.Second)
	resp, err := client.Get("http://127.0.0.1:" + strconv.Itoa(c.listenPort) + "/some/path?q=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Name, Path, RawQuery string
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || e.Name != c.name || e.Path != "/some/path" {
		t.Errorf("got status %d, echo %+v; want 200 from %s for /some/path", resp.StatusCode, e, c.name)
	}
	if got := c.health(); got != "" {
		t.Errorf("health = %q, want none (no HEALTHCHECK)", got)
	}
}
