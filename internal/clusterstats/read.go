package clusterstats

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/rgate/rgate/internal/stats"
)

// ErrUnavailable is the cause of a Read while the store is in fallback.
var ErrUnavailable = errors.New("cluster store unavailable")

// Cluster is the merged figures of the live replicas.
type Cluster struct {
	Total     stats.Summary
	Instances []stats.Instance // this replica first, then by id
}

// Read merges the live replicas' published figures with this replica's
// live ones. It fails at once while the store is in fallback, and
// otherwise within max(timeout, 1s); a failed call puts the store in
// fallback.
func (s *Sharer) Read(parent context.Context) (Cluster, error) {
	if !s.store.Available() {
		st := s.store.Status()
		return Cluster{}, fmt.Errorf("%w since %s: %s", ErrUnavailable, st.Since.UTC().Format(time.RFC3339), st.LastError)
	}
	ctx, cancel := context.WithTimeout(parent, s.bound)
	defer cancel()
	ids, err := s.client.ZRange(ctx, s.index, 0, -1).Result()
	if err != nil {
		return Cluster{}, s.failed(err)
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == s.self })
	slices.Sort(ids)
	var vals []any
	if len(ids) > 0 {
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = s.key(id)
		}
		if vals, err = s.client.MGet(ctx, keys...).Result(); err != nil {
			return Cluster{}, s.failed(err)
		}
	}

	var total, one stats.Merged
	total.AddSeries(s.stats.Global())
	c := Cluster{Instances: []stats.Instance{{ID: s.self, Self: true, Summary: s.stats.Global().Summary()}}}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok || len(str) < headerLen { // expired since it was listed
			continue
		}
		if err := one.DecodeShared([]byte(str[headerLen:])); err != nil {
			continue // a value of another rgate version: left out
		}
		total.Add(&one)
		at := time.UnixMilli(int64(binary.BigEndian.Uint64([]byte(str[8:16]))))
		c.Instances = append(c.Instances, stats.Instance{ID: ids[i], Summary: one.Summary(), PublishedAt: at})
	}
	c.Total = total.Summary()
	s.replicas.Store(int64(len(c.Instances)))
	return c, nil
}

func (s *Sharer) failed(err error) error {
	s.store.Failed(err)
	return fmt.Errorf("reading cluster stats from the store: %w", err)
}

// Handler serves GET /stats?scope=cluster: the seed keys summed and
// merged over the live replicas, plus scope, replicas and instances (see
// stats.ClusterJSON). A window= parameter is refused (400): the cluster
// figures are cumulative only. Store trouble answers 503 with the error.
func (s *Sharer) Handler() http.Handler {
	if s == nil {
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			stats.WriteError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		if r.URL.Query().Has("window") {
			stats.WriteError(w, http.StatusBadRequest, "window is not available with scope=cluster (cumulative figures only)")
			return
		}
		c, err := s.Read(r.Context())
		if err != nil {
			stats.WriteError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		body, err := stats.ClusterJSON(c.Total, c.Instances)
		if err != nil { // numbers and strings only: cannot happen
			stats.WriteError(w, http.StatusInternalServerError, "encoding cluster stats")
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}
