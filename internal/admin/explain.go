package admin

import "net/http"

// explain serves GET /explain?path=/api/x: which route a path matches and
// why each candidate container serves it or not.
func (o Options) explain(w http.ResponseWriter, r *http.Request) {
	if o.Explain == nil {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, r, o.Explain(r.URL.Query().Get("path")))
}
