package admin

import (
	"net/http"
	"strconv"
)

// requests serves GET /requests?limit=N: the last N requests, newest first.
func (o Options) requests(w http.ResponseWriter, r *http.Request) {
	if o.Recent == nil {
		http.NotFound(w, r)
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			http.Error(w, `limit must be a positive whole number`, http.StatusBadRequest)
			return
		}
		limit = n
	}
	writeJSON(w, r, map[string]any{"requests": o.Recent.Last(limit)})
}
