package certs

import (
	"context"
	"path/filepath"
	"sync"

	"github.com/rgate/rgate/internal/config"
)

// Watch reloads the static certificates whenever something changes in a
// directory that holds one of their files, until ctx is done. A reload
// that fails keeps the certificates it would have replaced, and is logged.
func (s *Store) Watch(ctx context.Context) {
	dirs := map[string]bool{}
	for _, p := range s.files {
		dirs[filepath.Dir(p.CertFile)] = true
		dirs[filepath.Dir(p.KeyFile)] = true
	}
	var wg sync.WaitGroup
	for d := range dirs {
		wg.Go(func() {
			// config.Watch watches the directory of the path it is given.
			if err := config.Watch(ctx, filepath.Join(d, "certificate"), s.log, s.ReloadLogged); err != nil {
				s.log.Warn("certificate files are not watched; SIGHUP still reloads them", "dir", d, "error", err)
			}
		})
	}
	wg.Wait()
}

// ReloadLogged is Reload for a signal or a file change: its failure is
// logged, and the certificates that failed keep serving their old
// contents.
func (s *Store) ReloadLogged() {
	if err := s.Reload(); err != nil {
		s.log.Warn("certificate reload failed; the previous certificate keeps serving", "error", err)
	}
}
