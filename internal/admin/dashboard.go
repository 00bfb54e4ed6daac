package admin

import (
	"compress/gzip"
	"embed"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// assets is the dashboard page: HTML, script and style written for rgate,
// no third-party code, nothing loaded from elsewhere (works offline).
//
//go:embed dashboard/index.html dashboard/app.js dashboard/cluster.js dashboard/style.css
var assets embed.FS

// dashCSP allows the page its own script, style and data endpoint, and
// nothing else (no inline script, no other origin, no framing).
const dashCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// dashboard serves the live dashboard: GET /dashboard is the page, which
// loads /dashboard/app.js and /dashboard/style.css and polls
// /dashboard/data (see dashDoc) every second.
func (o Options) dashboard(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/dashboard":
		serveAsset(w, r, "dashboard/index.html")
	case "/dashboard/":
		http.Redirect(w, r, "/dashboard", http.StatusMovedPermanently)
	case "/dashboard/app.js":
		serveAsset(w, r, "dashboard/app.js")
	case "/dashboard/cluster.js":
		serveAsset(w, r, "dashboard/cluster.js")
	case "/dashboard/style.css":
		serveAsset(w, r, "dashboard/style.css")
	case "/dashboard/data":
		o.dashboardData(w, r)
	default:
		http.NotFound(w, r)
	}
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	h := w.Header()
	h.Set("Content-Security-Policy", dashCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, assets, name)
}

// dashboardData answers one poll: the dashDoc as compact JSON, gzipped when
// the client takes it (50 routes and 500 containers: about 80 KB, 8 KB
// gzipped).
func (o Options) dashboardData(w http.ResponseWriter, r *http.Request) {
	body, err := json.Marshal(o.dashData(time.Now()))
	if err != nil { // only plain types: cannot happen
		http.Error(w, "encoding dashboard data: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if r.Method == http.MethodHead {
		return
	}
	if len(body) < 1024 || !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		_, _ = w.Write(body)
		return
	}
	h.Set("Content-Encoding", "gzip")
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // a valid level: no error
	_, _ = zw.Write(body)
	_ = zw.Close()
}
