package admin

import "net/http"

// dashboard serves the live dashboard page and its assets.
func (o Options) dashboard(w http.ResponseWriter, r *http.Request) {
	http.NotFound(w, r)
}
