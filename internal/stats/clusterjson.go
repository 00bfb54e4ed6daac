package stats

import (
	"encoding/json"
	"net/http"
	"time"
)

// Instance is one replica's figures in the cluster document.
type Instance struct {
	ID      string
	Summary Summary
	// PublishedAt is when the replica published them; zero for this
	// replica, whose figures are read live.
	PublishedAt time.Time
	// Self marks this replica.
	Self bool
}

type instanceJSON struct {
	ID            string      `json:"id"`
	Self          bool        `json:"self,omitempty"`
	PublishedAt   *time.Time  `json:"published_at,omitempty"`
	RequestsCount countsJSON  `json:"requests_count"`
	LatencyMs     latencyJSON `json:"latency_ms"`
}

type clusterJSON struct {
	Scope string `json:"scope"`
	seriesJSON
	// Replicas is how many replicas the figures cover.
	Replicas  int            `json:"replicas"`
	Instances []instanceJSON `json:"instances"`
}

// ClusterJSON renders the /stats?scope=cluster document: the seed keys
// requests_count and latency_ms (and status_classes) of total, the merged
// figures of every live replica, then scope "cluster", replicas (how many)
// and instances (each one's id, counts and latency), in the order given.
func ClusterJSON(total Summary, instances []Instance) ([]byte, error) {
	doc := clusterJSON{Scope: "cluster", seriesJSON: toJSON(total), Replicas: len(instances),
		Instances: make([]instanceJSON, 0, len(instances))}
	for _, in := range instances {
		sj := toJSON(in.Summary)
		ij := instanceJSON{ID: in.ID, Self: in.Self, RequestsCount: sj.RequestsCount, LatencyMs: sj.LatencyMs}
		if !in.PublishedAt.IsZero() {
			at := in.PublishedAt.UTC()
			ij.PublishedAt = &at
		}
		doc.Instances = append(doc.Instances, ij)
	}
	b, err := json.Marshal(doc)
	return append(b, '\n'), err
}

// WriteError writes the gateway's small JSON error body with status, as
// the /stats handler does for its own errors.
func WriteError(w http.ResponseWriter, status int, msg string) { writeError(w, status, msg) }
