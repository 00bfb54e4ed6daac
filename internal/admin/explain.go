package admin

import (
	"encoding/json"
	"net/http"
)

// explain serves GET /explain?path=/api/x: which route a path matches and
// why each candidate container serves it or not. The path is a request
// target as a client sends it, so it is escaped once more inside the query
// (path=/a/%252e%252e/b explains /a/%2e%2e/b). Without a path it answers 400
// with a JSON error.
func (o Options) explain(w http.ResponseWriter, r *http.Request) {
	if o.Explain == nil {
		http.NotFound(w, r)
		return
	}
	p := r.URL.Query().Get("path")
	if p == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		writeJSONError(w, http.StatusBadRequest, `missing query parameter "path", e.g. /explain?path=/api/payment/x`)
		return
	}
	writeJSON(w, r, o.Explain(r.URL.Query().Get("host"), p))
}

// writeJSONError answers status with {"error": msg}.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
