package route

import (
	"github.com/rgate/rgate/internal/config"
	"github.com/rgate/rgate/internal/consumer"
	"github.com/rgate/rgate/internal/mw/auth"
)

// authSet is a table's compiled auth: the policies by name and the
// configured consumer names.
type authSet struct {
	policies map[string]*auth.Policy
	names    []string
}

// policyKey is what a compiled policy depends on: an unchanged policy over
// unchanged consumers keeps its state (cached passwords and tokens).
type policyKey struct {
	Policy    config.AuthPolicy
	Consumers []config.Consumer
}

// compileAuth builds cfg's consumer table and auth policies, reusing those
// of the last compile when their config is unchanged. Policies no route
// uses are not built, and none is when build is false: a table compiled
// only to be looked at (validate --docker) fetches no JWKS.
func compileAuth(cfg *config.Config, st *State, build bool) *authSet {
	as := &authSet{policies: map[string]*auth.Policy{}}
	for _, c := range cfg.Consumers {
		as.names = append(as.names, c.Name)
	}
	used := map[string]bool{}
	for _, rc := range cfg.Routes {
		if rc.Auth != "" {
			used[rc.Auth] = true
		}
	}
	if len(used) == 0 || !build {
		return as
	}
	cs := st.consumers.get("", cfg.Consumers, func() *consumer.Table { return consumer.NewTable(cfg.Consumers) })
	for _, pc := range cfg.Auth {
		if !used[pc.Name] {
			continue
		}
		as.policies[pc.Name] = st.policies.get(pc.Name, policyKey{pc, cfg.Consumers}, func() *auth.Policy {
			return auth.NewPolicy(pc, cs, st.Auth)
		})
	}
	return as
}

func (as *authSet) live() []*auth.Policy {
	out := make([]*auth.Policy, 0, len(as.policies))
	for _, p := range as.policies {
		out = append(out, p)
	}
	return out
}
