package config

import "time"

// ApplyDefaults fills every absent optional field with its default, in
// place. A zero value means absent: "timeout: 0s" gets the default too.
//
// The default response gets DefaultStatusCode when status_code is absent,
// and DefaultBody only when body is absent as well: a status without a body
// keeps its empty body.
func (c *Config) ApplyDefaults() {
	if c.DefaultResponse.StatusCode == 0 {
		if c.DefaultResponse.Body == "" {
			c.DefaultResponse.Body = DefaultBody
		}
		c.DefaultResponse.StatusCode = DefaultStatusCode
	}
	for i := range c.Routes {
		setDuration(&c.Routes[i].Timeout, DefaultRouteTimeout)
	}
	setDuration(&c.Server.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDuration(&c.Server.IdleTimeout, DefaultIdleTimeout)
	setDuration(&c.Server.ShutdownGrace, DefaultShutdownGrace)
	c.applyPolicyDefaults()
	c.Docker.applyDefaults()
	c.applyAuthDefaults()
	if c.Server.TLS != nil {
		c.Server.TLS.applyDefaults()
	}
	if c.Cluster != nil {
		c.Cluster.applyDefaults()
	}
	if c.Tracing != nil {
		c.Tracing.applyDefaults()
	}
}

// setDuration sets *d to def when it is zero.
func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}
