package headers

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/rgate/rgate/internal/config"
)

func TestRules(t *testing.T) {
	t.Parallel()
	r := Compile(config.HeaderRules{
		Set:    map[string]string{"x-env": "prod", "X-Both": "new"},
		Remove: []string{"x-debug", "X-Both", "Server"},
	})
	h := http.Header{"X-Debug": {"1"}, "X-Both": {"old"}, "Server": {"nginx"}, "X-Keep": {"k"}}
	r.Apply(h)
	want := http.Header{"X-Env": {"prod"}, "X-Both": {"new"}, "X-Keep": {"k"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %v, want %v", h, want)
	}
	var zero Rules
	if !zero.Empty() || r.Empty() {
		t.Error("Empty() wrong")
	}
	zero.Apply(h) // no-op
	if len(h) != 3 {
		t.Error("zero rules changed headers")
	}
}
