// Package cors answers CORS preflight requests at the gateway and adds the
// CORS response headers to actual requests, for one route.
//
// A preflight is an OPTIONS request carrying Origin and
// Access-Control-Request-Method. When the origin is allowed, the gateway
// answers 204 itself with the allowed methods, headers and max age; when it
// is not, the gateway answers 204 without any Access-Control-* header, so
// the browser blocks the request. Other requests pass through; when their
// Origin is allowed the answer gets Access-Control-Allow-Origin (and
// Vary: Origin unless every origin is allowed).
package cors

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rgate/rgate/internal/config"
)

type handler struct {
	next        http.Handler
	anyOrigin   bool
	origins     []string
	methods     []string // preflight Access-Control-Allow-Methods value
	headers     []string // preflight Access-Control-Allow-Headers value; nil: echo none
	anyHeader   bool
	expose      []string
	credentials bool
	maxAge      []string
}

// New returns the CORS middleware for cfg in front of next.
func New(cfg config.CORS, next http.Handler) http.Handler {
	h := &handler{next: next, credentials: cfg.AllowCredentials}
	for _, o := range cfg.AllowOrigins {
		if o == "*" {
			h.anyOrigin = true
		} else {
			h.origins = append(h.origins, strings.TrimSuffix(strings.ToLower(o), "/"))
		}
	}
	methods := config.DefaultCORSAllowMethods
	if len(cfg.AllowMethods) > 0 {
		methods = strings.ToUpper(strings.Join(cfg.AllowMethods, ", "))
	}
	h.methods = []string{methods}
	if slices.Contains(cfg.AllowHeaders, "*") {
		h.anyHeader = true
	} else if len(cfg.AllowHeaders) > 0 {
		h.headers = []string{strings.Join(cfg.AllowHeaders, ", ")}
	}
	if len(cfg.ExposeHeaders) > 0 {
		h.expose = []string{strings.Join(cfg.ExposeHeaders, ", ")}
	}
	if cfg.MaxAge > 0 {
		h.maxAge = []string{strconv.Itoa(int(cfg.MaxAge.D().Seconds()))}
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.anyOrigin || h.credentials {
		w.Header().Add("Vary", "Origin") // the answer differs by origin: tell caches
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		h.next.ServeHTTP(w, r)
		return
	}
	allowed := h.allowed(origin)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.preflight(w, r, origin, allowed)
		return
	}
	if allowed {
		h.allowOrigin(w.Header(), origin)
		if h.expose != nil {
			w.Header()["Access-Control-Expose-Headers"] = h.expose
		}
	}
	h.next.ServeHTTP(w, r)
}

func (h *handler) preflight(w http.ResponseWriter, r *http.Request, origin string, allowed bool) {
	hd := w.Header()
	hd.Del("Vary")
	hd.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	if allowed {
		h.allowOrigin(hd, origin)
		hd["Access-Control-Allow-Methods"] = h.methods
		switch {
		case h.anyHeader:
			if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
				hd.Set("Access-Control-Allow-Headers", req)
			}
		case h.headers != nil:
			hd["Access-Control-Allow-Headers"] = h.headers
		}
		if h.maxAge != nil {
			hd["Access-Control-Max-Age"] = h.maxAge
		}
	}
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) allowOrigin(hd http.Header, origin string) {
	if h.anyOrigin && !h.credentials {
		hd["Access-Control-Allow-Origin"] = []string{"*"}
	} else {
		hd.Set("Access-Control-Allow-Origin", origin)
	}
	if h.credentials {
		hd["Access-Control-Allow-Credentials"] = []string{"true"}
	}
}

func (h *handler) allowed(origin string) bool {
	if h.anyOrigin {
		return true
	}
	for _, o := range h.origins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}
